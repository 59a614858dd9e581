// The RPC fuzzer: fast-check drives random, well-typed-but-extreme and mutated requests (and batches
// of them, sent concurrently) at every RPC of an in-process 3-node cluster, while a well-behaved
// client writes acknowledged records in between. A run fails when a handler throws (gRPC INTERNAL or
// UNKNOWN, or UNKNOWN_SERVER_ERROR in a response), a node logs an error, a node stops serving, or —
// at each oracle check — a partition is offline or unwritable or an acknowledged record is lost.
// A failing run is shrunk by fast-check and printed with the seed and path that replay it; the
// cluster is restarted (fresh) when the failure may have damaged it, and fuzzing goes on.
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import pino from 'pino';
import type { Message } from 'protobufjs';
import { tributary } from '@tributary/protocol';
import { startCluster, type InProcessCluster } from '../cluster.js';
import { BATCH_GENERATOR_NAMES, type BatchGeneratorName } from './batch-generators.js';
import { FuzzOracle, rawUnary, type OracleFinding, type OraclePartition } from './fuzz-oracle.js';
import {
  GENERATOR_NAMES, loadRpcCatalog, MessageArbitraries, wireMutationArb,
  type GeneratorName, type MessageGeneratorName, type RpcInfo,
} from './rpc-catalog.js';

export const DEFAULT_FUZZ_SEED = 20_251_010;
export const DEFAULT_REQUESTS_PER_RUN_MAX = 6;
export const DEFAULT_ORACLE_EVERY_RUNS = 50;
/** fast-check runs per fc.check call; a failure ends its chunk, the next chunk goes on from seed + 1. */
export const DEFAULT_CHUNK_RUNS = 250;
/** Shrink attempts after a failure before the counterexample is taken as it is. */
export const DEFAULT_SHRINK_ATTEMPTS_MAX = 40;
/** Client deadline of one fuzzed request; a server-streaming call is cancelled earlier (STREAM_READ_MS). */
export const FUZZ_REQUEST_DEADLINE_MS = 3_000;
const STREAM_READ_MS = 200;
const STREAM_MESSAGES_MAX = 3;
const ORACLE_PARTITIONS = 3;
const ORACLE_TOPIC = 'fuzz-oracle';
const VICTIM_TOPICS = ['fuzz-victim-0', 'fuzz-victim-1', 'fuzz-victim-2', 'fuzz-victim-3'];
/** Replaced, at send time, by the cluster id of the cluster then running (a restart changes it). */
const CLUSTER_ID_TOKEN = '\u0000cluster-id\u0000';
const STATUS_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k])) as Record<number, string>;

export interface RpcFuzzOptions {
  readonly runs: number;
  readonly seed?: number;
  /** fast-check replay path of one counterexample (with its chunk's seed). */
  readonly path?: string;
  /** `Service.Method` names or `Service.*`; default every RPC. */
  readonly rpcs?: readonly string[];
  readonly generators?: readonly GeneratorName[];
  readonly requestsPerRunMax?: number;
  readonly oracleEveryRuns?: number;
  readonly chunkRuns?: number;
  readonly shrink?: boolean;
  readonly impersonate?: boolean;
  /** Pause between the well-behaved client's background sends, ms; 0 = only the oracle's own sends. */
  readonly backgroundIntervalMs?: number;
  /** Progress and findings, one line each. */
  readonly print?: (line: string) => void;
  /** Print every run's requests before sending them (to see what a hang was doing). */
  readonly trace?: boolean;
}

export interface FuzzFinding {
  readonly kind: string;
  readonly detail: string;
  readonly seed: number;
  /** The (shrunk) requests of the failing run, printable. */
  readonly requests: string;
  readonly replay: string;
}

export interface RpcFuzzReport {
  readonly seed: number;
  readonly runs: number;
  readonly requests: Record<string, number>;
  readonly statuses: Record<string, number>;
  readonly errorCodes: Record<string, number>;
  readonly warnings: Record<string, number>;
  /** INTERNAL answers grpc-js gave before any handler ran (undecodable request of a stream / Health), by RPC. */
  readonly deserializerInternal: Record<string, number>;
  readonly findings: FuzzFinding[];
  readonly crashes: number;
  readonly handlerErrors: number;
  readonly lostAcknowledged: number;
  readonly offlinePartitions: number;
  readonly acknowledged: number;
  readonly oracleChecks: number;
  readonly clusterStarts: number;
  readonly wallMs: number;
}

interface FuzzCase {
  readonly rpc: RpcInfo;
  /** Index into the cluster's nodes. */
  readonly node: number;
  /** 'batch': a Produce request carrying the enabled batch generators' record batches. */
  readonly generator: MessageGeneratorName | 'batch';
  /** Typed requests (one per stream message for client streams), or raw frames. */
  readonly messages: readonly Record<string, unknown>[];
  readonly mutate: ((bytes: Uint8Array) => Buffer) | undefined;
  readonly raw: readonly Buffer[] | undefined;
}

interface Problem {
  readonly kind: string;
  readonly detail: string;
  /** The cluster may be damaged: restart it before going on. */
  readonly damaging: boolean;
}

function count(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

function rpcMatches(rpc: RpcInfo, patterns: readonly string[] | undefined): boolean {
  if (patterns === undefined || patterns.length === 0) return true;
  return patterns.some((p) => p === rpc.name || (p.endsWith('.*') && rpc.name.startsWith(p.slice(0, -1))));
}

function substituteClusterId(value: unknown, clusterId: string): unknown {
  if (value === CLUSTER_ID_TOKEN) return clusterId;
  if (Array.isArray(value)) return value.map((v) => substituteClusterId(v, clusterId));
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteClusterId(v, clusterId)]));
  }
  return value;
}

/** A readable form of a case for reports: bytes as hex (cut), long strings cut. */
export function describeCase(c: FuzzCase): string {
  const show = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return v.length > 96 ? `hex:${Buffer.from(v.subarray(0, 96)).toString('hex')}…(${v.length} bytes)` : `hex:${Buffer.from(v).toString('hex')}`;
    if (typeof v === 'string') return v === CLUSTER_ID_TOKEN ? '<cluster id>' : v.length > 80 ? `${v.slice(0, 40)}…(${v.length} chars)` : v;
    if (Array.isArray(v)) return v.map(show);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]));
    return v;
  };
  const body = c.raw !== undefined ? c.raw.map(show) : c.messages.map(show);
  return `${c.rpc.name} -> node#${c.node} [${c.generator}] ${JSON.stringify(body)}${c.mutate === undefined ? '' : ` then ${String(c.mutate)}`}`;
}

/** Walks a decoded response for `error` fields; returns their codes (names). */
function errorCodesIn(value: unknown, out: string[]): string[] {
  if (Array.isArray(value)) for (const v of value) errorCodesIn(v, out);
  else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'error' && v !== null && typeof v === 'object' && 'code' in v) out.push(String((v as { code: unknown }).code));
      else errorCodesIn(v, out);
    }
  }
  return out;
}

/** Error-level log lines of the nodes, captured through the logger the cluster is given. */
class LogCapture {
  readonly errors: string[] = [];
  readonly warnings: Record<string, number> = {};
  readonly logger = pino({ level: 'warn' }, {
    write: (line: string) => {
      let entry: { level?: number; msg?: string; nodeId?: number; component?: string; err?: { message?: string; type?: string } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        this.errors.push(`unparsable log line: ${line.slice(0, 200)}`);
        return;
      }
      if ((entry.level ?? 0) >= 50) this.errors.push(`node ${entry.nodeId ?? '?'} ${entry.component ?? ''}: ${entry.msg ?? ''}${entry.err === undefined ? '' : ` (${entry.err.type ?? ''}: ${entry.err.message ?? ''})`}`);
      else count(this.warnings, `${entry.component ?? ''}: ${entry.msg ?? ''}`);
    },
  });
}

/** The live cluster and everything bound to it; replaced whole on a restart. */
interface Arena {
  readonly cluster: InProcessCluster;
  readonly clusterId: string;
  readonly clients: Map<number, grpc.Client>;
  readonly oracle: FuzzOracle;
}

export async function runRpcFuzz(options: RpcFuzzOptions): Promise<RpcFuzzReport> {
  const startedMs = Date.now();
  const print = options.print ?? (() => {});
  const seed = options.seed ?? DEFAULT_FUZZ_SEED;
  const generators = new Set(options.generators ?? GENERATOR_NAMES);
  for (const g of generators) if (!GENERATOR_NAMES.includes(g)) throw new RangeError(`fuzz: unknown generator ${g} (known: ${GENERATOR_NAMES.join(', ')})`);
  const rpcs = loadRpcCatalog().filter((r) => rpcMatches(r, options.rpcs) && r.kind !== 'bidi-stream');
  if (rpcs.length === 0) throw new RangeError(`fuzz: no RPC matches ${JSON.stringify(options.rpcs)}`);
  const requestsPerRunMax = options.requestsPerRunMax ?? DEFAULT_REQUESTS_PER_RUN_MAX;
  const oracleEvery = options.oracleEveryRuns ?? DEFAULT_ORACLE_EVERY_RUNS;
  const chunkRuns = options.chunkRuns ?? DEFAULT_CHUNK_RUNS;
  const logs = new LogCapture();
  const report = {
    seed, runs: 0, requests: {} as Record<string, number>, statuses: {} as Record<string, number>, errorCodes: {} as Record<string, number>,
    warnings: logs.warnings, deserializerInternal: {} as Record<string, number>, findings: [] as FuzzFinding[], crashes: 0, handlerErrors: 0, lostAcknowledged: 0, offlinePartitions: 0,
    acknowledged: 0, oracleChecks: 0, clusterStarts: 0, wallMs: 0,
  };
  const memberIds = [1, 2, 3];
  const oraclePartitions: OraclePartition[] = Array.from({ length: ORACLE_PARTITIONS }, (_, partition) => ({ topic: ORACLE_TOPIC, partition }));

  const startArena = async (): Promise<Arena> => {
    const cluster = await startCluster({ nodes: 3, logger: logs.logger, configs: { 'replica.fetch.wait.max.ms': '100' } });
    report.clusterStarts++;
    const clients = new Map(cluster.brokers.map((b) => [b.nodeId, new grpc.Client(b.address, grpc.credentials.createInsecure())] as const));
    const admin = clients.get(1)!;
    const create = tributary.v1.CreateTopicsRequest.encode({
      topics: [
        { name: ORACLE_TOPIC, numPartitions: ORACLE_PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
        ...VICTIM_TOPICS.slice(0, 2).map((name) => ({ name, numPartitions: 2, replicationFactor: 3 })),
      ],
    }).finish();
    const created = await rawUnary(admin, '/tributary.v1.Admin/CreateTopics', Buffer.from(create), 10_000);
    if (created.status !== undefined) throw new Error(`fuzz: creating the oracle topic failed: ${created.status.details}`);
    const md = await rawUnary(admin, '/tributary.v1.Broker/Metadata', Buffer.alloc(0), 5_000);
    const clusterId = md.response === undefined ? '' : tributary.v1.MetadataResponse.decode(md.response).clusterId;
    const oracle = new FuzzOracle({ bootstrapServers: cluster.bootstrapServers, clients, partitions: oraclePartitions, backgroundIntervalMs: options.backgroundIntervalMs ?? 20 });
    oracle.start();
    return { cluster, clusterId, clients, oracle };
  };
  const stopArena = async (arena: Arena): Promise<void> => {
    report.acknowledged += arena.oracle.ackedCount;
    await arena.oracle.stop();
    for (const c of arena.clients.values()) c.close();
    await arena.cluster.stop();
  };

  // ---- generators ----
  const messageArbs = new MessageArbitraries(
    { clusterId: CLUSTER_ID_TOKEN, oracleTopics: [ORACLE_TOPIC], victimTopics: VICTIM_TOPICS, memberIds, impersonate: options.impersonate ?? false },
    BATCH_GENERATOR_NAMES.filter((n) => generators.has(n)),
  );
  const caseArbs: fc.Arbitrary<FuzzCase>[] = [];
  const streamCount = (rpc: RpcInfo): { minLength: number; maxLength: number } => (rpc.kind === 'client-stream' ? { minLength: 1, maxLength: 3 } : { minLength: 1, maxLength: 1 });
  for (const rpc of rpcs) {
    for (let node = 0; node < memberIds.length; node++) {
      const targetId = memberIds[node]!;
      const base = { rpc, node, mutate: undefined, raw: undefined };
      if (generators.has('typed')) {
        caseArbs.push(fc.array(messageArbs.request(rpc, 'typed', targetId), streamCount(rpc)).map((messages) => ({ ...base, generator: 'typed' as const, messages })));
      }
      if (generators.has('wire')) {
        caseArbs.push(fc.tuple(fc.array(messageArbs.request(rpc, 'typed', targetId), streamCount(rpc)), wireMutationArb())
          .map(([messages, mutate]) => ({ ...base, generator: 'wire' as const, messages, mutate })));
      }
      if (generators.has('bytes')) {
        caseArbs.push(fc.array(fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ maxLength: 256 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 20_000 }) }), streamCount(rpc))
          .map((frames) => ({ ...base, generator: 'bytes' as const, messages: [], raw: frames.map((f) => Buffer.from(f)) })));
      }
      if (generators.has('raft-peer') && rpc.name === 'Raft.Send') {
        caseArbs.push(fc.array(messageArbs.request(rpc, 'raft-peer', targetId), streamCount(rpc)).map((messages) => ({ ...base, generator: 'raft-peer' as const, messages })));
      }
      // Produce requests carrying the enabled batch generators' record batches, weighted like a generator of their own.
      const envelope = rpc.name === 'Broker.Produce' ? messageArbs.produceEnvelope() : undefined;
      if (envelope !== undefined) {
        for (let i = 0; i < 4; i++) caseArbs.push(envelope.map((m) => ({ ...base, generator: 'batch' as const, messages: [m] })));
      }
    }
  }
  if (caseArbs.length === 0) throw new RangeError('fuzz: the chosen generators make no request for the chosen RPCs');
  const runArb = fc.array(fc.oneof(...caseArbs), { minLength: 1, maxLength: requestsPerRunMax });

  // ---- sending ----
  const encodeCase = (c: FuzzCase, clusterId: string): Buffer[] | string => {
    if (c.raw !== undefined) return [...c.raw];
    try {
      return c.messages.map((m) => {
        const bytes = c.rpc.requestType.encode(substituteClusterId(m, clusterId) as Record<string, unknown>).finish();
        return c.mutate === undefined ? Buffer.from(bytes) : c.mutate(bytes);
      });
    } catch (err) {
      return `the generator made a request protobufjs cannot encode: ${(err as Error).message}`;
    }
  };

  const checkResponse = (c: FuzzCase, bytes: Buffer, problems: Problem[]): void => {
    let decoded: Message;
    try {
      decoded = c.rpc.responseType.decode(bytes);
    } catch (err) {
      problems.push({ kind: 'bad-response', detail: `${c.rpc.name}: the response does not decode: ${(err as Error).message}`, damaging: false });
      return;
    }
    const codes = errorCodesIn(c.rpc.responseType.toObject(decoded, { enums: String }), []);
    for (const code of codes) {
      count(report.errorCodes, code);
      if (code === 'UNKNOWN_SERVER_ERROR') problems.push({ kind: 'handler-error', detail: `${c.rpc.name} answered UNKNOWN_SERVER_ERROR`, damaging: false });
    }
  };

  const checkStatus = (c: FuzzCase, status: grpc.StatusObject | undefined, problems: Problem[], cancelledByUs: boolean): void => {
    const name = status === undefined ? 'OK' : (STATUS_NAMES[status.code] ?? String(status.code));
    count(report.statuses, name);
    if (status === undefined) return;
    if (status.code === grpc.status.CANCELLED && cancelledByUs) return;
    if (status.code === grpc.status.INTERNAL || status.code === grpc.status.UNKNOWN || status.code === grpc.status.DATA_LOSS) {
      // grpc-js answers INTERNAL itself when a request that is not a valid message reaches an RPC
      // whose deserializer throws (streams, and grpc-health-check's Health): no handler ran. Counted
      // and reported, not a failing run (the generated unary services answer INVALID_ARGUMENT instead).
      if (status.details.startsWith('Error deserializing request')) count(report.deserializerInternal, c.rpc.name);
      else problems.push({ kind: 'handler-error', detail: `${c.rpc.name} answered ${name}: ${status.details}`, damaging: false });
    }
  };

  const sendCase = async (arena: Arena, c: FuzzCase, problems: Problem[]): Promise<void> => {
    const frames = encodeCase(c, arena.clusterId);
    if (typeof frames === 'string') {
      problems.push({ kind: 'generator', detail: frames, damaging: false });
      return;
    }
    count(report.requests, c.rpc.name);
    const client = arena.clients.get(memberIds[c.node]!)!;
    const identity = (b: Buffer): Buffer => b;
    const deadline = Date.now() + FUZZ_REQUEST_DEADLINE_MS;
    if (c.rpc.kind === 'unary') {
      const { status, response } = await rawUnary(client, c.rpc.path, frames[0]!, FUZZ_REQUEST_DEADLINE_MS);
      checkStatus(c, status, problems, false);
      if (response !== undefined) checkResponse(c, response, problems);
    } else if (c.rpc.kind === 'server-stream') {
      await new Promise<void>((resolve) => {
        const call = client.makeServerStreamRequest(c.rpc.path, identity, identity, frames[0]!, { deadline });
        let messages = 0;
        let cancelled = false;
        const timer = setTimeout(() => { cancelled = true; call.cancel(); }, STREAM_READ_MS);
        call.on('data', (bytes: Buffer) => {
          checkResponse(c, bytes, problems);
          if (++messages >= STREAM_MESSAGES_MAX && !cancelled) { cancelled = true; call.cancel(); }
        });
        call.on('error', (err: grpc.ServiceError) => {
          clearTimeout(timer);
          checkStatus(c, { code: err.code, details: err.details, metadata: err.metadata }, problems, cancelled);
          resolve();
        });
        call.on('end', () => {
          clearTimeout(timer);
          if (!cancelled) checkStatus(c, undefined, problems, false);
          resolve();
        });
      });
    } else {
      await new Promise<void>((resolve) => {
        const call = client.makeClientStreamRequest(c.rpc.path, identity, identity, { deadline }, (err, response) => {
          if (err !== null) checkStatus(c, { code: err.code, details: err.details, metadata: err.metadata }, problems, false);
          else {
            checkStatus(c, undefined, problems, false);
            if (response !== undefined) checkResponse(c, response, problems);
          }
          resolve();
        });
        for (const f of frames) call.write(f);
        call.end();
      });
    }
  };

  // ---- the property ----
  let arena: Arena | undefined;
  let needsRestart = false;
  let runsSinceOracle = 0;
  let failure: { problems: Problem[]; last: Problem[]; attempts: number } | undefined;
  const shrinkMax = options.shrink === false ? 0 : DEFAULT_SHRINK_ATTEMPTS_MAX;

  const runOracle = async (a: Arena, full: boolean): Promise<Problem[]> => {
    report.oracleChecks++;
    const found: OracleFinding[] = await a.oracle.check({ full });
    return found.map((f) => ({ kind: f.kind, detail: f.detail, damaging: true }));
  };

  const property = fc.asyncProperty(runArb, async (cases) => {
    if (failure !== undefined) {
      // Shrinking: a bounded number of attempts, and none after a state-level (oracle) failure.
      if (failure.attempts >= shrinkMax || failure.problems.every((p) => p.kind !== 'handler-error' && p.kind !== 'error-log' && p.kind !== 'node-not-serving' && p.kind !== 'bad-response')) return true;
      failure.attempts++;
    } else {
      report.runs++;
    }
    if (arena === undefined || needsRestart) {
      if (arena !== undefined) await stopArena(arena);
      arena = undefined;
      arena = await startArena();
      needsRestart = false;
      runsSinceOracle = 0;
    }
    const a = arena;
    if (options.trace === true) print(`run ${report.runs}${failure === undefined ? '' : ' (shrinking)'}:\n    ${cases.map(describeCase).join('\n    ')}`);
    const logMark = logs.errors.length;
    const problems: Problem[] = [];
    await Promise.all(cases.map((c) => sendCase(a, c, problems)));
    for (const f of await a.oracle.checkServing()) problems.push({ kind: f.kind, detail: f.detail, damaging: true });
    if (failure === undefined && ++runsSinceOracle >= oracleEvery) {
      runsSinceOracle = 0;
      problems.push(...await runOracle(a, false));
    }
    for (const line of logs.errors.slice(logMark)) {
      const damaging = /raft driver failed|log failed|AssertionError/.test(line);
      problems.push({ kind: 'error-log', detail: line, damaging });
    }
    if (problems.length === 0) return true;
    if (problems.some((p) => p.damaging)) needsRestart = true;
    if (failure === undefined) failure = { problems, last: problems, attempts: 0 };
    else failure.last = problems;
    throw new Error(problems.map((p) => `${p.kind}: ${p.detail}`).join('\n'));
  });

  // ---- chunks ----
  const record = (problems: readonly Problem[], chunkSeed: number, requests: string, replay: string): void => {
    for (const p of problems) {
      report.findings.push({ kind: p.kind, detail: p.detail, seed: chunkSeed, requests, replay });
      if (p.kind === 'handler-error' || p.kind === 'bad-response') report.handlerErrors++;
      else if (p.kind === 'lost-acked-record' || p.kind === 'duplicate-record') report.lostAcknowledged++;
      else if (p.kind === 'offline-partition') report.offlinePartitions++;
      else if (p.kind !== 'generator') report.crashes++;
    }
  };
  try {
    let done = 0;
    for (let chunk = 0; done < options.runs; chunk++) {
      const chunkSeed = seed + chunk;
      const numRuns = options.path !== undefined ? 1 : Math.min(chunkRuns, options.runs - done);
      const runsBefore = report.runs;
      failure = undefined;
      const details = await fc.check(property, {
        seed: chunkSeed, numRuns, ...(options.path === undefined ? {} : { path: options.path }),
        endOnFailure: shrinkMax === 0,
      });
      done += options.path !== undefined ? options.runs : Math.max(1, report.runs - runsBefore);
      if (details.failed && failure !== undefined) {
        const f = { problems: (failure as { last: Problem[] }).last };
        const requests = (details.counterexample?.[0] as FuzzCase[] | undefined ?? []).map(describeCase).join('\n    ');
        const replay = `npm run fuzz -- --seed ${chunkSeed} --path ${details.counterexamplePath ?? ''}${options.rpcs === undefined ? '' : ` --rpcs ${options.rpcs.join(',')}`} --generators ${[...generators].join(',')}`;
        record(f.problems, chunkSeed, requests, replay);
        print(`FINDING (seed ${chunkSeed}, run ${report.runs}):\n  ${f.problems.map((p) => `${p.kind}: ${p.detail}`).join('\n  ')}\n  shrunk requests:\n    ${requests}\n  replay: ${replay}`);
      }
      print(`fuzz: ${report.runs}/${options.runs} runs, ${Object.values(report.requests).reduce((s, n) => s + n, 0)} requests, ${report.findings.length} findings, ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
      if (options.path !== undefined) break;
    }
    if (arena !== undefined && !needsRestart) {
      const final = await runOracle(arena, true);
      if (final.length > 0) {
        record(final, seed, '(final oracle check)', `npm run fuzz -- --seed ${seed} --runs ${options.runs}`);
        print(`FINDING (final oracle check):\n  ${final.map((p) => `${p.kind}: ${p.detail}`).join('\n  ')}`);
      }
    }
  } finally {
    if (arena !== undefined) await stopArena(arena);
  }
  report.wallMs = Date.now() - startedMs;
  return report;
}

/** The figures of a report, one per line, for the end of a run. */
export function formatFuzzReport(report: RpcFuzzReport): string {
  const sorted = (m: Record<string, number>): string => Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
  const requests = Object.values(report.requests).reduce((s, n) => s + n, 0);
  const byKind: Record<string, number> = {};
  for (const f of report.findings) count(byKind, f.kind);
  return [
    `seed: ${report.seed}`,
    `runs: ${report.runs} (${(report.wallMs / Math.max(1, report.runs)).toFixed(1)} ms/run), requests: ${requests}, oracle checks: ${report.oracleChecks}, cluster starts: ${report.clusterStarts}`,
    `requests by RPC: ${sorted(report.requests)}`,
    `gRPC statuses: ${sorted(report.statuses)}`,
    `typed errors by code: ${sorted(report.errorCodes)}`,
    `acknowledged records (well-behaved client): ${report.acknowledged}`,
    `crashes: ${report.crashes}`,
    `handler errors (INTERNAL/UNKNOWN/UNKNOWN_SERVER_ERROR): ${report.handlerErrors}`,
    `lost acknowledged records: ${report.lostAcknowledged}`,
    `offline partitions: ${report.offlinePartitions}`,
    `findings by kind: ${sorted(byKind)}`,
    `INTERNAL from grpc-js's deserializer, no handler ran (not counted as findings): ${sorted(report.deserializerInternal)}`,
    `node warnings (top 8): ${Object.entries(report.warnings).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} x${v}`).join('; ') || '-'}`,
    `wall time: ${(report.wallMs / 1000).toFixed(1)} s`,
  ].join('\n');
}
