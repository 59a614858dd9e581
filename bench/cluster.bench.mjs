#!/usr/bin/env node
// `npm run bench:cluster`: timed client workloads (bench/workload.mjs, one process per phase) against a local
// 3-node Tributary cluster (three combined node processes on loopback, temp data dirs), topic RF=3
// min.insync.replicas=2, acks=all, 1 KiB records; with `--peer nats`, the same workloads against a 3-node
// NATS JetStream cluster (R=3, file store) in the same invocation, after the Tributary cluster has stopped.
//
// Phases (each ~--seconds long):
//   async-defaults  as fast as the client goes, client defaults, at most 16 MiB of records unacknowledged
//                   (what `tributary perf produce` keeps in flight)
//   async-batched   the same with batch.size=512 KiB linger.ms=5 (NATS has no such knob: not run there)
//   async-window    at most --window records unacknowledged (default 256), client defaults
//   sync            one record outstanding (batch.size = one record, linger.ms 0, max.in.flight 1)
//   consume         read the load topic from its start until caught up
//   rate            paced to --rate-mb MB/s (default 10)
//   e2e             produce one record (acks=all), wait until a tailing consumer has it, again
//   txn             (Tributary only) transactional produce committing every 100 ms vs idempotent produce
//                   (bench/txn-produce.mjs)
// For every phase it prints CPU-seconds per MB of each process (the three nodes from /proc/<pid>/stat, the
// client from its own process.cpuUsage()) and at the end the summary table of issue 13 in markdown, with
// Tributary/NATS ratios when the peer ran. Prints figures; asserts nothing.
//
//   npm run bench:cluster [-- --seconds 10 --peer nats --window 256 --rate-mb 10 --partitions 3 --record-size 1024
//                            --only async-defaults,async-batched,async-window,sync,consume,rate,e2e,txn
//                            --txn-records 100000 --commit-interval-ms 100 --cpu-prof DIR --logs DIR --no-build -X k=v]
//
// --cpu-prof DIR runs Tributary's node 1 and the clients under `node --cpu-prof`, leaving .cpuprofile files in DIR.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from '../scripts/ensure.mjs';
import { findNatsServer, startNatsCluster } from './lib/nats-cluster.mjs';
import {
  E2E_TOPIC, LOAD_TOPIC, MIB, cpuPerMiB, cpuSecondsOf, fmt, fmtMs, listFlag, markdownTable, numberFlag, ratio,
} from './lib/report.mjs';

const PHASES = ['async-defaults', 'async-batched', 'async-window', 'sync', 'consume', 'rate', 'e2e', 'txn'];
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    peer: { type: 'string' },
    window: { type: 'string', default: '256' },
    'rate-mb': { type: 'string', default: '10' },
    'txn-records': { type: 'string', default: '100000' },
    'commit-interval-ms': { type: 'string', default: '100' },
    'record-size': { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '3' },
    only: { type: 'string', default: PHASES.join(',') },
    'cpu-prof': { type: 'string' },
    /** Keep each node's log (level info) in this directory. */
    logs: { type: 'string' },
    /** Use the packages' current dist/ as is (e.g. while another package's sources do not compile). */
    'no-build': { type: 'boolean', default: false },
    'producer-property': { type: 'string', short: 'X', multiple: true, default: [] },
  },
});
const seconds = numberFlag('seconds', values.seconds, { min: 0.5, max: 3600 });
const recordSize = numberFlag('record-size', values['record-size'], { min: 1, max: 1_000_000, integer: true });
const windowRecords = numberFlag('window', values.window, { min: 1, max: 1_000_000, integer: true });
const rateMb = numberFlag('rate-mb', values['rate-mb'], { min: 0.001, max: 10_000 });
const partitions = numberFlag('partitions', values.partitions, { min: 1, max: 10_000, integer: true });
numberFlag('txn-records', values['txn-records'], { min: 1, integer: true });
numberFlag('commit-interval-ms', values['commit-interval-ms'], { min: 1, integer: true });
const phases = listFlag('only', values.only, PHASES);
const peers = values.peer === undefined ? [] : listFlag('peer', values.peer, ['nats']);
/** Records `tributary perf produce` keeps unacknowledged (PERF_IN_FLIGHT_BYTES_MAX = 16 MiB). */
const defaultsWindow = Math.max(1, Math.min(50_000, Math.floor((16 * MIB) / recordSize)));

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

async function waitFor(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (probe()) return;
    if (Date.now() > deadline) throw new Error(`bench:cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The phases as workloads; `nats: false` = not run against NATS (no equivalent knob). */
const WORKLOADS = {
  'async-defaults': { title: `async produce, client defaults, window ${defaultsWindow.toLocaleString('en-US')} records`, args: ['--workload', 'async', '--window', String(defaultsWindow)] },
  'async-batched': { title: `async produce, batch.size 512 KiB linger.ms 5, window ${defaultsWindow.toLocaleString('en-US')} records`, nats: false,
    args: ['--workload', 'async', '--window', String(defaultsWindow), '-X', 'batch.size=524288', '-X', 'linger.ms=5'] },
  'async-window': { title: `async produce, client defaults, window ${windowRecords} records`, args: ['--workload', 'async', '--window', String(windowRecords)] },
  sync: { title: 'sync produce, one record outstanding', args: ['--workload', 'sync'] },
  consume: { title: 'consume from the start of the load topic until caught up', args: ['--workload', 'consume'] },
  rate: { title: `fixed rate asked ${rateMb} MB/s`, args: ['--workload', 'rate', '--rate-mb', String(rateMb), '--window', String(defaultsWindow)] },
  e2e: { title: 'end to end: produce (acks=all) → tailing consumer, one record at a time', args: ['--workload', 'e2e'] },
};

/** Runs one workload process; returns its JSON plus the CPU each server process used meanwhile. */
async function runWorkload(system, servers, serverPids, phase) {
  const w = WORKLOADS[phase];
  const extra = system === 'tributary' ? values['producer-property'].flatMap((p) => ['-X', p]) : [];
  let before = serverPids.map(cpuSecondsOf);
  let after;
  const child = spawn(node, [...(system === 'tributary' ? profArgs(`client-${phase}`) : []), join(ROOT, 'bench/workload.mjs'),
    '--system', system, '--servers', servers, '--seconds', String(seconds), '--record-size', String(recordSize), ...w.args, ...extra],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  // The nodes' CPU is read when the workload says START and when its result line arrives (see workload.mjs).
  let stdout = '';
  child.stdout.on('data', (d) => {
    const seenStart = stdout.includes('START\n');
    stdout += d;
    if (!seenStart && stdout.includes('START\n')) before = serverPids.map(cpuSecondsOf);
    if (after === undefined && /\n\{.*\}\n/.test(stdout)) after = serverPids.map(cpuSecondsOf);
  });
  const status = await new Promise((res) => child.once('exit', (code) => res(code)));
  if (status !== 0) throw new Error(`${system} ${phase} failed with exit ${status}: ${stdout}`);
  const r = JSON.parse(stdout.trim().split('\n').at(-1));
  after ??= serverPids.map(cpuSecondsOf);
  const nodeCpuS = serverPids.map((pid, i) => after[i] - before[i]);
  const cpuByProcess = { client: r.clientCpuS, ...Object.fromEntries(nodeCpuS.map((s, i) => [`node ${i + 1}`, s])) };
  const perMiB = cpuPerMiB(cpuByProcess, r.bytes);
  const lat = Number.isNaN(r.p50Ms ?? Number.NaN) || r.p50Ms === null ? '' : `  p50 ${fmtMs(r.p50Ms)} ms  p99 ${fmtMs(r.p99Ms)} ms  p99.9 ${fmtMs(r.p999Ms)} ms`;
  console.log(`${system.padEnd(9)} ${phase.padEnd(14)} ${fmt(r.recordsPerSec, 0).padStart(8)} rec/s ${fmt(r.mbPerSec, 1).padStart(6)} MB/s${lat}`);
  console.log(`${''.padEnd(24)} CPU-s per MB: ${Object.entries(perMiB.perProcess).map(([n, v]) => `${n} ${fmt(v, 3)}`).join(', ')}; total ${fmt(perMiB.total, 3)}`
    + ` (${fmt(r.bytes / MIB, 0)} MB in ${fmt(r.seconds, 1)} s)`);
  return { ...r, cpuByProcess, cpuPerMiB: perMiB };
}

// ---- Tributary

async function runTributary() {
  const dir = mkdtempSync(join(tmpdir(), 'trib-bench-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
  const brokers = ports.map((p) => `127.0.0.1:${p}`).join(',');
  const cliSync = (args) => spawnSync(node, [cli, '-b', brokers, ...args], { cwd: ROOT, encoding: 'utf8' });
  const logDir = values.logs === undefined ? undefined : resolve(values.logs);
  if (logDir !== undefined) mkdirSync(logDir, { recursive: true });
  const servers = ports.map((port, i) => spawn(node, [...(i === 0 ? profArgs('node-1') : []), cli, 'server', '--node-id', String(i + 1),
    '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, `node-${i + 1}`), '--voters', voters], {
    stdio: logDir === undefined ? ['ignore', 'ignore', 'inherit'] : ['ignore', openSync(join(logDir, `node-${i + 1}.log`), 'w'), openSync(join(logDir, `node-${i + 1}.log`), 'a')],
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: logDir === undefined ? 'warn' : 'info' },
  }));
  const results = {};
  let txnLines = [];
  try {
    await waitFor('three brokers', () => {
      const r = cliSync(['cluster', 'info', '--format', 'json']);
      if (r.status !== 0) return false;
      const info = JSON.parse(r.stdout);
      return (info.nodes ?? []).filter((n) => n.roles.includes('broker') && n.fenced === false).length === 3;
    }, 30_000);
    for (const [topic, count] of [[LOAD_TOPIC, partitions], [E2E_TOPIC, 1]]) {
      const created = cliSync(['topic', 'create', topic, '-p', String(count), '-r', '3', '-c', 'min.insync.replicas=2']);
      if (created.status !== 0) throw new Error(`topic create ${topic} failed: ${created.stderr}`);
      await waitFor(`full ISR on every partition of ${topic}`, () => {
        const r = cliSync(['topic', 'describe', topic, '--format', 'json']);
        if (r.status !== 0) return false;
        const parts = JSON.parse(r.stdout).partitions ?? JSON.parse(r.stdout)[0]?.partitions ?? [];
        return parts.length > 0 && parts.every((p) => p.leader >= 0 && p.isr.length === 3);
      }, 20_000);
    }
    console.log(`\n== Tributary: 3 combined node processes, RF=3, min.insync.replicas=2, acks=all, ${recordSize} B records, ${partitions} partitions, ${seconds} s per phase`);
    for (const phase of phases) {
      if (phase === 'txn') txnLines = await txnComparison(brokers, cliSync);
      else results[phase] = await runWorkload('tributary', brokers, servers.map((s) => s.pid), phase);
    }
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r() : s.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  }
  return { results, txnLines };
}

/** bench/txn-produce.mjs as its own process; its last stdout line is the JSON result. */
async function txnProduceRun(brokers, mode) {
  const child = spawn(node, [...profArgs(`client-txn-${mode}`), join(ROOT, 'bench/txn-produce.mjs'), '--bootstrap', brokers, '--topic', 'bench-txn',
    '--records', values['txn-records'], '--record-size', String(recordSize), '--mode', mode, '--commit-interval-ms', values['commit-interval-ms']],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const status = await new Promise((res) => child.once('exit', (code) => res(code)));
  if (status !== 0) throw new Error(`txn-produce --mode ${mode} failed with exit ${status}: ${stdout}`);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

/** Idempotent vs transactional (commit every --commit-interval-ms) on a topic of its own; prints both and the ratio. */
async function txnComparison(brokers, cliSync) {
  const created = cliSync(['topic', 'create', 'bench-txn', '-p', String(partitions), '-r', '3', '-c', 'min.insync.replicas=2']);
  if (created.status !== 0) throw new Error(`topic create failed: ${created.stderr}`);
  console.log(`\n== transactional vs idempotent: ${values['txn-records']} x ${recordSize} B each, acks=all, linger.ms=5, commit every ${values['commit-interval-ms']} ms`);
  const idempotent = await txnProduceRun(brokers, 'idempotent');
  const txn = await txnProduceRun(brokers, 'transactional');
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

// ---- NATS JetStream

async function runNats() {
  const found = findNatsServer();
  if (found.path === undefined) {
    console.log(`\n== NATS JetStream: skipped, ${found.reason}`);
    return { skipped: found.reason, results: {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'trib-bench-nats-'));
  const ports = [];
  for (let i = 0; i < 6; i += 1) ports.push(await freePort());
  const results = {};
  let cluster;
  try {
    cluster = await startNatsCluster({ natsServer: found.path, dir, ports, streams: [LOAD_TOPIC, E2E_TOPIC] });
    console.log(`\n== NATS JetStream (${found.version}): 3 nats-server processes, stream R=3 file store, publish acknowledged by the stream, ${recordSize} B messages, ${seconds} s per phase`);
    for (const phase of phases) {
      if (phase === 'txn' || WORKLOADS[phase].nats === false) continue;
      results[phase] = await runWorkload('nats', cluster.servers, cluster.pids, phase);
    }
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { version: found.version, results };
}

// ---- summary

function summaryTable(t, n) {
  const withPeer = n !== undefined;
  const rows = [];
  const add = (figure, tCell, nCell, r) => rows.push(withPeer ? [figure, tCell, nCell, r] : [figure, tCell]);
  const mbs = (r) => (r === undefined ? '–' : `${fmt(r.mbPerSec, 1)} MB/s`);
  const lat = (r) => (r === undefined ? '–' : `${fmtMs(r.p50Ms)} / ${fmtMs(r.p99Ms)} ms`);
  const latRatio = (a, b) => (a === undefined || b === undefined ? '–' : `${ratio(a.p50Ms, b.p50Ms)} / ${ratio(a.p99Ms, b.p99Ms)}`);
  const noKnob = 'no such knob';
  for (const phase of ['async-defaults', 'async-batched', 'async-window']) {
    if (!phases.includes(phase)) continue;
    const a = t[phase], b = n?.[phase];
    const nats = WORKLOADS[phase].nats === false;
    add(WORKLOADS[phase].title, mbs(a), nats ? noKnob : mbs(b), nats ? '' : ratio(a?.mbPerSec, b?.mbPerSec));
    add('  latency at that load, p50 / p99', lat(a), nats ? '' : lat(b), nats ? '' : latRatio(a, b));
  }
  if (phases.includes('sync')) {
    const a = t.sync, b = n?.sync;
    const recs = (r) => (r === undefined ? '–' : `${fmt(r.recordsPerSec, 0)} rec/s`);
    add('sync produce, one outstanding', recs(a), recs(b), ratio(a?.recordsPerSec, b?.recordsPerSec));
    add('  latency p50 / p99', lat(a), lat(b), latRatio(a, b));
  }
  if (phases.includes('consume')) add('consume (from the start, caught up)', mbs(t.consume), mbs(n?.consume), ratio(t.consume?.mbPerSec, n?.consume?.mbPerSec));
  if (phases.includes('rate')) {
    add(`fixed rate asked ${rateMb} MB/s, delivered`, mbs(t.rate), mbs(n?.rate), ratio(t.rate?.mbPerSec, n?.rate?.mbPerSec));
    add('  latency p50 / p99', lat(t.rate), lat(n?.rate), latRatio(t.rate, n?.rate));
  }
  if (phases.includes('e2e')) add('end to end produce → consumer, one at a time, p50 / p99', lat(t.e2e), lat(n?.e2e), latRatio(t.e2e, n?.e2e));
  for (const phase of ['async-defaults', 'async-window']) {
    if (!phases.includes(phase)) continue;
    const cpu = (r) => (r === undefined ? '–' : `${fmt(r.cpuPerMiB.total, 3)} CPU-s/MB`);
    add(`end-to-end CPU per MB (all 4 processes), ${phase}`, cpu(t[phase]), cpu(n?.[phase]), ratio(t[phase]?.cpuPerMiB.total, n?.[phase]?.cpuPerMiB.total));
  }
  const columns = [{ title: 'figure', align: 'left' }, { title: 'Tributary', align: 'right' }];
  if (withPeer) columns.push({ title: 'NATS JetStream R3', align: 'right' }, { title: 'Tributary / NATS', align: 'right' });
  return markdownTable(columns, rows);
}

function cpuTable(bySystem) {
  const rows = [];
  for (const [system, results] of bySystem) {
    for (const [phase, r] of Object.entries(results)) {
      const p = r.cpuPerMiB.perProcess;
      rows.push([system, phase, fmt(r.bytes / MIB, 0), fmt(p.client, 3), fmt(p['node 1'], 3), fmt(p['node 2'], 3), fmt(p['node 3'], 3), fmt(r.cpuPerMiB.total, 3)]);
    }
  }
  return markdownTable([
    { title: 'system', align: 'left' }, { title: 'phase', align: 'left' }, { title: 'MB', align: 'right' }, { title: 'client', align: 'right' },
    { title: 'node 1', align: 'right' }, { title: 'node 2', align: 'right' }, { title: 'node 3', align: 'right' }, { title: 'total', align: 'right' },
  ], rows);
}

// The machine's load beside the figures: on a shared machine it says how far the absolute numbers can be trusted.
const loadAtStart = loadavg().map((l) => l.toFixed(1)).join(' ');
const tributary = await runTributary();
const nats = peers.includes('nats') ? await runNats() : undefined;
const systems = [['Tributary', tributary.results], ...(nats === undefined || nats.skipped !== undefined ? [] : [['NATS', nats.results]])];
console.log('\n== CPU-seconds per MB, per process (MB = MiB of record payload moved in the phase)\n');
console.log(cpuTable(systems));
const natsRan = nats !== undefined && nats.skipped === undefined;
console.log(`\n== summary (${natsRan ? 'RF=3 / R=3' : 'RF=3'}, acks=all, ${recordSize} B records, ${partitions} partitions, ${seconds} s per phase`
  + `${natsRan ? '; ratios are Tributary / NATS, >1 = Tributary higher' : ''})\n`);
console.log(summaryTable(tributary.results, natsRan ? nats.results : undefined));
if (nats?.skipped !== undefined) console.log(`\nNATS JetStream peer skipped: ${nats.skipped}`);
for (const l of tributary.txnLines) console.log(l);
console.log(`\nload average (1, 5, 15 min) at start ${loadAtStart}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${availableParallelism()} cores`);
