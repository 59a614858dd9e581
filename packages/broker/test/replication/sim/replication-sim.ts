// Deterministic simulation of one partition replicated on 3 brokers, driving the real pure replication
// decisions (leader-replication.ts, follower-replication.ts) against a model of everything around them:
// in-memory logs with a flushed prefix (an unclean crash loses the rest), a lossy/delaying network with
// link cuts, a controller model (fencing on session timeout, election only from the ISR, AlterPartition
// compare-and-set, metadata delivered late), and acks=all producers whose acknowledgements are recorded.
// Invariants are checked after every step; a failure names the seed (see replication-sim.test.ts).
import {
  applyAlterPartitionResult, becomeLeader, isrBrokerEpochs, computeLeaderHighWatermark, handleFollowerFetch, isrChangeToRetry,
  markIsrChangeSent, proposeIsrChange, updateLeaderMetadata, type LeaderLogView, type LeaderState,
} from '../../../src/replication/leader-replication.js';
import { followerHighWatermark, followerTruncation } from '../../../src/replication/follower-replication.js';
import type { AlterPartitionResult } from '../../../src/replication/alter-partition-client.js';
import type { PartitionInfo } from '../../../src/metadata-view.js';
import type { EpochEndOffset } from '../../../src/partition-log.js';
import { SimRandom } from './random.js';

export interface SimOptions {
  readonly seed: number;
  readonly steps: number;
  /** The decision under test: a broker restarting after an unclean shutdown leaves the ISR (KIP-966). */
  readonly protectUncleanRestart: boolean;
  readonly minInsyncReplicas: number;
  /** Record a human-readable trace (for replays). */
  readonly trace: boolean;
}

export const DEFAULT_SIM_OPTIONS: Omit<SimOptions, 'seed'> = { steps: 400, protectUncleanRestart: true, minInsyncReplicas: 2, trace: false };

const BROKERS = [1, 2, 3] as const;
const CONTROLLER = 0;
const REPLICA_LAG_TIME_MAX_MS = 1000;
const SESSION_TIMEOUT_MS = 1500;
const FETCH_TIMEOUT_MS = 300;
const FETCH_MAX_ENTRIES = 4;
const ALTER_PARTITION_TIMEOUT_MS = 400;
const BACKOFF_MS = 50;
const ACK_TIMEOUT_MS = 2000;

interface Entry {
  readonly offset: number;
  readonly epoch: number;
  /** Unique per produced record. */
  readonly value: number;
}

type Message =
  | { type: 'fetch'; from: number; to: number; incarnation: number; fetchOffset: number; lastFetchedEpoch: number; currentLeaderEpoch: number; brokerEpoch: number }
  | { type: 'fetchResponse'; from: number; to: number; incarnation: number; fetchOffset: number; entries: readonly Entry[]; hw: number; logStartOffset: number; diverging: EpochEndOffset | undefined; error: string | undefined }
  | { type: 'alterPartition'; from: number; to: number; incarnation: number; leaderEpoch: number; partitionEpoch: number; newIsr: readonly number[]; brokerEpoch: number; newIsrBrokerEpochs: readonly { brokerId: number; brokerEpoch: number }[] }
  | { type: 'alterPartitionResponse'; from: number; to: number; incarnation: number; fromPartitionEpoch: number; result: AlterPartitionResult }
  | { type: 'metadata'; from: number; to: number; incarnation: number; state: PartitionInfo; brokerEpochs: ReadonlyMap<number, number> };

interface InFlight {
  readonly deliverAtMs: number;
  readonly seq: number;
  readonly message: Message;
}

interface ParkedAck {
  readonly offset: number;
  readonly value: number;
  readonly deadlineMs: number;
}

interface Broker {
  readonly id: number;
  alive: boolean;
  /** Bumped on every restart: replies addressed to an older incarnation are dropped. */
  incarnation: number;
  brokerEpoch: number;
  log: Entry[];
  /** Length of the durable prefix. */
  flushed: number;
  hw: number;
  hwCheckpoint: number;
  view: PartitionInfo | undefined;
  /** Registered, unfenced brokers' epochs as of the metadata this broker applied. */
  brokerEpochs: ReadonlyMap<number, number>;
  leader: LeaderState | undefined;
  fetchSentAtMs: number | undefined;
  fetchBackoffUntilMs: number;
  alterSentAtMs: number | undefined;
  parked: ParkedAck[];
  diedAtMs: number;
  /**
   * A leader epoch assigned on becoming leader that has no records yet (Kafka's epoch-cache entry at
   * the log end; durable with the log up to `at`). It counts as the log's latest epoch.
   */
  emptyEpoch: { readonly epoch: number; readonly at: number } | undefined;
}

interface ControllerBroker {
  brokerEpoch: number;
  fenced: boolean;
  /** Last heartbeat; the session expires SESSION_TIMEOUT_MS later. */
  lastHeartbeatMs: number;
}

export interface SimResult {
  readonly seed: number;
  readonly violation: string | undefined;
  readonly acked: number;
  readonly produced: number;
  readonly leaderChanges: number;
  readonly isrChanges: number;
  readonly uncleanRestarts: number;
  readonly recoveries: number;
  /** Acknowledged records every replica lost to crashes (outside the promise; not counted as violations). */
  readonly lostWithEveryCopy: number;
  readonly trace: readonly string[];
}

class InvariantViolation extends Error {}

function lastEpoch(log: readonly Entry[]): number {
  return log[log.length - 1]?.epoch ?? -1;
}

/** Kafka's endOffsetForEpoch over an entry list (see MemoryPartitionLog). */
function endOffsetForEpoch(log: readonly Entry[], epoch: number): EpochEndOffset | undefined {
  if (epoch < 0 || log.length === 0) return { epoch: -1, endOffset: -1 };
  if (epoch === lastEpoch(log)) return { epoch, endOffset: log.length };
  const higher = log.findIndex((e) => e.epoch > epoch);
  if (higher < 0) return { epoch: -1, endOffset: -1 };
  const floor = log[higher - 1];
  return { epoch: floor?.epoch ?? epoch, endOffset: higher };
}

/** The log's latest epoch: of its last record, or the empty epoch assigned after it. */
function latestEpochOf(b: { readonly log: readonly Entry[]; readonly emptyEpoch: Broker['emptyEpoch'] }): number {
  const e = b.emptyEpoch;
  return e !== undefined && e.at === b.log.length ? Math.max(e.epoch, lastEpoch(b.log)) : lastEpoch(b.log);
}

/** endOffsetForEpoch with the empty epoch as the last entry of the epoch cache. */
function endOffsetForEpochOf(b: { readonly log: readonly Entry[]; readonly emptyEpoch: Broker['emptyEpoch'] }, epoch: number): EpochEndOffset | undefined {
  const e = b.emptyEpoch;
  if (e === undefined || e.at !== b.log.length || e.epoch <= lastEpoch(b.log)) return endOffsetForEpoch(b.log, epoch);
  if (epoch < 0) return { epoch: -1, endOffset: -1 };
  if (epoch === e.epoch) return { epoch, endOffset: b.log.length };
  if (epoch > e.epoch) return { epoch: -1, endOffset: -1 };
  const last = lastEpoch(b.log);
  if (epoch >= last) return { epoch: last >= 0 ? last : epoch, endOffset: e.at };
  return endOffsetForEpoch(b.log, epoch);
}

export function runReplicationSim(options: SimOptions): SimResult {
  const rng = new SimRandom(options.seed);
  const trace: string[] = [];
  const log = (line: string): void => {
    if (options.trace) trace.push(`${String(nowMs).padStart(6)} ${line}`);
  };
  let nowMs = 0;
  let seq = 0;
  let nextValue = 1;
  let produced = 0;
  let leaderChanges = 0;
  let isrChanges = 0;
  let uncleanRestarts = 0;
  let brokerEpochCounter = 100;
  const inflight: InFlight[] = [];
  /** Cut links, as "a-b" with a < b (0 = the controller). */
  const cut = new Set<string>();
  const linkKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);

  // ---- checker state ----
  const acked = new Map<number, number>(); // offset → value
  const leaderOfEpoch = new Map<number, number>();
  const leaderHw = new Map<string, number>(); // `${broker}:${epoch}` → highest HW seen

  const brokers = new Map<number, Broker>();
  for (const id of BROKERS) {
    brokers.set(id, {
      id, alive: true, incarnation: 1, brokerEpoch: ++brokerEpochCounter, log: [], flushed: 0, hw: 0, hwCheckpoint: 0,
      view: undefined, brokerEpochs: new Map(), leader: undefined, fetchSentAtMs: undefined, fetchBackoffUntilMs: 0, alterSentAtMs: undefined, parked: [], diedAtMs: 0, emptyEpoch: undefined,
    });
  }
  const ctrlBrokers = new Map<number, ControllerBroker>();
  for (const id of BROKERS) ctrlBrokers.set(id, { brokerEpoch: brokers.get(id)!.brokerEpoch, fenced: false, lastHeartbeatMs: 0 });
  let ctrl: PartitionInfo = { topic: 't', topicId: 'T', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3] };
  /** The controller's recovering flag (the sole ISR member restarted uncleanly; see partition-election.ts). */
  let ctrlRecovering = false;
  let recoveries = 0;
  let lostWithEveryCopy = 0;

  const broker = (id: number): Broker => {
    const b = brokers.get(id);
    if (b === undefined) throw new Error(`no broker ${id}`);
    return b;
  };

  function fail(message: string): never {
    throw new InvariantViolation(message);
  }

  function send(message: Message): void {
    if (cut.has(linkKey(message.from, message.to))) return;
    if (message.type !== 'metadata' && rng.chance(0.03)) return; // lost (metadata is a reliable log stream)
    const delay = 1 + rng.intn(40);
    inflight.push({ deliverAtMs: nowMs + delay, seq: seq++, message });
  }

  // ---- controller model ----

  function ctrlChange(next: Omit<PartitionInfo, 'topic' | 'topicId' | 'partition' | 'replicas' | 'partitionEpoch'>, why: string): void {
    const leaderChanged = next.leader !== ctrl.leader || next.leaderEpoch !== ctrl.leaderEpoch;
    ctrl = { ...ctrl, ...next, partitionEpoch: ctrl.partitionEpoch + 1 };
    if (leaderChanged) leaderChanges++;
    else isrChanges++;
    log(`controller: ${why} → leader ${ctrl.leader} epoch ${ctrl.leaderEpoch} isr [${ctrl.isr.join(',')}] pe ${ctrl.partitionEpoch}`);
  }

  /** Picks the first live, unfenced ISR member (no unclean election). */
  function ctrlElect(isr: readonly number[], why: string): void {
    const candidates = isr.filter((id) => ctrlBrokers.get(id)!.fenced === false);
    const leader = candidates[0] ?? -1;
    ctrlChange({ leader, leaderEpoch: ctrl.leaderEpoch + 1, isr }, why);
  }

  /** Fences a broker: out of the ISR (unless it is the last member, as Kafka keeps it), leadership moves. */
  function ctrlFence(id: number, why: string): void {
    const cb = ctrlBrokers.get(id)!;
    if (cb.fenced) return;
    cb.fenced = true;
    const isr = ctrl.isr.length > 1 ? ctrl.isr.filter((r) => r !== id) : ctrl.isr;
    if (ctrl.leader === id) ctrlElect(isr, `fence ${id} (${why})`);
    else if (isr.length !== ctrl.isr.length) ctrlChange({ leader: ctrl.leader, leaderEpoch: ctrl.leaderEpoch, isr }, `fence ${id} (${why})`);
  }

  function ctrlRegister(id: number, brokerEpoch: number, cleanShutdown: boolean): void {
    const cb = ctrlBrokers.get(id)!;
    (broker(id) as { uncleanUnreported?: boolean }).uncleanUnreported = false; // the registration carried it
    ctrlFence(id, 'new incarnation');
    cb.brokerEpoch = brokerEpoch;
    cb.lastHeartbeatMs = nowMs;
    if (!cleanShutdown && options.protectUncleanRestart && ctrl.leader === -1 && ctrl.isr.length === 1 && ctrl.isr[0] === id && !ctrlRecovering) {
      // KIP-966's problem: the last ISR member may have lost acknowledged records the others still
      // hold. The partition recovers from the longest replica log instead (ctrlRecover).
      ctrlRecovering = true;
      ctrlChange({ leader: -1, leaderEpoch: ctrl.leaderEpoch, isr: ctrl.isr }, `unclean restart of ${id}: recovering`);
    }
    cb.fenced = false;
    if (ctrl.leader === -1 && !ctrlRecovering && ctrl.isr.some((r) => !ctrlBrokers.get(r)!.fenced)) ctrlElect(ctrl.isr, `${id} registered`);
  }

  /**
   * The recovery election (the controller's, from heartbeat reports): once every replica is registered,
   * unfenced, reachable and has applied the recovering state, the greatest (last epoch, log end)
   * leads, the ISR member on a tie.
   */
  function ctrlRecover(): void {
    if (!ctrlRecovering) return;
    const reports: { id: number; lastEpoch: number; end: number }[] = [];
    for (const id of BROKERS) {
      const b = broker(id);
      const cb = ctrlBrokers.get(id)!;
      const registered = b.alive && cb.brokerEpoch === b.brokerEpoch && !cb.fenced && (b as { pendingRegistration?: boolean }).pendingRegistration !== true;
      if (!registered || cut.has(linkKey(id, CONTROLLER)) || b.view?.partitionEpoch !== ctrl.partitionEpoch) return;
      reports.push({ id, lastEpoch: latestEpochOf(b), end: b.log.length });
    }
    const rank = (r: { id: number; lastEpoch: number; end: number }): number[] => [r.lastEpoch, r.end, ctrl.isr.includes(r.id) ? 1 : 0];
    const best = reports.reduce((x, y) => {
      const [a, c] = [rank(y), rank(x)];
      return a[0]! > c[0]! || (a[0] === c[0] && (a[1]! > c[1]! || (a[1] === c[1] && a[2]! > c[2]!))) ? y : x;
    });
    ctrlRecovering = false;
    recoveries++;
    ctrlChange({ leader: best.id, leaderEpoch: ctrl.leaderEpoch + 1, isr: [best.id] }, `recovery election: ${best.id} (epoch ${best.lastEpoch}, end ${best.end})`);
  }

  function ctrlBrokerEpochs(): ReadonlyMap<number, number> {
    return new Map([...ctrlBrokers].filter(([, cb]) => !cb.fenced).map(([id, cb]) => [id, cb.brokerEpoch]));
  }

  function ctrlAlterPartition(m: Extract<Message, { type: 'alterPartition' }>): AlterPartitionResult {
    if (m.brokerEpoch !== ctrlBrokers.get(m.from)!.brokerEpoch) return { ok: false, error: 'STALE_BROKER_EPOCH', message: '' };
    if (m.leaderEpoch !== ctrl.leaderEpoch || m.from !== ctrl.leader) return { ok: false, error: 'FENCED_LEADER_EPOCH', message: '' };
    if (m.partitionEpoch !== ctrl.partitionEpoch) return { ok: false, error: 'INVALID_UPDATE_VERSION', message: '' };
    const added = m.newIsr.filter((r) => !ctrl.isr.includes(r));
    const ineligible = (r: number): boolean => ctrlBrokers.get(r)!.fenced || m.newIsrBrokerEpochs.find((e) => e.brokerId === r)?.brokerEpoch !== ctrlBrokers.get(r)!.brokerEpoch;
    if (added.some(ineligible)) return { ok: false, error: 'INELIGIBLE_REPLICA', message: '' };
    ctrlChange({ leader: ctrl.leader, leaderEpoch: ctrl.leaderEpoch, isr: [...m.newIsr] }, `AlterPartition from ${m.from}`);
    return { ok: true, partition: ctrl };
  }

  // ---- broker model ----

  function leaderLogView(b: Broker): LeaderLogView {
    return {
      logStartOffset: 0, logEndOffset: b.log.length, latestEpoch: latestEpochOf(b),
      endOffsetForEpoch: (epoch) => endOffsetForEpochOf(b, epoch),
    };
  }

  function checkNewLeader(b: Broker, epoch: number): void {
    const previous = leaderOfEpoch.get(epoch);
    if (previous !== undefined && previous !== b.id) fail(`two leaders in epoch ${epoch}: ${previous} and ${b.id}`);
    leaderOfEpoch.set(epoch, b.id);
    for (const [offset, value] of acked) {
      if (b.log[offset]?.value !== value) fail(`broker ${b.id} became leader of epoch ${epoch} without acknowledged record ${value} at offset ${offset} (has ${b.log[offset]?.value ?? 'nothing'})`);
    }
  }

  function applyMetadata(b: Broker, state: PartitionInfo): void {
    if (b.view !== undefined && (state.partitionEpoch <= b.view.partitionEpoch)) return;
    const wasLeaderEpoch = b.leader?.leaderEpoch;
    b.view = state;
    if (state.leader === b.id) {
      if (b.leader !== undefined && wasLeaderEpoch === state.leaderEpoch) {
        b.leader = updateLeaderMetadata(b.leader, state, nowMs);
      } else {
        failParked(b, 'NOT_LEADER');
        checkNewLeader(b, state.leaderEpoch);
        if (state.leaderEpoch > latestEpochOf(b)) b.emptyEpoch = { epoch: state.leaderEpoch, at: b.log.length };
        b.leader = becomeLeader({ leaderId: b.id, info: state, leaderLogEndOffset: b.log.length, nowMs });
        log(`broker ${b.id}: leader of epoch ${state.leaderEpoch} at LEO ${b.log.length} HW ${b.hw}`);
      }
      advanceLeaderHw(b);
    } else {
      if (b.leader !== undefined) log(`broker ${b.id}: follower of ${state.leader} in epoch ${state.leaderEpoch}`);
      failParked(b, 'NOT_LEADER');
      b.leader = undefined;
      b.fetchSentAtMs = undefined; // a fetch to the old leader is abandoned
    }
  }

  function failParked(b: Broker, _why: string): void {
    b.parked = [];
  }

  function advanceLeaderHw(b: Broker): void {
    const state = b.leader;
    if (state === undefined) return;
    const next = computeLeaderHighWatermark(state, { leaderLogEndOffset: b.log.length, currentHighWatermark: b.hw });
    const key = `${b.id}:${state.leaderEpoch}`;
    if (next < (leaderHw.get(key) ?? 0)) fail(`broker ${b.id} HW went back in epoch ${state.leaderEpoch}`);
    leaderHw.set(key, next);
    b.hw = next;
    // acks=all: answered once the HW covers the record, if the ISR still holds min.insync.replicas
    // (otherwise NOT_ENOUGH_REPLICAS_AFTER_APPEND); REQUEST_TIMED_OUT after the deadline.
    b.parked = b.parked.filter((p) => {
      if (b.hw > p.offset) {
        if (state.isr.length >= options.minInsyncReplicas) {
          acked.set(p.offset, p.value);
          log(`broker ${b.id}: acked ${p.value} at ${p.offset}`);
        }
        return false;
      }
      return nowMs < p.deadlineMs;
    });
  }

  function produce(): void {
    // The client sends to whoever some broker's (possibly stale) metadata names as leader.
    const viewer = broker(rng.pick(BROKERS));
    const target = viewer.view?.leader ?? ctrl.leader;
    if (target < 0) return;
    const b = broker(target);
    if (!b.alive || b.leader === undefined) return; // NOT_LEADER_OR_FOLLOWER
    if (b.leader.isr.length < options.minInsyncReplicas) return; // NOT_ENOUGH_REPLICAS
    const value = nextValue++;
    produced++;
    const entry: Entry = { offset: b.log.length, epoch: b.leader.leaderEpoch, value };
    b.log.push(entry);
    b.parked.push({ offset: entry.offset, value, deadlineMs: nowMs + ACK_TIMEOUT_MS });
    advanceLeaderHw(b);
  }

  function handle(m: Message): void {
    const to = broker(m.to === CONTROLLER ? 1 : m.to);
    if (m.to !== CONTROLLER && (!to.alive)) return;
    switch (m.type) {
      case 'fetch': {
        const b = to;
        const answer = (partial: Partial<Extract<Message, { type: 'fetchResponse' }>>): void => send({
          type: 'fetchResponse', from: b.id, to: m.from, incarnation: m.incarnation, fetchOffset: m.fetchOffset, entries: [], hw: b.hw, logStartOffset: 0,
          diverging: undefined, error: undefined, ...partial,
        });
        if (b.leader === undefined) return answer({ error: 'NOT_LEADER_OR_FOLLOWER' });
        const { state, outcome } = handleFollowerFetch(b.leader, {
          replicaId: m.from, brokerEpoch: m.brokerEpoch, fetchOffset: m.fetchOffset, lastFetchedEpoch: m.lastFetchedEpoch,
          currentLeaderEpoch: m.currentLeaderEpoch, nowMs,
        }, leaderLogView(b));
        b.leader = state;
        if (outcome.kind === 'error') return answer({ error: outcome.code });
        if (outcome.kind === 'diverging') return answer({ diverging: outcome.divergingEpoch });
        advanceLeaderHw(b);
        return answer({ entries: b.log.slice(outcome.fetchOffset, outcome.fetchOffset + FETCH_MAX_ENTRIES), hw: b.hw });
      }
      case 'fetchResponse': {
        const b = to;
        if (m.incarnation !== b.incarnation || b.fetchSentAtMs === undefined || b.view?.leader !== m.from) return;
        b.fetchSentAtMs = undefined;
        if (m.fetchOffset !== b.log.length) return; // the log changed under the fetch (truncated)
        if (m.error !== undefined) {
          b.fetchBackoffUntilMs = nowMs + BACKOFF_MS;
          return;
        }
        if (m.diverging !== undefined) {
          const decision = followerTruncation({
            diverging: m.diverging, localLogStartOffset: 0, localLogEndOffset: b.log.length,
            localEndOffsetForEpoch: (epoch) => endOffsetForEpochOf(b, epoch), leaderLogStartOffset: m.logStartOffset,
          });
          const offset = decision.kind === 'truncate' ? decision.offset : decision.startOffset;
          if (offset < b.hw) fail(`broker ${b.id} truncating to ${offset} below its HW ${b.hw} (diverging ${JSON.stringify(m.diverging)})`);
          log(`broker ${b.id}: truncate ${b.log.length} → ${offset} (diverging epoch ${m.diverging.epoch} end ${m.diverging.endOffset})`);
          b.log.length = offset;
          if (b.emptyEpoch !== undefined && b.emptyEpoch.at >= offset) b.emptyEpoch = undefined; // truncateFromEnd(offset)
          b.flushed = Math.min(b.flushed, offset);
          b.hw = Math.min(b.hw, offset);
          b.hwCheckpoint = Math.min(b.hwCheckpoint, offset);
          return;
        }
        for (const entry of m.entries) {
          if (entry.offset !== b.log.length) fail(`broker ${b.id}: fetched offset ${entry.offset} with LEO ${b.log.length}`);
          b.log.push(entry);
        }
        b.hw = followerHighWatermark({ leaderHighWatermark: m.hw, logEndOffset: b.log.length, currentHighWatermark: b.hw });
        return;
      }
      case 'alterPartition': {
        const result = ctrlAlterPartition(m);
        send({ type: 'alterPartitionResponse', from: CONTROLLER, to: m.from, incarnation: m.incarnation, fromPartitionEpoch: m.partitionEpoch, result });
        return;
      }
      case 'alterPartitionResponse': {
        const b = to;
        if (m.incarnation !== b.incarnation || b.leader === undefined) return;
        b.alterSentAtMs = undefined;
        b.leader = applyAlterPartitionResult(b.leader, { fromPartitionEpoch: m.fromPartitionEpoch, result: m.result, nowMs, backoffMs: BACKOFF_MS });
        if (m.result.ok && m.result.partition.leaderEpoch === b.leader.leaderEpoch) b.view = m.result.partition.partitionEpoch > (b.view?.partitionEpoch ?? -1) ? m.result.partition : b.view;
        advanceLeaderHw(b);
        return;
      }
      case 'metadata': {
        if (m.incarnation !== to.incarnation) return;
        to.brokerEpochs = m.brokerEpochs;
        applyMetadata(to, m.state);
        return;
      }
    }
  }

  function tickBroker(b: Broker): void {
    if (!b.alive) return;
    const cb = ctrlBrokers.get(b.id)!;
    if (!cut.has(linkKey(b.id, CONTROLLER)) && cb.brokerEpoch === b.brokerEpoch) cb.lastHeartbeatMs = nowMs;
    const view = b.view;
    if (view === undefined) return;
    if (b.leader !== undefined) {
      let state = b.leader;
      if (b.alterSentAtMs !== undefined && nowMs - b.alterSentAtMs > ALTER_PARTITION_TIMEOUT_MS) {
        state = applyAlterPartitionResult(state, { fromPartitionEpoch: state.pendingIsr?.fromPartitionEpoch ?? -1, result: { ok: false, error: 'REQUEST_TIMED_OUT', message: '' }, nowMs, backoffMs: BACKOFF_MS });
        b.alterSentAtMs = undefined;
      }
      const retry = isrChangeToRetry(state, nowMs);
      const proposal = retry === undefined ? proposeIsrChange(state, {
        nowMs, leaderLogEndOffset: b.log.length, highWatermark: b.hw, replicaLagTimeMaxMs: REPLICA_LAG_TIME_MAX_MS,
        isEligible: (id, fetchBrokerEpoch) => b.view?.replicas.includes(id) === true && b.brokerEpochs.get(id) === fetchBrokerEpoch,
      }) : retry.proposedIsr;
      if (proposal !== undefined) {
        state = markIsrChangeSent(state, proposal, nowMs, ALTER_PARTITION_TIMEOUT_MS);
        b.alterSentAtMs = nowMs;
        log(`broker ${b.id}: propose ISR [${proposal.join(',')}] from pe ${state.partitionEpoch}`);
        send({ type: 'alterPartition', from: b.id, to: CONTROLLER, incarnation: b.incarnation, leaderEpoch: state.leaderEpoch, partitionEpoch: state.pendingIsr!.fromPartitionEpoch, newIsr: proposal, brokerEpoch: b.brokerEpoch, newIsrBrokerEpochs: isrBrokerEpochs(state, proposal, b.brokerEpoch) });
      }
      b.leader = state;
      advanceLeaderHw(b);
      return;
    }
    if (view.leader < 0 || view.leader === b.id) return;
    if (b.fetchSentAtMs !== undefined && nowMs - b.fetchSentAtMs < FETCH_TIMEOUT_MS) return;
    if (nowMs < b.fetchBackoffUntilMs) return;
    b.fetchSentAtMs = nowMs;
    send({ type: 'fetch', from: b.id, to: view.leader, incarnation: b.incarnation, fetchOffset: b.log.length, lastFetchedEpoch: latestEpochOf(b), currentLeaderEpoch: view.leaderEpoch, brokerEpoch: b.brokerEpoch });
  }

  function crash(b: Broker, clean: boolean): void {
    if (clean) {
      b.flushed = b.log.length;
      b.hwCheckpoint = b.hw;
    }
    log(`broker ${b.id}: ${clean ? 'clean stop' : 'CRASH'} (LEO ${b.log.length}, flushed ${b.flushed}, HW ${b.hw})`);
    b.alive = false;
    b.diedAtMs = nowMs;
    b.log.length = b.flushed;
    if (b.emptyEpoch !== undefined && b.emptyEpoch.at > b.log.length) b.emptyEpoch = undefined; // its checkpoint outlives only a log that reaches it
    b.hw = Math.min(b.hwCheckpoint, b.log.length);
    // An acknowledged record that this crash took from its last holder is beyond the acks=all promise
    // (every replica that had it lost it): it leaves the checked set. Only crash losses are forgiven;
    // a record the protocol truncates away stays checked.
    for (const [offset, value] of acked) {
      if (![...brokers.values()].some((x) => x.log[offset]?.value === value)) {
        acked.delete(offset);
        lostWithEveryCopy++;
        log(`acknowledged record ${value} at ${offset}: every copy lost to crashes`);
      }
    }
    b.leader = undefined;
    b.view = undefined;
    b.parked = [];
    b.fetchSentAtMs = undefined;
    b.alterSentAtMs = undefined;
    (b as { cleanStop?: boolean }).cleanStop = clean;
  }

  function restart(b: Broker): void {
    // Unclean until a registration has told the controller: a clean stop before registering does not
    // make a lost tail whole (the node's durable unclean-pending flag, clean-shutdown.ts).
    const pending = b as { cleanStop?: boolean; uncleanUnreported?: boolean };
    if (pending.cleanStop !== true) pending.uncleanUnreported = true;
    const clean = pending.uncleanUnreported !== true;
    if (!clean) uncleanRestarts++;
    b.alive = true;
    b.incarnation++;
    b.brokerEpoch = ++brokerEpochCounter;
    log(`broker ${b.id}: restart (${clean ? 'clean' : 'unclean'}) LEO ${b.log.length} HW ${b.hw} brokerEpoch ${b.brokerEpoch}`);
    if (!cut.has(linkKey(b.id, CONTROLLER))) ctrlRegister(b.id, b.brokerEpoch, clean);
    else (b as { pendingRegistration?: boolean }).pendingRegistration = true;
  }

  function checkInvariants(): void {
    const live = [...brokers.values()].filter((b) => b.alive);
    for (const b of live) {
      if (b.hw > b.log.length) fail(`broker ${b.id} HW ${b.hw} beyond LEO ${b.log.length}`);
      // Below its HW a replica holds exactly the acknowledged records.
      for (const [offset, value] of acked) {
        if (offset < b.hw && b.log[offset]?.value !== value) fail(`broker ${b.id} lacks acknowledged ${value} at ${offset} below its HW ${b.hw}`);
      }
    }
    for (const a of live) {
      for (const c of live) {
        if (a.id >= c.id) continue;
        const below = Math.min(a.hw, c.hw);
        for (let o = 0; o < below; o++) {
          if (a.log[o]?.value !== c.log[o]?.value || a.log[o]?.epoch !== c.log[o]?.epoch) fail(`brokers ${a.id} and ${c.id} diverge at ${o} below HW ${below}`);
        }
      }
    }
  }

  function deliverDue(): void {
    inflight.sort((x, y) => x.deliverAtMs - y.deliverAtMs || x.seq - y.seq);
    while (inflight.length > 0 && inflight[0]!.deliverAtMs <= nowMs) {
      const { message } = inflight.shift()!;
      if (cut.has(linkKey(message.from, message.to))) continue;
      handle(message);
      checkInvariants();
    }
  }

  function controllerTick(): void {
    ctrlRecover();
    for (const id of BROKERS) {
      const cb = ctrlBrokers.get(id)!;
      if (!cb.fenced && nowMs - cb.lastHeartbeatMs > SESSION_TIMEOUT_MS) ctrlFence(id, 'session timeout');
      const b = broker(id);
      // Heartbeats again from its current registration (the link healed): unfenced, and it may lead an
      // offline partition whose ISR it is in (not a recovering one).
      if (cb.fenced && b.alive && cb.brokerEpoch === b.brokerEpoch && nowMs - cb.lastHeartbeatMs <= SESSION_TIMEOUT_MS && !cut.has(linkKey(id, CONTROLLER))) {
        cb.fenced = false;
        log(`controller: unfence ${id}`);
        if (ctrl.leader === -1 && !ctrlRecovering && ctrl.isr.includes(id)) ctrlElect(ctrl.isr, `${id} unfenced`);
      }
      const pending = b as { pendingRegistration?: boolean };
      if (b.alive && pending.pendingRegistration === true && !cut.has(linkKey(id, CONTROLLER))) {
        pending.pendingRegistration = false;
        ctrlRegister(id, b.brokerEpoch, (b as { uncleanUnreported?: boolean }).uncleanUnreported !== true);
      }
      // Metadata streams to every registered live broker (late, in order: latest state wins).
      if (b.alive && pending.pendingRegistration !== true && cb.brokerEpoch === b.brokerEpoch && (b.view?.partitionEpoch ?? -1) < ctrl.partitionEpoch && rng.chance(0.5)) {
        send({ type: 'metadata', from: CONTROLLER, to: id, incarnation: b.incarnation, state: ctrl, brokerEpochs: ctrlBrokerEpochs() });
      }
    }
  }

  function step(faults: boolean): void {
    nowMs += 5 + rng.intn(30);
    if (faults) {
      const roll = rng.intn(1000);
      if (roll < 250) produce();
      else if (roll < 320) {
        const b = broker(rng.pick(BROKERS));
        if (b.alive) {
          b.flushed = b.log.length;
          b.hwCheckpoint = b.hw;
        }
      } else if (roll < 335) {
        const b = broker(rng.pick(BROKERS));
        if (b.alive && [...brokers.values()].filter((x) => x.alive).length > 1) crash(b, rng.chance(0.3));
      } else if (roll < 370) {
        const b = broker(rng.pick(BROKERS));
        if (!b.alive && nowMs - b.diedAtMs > 100) restart(b);
      } else if (roll < 385) {
        const a = rng.intn(4);
        const c = rng.pick(BROKERS);
        if (a !== c) {
          cut.add(linkKey(a, c));
          log(`cut ${linkKey(a, c)}`);
        }
      } else if (roll < 420) {
        if (cut.size > 0) {
          const link = rng.pick([...cut]);
          cut.delete(link);
          log(`heal ${link}`);
        }
      } else if (roll < 425 && ctrl.leader >= 0) {
        // Preferred-leader style election among live ISR members.
        const others = ctrl.isr.filter((r) => r !== ctrl.leader && !ctrlBrokers.get(r)!.fenced);
        if (others.length > 0) ctrlElect([rng.pick(others), ...ctrl.isr.filter((r) => r !== ctrl.leader)].filter((r, i, all) => all.indexOf(r) === i).concat(ctrl.leader), 'leader change');
      }
    }
    controllerTick();
    for (const id of BROKERS) tickBroker(broker(id));
    deliverDue();
    checkInvariants();
  }

  let violation: string | undefined;
  try {
    for (const id of BROKERS) send({ type: 'metadata', from: CONTROLLER, to: id, incarnation: 1, state: ctrl, brokerEpochs: ctrlBrokerEpochs() });
    for (let i = 0; i < options.steps; i++) step(true);
    // Quiesce: heal, restart everyone, let replication settle, then the final check.
    cut.clear();
    for (const b of brokers.values()) if (!b.alive) restart(b);
    for (let i = 0; i < 400; i++) step(false);
    for (const id of ctrl.isr) {
      const b = broker(id);
      for (const [offset, value] of acked) {
        if (b.log[offset]?.value !== value) fail(`final: ISR member ${id} lacks acknowledged ${value} at ${offset}`);
      }
    }
  } catch (err) {
    if (!(err instanceof InvariantViolation)) throw err;
    violation = err.message;
    log(`VIOLATION: ${err.message}`);
  }
  return { seed: options.seed, violation, acked: acked.size, produced, leaderChanges, isrChanges, uncleanRestarts, recoveries, lostWithEveryCopy, trace };
}
