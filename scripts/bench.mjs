#!/usr/bin/env node
// `npm run bench`: storage append/read throughput, record-batch codec throughput, and single-broker
// produce -> consume throughput for 1 KiB records with the CLI's perf tool against a real broker
// process on loopback. Prints figures; asserts nothing.
//
//   npm run bench [-- --records 200000 --record-size 1024]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from './ensure.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    'record-size': { type: 'string', default: '1024' },
    'skip-micro': { type: 'boolean', default: false },
  },
});

ensureReady();
const node = process.execPath;
const cli = join(ROOT, 'packages/cli/bin/tributary.js');

function runNode(args, title) {
  console.log(`\n== ${title}`);
  const r = spawnSync(node, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`${title} failed with exit ${r.status}`);
  return r.stdout;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitReady(brokers) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = spawnSync(node, [cli, '-b', brokers, 'cluster', 'info', '--format', 'json'], { encoding: 'utf8' });
    if (r.status === 0) return;
    if (Date.now() > deadline) throw new Error(`broker not ready: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

if (!values['skip-micro']) {
  runNode([join(ROOT, 'bench/storage.bench.mjs')], 'storage engine (packages/storage)');
  runNode([join(ROOT, 'bench/record-batch.bench.mjs')], 'record batch codec (packages/protocol)');
}

const dir = mkdtempSync(join(tmpdir(), 'trib-bench-'));
const port = await freePort();
const brokers = `127.0.0.1:${port}`;
const server = spawn(node, [cli, 'server', '--node-id', '1', '--listen', brokers, '--data-dir', join(dir, 'node-1')], {
  stdio: 'ignore', env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' },
});
try {
  await waitReady(brokers);
  const topic = 'bench';
  runNode([cli, '-b', brokers, 'topic', 'create', topic, '-p', '3'], 'create topic (3 partitions)');
  const produced = runNode([cli, '-b', brokers, 'perf', 'produce', topic, '--num-records', values.records,
    '--record-size', values['record-size'], '--acks', 'all', '--json'],
    `single broker: perf produce ${values.records} x ${values['record-size']} B, acks=all`);
  const consumed = runNode([cli, '-b', brokers, 'perf', 'consume', topic, '--messages', values.records, '--json'],
    `single broker: perf consume ${values.records} records`);
  const p = JSON.parse(produced.trim().split('\n').at(-1));
  const c = JSON.parse(consumed.trim().split('\n').at(-1));
  console.log('\n== summary (single broker, 1 node, loopback)');
  console.log(`produce: ${p.recordsPerSec.toFixed(0)} records/s, ${p.mbPerSec.toFixed(1)} MB/s, p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, p99.9 ${p.p999Ms} ms`);
  console.log(`consume: ${c.recordsPerSec.toFixed(0)} records/s, ${c.mbPerSec.toFixed(1)} MB/s`);
} finally {
  server.kill('SIGTERM');
  await new Promise((res) => server.once('exit', res));
  rmSync(dir, { recursive: true, force: true });
}
