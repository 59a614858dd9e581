// txn workload: exactly-once consume-transform-produce under faults (issue 12). An input producer
// (idempotent, acks=all) writes unique inputs `i<n>` to `chaos-txn-in`; `members` member processes
// (txn-member.ts) in group `chaos-txn` copy them transactionally to `chaos-txn-out` with their input
// offsets, aborting some transactions on purpose; a read_committed reader tails the output during
// the faults. The nemesis may kill, pause and restart the members (AppProcesses) and aims at the
// nodes that matter here (transaction and group coordinators, output leaders: `targets()`).
// After the final heal, finish(): the group drains the input, the members stop, then three readers
// read to the end — the input (plain), the output read_uncommitted and read_committed — and the
// group's committed offsets are recorded. txn-checker.ts judges the history.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Admin, Consumer, GroupAdmin, Producer, type ConsumerRecord } from '@tributary/client';
import type { EmittedOp } from './group-member.js';
import type { HistoryRecorder } from './history.js';
import type { AppProcesses, NemesisTarget } from './nemesis.js';
import type { SeededRandom } from './seeded-random.js';
import { EXIT_FATAL, type TxnMemberConfig } from './txn-member.js';
import {
  inputId, READER_FINAL_COMMITTED, READER_FINAL_INPUT, READER_FINAL_UNCOMMITTED, READER_TAIL_COMMITTED,
  TXN_GROUP_ID, TXN_INPUT_TOPIC, TXN_OUTPUT_TOPIC, type TxnOpValue,
} from './txn-records.js';
import { DEFINITE_SEND_FAILURES, errorCode, pickPartition } from './workloads.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TxnWorkloadOptions {
  readonly bootstrapServers: string;
  readonly history: HistoryRecorder;
  readonly random: SeededRandom;
  readonly replicationFactor: number;
  readonly inputPartitions: number;
  readonly outputPartitions: number;
  /** Inputs written per second, and at most this many in all. */
  readonly inputRatePerSecond: number;
  readonly inputRecordsMax: number;
  /** Member processes (slots) at once. */
  readonly members: number;
  readonly sessionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly transactionTimeoutMs: number;
  readonly maxPollRecords: number;
  readonly abortProbability: number;
  /** Where nodes are, for the nemesis (out of band, never through the fault proxy). */
  readonly locate: {
    readonly coordinatorOf: (key: string, keyType: 'group' | 'transaction') => Promise<number | undefined>;
    readonly leaderOf: (topic: string, partition: number) => Promise<number | undefined>;
  };
  readonly log?: (line: string) => void;
}

export const DEFAULT_TXN_WORKLOAD = {
  inputPartitions: 3,
  outputPartitions: 3,
  inputRatePerSecond: 40,
  inputRecordsMax: 100_000,
  members: 3,
  sessionTimeoutMs: 6_000,
  requestTimeoutMs: 3_000,
  transactionTimeoutMs: 10_000,
  maxPollRecords: 10,
  abortProbability: 0.1,
} as const;

/** How long a stopping member may take to end its transaction and leave before it is killed, ms. */
const MEMBER_STOP_TIMEOUT_MS = 15_000;
/** Pause before a member that exited on its own (fatal error) is started again, ms; doubled per quick exit in a row. */
const MEMBER_RESTART_DELAY_MS = 500;
const MEMBER_RESTART_DELAY_MAX_MS = 8_000;
/** A member that lived shorter than this exited "quickly" (a failing start, not a fenced veteran). */
const MEMBER_QUICK_EXIT_MS = 5_000;
const INPUT_IN_FLIGHT_MAX = 20;

function memberMainPath(): string {
  const here = fileURLToPath(new URL('./txn-member-main.js', import.meta.url));
  return here.replace(/\/src\/chaos\//, '/dist/chaos/');
}

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly pending: Map<string, EmittedOp>;
}

interface Slot {
  readonly index: number;
  readonly transactionalId: string;
  incarnation: number;
  member: Member | undefined;
  /** Killed by the nemesis: restarted by the fault's heal, not by the exit handler. */
  held: boolean;
  paused: boolean;
  /** Quick exits in a row (backs off the restarts of a member that cannot start). */
  quickExits: number;
}

export class TxnWorkload implements AppProcesses {
  private readonly slots: Slot[];
  private running = false;
  private producing = false;
  private tailing = false;
  private inputLoop: Promise<void> = Promise.resolve();
  private tailLoop: Promise<void> = Promise.resolve();
  private readonly log: (line: string) => void;

  constructor(private readonly options: TxnWorkloadOptions) {
    this.log = options.log ?? (() => undefined);
    this.slots = Array.from({ length: options.members }, (_, index) => ({
      index, transactionalId: `chaos-txn-${index + 1}`, incarnation: 0, member: undefined, held: false, paused: false, quickExits: 0,
    }));
  }

  async createTopics(): Promise<void> {
    const { options } = this;
    const admin = new Admin({ 'bootstrap.servers': options.bootstrapServers, 'default.api.timeout.ms': 30_000 });
    try {
      await admin.createTopics([
        { topic: TXN_INPUT_TOPIC, numPartitions: options.inputPartitions, replicationFactor: options.replicationFactor },
        { topic: TXN_OUTPUT_TOPIC, numPartitions: options.outputPartitions, replicationFactor: options.replicationFactor },
      ], { ifNotExists: true });
    } finally {
      await admin.close();
    }
  }

  start(): void {
    this.running = true;
    this.producing = true;
    this.tailing = true;
    for (const slot of this.slots) this.startSlot(slot);
    this.inputLoop = this.produceInputs();
    this.tailLoop = this.tail();
  }

  // ---- AppProcesses (the nemesis) ---------------------------------------------------------------

  names(): string[] {
    return this.slots.flatMap((s) => (s.member === undefined || s.paused ? [] : [s.member.name]));
  }

  async kill(name: string): Promise<() => Promise<void>> {
    const slot = this.slotOf(name);
    if (slot?.member === undefined) return async () => undefined;
    slot.held = true;
    this.event('killed', slot.member.name);
    const member = slot.member;
    member.child.kill('SIGKILL');
    await member.exited;
    return async () => {
      slot.held = false;
      if (slot.member === undefined && this.running) this.startSlot(slot);
    };
  }

  pause(name: string): () => Promise<void> {
    const slot = this.slotOf(name);
    const member = slot?.member;
    if (slot === undefined || member === undefined) return async () => undefined;
    slot.paused = true;
    this.event('paused', member.name);
    member.child.kill('SIGSTOP');
    return async () => {
      if (!slot.paused || slot.member !== member) return;
      slot.paused = false;
      this.event('resumed', member.name);
      member.child.kill('SIGCONT');
    };
  }

  async killAll(): Promise<() => Promise<void>> {
    const restarts = await Promise.all(this.slots.flatMap((s) => (s.member === undefined ? [] : [this.kill(s.member.name)])));
    return async () => { for (const restart of restarts) await restart(); };
  }

  /** The final heal: every paused member continued, every held slot started again. */
  async healAll(): Promise<void> {
    for (const slot of this.slots) {
      if (slot.paused && slot.member !== undefined) {
        slot.paused = false;
        this.event('resumed', slot.member.name);
        slot.member.child.kill('SIGCONT');
      }
      slot.held = false;
      if (slot.member === undefined && this.running) this.startSlot(slot);
    }
  }

  /** Nodes worth a fault: each slot's transaction coordinator, the group coordinator, the output leaders. */
  async targets(): Promise<NemesisTarget[]> {
    const { locate } = this.options;
    const found: NemesisTarget[] = [];
    for (const slot of this.slots) {
      const node = await locate.coordinatorOf(slot.transactionalId, 'transaction').catch(() => undefined);
      if (node !== undefined) found.push({ nodeId: node, why: `transaction coordinator ${node} of ${slot.transactionalId}` });
    }
    const group = await locate.coordinatorOf(TXN_GROUP_ID, 'group').catch(() => undefined);
    if (group !== undefined) found.push({ nodeId: group, why: `group coordinator ${group} of ${TXN_GROUP_ID}` });
    for (let p = 0; p < this.options.outputPartitions; p++) {
      const leader = await locate.leaderOf(TXN_OUTPUT_TOPIC, p).catch(() => undefined);
      if (leader !== undefined) found.push({ nodeId: leader, why: `leader ${leader} of ${TXN_OUTPUT_TOPIC}/${p}` });
    }
    return found;
  }

  // ---- final phase ------------------------------------------------------------------------------

  /**
   * After the final heal: stop the input, wait for the group to commit up to the input's end,
   * stop the members, read everything, record the group's offsets. Each step is bounded by timeoutMs.
   */
  async finish(timeoutMs: number): Promise<void> {
    const { options } = this;
    this.producing = false;
    await this.inputLoop;
    const inputEnds = await this.endOffsets(TXN_INPUT_TOPIC, options.inputPartitions);
    await this.drain(inputEnds, timeoutMs);
    this.running = false;
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot)));
    this.tailing = false;
    await this.tailLoop;
    const outputEnds = await this.endOffsets(TXN_OUTPUT_TOPIC, options.outputPartitions);
    await Promise.all([
      this.readToEnd({ topic: TXN_INPUT_TOPIC, ends: inputEnds, reader: READER_FINAL_INPUT, isolation: 'read_uncommitted', timeoutMs }),
      this.readToEnd({ topic: TXN_OUTPUT_TOPIC, ends: outputEnds, reader: READER_FINAL_UNCOMMITTED, isolation: 'read_uncommitted', timeoutMs }),
      this.readToEnd({ topic: TXN_OUTPUT_TOPIC, ends: outputEnds, reader: READER_FINAL_COMMITTED, isolation: 'read_committed', timeoutMs }),
    ]);
    await this.recordFinalOffsets(timeoutMs);
  }

  /** SIGKILLs every member (a run that ends abnormally); returns at once. */
  stopNow(): void {
    this.running = false;
    this.producing = false;
    this.tailing = false;
    for (const slot of this.slots) {
      slot.member?.child.kill('SIGCONT');
      slot.member?.child.kill('SIGKILL');
    }
  }

  // ---- members ----------------------------------------------------------------------------------

  private slotOf(name: string): Slot | undefined {
    return this.slots.find((s) => s.member?.name === name);
  }

  private event(event: string, member: string, extra: Record<string, unknown> = {}): void {
    this.options.history.record({ process: 'txn', type: 'info', f: 'txn-member', value: { event, member, ...extra }, node: null });
  }

  private startSlot(slot: Slot): void {
    const { options } = this;
    slot.incarnation += 1;
    const name = `x${slot.index + 1}.${slot.incarnation}`;
    const config: TxnMemberConfig = {
      bootstrapServers: options.bootstrapServers, inputTopic: TXN_INPUT_TOPIC, outputTopic: TXN_OUTPUT_TOPIC,
      outputPartitions: options.outputPartitions, groupId: TXN_GROUP_ID, name, transactionalId: slot.transactionalId,
      transactionTimeoutMs: options.transactionTimeoutMs, sessionTimeoutMs: options.sessionTimeoutMs, requestTimeoutMs: options.requestTimeoutMs,
      maxPollRecords: options.maxPollRecords, abortProbability: options.abortProbability, seed: options.random.int(0, 2 ** 31),
      debugLog: process.env.TRIBUTARY_CHAOS_MEMBER_LOG === '1',
    };
    this.event('start', name, { transactionalId: slot.transactionalId });
    const startedMs = Date.now();
    const child = spawn(process.execPath, [memberMainPath(), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pending = new Map<string, EmittedOp>();
    const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
    lines.on('line', (line) => {
      let op: EmittedOp;
      try {
        op = JSON.parse(line) as EmittedOp;
      } catch {
        this.log(`txn: ${name} wrote a line that is not an op: ${line.slice(0, 200)}`);
        return;
      }
      const key = `${op.process}\u0000${op.f}`;
      if (op.type === 'invoke') pending.set(key, op);
      else pending.delete(key);
      options.history.record(op);
    });
    child.stderr?.on('data', (chunk: Buffer) => this.log(`txn: ${name}: ${chunk.toString('utf8').trim().slice(0, 4000)}`));
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    const exited = Promise.all([
      new Promise<void>((resolve) => child.once('exit', (code, signal) => { exitCode = code; exitSignal = signal; resolve(); })),
      new Promise<void>((resolve) => lines.once('close', () => resolve())),
    ]).then(() => {
      // A transaction the member left open is indeterminate: it may commit (PrepareCommit was durable) or abort.
      for (const op of pending.values()) {
        const value = op.value as TxnOpValue;
        options.history.record({ ...op, type: 'info', value: { ...value, reason: 'member exited' }, error: 'member exited' });
      }
      pending.clear();
      this.event('exit', name, { code: exitCode, signal: exitSignal });
      if (slot.member?.name === name) {
        slot.member = undefined;
        slot.paused = false;
      }
      if (exitCode !== 0 && exitSignal !== 'SIGKILL' && exitSignal !== 'SIGTERM' && exitCode !== EXIT_FATAL) {
        this.log(`txn: member ${name} exited with ${exitSignal ?? `code ${exitCode}`}`);
      }
      // Exited on its own (fatal error, crash): start the slot again unless the nemesis holds it.
      slot.quickExits = Date.now() - startedMs < MEMBER_QUICK_EXIT_MS ? slot.quickExits + 1 : 0;
      if (this.running && !slot.held) {
        const delayMs = Math.min(MEMBER_RESTART_DELAY_MAX_MS, MEMBER_RESTART_DELAY_MS * 2 ** Math.max(0, slot.quickExits - 1));
        setTimeout(() => { if (this.running && !slot.held && slot.member === undefined) this.startSlot(slot); }, delayMs).unref();
      }
    });
    slot.member = { name, child, exited, pending };
  }

  private async stopSlot(slot: Slot): Promise<void> {
    const member = slot.member;
    if (member === undefined) return;
    if (slot.paused) member.child.kill('SIGCONT');
    member.child.kill('SIGTERM');
    const timer = setTimeout(() => member.child.kill('SIGKILL'), MEMBER_STOP_TIMEOUT_MS);
    await member.exited;
    clearTimeout(timer);
  }

  // ---- input, tail, final reads -------------------------------------------------------------------

  private async produceInputs(): Promise<void> {
    const { options } = this;
    const producer = new Producer({
      'bootstrap.servers': options.bootstrapServers, 'client.id': 'txn-in', acks: 'all', 'enable.idempotence': true, 'linger.ms': 2,
      'request.timeout.ms': options.requestTimeoutMs, 'delivery.timeout.ms': 30_000, 'max.block.ms': 30_000,
      'retry.backoff.ms': 50, 'retry.backoff.max.ms': 500, 'metadata.max.age.ms': 5_000,
    });
    const intervalMs = 1000 / options.inputRatePerSecond;
    const inFlight = new Set<Promise<void>>();
    // A per-partition bound as well as the total (as the queue workload's): sends to a partition whose
    // leader is down wait out delivery.timeout.ms and must not stop the inputs of the healthy ones.
    const perPartitionMax = Math.max(1, Math.ceil(INPUT_IN_FLIGHT_MAX / options.inputPartitions));
    const inFlightByPartition = new Array<number>(options.inputPartitions).fill(0);
    let nextPartition = 0;
    let n = 0;
    try {
      while (this.producing && n < options.inputRecordsMax) {
        const partition = pickPartition(inFlightByPartition, nextPartition, perPartitionMax);
        if (inFlight.size >= INPUT_IN_FLIGHT_MAX || partition === undefined) {
          await Promise.race(inFlight);
          continue;
        }
        nextPartition = (partition + 1) % options.inputPartitions;
        inFlightByPartition[partition] = (inFlightByPartition[partition] ?? 0) + 1;
        const id = inputId(n);
        n += 1;
        options.history.record({ process: 'txn-in', type: 'invoke', f: 'txn-input', value: id, node: null, topic: TXN_INPUT_TOPIC, partition });
        const p = producer.send({ topic: TXN_INPUT_TOPIC, partition, key: id, value: id }).then(
          (md) => { options.history.record({ process: 'txn-in', type: 'ok', f: 'txn-input', value: id, node: null, topic: md.topic, partition: md.partition, offset: md.offset }); },
          (error: unknown) => {
            const code = errorCode(error);
            options.history.record({ process: 'txn-in', type: DEFINITE_SEND_FAILURES.has(code) ? 'fail' : 'info', f: 'txn-input', value: id, node: null, topic: TXN_INPUT_TOPIC, partition, error: code });
          },
        ).finally(() => {
          inFlight.delete(p);
          inFlightByPartition[partition] = (inFlightByPartition[partition] ?? 1) - 1;
        });
        inFlight.add(p);
        await sleep(intervalMs);
      }
      await Promise.all(inFlight);
    } finally {
      await producer.close({ timeoutMs: 2_000 }).catch(() => undefined);
    }
  }

  /** read_committed, from offset 0 of every output partition, during the faults. */
  private async tail(): Promise<void> {
    const { options } = this;
    const consumer = new Consumer({
      'bootstrap.servers': options.bootstrapServers, 'client.id': READER_TAIL_COMMITTED, 'auto.offset.reset': 'earliest',
      'isolation.level': 'read_committed', 'request.timeout.ms': options.requestTimeoutMs, 'fetch.max.wait.ms': 200, 'metadata.max.age.ms': 5_000,
    });
    const tps = Array.from({ length: options.outputPartitions }, (_, partition) => ({ topic: TXN_OUTPUT_TOPIC, partition }));
    consumer.assign(tps);
    for (const tp of tps) consumer.seek(tp, 0);
    try {
      while (this.tailing) {
        try {
          for (const r of await consumer.poll({ timeoutMs: 250 })) this.recordRead(READER_TAIL_COMMITTED, r);
        } catch (error) {
          options.history.record({ process: READER_TAIL_COMMITTED, type: 'info', f: 'poll-error', value: null, node: null, error: errorCode(error) });
          await sleep(100);
        }
      }
    } finally {
      await consumer.close().catch(() => undefined);
    }
  }

  private recordRead(reader: string, r: ConsumerRecord): void {
    const value = r.value === null ? null : r.value.toString('utf8');
    this.options.history.record({ process: reader, type: 'ok', f: 'txn-read', value, node: null, topic: r.topic, partition: r.partition, offset: r.offset });
  }

  private async endOffsets(topic: string, partitions: number): Promise<Map<number, number>> {
    const admin = new Admin({ 'bootstrap.servers': this.options.bootstrapServers, 'default.api.timeout.ms': 30_000 });
    try {
      const listed = await admin.listOffsets(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, spec: 'latest' as const })));
      return new Map(listed.map((l) => [l.partition, l.offset]));
    } finally {
      await admin.close().catch(() => undefined);
    }
  }

  /** Waits until the group's committed offsets reach `ends` with the members still running. */
  private async drain(ends: ReadonlyMap<number, number>, timeoutMs: number): Promise<void> {
    const { history, bootstrapServers } = this.options;
    const target = [...ends].map(([partition, offset]) => ({ partition, offset }));
    history.record({ process: 'txn-drain', type: 'invoke', f: 'txn-drain', value: target, node: null, topic: TXN_INPUT_TOPIC });
    const committed = await this.pollOffsets(bootstrapServers, timeoutMs, (c) => target.every((t) => (c.get(t.partition) ?? -1) >= t.offset));
    const behind = target.map((t) => ({ ...t, committed: committed.get(t.partition) ?? null })).filter((t) => (t.committed ?? -1) < t.offset);
    history.record({ process: 'txn-drain', type: behind.length === 0 ? 'ok' : 'fail', f: 'txn-drain', value: behind.length === 0 ? target : behind, node: null, topic: TXN_INPUT_TOPIC });
  }

  /**
   * The group's committed offsets once no member runs: read until two reads a second apart agree
   * (a transactional commit still pending shows up as a change), bounded by timeoutMs.
   */
  private async recordFinalOffsets(timeoutMs: number): Promise<void> {
    const { history, bootstrapServers } = this.options;
    history.record({ process: 'txn-final', type: 'invoke', f: 'txn-final-offsets', value: null, node: null, topic: TXN_INPUT_TOPIC });
    let previous: string | undefined;
    const committed = await this.pollOffsets(bootstrapServers, timeoutMs, (c) => {
      const now = JSON.stringify([...c].sort((a, b) => a[0] - b[0]));
      const stable = now === previous;
      previous = now;
      return stable;
    }, 1_000);
    const value = [...committed].sort((a, b) => a[0] - b[0]).map(([partition, offset]) => ({ partition, offset }));
    history.record({ process: 'txn-final', type: 'ok', f: 'txn-final-offsets', value, node: null, topic: TXN_INPUT_TOPIC });
  }

  private async pollOffsets(bootstrapServers: string, timeoutMs: number, done: (c: Map<number, number>) => boolean, intervalMs = 250): Promise<Map<number, number>> {
    const admin = new GroupAdmin({ 'bootstrap.servers': bootstrapServers, 'request.timeout.ms': 5_000, 'default.api.timeout.ms': 10_000 });
    const deadline = Date.now() + timeoutMs;
    let committed = new Map<number, number>();
    try {
      while (Date.now() < deadline) {
        try {
          const offsets = await admin.fetchOffsets(TXN_GROUP_ID);
          committed = new Map(offsets.filter((o) => o.topic === TXN_INPUT_TOPIC && o.offset >= 0).map((o) => [o.partition, o.offset]));
          if (done(committed)) break;
        } catch {
          // The coordinator may be moving (or a commit pending: UNSTABLE_OFFSET_COMMIT); ask again.
        }
        await sleep(intervalMs);
      }
    } finally {
      await admin.close().catch(() => undefined);
    }
    return committed;
  }

  /** Reads `topic` from 0 until the position of every partition reaches `ends`; records `txn-verify`. */
  private async readToEnd(o: { topic: string; ends: ReadonlyMap<number, number>; reader: string; isolation: 'read_committed' | 'read_uncommitted'; timeoutMs: number }): Promise<void> {
    const { history, bootstrapServers, requestTimeoutMs } = this.options;
    const consumer = new Consumer({
      'bootstrap.servers': bootstrapServers, 'client.id': o.reader, 'auto.offset.reset': 'earliest', 'isolation.level': o.isolation,
      'fetch.max.wait.ms': 100, 'request.timeout.ms': requestTimeoutMs,
    });
    const tps = [...o.ends.keys()].map((partition) => ({ topic: o.topic, partition }));
    consumer.assign(tps);
    for (const tp of tps) consumer.seek(tp, 0);
    const deadline = Date.now() + o.timeoutMs;
    const positions = new Map<number, number>();
    let done = false;
    try {
      while (!done && Date.now() < deadline) {
        try {
          for (const r of await consumer.poll({ timeoutMs: 250 })) this.recordRead(o.reader, r);
          // The position counts control batches and skipped aborted data too: it reaches the end offset
          // only once no transaction is open below it (read_committed reads up to the LSO).
          for (const tp of tps) positions.set(tp.partition, await consumer.position(tp));
          done = tps.every((tp) => (positions.get(tp.partition) ?? 0) >= (o.ends.get(tp.partition) ?? 0));
        } catch (error) {
          history.record({ process: o.reader, type: 'info', f: 'poll-error', value: null, node: null, error: errorCode(error) });
          await sleep(100);
        }
      }
    } finally {
      await consumer.close().catch(() => undefined);
    }
    const value = { topic: o.topic, isolation: o.isolation, ends: [...o.ends], positions: [...positions] };
    history.record({ process: o.reader, type: done ? 'ok' : 'fail', f: 'txn-verify', value, node: null, topic: o.topic });
  }
}
