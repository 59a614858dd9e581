// The transaction simulator: the REAL pure coordinator core (src/transactions/txn-state.ts) and its
// records (txn-records.ts), driven by one seed through random client operations against a model of
// the coordinator's shell (write-before-answer, one operation per id, markers until written, then
// Complete*) and of partition leaders (logs of data batches and COMMIT/ABORT markers, a high watermark,
// producer epochs, verification with a guard). Faults: coordinator failover (state rebuilt from the
// durable records only, every Prepare* finished), writes whose answer is lost, leader failover (the
// unreplicated tail is lost), zombie producers, timeouts, epoch exhaustion, clients that send to
// partitions they never added.
//
// After every step it checks:
//   1. atomicity: every partition ends a transaction (producer id, data epoch) the same way — never
//      COMMIT on one and ABORT on another;
//   2. durability: a transaction the client was told is committed keeps every acknowledged record in
//      the replicated prefix, and (after the final heal) each one ends COMMIT;
//   3. fencing: a record a zombie (an incarnation older than one whose InitProducerId succeeded)
//      appended never ends COMMIT;
//   4. the durable records of each id move only as the transition table allows.
import { SimRandom } from '../../replication/sim/random.js';
import { replayTxnRecord, txnRecord } from '../../../src/transactions/txn-records.js';
import {
  NO_PRODUCER_EPOCH, NO_PRODUCER_ID, PRODUCER_EPOCH_MAX, abortTimedOut, addPartitions, completeTxn, endTxn, expire, initProducerId,
  isExpired, isLegalTransition, isTimedOut, markerIdentity, metadataProblem, verifyPartition,
  type StepContext, type TxnMetadata, type TxnPartition, type TxnStep,
} from '../../../src/transactions/txn-state.js';

export interface TxnSimOptions {
  readonly seed: number;
  readonly steps: number;
  readonly transactionalIds: number;
  readonly partitions: number;
  readonly trace: boolean;
}

export const DEFAULT_TXN_SIM_OPTIONS: TxnSimOptions = { seed: 1, steps: 400, transactionalIds: 3, partitions: 4, trace: false };

export interface TxnSimResult {
  readonly seed: number;
  readonly violation: string | undefined;
  readonly trace: readonly string[];
  readonly committed: number;
  readonly aborted: number;
  readonly coordinatorFailovers: number;
  readonly leaderFailovers: number;
  readonly zombieAppendsRefused: number;
  readonly unverifiedRefused: number;
  readonly epochExhaustions: number;
  readonly timeouts: number;
}

class Violation extends Error {}

// ---- partitions ------------------------------------------------------------------------------------------

interface LogEntry {
  readonly kind: 'data' | 'marker';
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly commit: boolean;
  /** Unique per data record (who wrote it); '' for markers. */
  readonly value: string;
}

interface SimPartition {
  readonly index: number;
  log: LogEntry[];
  highWatermark: number;
  leaderEpoch: number;
  /** The leader's verification guards (in memory: lost on failover): producer id → verified epoch + guard. */
  verified: Map<number, { epoch: number; guard: number }>;
  /** Bumped by every marker: a verification taken before a marker is void after it. */
  guardGeneration: number;
}

/** The partition's producer state, rebuilt from its log as a leader does on recovery. */
function producerStates(log: readonly LogEntry[]): Map<number, { epoch: number; open: boolean }> {
  const states = new Map<number, { epoch: number; open: boolean }>();
  for (const e of log) {
    const s = states.get(e.producerId);
    if (e.kind === 'data') states.set(e.producerId, { epoch: Math.max(s?.epoch ?? -1, e.producerEpoch), open: true });
    else states.set(e.producerId, { epoch: Math.max(s?.epoch ?? -1, e.producerEpoch), open: false });
  }
  return states;
}

/** Outcome of every transactional record: value → committed?, and per (producer id, data epoch) the outcomes seen. */
function outcomes(p: SimPartition): { byValue: Map<string, boolean>; byTxn: Map<string, Set<boolean>> } {
  const open = new Map<number, { epoch: number; values: string[] }[]>();
  const byValue = new Map<string, boolean>();
  const byTxn = new Map<string, Set<boolean>>();
  for (const e of p.log) {
    if (e.kind === 'data') {
      let list = open.get(e.producerId);
      if (list === undefined) open.set(e.producerId, (list = []));
      const last = list[list.length - 1];
      if (last !== undefined && last.epoch === e.producerEpoch) last.values.push(e.value);
      else list.push({ epoch: e.producerEpoch, values: [e.value] });
      continue;
    }
    for (const txn of open.get(e.producerId) ?? []) {
      for (const v of txn.values) byValue.set(v, e.commit);
      const key = `${e.producerId}:${txn.epoch}`;
      let set = byTxn.get(key);
      if (set === undefined) byTxn.set(key, (set = new Set()));
      set.add(e.commit);
    }
    open.delete(e.producerId);
  }
  return { byValue, byTxn };
}

// ---- clients -----------------------------------------------------------------------------------------------

interface Send {
  readonly partition: number;
  readonly value: string;
  acked: boolean;
  failed: boolean;
}

interface Client {
  readonly transactionalId: string;
  readonly incarnation: number;
  producerId: number;
  producerEpoch: number;
  phase: 'new' | 'ready' | 'open' | 'mustAbort' | 'dead';
  added: Set<number>;
  sends: Send[];
  seq: number;
  /** Another incarnation's InitProducerId succeeded after this one's: everything this one appends from now on is a zombie write. */
  fenced: boolean;
}

interface PendingAppend {
  readonly client: Client;
  readonly send: Send;
  readonly producerId: number;
  readonly producerEpoch: number;
}

// ---- the run -------------------------------------------------------------------------------------------------

export function runTxnSim(options: TxnSimOptions): TxnSimResult {
  const rng = new SimRandom(options.seed);
  const trace: string[] = [];
  const log = (line: string): void => {
    if (options.trace) trace.push(`[${step}] ${line}`);
  };
  let step = 0;
  let nowMs = 0;
  let nextProducerId = 1000;
  const stats = { committed: 0, aborted: 0, coordinatorFailovers: 0, leaderFailovers: 0, zombieAppendsRefused: 0, unverifiedRefused: 0, epochExhaustions: 0, timeouts: 0 };
  const expirationMs = 500;

  const partitions: SimPartition[] = Array.from({ length: options.partitions }, (_, index) => ({ index, log: [], highWatermark: 0, leaderEpoch: 0, verified: new Map(), guardGeneration: 0 }));
  const tp = (index: number): TxnPartition => ({ topic: 't', partition: index });

  // The coordinator: `durable` is `__transaction_state` (acks=all: a write is in it or not), `ids` its loaded view.
  const durable: { key: Buffer; value: Buffer | null }[] = [];
  const durableView = new Map<string, TxnMetadata>();
  let ids = new Map<string, TxnMetadata>();
  let coordinatorEpoch = 0;
  /** Per id in Prepare*: partitions whose marker is not yet in the replicated prefix. */
  let markerWork = new Map<string, Set<number>>();
  // Some ids start near epoch exhaustion (an id that has lived long): its first record is written at this epoch.
  const exhaustedStart = rng.chance(0.3);

  const clients: Client[] = [];
  const pending: PendingAppend[] = [];
  const committedTxns: { client: string; values: string[] }[] = [];
  const zombieValues = new Set<string>();

  // ---- coordinator model ------------------------------------------------------------------------------

  const writeDurable = (prev: TxnMetadata | undefined, next: TxnMetadata): void => {
    const problem = metadataProblem(next);
    if (problem !== undefined && next.state !== 'Dead') throw new Violation(`coordinator would write a bad metadata for ${next.transactionalId}: ${problem}`);
    const before = durableView.get(next.transactionalId);
    if (before === undefined ? next.state !== 'Empty' : !isLegalTransition(before.state, next.state)) {
      throw new Violation(`durable state of ${next.transactionalId} moved ${before?.state ?? '(none)'} -> ${next.state}, which the table does not allow`);
    }
    void prev;
    const record = txnRecord(next);
    durable.push(record);
    if (replayTxnRecord(durableView, record.key, record.value) !== 'applied') throw new Violation(`a record the coordinator wrote does not replay: ${record.value?.toString()}`);
  };

  /** The shell's operate(): step, allocate, write (maybe with a lost answer), make current. Returns the answer. */
  const operate = (id: string, make: (meta: TxnMetadata | undefined, ctx: StepContext) => TxnStep): { error?: string; producerId: number; producerEpoch: number } => {
    const meta = ids.get(id);
    let s = make(meta, { nowMs });
    if (s.kind === 'allocate') s = make(meta, { nowMs, newProducerId: nextProducerId++ });
    if (s.kind === 'allocate') throw new Violation('the core asked for a second producer id');
    if (s.kind === 'error') return { error: s.error, producerId: -1, producerEpoch: -1 };
    let next = s.next;
    let reply = s.reply;
    if (next === meta) return { ...(s.error === undefined ? {} : { error: s.error }), ...reply };
    if (meta === undefined && exhaustedStart && next.state === 'Empty') {
      next = { ...next, producerEpoch: PRODUCER_EPOCH_MAX - 3 - rng.intn(3) };
      reply = { producerId: next.producerId, producerEpoch: next.producerEpoch };
    }
    // The write: lost entirely, durable but answered with an error (the shell reloads), or fine.
    const fate = rng.intn(100);
    if (fate < 2) {
      log(`coordinator: write of ${id} ${meta?.state ?? '-'} -> ${next.state} failed before the log (answer COORDINATOR_NOT_AVAILABLE)`);
      return { error: 'COORDINATOR_NOT_AVAILABLE', producerId: -1, producerEpoch: -1 };
    }
    writeDurable(meta, next);
    if (fate < 4) {
      log(`coordinator: write of ${id} ${meta?.state ?? '-'} -> ${next.state} is durable but timed out: reload`);
      reloadCoordinator(false);
      return { error: 'COORDINATOR_NOT_AVAILABLE', producerId: -1, producerEpoch: -1 };
    }
    if (next.state === 'Dead') ids.delete(id);
    else ids.set(id, next);
    log(`coordinator: ${id} ${meta?.state ?? '-'} -> ${next.state} pid ${next.producerId} epoch ${next.producerEpoch}${s.error === undefined ? '' : ` (answer ${s.error})`}`);
    if (next.state === 'PrepareCommit' || next.state === 'PrepareAbort') markerWork.set(id, new Set(next.partitions.map((p) => p.partition)));
    return { ...(s.error === undefined ? {} : { error: s.error }), ...reply };
  };

  function reloadCoordinator(failover: boolean): void {
    if (failover) stats.coordinatorFailovers++;
    coordinatorEpoch++;
    const loaded = new Map<string, TxnMetadata>();
    for (const r of durable) replayTxnRecord(loaded, r.key, r.value);
    ids = loaded;
    markerWork = new Map();
    for (const meta of ids.values()) {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') markerWork.set(meta.transactionalId, new Set(meta.partitions.map((p) => p.partition)));
    }
    log(`coordinator ${failover ? 'failover' : 'reload'}: epoch ${coordinatorEpoch}, ${ids.size} ids, ${markerWork.size} to finish`);
  }

  /** The leader's WriteTxnMarkers for one partition: appends the marker unless this exact one is already there. */
  const writeMarker = (p: SimPartition, producerId: number, producerEpoch: number, commit: boolean): void => {
    const state = producerStates(p.log).get(producerId);
    if (state !== undefined && producerEpoch < state.epoch) throw new Violation(`a marker of ${producerId} epoch ${producerEpoch} arrived at partition ${p.index} whose producer epoch is ${state.epoch}: the coordinator is behind the partition`);
    const already = p.log.some((e) => e.kind === 'marker' && e.producerId === producerId && e.producerEpoch === producerEpoch);
    if (already && state !== undefined && !state.open) return;
    p.log.push({ kind: 'marker', producerId, producerEpoch, commit, value: '' });
    p.verified.delete(producerId);
    p.guardGeneration++;
  };

  /** One round of marker work for one id: send to partitions not yet done; complete when all are replicated. */
  const markerStep = (id: string): void => {
    const meta = ids.get(id);
    const work = markerWork.get(id);
    if (meta === undefined || work === undefined || (meta.state !== 'PrepareCommit' && meta.state !== 'PrepareAbort')) {
      markerWork.delete(id);
      return;
    }
    const { producerId, producerEpoch } = markerIdentity(meta);
    const commit = meta.state === 'PrepareCommit';
    for (const index of [...work]) {
      const p = partitions[index]!;
      const at = p.log.findIndex((e) => e.kind === 'marker' && e.producerId === producerId && e.producerEpoch === producerEpoch);
      if (at >= 0 && at < p.highWatermark) {
        work.delete(index); // written and replicated
        continue;
      }
      if (at < 0 && rng.chance(0.7)) writeMarker(p, producerId, producerEpoch, commit);
    }
    if (work.size > 0) return;
    markerWork.delete(id);
    const r = operate(id, (current, ctx) => {
      if (current !== meta) throw new Violation(`${id} changed while its markers were written`);
      return { kind: 'write', next: completeTxn(current, ctx), reply: { producerId, producerEpoch } };
    });
    if (r.error !== undefined) {
      // The shell retries the Complete* write (after a reload that re-sends the markers).
      if (ids.get(id)?.state === meta.state) markerWork.set(id, new Set());
    } else if (commit) stats.committed++;
    else stats.aborted++;
  };

  const tick = (): void => {
    for (const meta of [...ids.values()]) {
      if (isTimedOut(meta, nowMs)) {
        stats.timeouts++;
        log(`coordinator: ${meta.transactionalId} timed out`);
        operate(meta.transactionalId, (current, ctx) => (current !== undefined && isTimedOut(current, ctx.nowMs) ? abortTimedOut(current, ctx) : { kind: 'error', error: 'INVALID_TXN_STATE', message: '' }));
      } else if (isExpired(meta, nowMs, expirationMs)) {
        log(`coordinator: ${meta.transactionalId} expired`);
        operate(meta.transactionalId, (current, ctx) => (current !== undefined && isExpired(current, ctx.nowMs, expirationMs) ? { kind: 'write', next: expire(current, ctx), reply: { producerId: -1, producerEpoch: -1 } } : { kind: 'error', error: 'INVALID_TXN_STATE', message: '' }));
      }
    }
  };

  // ---- client model -------------------------------------------------------------------------------------

  const newIncarnation = (transactionalId: string): Client => {
    const incarnation = clients.filter((c) => c.transactionalId === transactionalId).length;
    const c: Client = { transactionalId, incarnation, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH, phase: 'new', added: new Set(), sends: [], seq: 0, fenced: false };
    clients.push(c);
    log(`client ${transactionalId}#${incarnation} starts`);
    return c;
  };

  const fatal = (c: Client, why: string): void => {
    c.phase = 'dead';
    log(`client ${c.transactionalId}#${c.incarnation} stops: ${why}`);
  };

  const clientStep = (c: Client): void => {
    const name = `${c.transactionalId}#${c.incarnation}`;
    if (c.phase === 'new') {
      // A client that had an id may name it (KIP-360): bumped if still current, else PRODUCER_FENCED.
      const kip360 = c.producerId !== NO_PRODUCER_ID && rng.chance(0.5);
      const timeoutMs = 60 + rng.intn(120);
      const r = operate(c.transactionalId, (meta, ctx) => initProducerId(meta, {
        transactionalId: c.transactionalId, timeoutMs, producerId: kip360 ? c.producerId : NO_PRODUCER_ID, producerEpoch: kip360 ? c.producerEpoch : NO_PRODUCER_EPOCH,
      }, ctx));
      if (r.error === 'PRODUCER_FENCED' || r.error === 'INVALID_PRODUCER_ID_MAPPING') return fatal(c, `InitProducerId: ${r.error}`);
      if (r.error !== undefined) return log(`client ${name} InitProducerId: ${r.error}`);
      c.producerId = r.producerId;
      c.producerEpoch = r.producerEpoch;
      c.phase = 'ready';
      // Whoever initialised last is the live incarnation; every other one is a zombie from now on.
      for (const o of clients) if (o.transactionalId === c.transactionalId && o !== c) o.fenced = true;
      c.fenced = false;
      return log(`client ${name} has pid ${c.producerId} epoch ${c.producerEpoch}`);
    }
    if (c.phase === 'dead') return;
    const roll = rng.intn(100);
    if (c.phase === 'mustAbort' || (c.phase === 'open' && roll < 7)) return end(c, false);
    if (c.phase === 'open' && roll < 35) {
      // Commit once every send is answered (flush); a failed send makes it abort.
      if (c.sends.some((s) => !s.acked && !s.failed)) return;
      return end(c, !c.sends.some((s) => s.failed));
    }
    const index = rng.intn(partitions.length);
    if (!c.added.has(index) && rng.chance(0.85)) {
      const r = operate(c.transactionalId, (meta, ctx) => addPartitions(meta, c.transactionalId, { producerId: c.producerId, producerEpoch: c.producerEpoch, partitions: [tp(index)] }, ctx));
      if (r.error !== undefined) return onError(c, 'AddPartitionsToTxn', r.error);
      c.added.add(index);
      c.phase = 'open';
      return log(`client ${name} added partition ${index}`);
    }
    // Send (to an added partition, or — a buggy client — to one it never added): verification first.
    const send: Send = { partition: index, value: `${name}/${c.seq++}`, acked: false, failed: false };
    c.sends.push(send);
    pending.push({ client: c, send, producerId: c.producerId, producerEpoch: c.producerEpoch });
    log(`client ${name} sends ${send.value} to partition ${index}${c.added.has(index) ? '' : ' (never added)'}`);
  };

  const end = (c: Client, commit: boolean): void => {
    const name = `${c.transactionalId}#${c.incarnation}`;
    const r = operate(c.transactionalId, (meta, ctx) => endTxn(meta, c.transactionalId, { producerId: c.producerId, producerEpoch: c.producerEpoch, committed: commit }, ctx));
    if (r.error !== undefined) return onError(c, commit ? 'commit' : 'abort', r.error);
    log(`client ${name} ${commit ? 'committed' : 'aborted'}; next pid ${r.producerId} epoch ${r.producerEpoch}`);
    if (r.producerId !== c.producerId) stats.epochExhaustions++;
    if (commit) committedTxns.push({ client: name, values: c.sends.filter((s) => s.acked).map((s) => s.value) });
    c.producerId = r.producerId;
    c.producerEpoch = r.producerEpoch;
    c.phase = 'ready';
    c.added = new Set();
    c.sends = [];
  };

  const onError = (c: Client, what: string, error: string): void => {
    log(`client ${c.transactionalId}#${c.incarnation} ${what}: ${error}`);
    if (error === 'PRODUCER_FENCED' || error === 'INVALID_PRODUCER_ID_MAPPING') return fatal(c, error);
    if (error === 'INVALID_TXN_STATE') {
      // E.g. a commit after the coordinator aborted on timeout: this client starts over with a new incarnation's rules.
      c.phase = 'new';
      c.added = new Set();
      c.sends = [];
      return;
    }
    // Retriable (CONCURRENT_TRANSACTIONS, COORDINATOR_NOT_AVAILABLE): try again later.
  };

  /** A leader appends a pending send: producer epoch check, verification (with its guard), then the log. */
  const appendStep = (i: number): void => {
    const a = pending.splice(i, 1)[0]!;
    const p = partitions[a.send.partition]!;
    const name = `${a.client.transactionalId}#${a.client.incarnation}`;
    const state = producerStates(p.log).get(a.producerId);
    const refuse = (why: string): void => {
      a.send.failed = true;
      if (a.client.phase === 'open') a.client.phase = 'mustAbort';
      if (a.client.fenced) stats.zombieAppendsRefused++;
      log(`partition ${p.index} refuses ${a.send.value}: ${why}`);
    };
    if (state !== undefined && a.producerEpoch < state.epoch) return refuse(`INVALID_PRODUCER_EPOCH (${a.producerEpoch} < ${state.epoch})`);
    if (!(state !== undefined && state.open && state.epoch === a.producerEpoch)) {
      // The first batch of this epoch here: the coordinator must say this partition is in the ongoing transaction.
      const guard = p.verified.get(a.producerId);
      if (guard === undefined || guard.epoch !== a.producerEpoch || guard.guard !== p.guardGeneration) {
        const answer = verifyPartition(ids.get(a.client.transactionalId), a.client.transactionalId, a.producerId, a.producerEpoch, tp(p.index));
        if (answer !== undefined) {
          stats.unverifiedRefused++;
          return refuse(`verification: ${answer}`);
        }
        p.verified.set(a.producerId, { epoch: a.producerEpoch, guard: p.guardGeneration });
        // The verified batch may wait: put it back to be appended later (markers in between void the guard).
        if (rng.chance(0.5)) {
          pending.push(a);
          return log(`partition ${p.index} verified ${a.send.value}; append later`);
        }
      }
    }
    p.log.push({ kind: 'data', producerId: a.producerId, producerEpoch: a.producerEpoch, commit: false, value: a.send.value });
    if (a.client.fenced) zombieValues.add(a.send.value);
    log(`partition ${p.index} appends ${a.send.value} (pid ${a.producerId} epoch ${a.producerEpoch})${a.client.fenced ? ' [zombie]' : ''}`);
    void name;
  };

  const replicate = (p: SimPartition): void => {
    p.highWatermark = p.log.length;
    const present = new Set(p.log.map((e) => e.value));
    for (const c of clients) for (const s of c.sends) if (s.partition === p.index && !s.acked && !s.failed && present.has(s.value)) s.acked = true;
  };

  const leaderFailover = (p: SimPartition): void => {
    stats.leaderFailovers++;
    const lost = p.log.length - p.highWatermark;
    p.log = p.log.slice(0, p.highWatermark);
    p.leaderEpoch++;
    p.verified = new Map();
    p.guardGeneration = 0;
    const present = new Set(p.log.map((e) => e.value));
    // Sends whose record was lost time out at the client.
    for (const c of clients) for (const s of c.sends) if (s.partition === p.index && !s.acked && !s.failed && !present.has(s.value) && !pending.some((x) => x.send === s)) {
      s.failed = true;
      if (c.phase === 'open') c.phase = 'mustAbort';
    }
    log(`partition ${p.index} leader failover: epoch ${p.leaderEpoch}, ${lost} unreplicated entries lost`);
  };

  // ---- invariants ---------------------------------------------------------------------------------------

  const check = (final: boolean): void => {
    const outcomeOf = new Map<string, boolean>();
    for (const p of partitions) {
      if (p.highWatermark > p.log.length) throw new Violation(`partition ${p.index}: high watermark ${p.highWatermark} past the log end ${p.log.length}`);
      const o = outcomes(p);
      for (const [v, commit] of o.byValue) outcomeOf.set(v, commit);
      for (const [txn, set] of o.byTxn) if (set.size > 1) throw new Violation(`partition ${p.index}: transaction ${txn} both committed and aborted`);
    }
    // Across partitions: one outcome per (producer id, data epoch).
    const txnOutcome = new Map<string, boolean>();
    for (const p of partitions) {
      for (const [txn, set] of outcomes(p).byTxn) {
        const o = [...set][0]!;
        const seen = txnOutcome.get(txn);
        if (seen !== undefined && seen !== o) throw new Violation(`transaction ${txn} committed on one partition and aborted on another (partition ${p.index}: ${o ? 'COMMIT' : 'ABORT'})`);
        txnOutcome.set(txn, o);
      }
    }
    for (const v of zombieValues) if (outcomeOf.get(v) === true) throw new Violation(`zombie write ${v} landed in a committed transaction`);
    const replicated = new Set<string>();
    for (const p of partitions) for (const e of p.log.slice(0, p.highWatermark)) if (e.kind === 'data') replicated.add(e.value);
    for (const t of committedTxns) {
      for (const v of t.values) {
        if (!replicated.has(v)) throw new Violation(`record ${v} of a transaction committed to ${t.client} is not in the replicated log`);
        if (outcomeOf.get(v) === false) throw new Violation(`record ${v} of a transaction committed to ${t.client} was aborted`);
        if (final && outcomeOf.get(v) !== true) throw new Violation(`record ${v} of a transaction committed to ${t.client} has no COMMIT marker after the heal`);
      }
    }
    for (const [id, meta] of ids) {
      const problem = metadataProblem(meta);
      if (problem !== undefined) throw new Violation(`coordinator holds a bad metadata for ${id}: ${problem}`);
    }
  };

  // ---- the schedule ---------------------------------------------------------------------------------------

  const txnIds = Array.from({ length: options.transactionalIds }, (_, i) => `T${i}`);
  for (const id of txnIds) newIncarnation(id);
  try {
    for (step = 1; step <= options.steps; step++) {
      nowMs += 1;
      const roll = rng.intn(100);
      if (roll < 40) {
        const live = clients.filter((c) => c.phase !== 'dead');
        if (live.length > 0) clientStep(rng.pick(live));
      } else if (roll < 56) {
        if (pending.length > 0) appendStep(rng.intn(pending.length));
      } else if (roll < 72) {
        replicate(rng.pick(partitions));
      } else if (roll < 86) {
        const work = [...markerWork.keys()];
        if (work.length > 0) markerStep(rng.pick(work));
      } else if (roll < 88) {
        newIncarnation(rng.pick(txnIds)); // the application restarts: the old incarnation lives on as a zombie
      } else if (roll < 90) {
        reloadCoordinator(true);
      } else if (roll < 93) {
        leaderFailover(rng.pick(partitions));
      } else if (roll < 99) {
        nowMs += rng.intn(20);
        tick();
      } else {
        nowMs += 300;
        tick();
      }
      check(false);
    }
    // Heal: no more faults or clients; finish every Prepare*, replicate everything, then check durability.
    step = options.steps + 1;
    for (let round = 0; round < 1_000 && markerWork.size > 0; round++) {
      for (const p of partitions) replicate(p);
      for (const id of [...markerWork.keys()]) markerStep(id);
      check(false);
    }
    if (markerWork.size > 0) throw new Violation(`${markerWork.size} transactions still unfinished after the heal`);
    for (const meta of ids.values()) if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') throw new Violation(`${meta.transactionalId} stuck in ${meta.state}`);
    for (const p of partitions) replicate(p);
    check(true);
  } catch (err) {
    if (!(err instanceof Violation)) throw err;
    return { seed: options.seed, violation: `step ${step}: ${err.message}`, trace, ...stats };
  }
  return { seed: options.seed, violation: undefined, trace, ...stats };
}
