#!/usr/bin/env node
// `npm run bench:cluster`: `tributary perf produce` against a local 3-node cluster (three combined
// node processes on loopback, temp data dirs), topic RF=3 min.insync.replicas=2, acks=all, 1 KiB records:
//   throughput  — as fast as the client can go (client defaults, then batch.size=512 KiB linger.ms=5);
//   fixed-rate  — 10 MB/s (10240 records/s of 1 KiB);
//   sync        — one outstanding request (max.in.flight=1, batch.size=1 record, linger 0, one record in flight);
//   txn         — transactional produce committing every 100 ms vs plain idempotent produce, same records,
//                 same client settings (bench/txn-produce.mjs): MB/s, records/s, commit latency p50/p99, ratio.
// Prints records/s, MB/s and p50/p99/p99.9 per run; asserts nothing.
//
//   npm run bench:cluster [-- --records 200000 --rate-records 100000 --sync-records 3000 --txn-records 100000
//                            --commit-interval-ms 100 --partitions 3 --only throughput,batched,rate,sync,txn --cpu-prof DIR]
//
// --cpu-prof DIR runs node 1 and the perf client under `node --cpu-prof` and leaves the .cpuprofile files in DIR.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from '../scripts/ensure.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    'rate-records': { type: 'string', default: '100000' },
    'sync-records': { type: 'string', default: '3000' },
    'txn-records': { type: 'string', default: '100000' },
    'commit-interval-ms': { type: 'string', default: '100' },
    'record-size': { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '3' },
    only: { type: 'string' },
    'cpu-prof': { type: 'string' },
    /** Keep each node's log (level info) in this directory. */
    logs: { type: 'string' },
    /** Use the packages' current dist/ as is (e.g. while another package's sources do not compile). */
    'no-build': { type: 'boolean', default: false },
    'producer-property': { type: 'string', short: 'X', multiple: true, default: [] },
  },
});

if (!values['no-build']) ensureReady();
const node = process.execPath;
const cli = join(ROOT, 'packages/cli/bin/tributary.js');
const profDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']);
if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
const profArgs = (name) => (profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${name}.cpuprofile`]);

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

function cliSync(args) {
  return spawnSync(node, [cli, '-b', brokers, ...args], { cwd: ROOT, encoding: 'utf8' });
}

async function waitFor(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (probe()) return;
    if (Date.now() > deadline) throw new Error(`bench:cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'trib-bench-cluster-'));
const ports = [await freePort(), await freePort(), await freePort()];
const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
const brokers = ports.map((p) => `127.0.0.1:${p}`).join(',');
const logDir = values.logs === undefined ? undefined : resolve(values.logs);
if (logDir !== undefined) mkdirSync(logDir, { recursive: true });
const servers = ports.map((port, i) => spawn(node, [...(i === 0 ? profArgs('node-1') : []), cli, 'server', '--node-id', String(i + 1),
  '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, `node-${i + 1}`), '--voters', voters], {
  stdio: logDir === undefined ? ['ignore', 'ignore', 'inherit'] : ['ignore', openSync(join(logDir, `node-${i + 1}.log`), 'w'), openSync(join(logDir, `node-${i + 1}.log`), 'a')],
  env: { ...process.env, TRIBUTARY_LOG_LEVEL: logDir === undefined ? 'warn' : 'info' },
}));

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere or when gone. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

async function perfRun(title, name, args, properties = []) {
  console.log(`\n== ${title}`);
  const before = servers.map((s) => cpuSeconds(s.pid));
  const startedMs = Date.now();
  const child = spawn(node, [...profArgs(`client-${name}`), cli, '-b', brokers, 'perf', 'produce', 'bench', '--record-size', values['record-size'],
    '--acks', 'all', '--json', '--reporting-interval-ms', '2000', ...[...properties, ...values['producer-property']].flatMap((p) => ['-X', p]), ...args],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  // The client's CPU is sampled while it runs (its /proc entry is gone once it exits).
  let clientCpu = 0;
  const sampler = setInterval(() => { const c = cpuSeconds(child.pid); if (!Number.isNaN(c)) clientCpu = c; }, 100);
  const status = await new Promise((res) => child.once('exit', (code) => res(code)));
  clearInterval(sampler);
  const wallS = (Date.now() - startedMs) / 1000;
  if (status !== 0) throw new Error(`${title} failed with exit ${status}: ${stdout}`);
  const s = JSON.parse(stdout.trim().split('\n').at(-1));
  const nodeCpu = servers.map((srv, i) => cpuSeconds(srv.pid) - before[i]);
  const cpu = `cpu (s, wall ${wallS.toFixed(1)} s): client ${clientCpu.toFixed(1)}, nodes ${nodeCpu.map((c) => c.toFixed(1)).join(' / ')}; machine ${(clientCpu + nodeCpu.reduce((a, b) => a + b, 0)) / wallS > 0 ? ((clientCpu + nodeCpu.reduce((a, b) => a + b, 0)) / wallS).toFixed(2) : '?'} cores busy with the cluster + client`;
  console.log(cpu);
  return { name, cpu, ...s };
}

/** bench/txn-produce.mjs as its own process; its last stdout line is the JSON result. */
async function txnProduceRun(mode) {
  const child = spawn(node, [...profArgs(`client-txn-${mode}`), join(ROOT, 'bench/txn-produce.mjs'), '--bootstrap', brokers, '--topic', 'bench-txn',
    '--records', values['txn-records'], '--record-size', values['record-size'], '--mode', mode, '--commit-interval-ms', values['commit-interval-ms']],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const status = await new Promise((res) => child.once('exit', (code) => res(code)));
  if (status !== 0) throw new Error(`txn-produce --mode ${mode} failed with exit ${status}: ${stdout}`);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

/** Idempotent vs transactional (commit every --commit-interval-ms) on a topic of its own; prints both and the ratio. */
async function txnComparison() {
  const created = cliSync(['topic', 'create', 'bench-txn', '-p', values.partitions, '-r', '3', '-c', 'min.insync.replicas=2']);
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
  console.log(`\n== transactional vs idempotent: ${values['txn-records']} x ${values['record-size']} B each, acks=all, linger.ms=5, commit every ${values['commit-interval-ms']} ms`);
  const idempotent = await txnProduceRun('idempotent');
  const txn = await txnProduceRun('transactional');
  const line = (name, r) => `${name.padEnd(14)} ${r.recordsPerSec.toFixed(0).padStart(8)} records/s ${r.mbPerSec.toFixed(1).padStart(7)} MB/s  record p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms`;
  const lines = [line('idempotent', idempotent)];
  if (txn.skipped !== undefined) {
    lines.push(`transactional  skipped: ${txn.skipped}`);
  } else {
    lines.push(`${line('transactional', txn)}  ${txn.commits} commits, commit p50 ${txn.commitP50Ms} ms p99 ${txn.commitP99Ms} ms max ${txn.commitMaxMs} ms (of which commitTransaction after the flush p50 ${txn.endTxnP50Ms} ms p99 ${txn.endTxnP99Ms} ms)`);
    lines.push(`ratio          transactional / idempotent throughput ${(txn.mbPerSec / idempotent.mbPerSec).toFixed(2)}`);
  }
  for (const l of lines) console.log(l);
  return lines;
}

const results = [];
let txnLines = [];
try {
  await waitFor('three brokers', () => {
    const r = cliSync(['cluster', 'info', '--format', 'json']);
    if (r.status !== 0) return false;
    const info = JSON.parse(r.stdout);
    return (info.nodes ?? []).filter((n) => n.roles.includes('broker') && n.fenced === false).length === 3;
  }, 30_000);
  const created = cliSync(['topic', 'create', 'bench', '-p', values.partitions, '-r', '3', '-c', 'min.insync.replicas=2']);
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
  await waitFor('full ISR on every partition', () => {
    const r = cliSync(['topic', 'describe', 'bench', '--format', 'json']);
    if (r.status !== 0) return false;
    const parts = JSON.parse(r.stdout).partitions ?? JSON.parse(r.stdout)[0]?.partitions ?? [];
    return parts.length > 0 && parts.every((p) => p.leader >= 0 && p.isr.length === 3);
  }, 20_000);
  const runs = (values.only ?? 'throughput,batched,rate,sync,txn').split(',');
  if (runs.includes('throughput')) {
    results.push(await perfRun(`throughput: ${values.records} x ${values['record-size']} B, acks=all, unlimited rate, client defaults (batch.size 16 KiB)`, 'throughput',
      ['--num-records', values.records]));
  }
  if (runs.includes('batched')) {
    results.push(await perfRun(`throughput: ${values.records} x ${values['record-size']} B, acks=all, unlimited rate, batch.size=512 KiB linger.ms=5`, 'batched',
      ['--num-records', values.records], ['batch.size=524288', 'linger.ms=5']));
  }
  if (runs.includes('rate')) {
    results.push(await perfRun(`fixed rate: ${values['rate-records']} records at 10240 records/s (10 MB/s)`, 'rate',
      ['--num-records', values['rate-records'], '--throughput', '10240']));
  }
  if (runs.includes('sync')) {
    results.push(await perfRun(`sync: ${values['sync-records']} records, one outstanding request`, 'sync',
      ['--num-records', values['sync-records'], '--batch-size', values['record-size'], '--linger-ms', '0',
        '-X', 'max.in.flight.requests.per.connection=1', '--sync']));
  }
  if (runs.includes('txn')) txnLines = await txnComparison();
  console.log(`\n== summary (3 combined nodes + client on one machine, RF=3, min.insync.replicas=2, acks=all, ${values['record-size']} B records, ${values.partitions} partitions)`);
  for (const s of results) {
    console.log(`${s.name.padEnd(10)} ${s.recordsPerSec.toFixed(0).padStart(8)} records/s ${s.mbPerSec.toFixed(1).padStart(7)} MB/s  p50 ${s.p50Ms} ms  p99 ${s.p99Ms} ms  p99.9 ${s.p999Ms} ms   ${s.cpu}`);
  }
  for (const l of txnLines) console.log(l);
} finally {
  for (const s of servers) s.kill('SIGTERM');
  await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r() : s.once('exit', r)))));
  rmSync(dir, { recursive: true, force: true });
}
