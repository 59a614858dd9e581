// runChaos: one chaos run end to end. Start the cluster behind the fault proxy, create the topic,
// run the workloads while the nemesis follows its seeded schedule, then the final phase — heal all,
// restart dead nodes, probe every partition, drain, read everything, compare every node's metadata —
// and check the history. Writes history.jsonl, results.json, report.html and the node logs into
// the run directory. `npm run chaos` (scripts/chaos.mjs) is the command line.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@tributary/client';
import { ChaosCluster, NETWORKS, TOPOLOGIES, type NetworkKind, type Topology } from './chaos-cluster.js';
import { canonicalMetadata, checkHistory, type CheckResult } from './checker.js';
import { HistoryRecorder, type MetadataObservation } from './history.js';
import { NEMESIS_FAMILIES, Nemesis, planSchedule, type ActiveFault, type NemesisFamily, type ScheduleMode } from './nemesis.js';
import { renderReport } from './report-html.js';
import { SeededRandom } from './seeded-random.js';
import { computeStats, type RunStats } from './stats.js';
import { DEFAULT_GROUPS_WORKLOAD, GroupsWorkload } from './groups-workload.js';
import { DEFAULT_TXN_WORKLOAD, TxnWorkload } from './txn-workload.js';
import { TXN_OUTPUT_TOPIC } from './txn-records.js';
import { AdminWorkload, DEFAULT_QUEUE_WORKLOAD, ProbeProducer, QueueWorkload, readAll, errorCode } from './workloads.js';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `queue` is the base of every run that names anything but `txn` (groups reads its topic); a run of
 * `txn` alone runs only the transactions and the final probes.
 */
export const WORKLOADS = ['queue', 'admin', 'groups', 'txn'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface ChaosOptions {
  /** Length of the fault phase, seconds. */
  readonly timeS: number;
  readonly seed: number;
  readonly nemesis: readonly NemesisFamily[];
  readonly topology: Topology;
  readonly workloads: readonly WorkloadName[];
  readonly schedule: ScheduleMode;
  /** Parent of the run directory (`<dir>/<timestamp>-<seed>/`). */
  readonly outDir: string;
  readonly partitions: number;
  readonly ratePerSecond: number;
  /** Bound on the final probes: each partition must accept a produce within this, ms. */
  readonly recoveryBoundMs: number;
  /** How links are cut (chaos-cluster.ts NETWORKS); netns needs root. */
  readonly network: NetworkKind;
  readonly log?: (line: string) => void;
}

export const DEFAULT_CHAOS_OPTIONS = {
  timeS: 60,
  seed: 1,
  nemesis: ['kill', 'pause', 'partition'] as NemesisFamily[],
  topology: 'combined3' as Topology,
  workloads: ['queue'] as WorkloadName[],
  schedule: 'random' as ScheduleMode,
  outDir: '.chaos',
  partitions: 4,
  ratePerSecond: DEFAULT_QUEUE_WORKLOAD.ratePerSecond,
  recoveryBoundMs: 30_000,
  network: 'proxy' as NetworkKind,
} as const;

const TOPIC = 'chaos-queue';
const OBSERVE_INTERVAL_MS = 1_000;
const DRAIN_TIMEOUT_MS = 60_000;
const CONVERGE_TIMEOUT_MS = 30_000;

export interface ChaosResult {
  readonly runDir: string;
  readonly check: CheckResult;
  readonly stats: RunStats;
  readonly skipped: Readonly<Record<string, string>>;
  readonly summary: string;
}

/** Parses `--time 120 --seed 7 --nemesis kill,pause --topology combined3 --workload queue,admin ...`. */
export function parseChaosArgs(argv: readonly string[]): ChaosOptions {
  const issues: string[] = [];
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) { issues.push(`unexpected argument ${arg}`); continue; }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) { issues.push(`--${name} needs a value`); continue; }
    values.set(name, value);
  }
  const known = new Set(['time', 'seed', 'nemesis', 'topology', 'workload', 'schedule', 'out', 'partitions', 'rate', 'recovery-bound-ms', 'network']);
  for (const name of values.keys()) if (!known.has(name)) issues.push(`unknown option --${name}`);
  const int = (name: string, fallback: number, min: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) { issues.push(`--${name} must be an integer >= ${min}, got ${raw}`); return fallback; }
    return n;
  };
  const list = <T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] => {
    const raw = values.get(name);
    if (raw === undefined) return [...fallback];
    const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
    if (bad.length > 0) issues.push(`--${name}: unknown ${bad.join(', ')} (choose from ${allowed.join(', ')})`);
    return items.filter((s): s is T => (allowed as readonly string[]).includes(s));
  };
  const topology = values.get('topology') ?? DEFAULT_CHAOS_OPTIONS.topology;
  if (!(TOPOLOGIES as readonly string[]).includes(topology)) issues.push(`--topology must be one of ${TOPOLOGIES.join(', ')}, got ${topology}`);
  const schedule = values.get('schedule') ?? DEFAULT_CHAOS_OPTIONS.schedule;
  if (schedule !== 'random' && schedule !== 'single') issues.push(`--schedule must be random or single, got ${schedule}`);
  const network = values.get('network') ?? DEFAULT_CHAOS_OPTIONS.network;
  if (!(NETWORKS as readonly string[]).includes(network)) issues.push(`--network must be one of ${NETWORKS.join(', ')}, got ${network}`);
  const options: ChaosOptions = {
    timeS: int('time', DEFAULT_CHAOS_OPTIONS.timeS, 1),
    seed: int('seed', DEFAULT_CHAOS_OPTIONS.seed, 0),
    nemesis: values.get('nemesis') === 'none' ? [] : list('nemesis', NEMESIS_FAMILIES, DEFAULT_CHAOS_OPTIONS.nemesis),
    topology: topology as Topology,
    workloads: list('workload', WORKLOADS, DEFAULT_CHAOS_OPTIONS.workloads),
    schedule: schedule as ScheduleMode,
    outDir: values.get('out') ?? DEFAULT_CHAOS_OPTIONS.outDir,
    partitions: int('partitions', DEFAULT_CHAOS_OPTIONS.partitions, 1),
    ratePerSecond: int('rate', DEFAULT_CHAOS_OPTIONS.ratePerSecond, 1),
    recoveryBoundMs: int('recovery-bound-ms', DEFAULT_CHAOS_OPTIONS.recoveryBoundMs, 100),
    network: network as NetworkKind,
  };
  if (options.workloads.length === 0) issues.push(`--workload: at least one of ${WORKLOADS.join(', ')}`);
  if (issues.length > 0) throw new Error(`chaos: ${issues.join('; ')}`);
  return options;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}


export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = join(options.outDir, `${stamp}-${options.seed}`);
  mkdirSync(runDir, { recursive: true });
  const random = new SeededRandom(options.seed);
  const schedule = planSchedule({ random: random.fork(), families: options.nemesis, timeMs: options.timeS * 1000, mode: options.schedule });
  const replay = `npm run chaos -- --time ${options.timeS} --seed ${options.seed} --nemesis ${options.nemesis.join(',') || 'none'} ` +
    `--topology ${options.topology} --workload ${options.workloads.join(',')} --schedule ${options.schedule}` +
    (options.network === 'proxy' ? '' : ` --network ${options.network}`);
  log(`chaos: run dir ${runDir}`);
  log(`chaos: replay with: ${replay}`);

  const cluster = await ChaosCluster.start({
    topology: options.topology, dir: runDir, random: random.fork(), tmpfsData: options.nemesis.includes('disk-full'), network: options.network,
  });
  // Every client of this process now dials through the proxy as endpoint `client` — or, under
  // netns, straight to the nodes' namespaces (an earlier run's proxy setting must not linger).
  if (cluster.clientProxyUrl === undefined) delete process.env.grpc_proxy;
  else process.env.grpc_proxy = cluster.clientProxyUrl;
  process.env.no_grpc_proxy = '';
  process.env.no_proxy = '';
  const history = new HistoryRecorder({ file: join(runDir, 'history.jsonl') });
  const bootstrapServers = cluster.bootstrapServers;
  const leaders = new Map<string, number>();
  let observing = true;
  let observerLoop: Promise<void> = Promise.resolve();
  let groups: GroupsWorkload | undefined;
  const txn = options.workloads.includes('txn')
    ? new TxnWorkload({
      bootstrapServers, history, random: random.fork(), log, replicationFactor: cluster.plan.replicationFactor, ...DEFAULT_TXN_WORKLOAD,
      locate: { coordinatorOf: (key, keyType) => cluster.coordinatorOf(key, keyType), leaderOf: (topic, partition) => cluster.leaderOf(topic, partition) },
    })
    : undefined;
  const runQueue = options.workloads.some((w) => w !== 'txn');
  // The leaders the nemesis aims at: of the queue's topic, or without a queue of the txn output.
  const nemesis = new Nemesis({
    cluster, history, random: random.fork(), log, ...(txn === undefined ? {} : { apps: txn }),
    ...(runQueue ? { topic: TOPIC, partitions: options.partitions } : { topic: TXN_OUTPUT_TOPIC, partitions: DEFAULT_TXN_WORKLOAD.outputPartitions }),
  });
  try {
    await createTopic(bootstrapServers, TOPIC, options.partitions, cluster.plan.replicationFactor);
    await txn?.createTopics();
    observerLoop = (async () => {
      while (observing) {
        for (const id of cluster.runningIds()) {
          try {
            const observation = await cluster.observer.metadata(id);
            history.record({ process: `obs-n${id}-${cluster.node(id).process.pid ?? 0}`, type: 'ok', f: 'metadata', value: observation, node: id });
            for (const p of observation.partitions) if (p.leader >= 0) leaders.set(`${p.topic}/${p.partition}`, p.leader);
          } catch {
            // A node that does not answer is not an observation.
          }
        }
        await sleep(OBSERVE_INTERVAL_MS);
      }
    })();

    const queue = new QueueWorkload({
      bootstrapServers, topic: TOPIC, partitions: options.partitions, history,
      producers: DEFAULT_QUEUE_WORKLOAD.producers, consumers: DEFAULT_QUEUE_WORKLOAD.consumers,
      ratePerSecond: options.ratePerSecond, inFlightPerProducerMax: DEFAULT_QUEUE_WORKLOAD.inFlightPerProducerMax,
      deliveryTimeoutMs: DEFAULT_QUEUE_WORKLOAD.deliveryTimeoutMs, requestTimeoutMs: DEFAULT_QUEUE_WORKLOAD.requestTimeoutMs,
      leaderHint: (topic, partition) => leaders.get(`${topic}/${partition}`) ?? null, log,
    });
    const admin = options.workloads.includes('admin')
      ? new AdminWorkload({ bootstrapServers, history, replicationFactor: cluster.plan.replicationFactor, intervalMs: 1_000, liveTopicsMax: 3 })
      : undefined;
    groups = options.workloads.includes('groups')
      ? new GroupsWorkload({
        bootstrapServers, topic: TOPIC, history, random: random.fork(), log, ...DEFAULT_GROUPS_WORKLOAD,
      })
      : undefined;
    if (runQueue) queue.start();
    admin?.start();
    txn?.start();
    groups?.start();
    const startedMs = Date.now();

    // Fault phase.
    for (const planned of schedule) {
      const waitMs = startedMs + planned.atMs - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      let active: ActiveFault | undefined;
      try {
        active = await nemesis.inject(planned.family, planned.durationMs);
      } catch (error) {
        log(`nemesis: ${planned.family} failed: ${(error as Error).message}`);
      }
      if (active === undefined) continue;
      await sleep(planned.durationMs);
      await active.heal();
    }
    const endWaitMs = startedMs + options.timeS * 1000 - Date.now();
    if (endWaitMs > 0) await sleep(endWaitMs);

    // Final phase: heal, restart, probe, drain, read, converge.
    await nemesis.healAll();
    history.record({ process: 'nemesis', type: 'info', f: 'final-heal', value: null, node: null });
    log('chaos: final heal; probing every partition');
    await admin?.stop();
    await probePartitions({ bootstrapServers, history, partitions: options.partitions, boundMs: options.recoveryBoundMs });
    await queue.stopProducers();
    const endOffsets = await highWatermarks(bootstrapServers, options.partitions);
    const [caughtUp, groupCaughtUp] = await Promise.all([
      queue.drainConsumers(endOffsets, DRAIN_TIMEOUT_MS), groups?.drain(endOffsets, DRAIN_TIMEOUT_MS) ?? true,
    ]);
    if (!caughtUp) log('chaos: consumers did not catch up with the high watermarks within the drain timeout');
    if (!groupCaughtUp) log('chaos: the consumer group did not commit up to the high watermarks within the drain timeout');
    await groups?.stop();
    const fullRead = await readAll({ bootstrapServers, topic: TOPIC, endOffsets, history, processName: 'final-reader', timeoutMs: DRAIN_TIMEOUT_MS });
    if (!fullRead) log('chaos: the final reader did not reach the high watermarks');
    if (txn !== undefined) {
      log('chaos: txn: draining the group, stopping the members, reading both topics to the end');
      await txn.finish(DRAIN_TIMEOUT_MS);
    }
    await recordFinalMetadata(cluster, history);
  } finally {
    observing = false;
    groups?.kill(); // no-op after stop(); a run that threw leaves no member process behind
    txn?.stopNow();
    await observerLoop;
    history.close();
    await cluster.stop();
  }

  const check = checkHistory(history.ops);
  const stats = computeStats(history.ops);
  const skipped = Object.fromEntries(nemesis.skipped);
  const meta: Record<string, string> = {
    seed: String(options.seed), commit: gitCommit(), topology: options.topology, nemesis: options.nemesis.join(',') || 'none',
    workloads: options.workloads.join(','), schedule: options.schedule, network: options.network, 'fault phase': `${options.timeS} s`,
    'run time': `${(stats.durationMs / 1000).toFixed(1)} s`, replay,
  };
  const results = { meta, valid: check.valid, counts: check.counts, violations: check.violations, skipped, stats: { ...stats, seconds: undefined }, seconds: stats.seconds };
  writeFileSync(join(runDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(runDir, 'report.html'), renderReport({ title: `Tributary chaos run, seed ${options.seed}`, meta, check, stats, skipped }));
  const summary = summarize(check, stats, runDir, replay);
  log(summary);
  return { runDir, check, stats, skipped, summary };
}

/** How long the run's topic creation may wait for enough unfenced brokers at start, ms. */
const CREATE_TOPIC_WAIT_MS = 60_000;

async function createTopic(bootstrapServers: string, topic: string, partitions: number, replicationFactor: number): Promise<void> {
  const admin = new Admin({ 'bootstrap.servers': bootstrapServers, 'default.api.timeout.ms': 30_000 });
  const deadline = Date.now() + CREATE_TOPIC_WAIT_MS;
  try {
    for (;;) {
      try {
        await admin.createTopics([{ topic, numPartitions: partitions, replicationFactor }], { ifNotExists: true });
        return;
      } catch (err) {
        // Right after start, brokers can still be fenced (registered, not yet unfenced): the controller
        // answers INVALID_REPLICATION_FACTOR ("0 available brokers") until they are. Seen under load.
        if ((err as { code?: string }).code !== 'INVALID_REPLICATION_FACTOR' || Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  } finally {
    await admin.close();
  }
}

async function probePartitions(options: { bootstrapServers: string; history: HistoryRecorder; partitions: number; boundMs: number }): Promise<void> {
  const prober = new ProbeProducer({ bootstrapServers: options.bootstrapServers, topic: TOPIC, history: options.history, deliveryTimeoutMs: 5_000, requestTimeoutMs: 2_000 });
  try {
    await Promise.all(Array.from({ length: options.partitions }, async (_, partition) => {
      const started = Date.now();
      options.history.record({ process: `probe-${partition}`, type: 'invoke', f: 'probe', value: null, node: null, topic: TOPIC, partition });
      let lastError = 'no attempt';
      while (Date.now() - started < options.boundMs) {
        try {
          await prober.send(partition);
          options.history.record({ process: `probe-${partition}`, type: 'ok', f: 'probe', value: Date.now() - started, node: null, topic: TOPIC, partition });
          return;
        } catch (error) {
          lastError = errorCode(error);
          await sleep(200);
        }
      }
      options.history.record({ process: `probe-${partition}`, type: 'fail', f: 'probe', value: Date.now() - started, node: null, topic: TOPIC, partition, error: lastError });
    }));
  } finally {
    await prober.close();
  }
}

async function highWatermarks(bootstrapServers: string, partitions: number): Promise<Map<number, number>> {
  const admin = new Admin({ 'bootstrap.servers': bootstrapServers, 'default.api.timeout.ms': 30_000 });
  try {
    const listed = await admin.listOffsets(Array.from({ length: partitions }, (_, partition) => ({ topic: TOPIC, partition, spec: 'latest' as const })));
    return new Map(listed.map((l) => [l.partition, l.offset]));
  } finally {
    await admin.close();
  }
}

/** Polls every node until their views agree (or the timeout), then records each node's last view. */
async function recordFinalMetadata(cluster: ChaosCluster, history: HistoryRecorder): Promise<void> {
  const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
  let views = new Map<number, MetadataObservation>();
  while (Date.now() < deadline) {
    views = new Map();
    for (const id of cluster.brokerIds) {
      try { views.set(id, await cluster.observer.metadata(id)); } catch { /* not answering yet */ }
    }
    const distinct = new Set([...views.values()].map(canonicalMetadata));
    if (views.size === cluster.brokerIds.length && distinct.size === 1) break;
    await sleep(500);
  }
  for (const [id, view] of views) history.record({ process: 'final', type: 'ok', f: 'final-metadata', value: view, node: id });
  for (const id of cluster.brokerIds) {
    if (!views.has(id)) history.record({ process: 'final', type: 'fail', f: 'final-metadata', value: null, node: id, error: 'no answer' });
  }
}

/** `kill p50 1.2 s max 3.4 s (n 3), pause …`: the per-fault-type recovery figures. */
export function formatRecoveryByType(stats: RunStats): string {
  const s = (ms: number | null): string => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);
  return Object.entries(stats.recoveryByType)
    .map(([kind, r]) => `${kind} p50 ${s(r.p50Ms)} max ${s(r.maxMs)} (n ${r.faults}${r.unrecovered > 0 ? `, ${r.unrecovered} never` : ''})`)
    .join('; ');
}

export function summarize(check: CheckResult, stats: RunStats, runDir: string, replay: string): string {
  const c = check.counts;
  const byKind = new Map<string, number>();
  for (const v of check.violations) byKind.set(v.kind, (byKind.get(v.kind) ?? 0) + 1);
  const lines = [
    `chaos: ${check.valid ? 'PASS' : 'FAIL'} — ${(stats.durationMs / 1000).toFixed(1)} s`,
    `  sends: ${c.sendsAttempted} attempted, ${c.sendsOk} ok, ${c.sendsFailed} failed, ${c.sendsIndeterminate} indeterminate; ${c.valuesRead} values read`,
    `  lost ${c.lost} (prefix ${c.lostByPosition.prefix}, middle ${c.lostByPosition.middle}, postfix ${c.lostByPosition.postfix}), unseen ${c.unseen}, duplicated ${c.duplicated}, inconsistent offsets ${c.inconsistentOffsets}, order ${c.orderViolations}`,
    `  faults: ${Object.entries(stats.faultsByType).map(([k, v]) => `${k}×${v}`).join(' ') || 'none'}`,
    `  availability ${(stats.availability * 100).toFixed(1)} % (in faults ${stats.availabilityInFaults === null ? '—' : `${(stats.availabilityInFaults * 100).toFixed(1)} %`}), longest unavailable ${stats.longestUnavailableMs} ms, ${stats.throughputOkPerSecond.toFixed(1)} acked/s, latency p50 ${stats.latencyMs.p50} ms p99 ${stats.latencyMs.p99} ms`,
    `  recovery after heal (every partition acked again): ${formatRecoveryByType(stats) || 'no faults'}`,
    ...(c.groups.spans === 0 ? [] : [
      `  group: ${c.groups.spans} partition takeovers, ${c.groups.groupReads} records read, commits ${c.groups.commitsOk} ok / ${c.groups.commitsFailed} refused / ${c.groups.commitsIndeterminate} indeterminate, ${c.groups.offsetFetchesOk} offset fetches`,
    ]),
    ...(c.txn.txnsAttempted === 0 ? [] : [
      `  txn: ${c.txn.inputs} inputs (${c.txn.inputsAcked} acked), ${c.txn.txnsAttempted} transactions: ${c.txn.committed} committed, ` +
      `${c.txn.abortedDeliberate} aborted on purpose, ${c.txn.abortedByFault} aborted by faults, ${c.txn.indeterminate} indeterminate (${c.txn.indeterminateVisible} visible); ` +
      `${c.txn.outputsCommitted} committed outputs; duplicates ${c.txn.duplicates}, aborted reads ${c.txn.abortedReads}, lost ${c.txn.lost}, partial ${c.txn.partial}; ` +
      `${c.txn.abortedOutputsWritten} aborted outputs seen by read_uncommitted`,
    ]),
    ...(byKind.size === 0 ? [] : [`  violations: ${[...byKind].map(([k, n]) => `${k}×${n}`).join(' ')}`]),
    `  report: ${join(runDir, 'report.html')}`,
    `  replay: ${replay}`,
  ];
  return lines.join('\n');
}
