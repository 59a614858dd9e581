#!/usr/bin/env node
// `npm run bench:scale`: how Tributary's cost grows with the work (issue 13's scaling curve). Real node
// processes on loopback (packages/testing's startProcessCluster), temp data dirs. Prints a table; asserts nothing.
//
// On a 3-node combined cluster (RF=3, min.insync.replicas=2):
//   throughput  keyed async produce (bench/workload.mjs, acks=all, --window records outstanding) to a topic of
//               1, 10, 100 and 1,000 partitions, --seconds each: MB/s, p50, p99
//   create      time to create the 1,000-partition topic: CreateTopics answered, then every partition led with
//               a full ISR
//   memory      RSS of each node before the topics and after the 1,000-partition one, per partition replica
//   idle CPU    CPU of each node over --idle-seconds with the 1,111 partitions and no traffic
//   failover    SIGKILL the active controller; time until the survivors elect a new one (DescribeCluster names
//               another leader) and until a metadata write (CreateTopics) succeeds
//   rebalance   --members in-process consumers of one group on the 100-partition topic: time until all hold
//               an assignment covering every partition, then time to rebalance after one leaves
// On a 1-node cluster (RF=1), one partition with segment.bytes --segment-mb:
//   restart     SIGKILL and restart with an empty log (the fixed cost), then with the log filled to --log-mb / 4
//               and to --log-mb: time until the node answers Metadata and until an acks=all produce succeeds.
//               Time beyond the fixed cost that does not grow with the size means recovery is O(tail).
//
//   npm run bench:scale [-- --seconds 10 --window 1024 --partitions 1,10,100,1000 --idle-seconds 10 --members 100
//                          --log-mb 1024 --segment-mb 128 --only throughput,create,idle,failover,rebalance,restart --no-build]
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from '../scripts/ensure.mjs';
import { MIB, cpuSecondsOf, fmt, fmtMs, listFlag, markdownTable, numberFlag, rssBytesOf } from './lib/report.mjs';

const STEPS = ['throughput', 'create', 'idle', 'failover', 'rebalance', 'restart'];
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '1,10,100,1000' },
    'idle-seconds': { type: 'string', default: '10' },
    members: { type: 'string', default: '100' },
    'log-mb': { type: 'string', default: '1024' },
    'segment-mb': { type: 'string', default: '128' },
    'record-size': { type: 'string', default: '1024' },
    only: { type: 'string', default: STEPS.join(',') },
    'no-build': { type: 'boolean', default: false },
  },
});
const seconds = numberFlag('seconds', values.seconds, { min: 0.5, max: 3600 });
const windowRecords = numberFlag('window', values.window, { min: 1, max: 1_000_000, integer: true });
const partitionCounts = values.partitions.split(',').map((p) => numberFlag('partitions', p, { min: 1, max: 100_000, integer: true }));
const idleSeconds = numberFlag('idle-seconds', values['idle-seconds'], { min: 1, max: 3600 });
const members = numberFlag('members', values.members, { min: 2, max: 10_000, integer: true });
const logMb = numberFlag('log-mb', values['log-mb'], { min: 4, max: 1_000_000 });
const segmentMb = numberFlag('segment-mb', values['segment-mb'], { min: 1, max: 2047 });
const recordSize = numberFlag('record-size', values['record-size'], { min: 1, max: 1_000_000, integer: true });
const steps = listFlag('only', values.only, STEPS);
const largest = Math.max(...partitionCounts);
const rebalanceTopicPartitions = partitionCounts.includes(100) ? 100 : largest;

if (!values['no-build']) ensureReady();
process.env.TRIBUTARY_LOG_LEVEL_NODES ??= 'warn';
const testing = await import(pathToFileURL(join(ROOT, 'packages/testing/dist/index.js')).href);
const client = await import(pathToFileURL(join(ROOT, 'packages/client/dist/index.js')).href);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rows = [];
const row = (figure, value, note = '') => { rows.push([figure, value, note]); console.log(`${figure}: ${value}${note === '' ? '' : `  (${note})`}`); };

async function until(what, probe, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return true;
    } catch { /* not yet: the node or the metadata is not there yet */ }
    if (Date.now() > deadline) { console.log(`  ${what}: not within ${timeoutMs} ms`); return false; }
    await sleep(intervalMs);
  }
}

/** bench/workload.mjs as its own process; returns its JSON line. */
async function workload(bootstrap, args) {
  const child = spawn(process.execPath, [join(ROOT, 'bench/workload.mjs'), '--system', 'tributary', '--servers', bootstrap,
    '--record-size', String(recordSize), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const status = await new Promise((res) => child.once('exit', (code) => res(code)));
  if (status !== 0) throw new Error(`workload ${args.join(' ')} failed with exit ${status}: ${stdout}`);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

async function fullyLed(admin, topic, replicas) {
  const [d] = await admin.describeTopics([topic]);
  return d.partitions.length > 0 && d.partitions.every((p) => p.leader >= 0 && p.isr.length === replicas);
}

async function createTopic(admin, topic, numPartitions, replicationFactor, configs = {}) {
  const t0 = performance.now();
  await admin.createTopics([{ topic, numPartitions, replicationFactor, configs: { 'min.insync.replicas': String(Math.min(2, replicationFactor)), ...configs } }]);
  const answeredMs = performance.now() - t0;
  const ok = await until(`${topic}: every partition led with a full ISR`, () => fullyLed(admin, topic, replicationFactor), 120_000, 200);
  return { answeredMs, readyMs: ok ? performance.now() - t0 : Number.NaN };
}

async function threeNodeSteps() {
  const cluster = await testing.startProcessCluster({ nodes: 3 });
  const admin = new client.Admin({ 'bootstrap.servers': cluster.bootstrapServers });
  const pids = () => cluster.nodes.map((n) => n.pid);
  try {
    await until('three unfenced brokers', async () => (await admin.describeCluster()).nodes.filter((n) => !n.fenced).length === 3, 30_000);
    const rssBefore = pids().map(rssBytesOf);
    const curve = [];
    for (const count of partitionCounts) {
      const topic = `scale-${count}`;
      const created = await createTopic(admin, topic, count, 3);
      if (count === largest && steps.includes('create')) {
        row(`create a ${count.toLocaleString('en-US')}-partition topic (RF=3)`, `${fmt(created.readyMs / 1000, 1)} s`,
          `CreateTopics answered after ${fmt(created.answeredMs / 1000, 1)} s; then every partition led with a full ISR`);
      }
      if (steps.includes('throughput')) {
        const cpu0 = pids().map(cpuSecondsOf);
        const r = await workload(cluster.bootstrapServers, ['--workload', 'async', '--topic', topic, '--keyed', '--seconds', String(seconds), '--window', String(windowRecords)]);
        const nodeCpuS = pids().map((pid, i) => cpuSecondsOf(pid) - cpu0[i]).reduce((a, b) => a + b, 0);
        curve.push([count.toLocaleString('en-US'), fmt(r.mbPerSec, 1), fmtMs(r.p50Ms), fmtMs(r.p99Ms), fmt((nodeCpuS + r.clientCpuS) / (r.bytes / MIB), 3)]);
        console.log(`  ${count} partitions: ${fmt(r.mbPerSec, 1)} MB/s, p50 ${fmtMs(r.p50Ms)} ms, p99 ${fmtMs(r.p99Ms)} ms`);
      }
    }
    await sleep(2000); // let the last leader elections and ISR changes settle before reading memory and idle CPU
    const rssAfter = pids().map(rssBytesOf);
    const totalPartitions = partitionCounts.reduce((a, b) => a + b, 0);
    row('RSS per node before the topics → after', rssBefore.map((b, i) => `${fmt(b / MIB, 0)} → ${fmt(rssAfter[i] / MIB, 0)} MB`).join(', '),
      `${totalPartitions.toLocaleString('en-US')} partitions, each node holds a replica of every one`);
    const perPartitionKb = rssAfter.map((a, i) => (a - rssBefore[i]) / 1024 / totalPartitions);
    row('RSS per partition replica', `${perPartitionKb.map((k) => fmt(k, 0)).join(' / ')} KB`, 'growth of each node\'s RSS / partitions it hosts (includes the load runs\' buffers)');
    if (steps.includes('idle')) {
      const cpu0 = pids().map(cpuSecondsOf);
      const t0 = performance.now();
      await sleep(idleSeconds * 1000);
      const wallS = (performance.now() - t0) / 1000;
      const pct = pids().map((pid, i) => ((cpuSecondsOf(pid) - cpu0[i]) / wallS) * 100);
      row(`idle CPU per node, ${totalPartitions.toLocaleString('en-US')} partitions, over ${idleSeconds} s`, `${pct.map((p) => fmt(p, 1)).join(' / ')} % of a core`);
    }
    if (steps.includes('throughput')) {
      console.log(`\n== throughput by partition count (keyed records, window ${windowRecords}, ${seconds} s each)\n`);
      console.log(markdownTable([{ title: 'partitions', align: 'right' }, { title: 'MB/s', align: 'right' }, { title: 'p50 ms', align: 'right' },
        { title: 'p99 ms', align: 'right' }, { title: 'CPU-s/MB (4 processes)', align: 'right' }], curve));
      console.log('');
    }
    if (steps.includes('rebalance')) await rebalance(cluster.bootstrapServers, `scale-${rebalanceTopicPartitions}`, rebalanceTopicPartitions);
    if (steps.includes('failover')) await controllerFailover(cluster, admin, totalPartitions);
  } finally {
    await admin.close().catch(() => {});
    await cluster.stop();
  }
}

async function controllerFailover(cluster, admin, totalPartitions) {
  const before = await admin.describeCluster();
  const victim = cluster.node(before.controller.leaderId);
  const survivors = cluster.nodes.filter((n) => n !== victim).map((n) => n.address).join(',');
  const probeAdmin = new client.Admin({ 'bootstrap.servers': survivors, 'default.api.timeout.ms': 3000, 'request.timeout.ms': 2000 });
  try {
    const t0 = performance.now();
    await victim.kill();
    let electedMs = Number.NaN;
    await until('a new active controller', async () => {
      const d = await probeAdmin.describeCluster();
      if (d.controller.leaderId >= 0 && d.controller.leaderId !== victim.nodeId && d.controller.term > before.controller.term) { electedMs = performance.now() - t0; return true; }
      return false;
    }, 60_000, 20);
    let writtenMs = Number.NaN;
    let attempt = 0;
    await until('a metadata write (CreateTopics)', async () => {
      attempt += 1;
      await probeAdmin.createTopics([{ topic: `failover-probe-${attempt}`, numPartitions: 1, replicationFactor: 2 }]);
      writtenMs = performance.now() - t0;
      return true;
    }, 60_000, 20);
    row(`controller failover (SIGKILL node ${victim.nodeId}, ${totalPartitions.toLocaleString('en-US')} partitions)`,
      `new controller ${fmt(electedMs, 0)} ms, metadata write ${fmt(writtenMs, 0)} ms`, 'from the kill');
    const r0 = performance.now();
    await victim.start(60_000);
    row(`restart of the killed controller node (its own data dir, ${totalPartitions.toLocaleString('en-US')} partitions)`, `${fmt((performance.now() - r0) / 1000, 1)} s`, 'until it answers Metadata');
  } finally {
    await probeAdmin.close().catch(() => {});
  }
}

async function rebalance(bootstrap, topic, partitions) {
  const group = `bench-rebalance-${process.pid}`;
  const consumers = [];
  const loops = [];
  let stopped = false;
  const covered = (cs) => {
    const seen = new Set();
    for (const c of cs) for (const tp of c.assignment()) seen.add(tp.partition);
    return seen.size === partitions && cs.every((c) => c.assignment().length > 0 || partitions < cs.length);
  };
  const t0 = performance.now();
  for (let i = 0; i < members; i += 1) {
    const c = new client.Consumer({ 'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': false, 'auto.offset.reset': 'latest' });
    c.subscribe([topic]);
    consumers.push(c);
    loops.push((async () => { while (!stopped && !c.closed) { try { await c.poll({ timeoutMs: 200 }); } catch { await sleep(100); } } })());
  }
  try {
    const formed = await until(`${members} members holding every partition`, () => covered(consumers), 180_000, 50);
    row(`consumer group of ${members} members forms (${partitions} partitions)`, formed ? `${fmt((performance.now() - t0) / 1000, 1)} s` : 'did not settle in 180 s',
      'from the first subscribe until every member holds a partition and all are covered');
    if (formed) {
      const leaver = consumers.pop();
      const t1 = performance.now();
      await leaver.close({ leaveGroup: true });
      const moved = await until('rebalance after a member leaves', () => covered(consumers) && consumers.some((c) => c.assignment().length > 1 || partitions < consumers.length), 180_000, 20);
      row(`rebalance after one of ${members} members leaves`, moved ? `${fmt((performance.now() - t1) / 1000, 2)} s` : 'did not settle in 180 s',
        'from close() until the survivors cover every partition again');
    }
  } finally {
    stopped = true;
    await Promise.allSettled(consumers.map((c) => c.close({ leaveGroup: false })));
    await Promise.allSettled(loops);
  }
}

function duMb(dir) {
  const r = spawnSync('du', ['-sm', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]);
}

/**
 * From the node's own log (pino JSON lines, `time` in ms since the epoch) written after byte `fromByte`: when the
 * partition's log was opened (and whether it recovered a tail) and when the node was started, relative to `t0WallMs`.
 */
function restartLogTimes(logFile, fromByte, t0WallMs, topic) {
  const text = readFileSync(logFile).subarray(fromByte).toString('utf8');
  let opened, started;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry;
    try { entry = JSON.parse(line); } catch { continue; }
    if (entry.msg === 'log opened' && String(entry.dir ?? '').includes(`${topic}-0`)) opened = entry;
    if (entry.msg === 'node started') started = entry;
  }
  return {
    openedS: opened === undefined ? Number.NaN : (opened.time - t0WallMs) / 1000,
    recovered: opened?.recovered,
    startedS: started === undefined ? Number.NaN : (started.time - t0WallMs) / 1000,
  };
}

async function restartSteps() {
  // Info level for this node: its 'log opened' and 'node started' lines time the recovery apart from the rest.
  process.env.TRIBUTARY_LOG_LEVEL_NODES = 'info';
  const cluster = await testing.startProcessCluster({ nodes: 1 });
  const node = cluster.nodes[0];
  const admin = new client.Admin({ 'bootstrap.servers': cluster.bootstrapServers });
  const topic = 'restart';
  const results = [];
  try {
    await until('an unfenced broker', async () => (await admin.describeCluster()).nodes.some((n) => !n.fenced), 30_000);
    await createTopic(admin, topic, 1, 1, { 'segment.bytes': String(Math.floor(segmentMb * MIB)) });
    await admin.close();
    let filledMb = 0;
    // An empty log first: the restart's fixed cost (process start, controller election, broker registration),
    // which the two filled restarts are read against.
    for (const targetMb of [0, logMb / 4, logMb]) {
      if (targetMb > filledMb) {
        const fill = await workload(cluster.bootstrapServers, ['--workload', 'async', '--topic', topic, '--seconds', '3600', '--window', '16384',
          '--max-mb', String(targetMb - filledMb), '-X', 'batch.size=524288', '-X', 'linger.ms=5']);
        filledMb = targetMb;
        console.log(`  filled at ${fmt(fill.mbPerSec, 1)} MB/s`);
      }
      const onDiskMb = duMb(node.options.dataDir);
      await node.kill();
      const logBytes = statSync(node.logFile).size;
      const t0 = performance.now();
      const t0WallMs = Date.now();
      await node.start(600_000);
      const readyMs = performance.now() - t0;
      const producer = new client.Producer({ 'bootstrap.servers': cluster.bootstrapServers, acks: 'all', 'linger.ms': 0 });
      try {
        await producer.send({ topic, value: Buffer.alloc(recordSize, 66) });
      } finally {
        await producer.close();
      }
      const producedMs = performance.now() - t0;
      const times = restartLogTimes(node.logFile, logBytes, t0WallMs, topic);
      results.push({ onDiskMb, readyMs, producedMs, ...times });
      row(`restart after SIGKILL, ${fmt(onDiskMb, 0)} MB on disk (segment.bytes ${segmentMb} MiB)`,
        `${fmt(readyMs / 1000, 2)} s to Metadata, ${fmt(producedMs / 1000, 2)} s to an acked produce`,
        `from the spawn: partition log opened at ${fmt(times.openedS, 2)} s (recovered a tail: ${times.recovered ?? '?'}), node started at ${fmt(times.startedS, 2)} s`
          + (Number.isNaN(times.openedS) || times.openedS <= 0 ? '' : `; size / time to open ≥ ${fmt(onDiskMb / times.openedS, 0)} MB/s (the time includes the process start)`));
    }
    if (results.length === 3) {
      const [, small, big] = results;
      const sizeRatio = big.onDiskMb / small.onDiskMb;
      const growth = big.producedMs / small.producedMs;
      row('restart time by log size', `${fmt(small.producedMs / 1000, 2)} s → ${fmt(big.producedMs / 1000, 2)} s for ${fmt(sizeRatio, 1)}× the log`,
        growth < 1 + (sizeRatio - 1) / 4 ? 'does not follow the log size: O(tail)' : 'grows with the log size: O(log), not O(tail)');
    }
  } finally {
    await admin.close().catch(() => {});
    await cluster.stop();
  }
}

const started = performance.now();
const loadAtStart = loadavg().map((l) => l.toFixed(1)).join(' ');
if (steps.some((s) => s !== 'restart')) {
  console.log(`== 3 combined node processes, RF=3, topics of ${partitionCounts.join(', ')} partitions`);
  await threeNodeSteps();
}
if (steps.includes('restart')) {
  console.log(`\n== 1 node process, RF=1, one partition, log filled to ${logMb / 4} then ${logMb} MB`);
  await restartSteps();
}
console.log(`\n== scaling summary (${fmt((performance.now() - started) / 1000, 0)} s)\n`);
console.log(markdownTable([{ title: 'figure', align: 'left' }, { title: 'value', align: 'right' }, { title: 'note', align: 'left' }], rows));
console.log(`\nload average (1, 5, 15 min) at start ${loadAtStart}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${availableParallelism()} cores`);
