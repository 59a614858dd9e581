#!/usr/bin/env node
// `npm start`: install and build what is missing, then run a local 3-node cluster in combined mode
// (every node is broker + controller), each node a child process of this script, data in ./data/node-N,
// logs in ./data/node-N.log. Waits until the cluster is ready and prints how to use it. Ctrl-C (SIGINT)
// or SIGTERM stops every node cleanly (SIGTERM → controlled shutdown) and then exits.
//
// Options: --nodes N (1..9, default 3), --port P (first gRPC port, default 9092; node N uses P+N-1),
// --http-port P (first HTTP port, default 9644), --data DIR (default ./data), --verbose (node logs on
// the terminal too, prefixed with the node id).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from './ensure.mjs';

const READY_TIMEOUT_MS = 60_000;
/** After this long without every node exiting, the stragglers are killed. */
const STOP_TIMEOUT_MS = 20_000;
const NODES_MAX = 9;
const HOST = '127.0.0.1';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: '9092' },
    'http-port': { type: 'string', default: '9644' },
    data: { type: 'string', default: join(ROOT, 'data') },
    verbose: { type: 'boolean', default: false },
  },
});

function intOption(name, min, max) {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`tributary start: --${name} must be an integer in ${min}..${max}, got ${values[name]}`);
    process.exit(2);
  }
  return value;
}
const nodeCount = intOption('nodes', 1, NODES_MAX);
const grpcBase = intOption('port', 1, 65535 - NODES_MAX);
const httpBase = intOption('http-port', 1, 65535 - NODES_MAX);
const dataRoot = resolve(values.data);

const nodes = Array.from({ length: nodeCount }, (_, i) => {
  const id = i + 1;
  return {
    id,
    listen: `${HOST}:${grpcBase + i}`,
    http: `${HOST}:${httpBase + i}`,
    dataDir: join(dataRoot, `node-${id}`),
    logFile: join(dataRoot, `node-${id}.log`),
    child: undefined,
    exited: undefined,
  };
});
/** A path for humans: relative to the current directory when inside it, absolute otherwise. */
function show(path) {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}
const voters = nodes.map((n) => `${n.id}@${n.listen}`).join(',');
const bootstrap = nodes.map((n) => n.listen).join(',');

/** Data directories written by one cluster share a cluster id; a leftover from another one would be refused later, less clearly. */
function checkDataDirs() {
  const ids = new Map();
  for (const n of nodes) {
    const file = join(n.dataDir, 'meta.properties');
    if (!existsSync(file)) continue;
    const match = /^cluster\.id=(.*)$/m.exec(readFileSync(file, 'utf8'));
    if (match) ids.set(n.id, match[1].trim());
  }
  if (new Set(ids.values()).size > 1) {
    const list = [...ids].map(([id, cluster]) => `node-${id}: ${cluster}`).join(', ');
    console.error(`tributary start: the data directories in ${dataRoot} belong to different clusters (${list}).\n` +
      `They were probably written by an older single-node \`npm start\`. Move ${dataRoot} away, or use --data DIR.`);
    process.exit(1);
  }
}

function prefixLines(stream, prefix) {
  let pending = '';
  stream.on('data', (chunk) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
  });
}

function startNode(n) {
  mkdirSync(n.dataDir, { recursive: true });
  const log = createWriteStream(n.logFile, { flags: 'a' });
  const args = [join(ROOT, 'packages/cli/bin/tributary.js'), 'server', '--node-id', String(n.id), '--listen', n.listen,
    '--http', n.http, '--data-dir', n.dataDir, '--roles', 'broker,controller', '--voters', voters];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // Own process group: a terminal's Ctrl-C reaches only this script, which stops the nodes itself.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: process.env.TRIBUTARY_LOG_LEVEL ?? 'info' },
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  if (values.verbose) {
    prefixLines(child.stdout, `[node-${n.id}] `);
    prefixLines(child.stderr, `[node-${n.id}] `);
  }
  n.child = child;
  n.exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      n.child = undefined;
      log.end();
      resolveExit({ code, signal });
      if (stopping) return;
      console.error(`tributary start: node ${n.id} exited (${signal ?? `code ${code}`}); last lines of ${show(n.logFile)}:`);
      console.error(tail(n.logFile, 15));
      // Before the cluster is ready this is a start-up failure (port in use, bad data dir): give up.
      // Afterwards the others keep running (the cluster tolerates it; watch it with `cluster health`).
      if (!ready || nodes.every((other) => other.child === undefined)) void stopAll(1);
      else {
        console.error('tributary start: the other nodes keep running; Ctrl-C stops them. To bring this one back (in another terminal):');
        console.error(`  node ${args.map((a) => (/[\s,]/.test(a) ? `'${a}'` : a)).join(' ')}`);
      }
    });
  });
}

function tail(file, lines) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `  ${l}`).join('\n');
  } catch {
    return '  (no log)';
  }
}

let stopping = false;
/** Set once the cluster was ready: from then on one node exiting does not stop the others. */
let ready = false;
async function stopAll(exitCode) {
  if (stopping) return;
  stopping = true;
  console.log('\ntributary start: stopping the nodes (controlled shutdown)...');
  const running = nodes.filter((n) => n.child !== undefined);
  for (const n of running) n.child.kill('SIGTERM');
  const killer = setTimeout(() => {
    for (const n of nodes) {
      if (n.child !== undefined) {
        console.error(`tributary start: node ${n.id} did not stop within ${STOP_TIMEOUT_MS} ms; killing it`);
        n.child.kill('SIGKILL');
      }
    }
  }, STOP_TIMEOUT_MS);
  const results = await Promise.all(running.map((n) => n.exited));
  clearTimeout(killer);
  const unclean = results.filter((r) => r.code !== 0).length;
  console.log(unclean === 0 ? 'tributary start: all nodes stopped.' : `tributary start: ${unclean} node(s) did not stop cleanly; see the logs in ${dataRoot}.`);
  process.exit(exitCode || (unclean === 0 ? 0 : 1));
}

/** Ready: a controller is active and every node is registered and unfenced (as one of the nodes reports it). */
async function waitForReady() {
  const { Admin } = await import('@tributary/client');
  const admin = new Admin({ 'bootstrap.servers': bootstrap, 'request.timeout.ms': 2000, 'default.api.timeout.ms': 3000 });
  const start = Date.now();
  let last = 'no answer yet';
  try {
    while (!stopping) {
      try {
        const cluster = await admin.describeCluster();
        const unfenced = cluster.nodes.filter((node) => !node.fenced).length;
        if (cluster.controller.leaderId >= 0 && unfenced === nodeCount) return { ms: Date.now() - start, cluster };
        last = `controller ${cluster.controller.leaderId < 0 ? 'not elected' : cluster.controller.leaderId}, ${unfenced}/${nodeCount} brokers unfenced`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() - start > READY_TIMEOUT_MS) throw new Error(`cluster not ready after ${READY_TIMEOUT_MS} ms (${last})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
  } finally {
    await admin.close();
  }
}

function printReady(result) {
  const rows = nodes.map((n) => `  node ${n.id}   gRPC ${n.listen}   HTTP http://${n.http}   data ${show(n.dataDir)}`);
  console.log(`
Tributary: a local ${nodeCount}-node cluster is ready (${result.ms} ms), controller: node ${result.cluster.controller.leaderId}
${rows.join('\n')}
  cluster id ${result.cluster.clusterId}
  HTTP endpoints: /metrics /healthz /readyz;  node logs: ${show(dataRoot)}/node-N.log

Try it (in another terminal, from this directory; bootstrap ${nodes[0].listen}):
  export TRIBUTARY_BROKERS=${bootstrap}
  npx tributary cluster info
  npx tributary topic create demo -p 3 -r ${Math.min(3, nodeCount)}
  seq 1 10000 | npx tributary produce demo
  npx tributary consume demo -o start -n 10000 --exit-at-end
  npx tributary topic describe demo
  npx tributary cluster health

Ctrl-C stops all nodes.
`);
}

ensureReady();
checkDataDirs();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stopAll(0));
// The nodes have their own process group; never leave them behind if this script dies another way.
process.on('exit', () => {
  for (const n of nodes) n.child?.kill('SIGTERM');
});
console.log(`tributary start: starting ${nodeCount} node(s) (broker + controller each); data and logs in ${show(dataRoot)}`);
for (const n of nodes) startNode(n);

try {
  const result = await waitForReady();
  ready = result !== undefined;
  if (result !== undefined) printReady(result);
} catch (err) {
  console.error(`tributary start: ${err.message}`);
  for (const n of nodes) console.error(`--- ${show(n.logFile)}\n${tail(n.logFile, 10)}`);
  await stopAll(1);
}
