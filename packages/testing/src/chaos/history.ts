// The history of a chaos run: every client operation, nemesis action and observation, one JSON
// object per line (history.jsonl), in the style of Jepsen's histories.
//
// Conventions (the checker depends on them):
// - A client operation is an `invoke` followed by exactly one completion from the same process:
//   `ok` (it happened), `fail` (it certainly did not happen) or `info` (unknown: a timeout, a lost
//   connection, a crash). `info` is never counted as lost, nor as failed.
// - A process runs one operation at a time per value; values written are unique in the whole run
//   (`p<producer>-<seq>`), so a read names the write it saw.
// - Observations that cannot be indeterminate (a record a consumer read, a metadata snapshot) are
//   single `ok` entries without an invoke.
// - `time` is milliseconds since the start of the run (monotonic within one recorder).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** What an operation does. Client ops, observations, nemesis actions and the final phase. */
export type OpFunction =
  | 'send' // value: the unique string written; ok carries partition + offset
  | 'read' // ok only: one record a consumer read (value, partition, offset)
  | 'assign' // ok only: a consumer (re)positioned: value = next offset it will read
  | 'poll-error' // info only: a consumer's poll failed (the consumer keeps its position)
  | 'create-topic' | 'delete-topic' // value: the topic name
  | 'metadata' // ok only: a node's view of partitions/controller (see MetadataObservation)
  | 'fault-start' | 'fault-end' // nemesis, info only: value = FaultEvent
  | 'probe' // final phase: a produce to one partition after the final heal; ok value = elapsed ms
  | 'final-metadata' // final phase, ok only: a node's converged view (value = MetadataObservation)
  | 'final-heal' // nemesis, info only: every fault healed, dead nodes restarted; the final phase starts
  // groups workload (group-member.ts, groups-workload.ts; checked by group-checker.ts):
  | 'group-join' | 'group-leave' | 'group-crash' // info only, process `groups`: value = the member's name
  | 'group-assign' // ok only, process = the ownership span: value = { known, committed } fetched right after
  | 'group-revoke' | 'group-lost' // a member gave up (ok) or lost (info) partitions: value = partition numbers
  | 'group-commit' // value: [{ partition, offset }] (offset = next to read)
  | 'offset-fetch' // the group's committed offsets; ok value: [{ partition, offset | null }]
  | 'group-drain' // final phase: ok when the group's commits reached the high watermarks, fail when not
  // txn workload (txn-member.ts, txn-workload.ts, txn-records.ts; checked by txn-checker.ts):
  | 'txn-input' // the input producer's send: value = input id `i<n>`; ok carries partition + offset
  | 'txn' // one transaction of a member: value = TxnOpValue; ok = committed, fail = aborted, info = unknown
  | 'txn-read' // ok only: one record a reader of the input or output topic returned (value = the record's value)
  | 'txn-verify' // final phase, per reader: ok when it reached the end offsets, fail when not
  | 'txn-drain' // final phase: ok when the group's committed offsets reached the input's end, fail when not
  | 'txn-final-offsets' // final phase: the group's committed offsets; ok value: [{ partition, offset | null }]
  | 'txn-member'; // info only, process `txn`: a member process started, exited, was killed, paused or resumed

export interface HistoryOp {
  readonly process: string;
  readonly type: OpType;
  readonly f: OpFunction;
  readonly value: unknown;
  /** Node the operation went to or was observed at, when known; null otherwise. */
  readonly node: number | null;
  /** Milliseconds since the start of the run. */
  readonly time: number;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  /** Error code or message of a fail/info. */
  readonly error?: string;
}

export interface PartitionObservation {
  readonly topic: string;
  readonly partition: number;
  /** -1 = no leader. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export interface MetadataObservation {
  readonly partitions: readonly PartitionObservation[];
  /** Topic names the node knows (for admin checks and convergence). */
  readonly topics: readonly string[];
  readonly controllerId: number;
}

export type FaultKind =
  | 'kill' | 'pause' | 'partition' | 'slow' | 'lossy' | 'rolling-restart' | 'kill-all' | 'disk-full' | 'power-loss';

export interface FaultEvent {
  /** Run-unique id pairing fault-start with fault-end. */
  readonly id: number;
  readonly fault: FaultKind;
  /** Node ids affected. */
  readonly targets: readonly number[];
  /** Human-readable specifics (partition grid, latency, …). */
  readonly detail?: string;
}

export const DEFAULT_FLUSH_LINES_MAX = 2_000;
export const DEFAULT_FLUSH_INTERVAL_MS = 250;

export interface HistoryRecorderOptions {
  /** JSONL file to write; undefined keeps the history in memory only (tests). */
  readonly file?: string;
  /** Wall clock, ms; the run starts at the recorder's construction. */
  readonly nowMs?: () => number;
  /** Buffered lines before a synchronous flush (bounds memory whatever the op rate). */
  readonly flushLinesMax?: number;
  readonly flushIntervalMs?: number;
  /** Also keep every op in memory (`ops`); default true. */
  readonly keepInMemory?: boolean;
}

/** Appends ops to history.jsonl with bounded buffering; `close()` flushes and is idempotent. */
export class HistoryRecorder {
  readonly startMs: number;
  readonly ops: HistoryOp[] = [];
  private readonly nowMs: () => number;
  private readonly flushLinesMax: number;
  private readonly keepInMemory: boolean;
  private fd: number | undefined;
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastTime = 0;

  constructor(options: HistoryRecorderOptions = {}) {
    this.nowMs = options.nowMs ?? Date.now;
    this.startMs = this.nowMs();
    this.flushLinesMax = options.flushLinesMax ?? DEFAULT_FLUSH_LINES_MAX;
    if (!(this.flushLinesMax >= 1)) throw new RangeError('flushLinesMax must be >= 1');
    this.keepInMemory = options.keepInMemory ?? true;
    if (options.file !== undefined) {
      this.fd = openSync(options.file, 'a');
      this.timer = setInterval(() => this.flush(), options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** Milliseconds since the run started, never going backwards. */
  elapsedMs(): number {
    this.lastTime = Math.max(this.lastTime, this.nowMs() - this.startMs);
    return this.lastTime;
  }

  record(op: Omit<HistoryOp, 'time'> & { readonly time?: number }): HistoryOp {
    const full: HistoryOp = { ...op, time: op.time ?? this.elapsedMs() };
    if (this.keepInMemory) this.ops.push(full);
    if (this.fd !== undefined) {
      this.buffer.push(JSON.stringify(full));
      if (this.buffer.length >= this.flushLinesMax) this.flush();
    }
    return full;
  }

  flush(): void {
    if (this.fd === undefined || this.buffer.length === 0) return;
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Parses history.jsonl; names the line of any malformed entry. */
export function parseHistory(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let op: unknown;
    try {
      op = JSON.parse(line);
    } catch (error) {
      throw new Error(`history line ${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (!isHistoryOp(op)) throw new Error(`history line ${i + 1}: not an op: ${line.slice(0, 200)}`);
    ops.push(op);
  }
  return ops;
}

export function readHistoryFile(file: string): HistoryOp[] {
  return parseHistory(readFileSync(file, 'utf8'));
}

function isHistoryOp(value: unknown): value is HistoryOp {
  if (typeof value !== 'object' || value === null) return false;
  const op = value as Record<string, unknown>;
  return typeof op.process === 'string' && typeof op.f === 'string' && typeof op.time === 'number'
    && (op.type === 'invoke' || op.type === 'ok' || op.type === 'fail' || op.type === 'info');
}

/** `p3-17` → { producer: 'p3', seq: 17 }; undefined for anything else. */
export function parseValue(value: unknown): { producer: string; seq: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(p\d+)-(\d+)$/.exec(value);
  if (match === null) return undefined;
  return { producer: match[1] as string, seq: Number(match[2]) };
}
