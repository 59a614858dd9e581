// RaftDriver: the I/O shell around one nraft RawNode. It owns the node, its storage and transport and
// a tick timer, and runs the Ready loop in the one order raft's safety needs:
//
//   persist (snapshot, entries, hard state; fsync) -> send messages -> apply committed entries -> advance
//
// The order is enforced by a phase machine (an out-of-order step is an AssertionError), so "persist
// then send" lives here and nowhere else. Anything thrown inside the loop (a storage failure, a broken
// invariant) is fatal: the driver logs it, closes and fails every pending proposal.
import { AssertionError } from 'node:assert';
import {
  RawNode, decodeConfChange,
  type ConfChange, type ConfState, type Entry, type Logger, type Message, type NodeId, type RaftConfigInput, type RaftStatus,
  type RaftStorage, type Ready, type Snapshot,
} from '@tributary/nraft';
import type { PersistableReady } from '@tributary/nraft/adapters';
import { RaftDriverClosedError, RaftProposalError } from './raft-driver-errors.js';
import type { RaftTransport } from './raft-transport.js';

/** Wall-clock length of one raft tick. */
export const DEFAULT_TICK_MS = 100;
/** A proposal not committed and applied within this long fails with 'timeout'. */
export const DEFAULT_PROPOSAL_TIMEOUT_MS = 10_000;
/** Proposals waiting to commit; more are refused with 'pending-limit'. */
export const DEFAULT_PENDING_PROPOSALS_MAX = 65_536;
/** ReadIndex requests waiting for their index; more are refused with 'pending-limit'. */
export const DEFAULT_PENDING_READS_MAX = 4_096;
/** Entries kept below a new snapshot, so a follower slightly behind catches up without a snapshot. */
export const DEFAULT_SNAPSHOT_KEEP_ENTRIES = 1_000;

/**
 * Storage the driver writes: the raft read port plus a durable `persist`, the application's
 * snapshots and a lifecycle (FileRaftStorage; MemoryStorage with a small wrapper in tests).
 */
export interface RaftDriverStorage extends RaftStorage {
  /** Makes the snapshot, entries and hard state of a Ready durable; resolves only once they are. */
  persist(ready: PersistableReady): Promise<void>;
  /** Stores a snapshot of the application at `index`; the log is untouched. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot | Promise<Snapshot>;
  /** Discards the log up to and including `index`. */
  compact(index: number): void;
  close(): Promise<void>;
}

export interface RaftDriverOptions {
  readonly nodeId: NodeId;
  readonly storage: RaftDriverStorage;
  readonly transport: RaftTransport;
  /**
   * Applies committed entries in index order (normal entries, leader no-ops with empty data and
   * conf changes, which the driver has already applied to raft). Called at most once at a time.
   */
  readonly apply: (entries: readonly Entry[]) => void | Promise<void>;
  /** Replaces the application state with a snapshot (on start, and when one arrives from the leader). */
  readonly restore?: (snapshot: Snapshot) => void | Promise<void>;
  /** Raft settings other than the id, logger and random source (ticks, limits, preVote, checkQuorum). */
  readonly raft?: Omit<RaftConfigInput, 'id' | 'logger' | 'random'>;
  readonly tickMs?: number;
  readonly proposalTimeoutMs?: number;
  readonly pendingProposalsMax?: number;
  readonly pendingReadsMax?: number;
  readonly logger?: Logger;
  /**
   * Told once, after the driver closed itself because of a failure (a storage error, a broken
   * invariant): `cause` is what was thrown. Not called for close(). The owner decides whether to
   * start a new driver on the same storage (QuorumController restarts it with backoff).
   */
  readonly onFailed?: (cause: unknown) => void;
}

interface DriverConfig {
  readonly tickMs: number;
  readonly proposalTimeoutMs: number;
  readonly pendingProposalsMax: number;
  readonly pendingReadsMax: number;
}

function parseDriverConfig(o: RaftDriverOptions): DriverConfig {
  const config: DriverConfig = {
    tickMs: o.tickMs ?? DEFAULT_TICK_MS,
    proposalTimeoutMs: o.proposalTimeoutMs ?? DEFAULT_PROPOSAL_TIMEOUT_MS,
    pendingProposalsMax: o.pendingProposalsMax ?? DEFAULT_PENDING_PROPOSALS_MAX,
    pendingReadsMax: o.pendingReadsMax ?? DEFAULT_PENDING_READS_MAX,
  };
  const problems = Object.entries(config)
    .filter(([, v]) => !Number.isSafeInteger(v) || v <= 0)
    .map(([field, v]) => `${field} must be a positive integer, got ${String(v)}`);
  if (!Number.isSafeInteger(o.nodeId) || o.nodeId <= 0) problems.push(`nodeId must be a positive integer, got ${o.nodeId}`);
  if (problems.length > 0) throw new RangeError(`invalid RaftDriver options: ${problems.join('; ')}`);
  return config;
}

/** Where the driver is in handling one Ready; the only legal order is the cycle below. */
type Phase = 'idle' | 'persisting' | 'sending' | 'applying' | 'advancing';
const NEXT_PHASE: Readonly<Record<Phase, Phase>> = {
  idle: 'persisting', persisting: 'sending', sending: 'applying', applying: 'advancing', advancing: 'idle',
};

export type DriverState = 'running' | 'closing' | 'closed';

/** Counters since start (for metrics and benchmarks). */
export interface RaftDriverStats {
  readonly readies: number;
  readonly entriesPersisted: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly entriesApplied: number;
  /** Wall time spent awaiting storage.persist. */
  readonly persistMs: number;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (committed: { index: number; term: number }) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface PendingRead {
  /** Set once raft answered: the index this node must have applied before the read may be served. */
  index: number | undefined;
  readonly resolve: (index: number) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const NOOP_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Adds fixed fields to every log line (a pino child logger without needing pino). */
function withFields(logger: Logger, fields: object): Logger {
  return {
    debug: (obj, msg) => logger.debug({ ...fields, ...obj }, msg),
    info: (obj, msg) => logger.info({ ...fields, ...obj }, msg),
    warn: (obj, msg) => logger.warn({ ...fields, ...obj }, msg),
    error: (obj, msg) => logger.error({ ...fields, ...obj }, msg),
  };
}

export class RaftDriver {
  readonly nodeId: NodeId;
  private readonly node: RawNode;
  private readonly config: DriverConfig;
  private readonly logger: Logger;
  private readonly pending = new Map<number, PendingProposal>();
  /** ReadIndex requests by request id (the context raft echoes back). */
  private readonly reads = new Map<string, PendingRead>();
  private readSeq = 0;
  private readonly tickTimer: NodeJS.Timeout;
  private phase: Phase = 'idle';
  /** The Ready whose persistence completed: the only one whose messages may be sent. */
  private persisted: Ready | undefined;
  private state: DriverState = 'running';
  private loopScheduled = false;
  private loop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private leader = false;
  private term = 0;
  /** Last index applied to the application (entries or snapshot), and the membership as of it. */
  private applied: number;
  private confState: ConfState;
  /** Work that must run between Readies (it writes storage): snapshots and compaction. */
  private readonly maintenance: { run: () => Promise<void>; abandon: (err: Error) => void }[] = [];
  private counters = { readies: 0, entriesPersisted: 0, messagesSent: 0, messagesReceived: 0, entriesApplied: 0, persistMs: 0 };

  private constructor(private readonly options: RaftDriverOptions) {
    this.config = parseDriverConfig(options);
    this.nodeId = options.nodeId;
    this.logger = withFields(options.logger ?? NOOP_LOGGER, { component: 'raft-driver', nodeId: options.nodeId });
    this.node = new RawNode({
      ...options.raft,
      id: options.nodeId,
      logger: this.logger,
      // The shell is where randomness may come from; the core only sees the Random port.
      random: { intn: (n) => Math.floor(Math.random() * n) },
      applied: options.storage.snapshot().metadata.index,
    }, options.storage);
    this.term = options.storage.initialState().hardState.term;
    this.applied = options.storage.snapshot().metadata.index;
    this.confState = options.storage.initialState().confState;
    options.transport.onMessage((m) => this.receive(m));
    options.transport.onDropped((messages) => this.dropped(messages));
    options.transport.onSnapshotSent((to) => this.guard(() => this.node.reportSnapshot(to, true)));
    this.tickTimer = setInterval(() => this.tick(), this.config.tickMs);
    this.tickTimer.unref();
  }

  /** Restores the application from the stored snapshot (if any), then starts ticking and receiving. */
  static async start(options: RaftDriverOptions): Promise<RaftDriver> {
    const snap = options.storage.snapshot();
    if (snap.metadata.index > 0) await options.restore?.(snap);
    const driver = new RaftDriver(options);
    driver.logger.info({ term: driver.term, firstIndex: options.storage.firstIndex(), lastIndex: options.storage.lastIndex() }, 'raft driver started');
    return driver;
  }

  /**
   * Proposes `data`; resolves with its (index, term) once it is committed and applied on this node.
   * Rejects with ProposalDroppedError (not leader, limits) or RaftProposalError.
   */
  propose(data: Uint8Array): Promise<{ index: number; term: number }> {
    return this.proposeWith(() => this.node.propose(data));
  }

  /**
   * Proposes a membership change (one at a time); resolves once it is committed and applied here.
   * Telling the transport where a new member listens is the caller's job.
   */
  proposeConfChange(cc: ConfChange): Promise<{ index: number; term: number }> {
    return this.proposeWith(() => this.node.proposeConfChange(cc));
  }

  /**
   * A linearizable read barrier (ReadIndex, Raft thesis §6.4): resolves with an index once this node
   * has applied it and it is at least the commit index the leader had when it confirmed its
   * leadership for this request. Serve the read from the application state after it resolves.
   * Rejects with ProposalDroppedError (no leader known) or RaftProposalError ('pending-limit',
   * 'timeout' after proposalTimeoutMs, 'closed').
   */
  readIndex(): Promise<number> {
    if (this.state !== 'running') return Promise.reject(new RaftProposalError('closed', 0));
    if (this.reads.size >= this.config.pendingReadsMax) return Promise.reject(new RaftProposalError('pending-limit', 0));
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setBigUint64(0, BigInt(++this.readSeq));
    const key = Buffer.from(ctx).toString('hex');
    try {
      this.node.readIndex(ctx);
    } catch (err) {
      return Promise.reject(err);
    }
    const promise = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => this.failRead(key, 'timeout'), this.config.proposalTimeoutMs);
      timer.unref();
      this.reads.set(key, { index: undefined, resolve, reject, timer });
    });
    this.schedule();
    return promise;
  }

  private proposeWith(submit: () => number): Promise<{ index: number; term: number }> {
    if (this.state !== 'running') return Promise.reject(new RaftProposalError('closed', 0));
    if (this.pending.size >= this.config.pendingProposalsMax) return Promise.reject(new RaftProposalError('pending-limit', 0));
    let index: number;
    try {
      index = submit();
    } catch (err) {
      return Promise.reject(err);
    }
    const term = this.node.status().term;
    this.failPending(index, 'overwritten'); // a stale proposal from an earlier reign at this index
    const promise = new Promise<{ index: number; term: number }>((resolve, reject) => {
      const timer = setTimeout(() => this.failPending(index, 'timeout'), this.config.proposalTimeoutMs);
      timer.unref();
      this.pending.set(index, { term, resolve, reject, timer });
    });
    this.schedule();
    return promise;
  }

  /**
   * Snapshots the application and compacts the log. `capture` runs between Readies, when everything
   * through the applied index (which it is given) has been applied and nothing else is: it must
   * return the application state as of exactly that index. Entries [index - keepEntries, index] stay.
   */
  snapshot(capture: (appliedIndex: number) => Uint8Array, options: { keepEntries?: number } = {}): Promise<Snapshot> {
    if (this.state !== 'running') return Promise.reject(new RaftDriverClosedError());
    const keepEntries = options.keepEntries ?? DEFAULT_SNAPSHOT_KEEP_ENTRIES;
    return new Promise<Snapshot>((resolve, reject) => {
      this.maintenance.push({ abandon: reject, run: async () => {
        const storage = this.options.storage;
        const index = this.applied;
        const current = storage.snapshot();
        if (index <= current.metadata.index) {
          resolve(current); // nothing applied since the last snapshot
          return;
        }
        let data: Uint8Array;
        try {
          data = capture(index);
        } catch (err) {
          reject(err); // the application's failure, not the node's
          return;
        }
        try {
          const snap = await storage.createSnapshot(index, this.confState, data);
          const compactTo = index - keepEntries;
          if (compactTo >= storage.firstIndex()) storage.compact(compactTo);
          this.logger.info({ index, term: snap.metadata.term, firstIndex: storage.firstIndex() }, 'raft snapshot taken, log compacted');
          resolve(snap);
        } catch (err) {
          reject(err);
          throw err; // a storage failure here is as fatal as in persist
        }
      } });
      this.schedule();
    });
  }

  /** Starts an election now (tests, operator tooling). */
  campaign(): void {
    this.guard(() => this.node.campaign());
  }

  /** Asks the leader to hand over to `to`. Throws ProposalDroppedError when no leader is known. */
  transferLeadership(to: NodeId): void {
    if (this.state !== 'running') throw new RaftDriverClosedError();
    this.node.transferLeadership(to); // expected failures go to the caller, not to fail()
    this.schedule();
  }

  status(): RaftStatus {
    return this.node.status();
  }

  isLeader(): boolean {
    return this.leader;
  }

  stats(): RaftDriverStats {
    return { ...this.counters };
  }

  get driverState(): DriverState {
    return this.state;
  }

  /** Stops ticking and receiving, finishes the Ready in hand, closes transport and storage. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown(undefined);
    return this.closing;
  }

  // ---- internals ----

  private tick(): void {
    this.guard(() => this.node.tick());
  }

  /** The transport lost messages: let the leader probe that peer again (and resend a lost snapshot). */
  private dropped(messages: readonly Message[]): void {
    this.guard(() => {
      for (const to of new Set(messages.map((m) => m.to))) this.node.reportUnreachable(to);
      for (const m of messages) if (m.type === 'snap') this.node.reportSnapshot(m.to, false);
    });
  }

  private receive(m: Message): void {
    this.counters.messagesReceived++;
    this.guard(() => this.node.step(m));
  }

  /** Runs an input against the node, then lets the loop pick up what it produced. */
  private guard(input: () => void): void {
    if (this.state !== 'running') return;
    try {
      input();
    } catch (err) {
      this.fail(err);
      return;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.loopScheduled || this.loop !== undefined || this.state !== 'running') return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      if (this.loop !== undefined || this.state !== 'running') return;
      this.loop = this.runLoop().finally(() => {
        this.loop = undefined;
        // Inputs that arrived during the last await are picked up by another pass.
        if (this.state === 'running' && (this.node.hasReady() || this.maintenance.length > 0)) this.schedule();
      });
    });
  }

  private async runLoop(): Promise<void> {
    try {
      while (this.state === 'running') {
        if (this.node.hasReady()) await this.handleReady(this.node.ready());
        else if (this.maintenance.length > 0) await this.maintenance.shift()!.run();
        else break;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private enter(to: Phase): void {
    if (NEXT_PHASE[this.phase] !== to) throw new AssertionError({ message: `raft driver phase ${this.phase} -> ${to} is out of order` });
    this.phase = to;
  }

  private async handleReady(rd: Ready): Promise<void> {
    this.enter('persisting');
    const persistStart = performance.now();
    await this.options.storage.persist(rd);
    this.persisted = rd;
    this.counters.readies++;
    this.counters.entriesPersisted += rd.entries.length;
    this.counters.messagesSent += rd.messages.length;
    this.counters.entriesApplied += rd.committedEntries.length;
    this.counters.persistMs += performance.now() - persistStart;

    this.enter('sending');
    this.sendPersisted(rd);

    this.enter('applying');
    if (rd.softState !== undefined) this.onSoftState(rd.softState.role === 'leader', rd.softState.leader);
    if (rd.hardState !== undefined) this.term = rd.hardState.term;
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > 0) {
      await this.options.restore?.(rd.snapshot);
      this.applied = rd.snapshot.metadata.index;
      this.confState = rd.snapshot.metadata.confState;
      this.logger.info({ index: rd.snapshot.metadata.index, term: rd.snapshot.metadata.term }, 'raft snapshot restored');
    }
    if (rd.committedEntries.length > 0) await this.applyCommitted(rd.committedEntries);
    this.serveReads(rd);

    this.enter('advancing');
    this.node.advance(rd);
    this.persisted = undefined;
    this.enter('idle');
  }

  /** The only place messages leave: raft's messages may depend on what step 1 persisted. */
  private sendPersisted(rd: Ready): void {
    if (this.phase !== 'sending' || this.persisted !== rd) {
      throw new AssertionError({ message: 'raft messages sent before their Ready was persisted' });
    }
    if (rd.messages.length > 0) this.options.transport.send(rd.messages);
  }

  private async applyCommitted(entries: readonly Entry[]): Promise<void> {
    for (const e of entries) {
      if (e.type !== 'conf-change') continue;
      this.confState = this.node.applyConfChange(decodeConfChange(e.data));
      this.logger.info({ index: e.index, voters: this.confState.voters, learners: this.confState.learners }, 'raft membership changed');
    }
    await this.options.apply(entries);
    this.applied = entries[entries.length - 1]!.index;
    for (const e of entries) {
      const p = this.pending.get(e.index);
      if (p === undefined) continue;
      this.pending.delete(e.index);
      clearTimeout(p.timer);
      if (p.term === e.term) p.resolve({ index: e.index, term: e.term });
      else p.reject(new RaftProposalError('overwritten', e.index));
    }
  }

  /** Records raft's answers to ReadIndex requests and releases those whose index is applied. */
  private serveReads(rd: Ready): void {
    for (const rs of rd.readStates) {
      const read = this.reads.get(Buffer.from(rs.requestCtx).toString('hex'));
      if (read !== undefined && read.index === undefined) read.index = rs.index;
    }
    for (const [key, read] of this.reads) {
      if (read.index === undefined || read.index > this.applied) continue;
      this.reads.delete(key);
      clearTimeout(read.timer);
      read.resolve(read.index);
    }
  }

  private failRead(key: string, reason: 'timeout' | 'closed', cause?: unknown): void {
    const read = this.reads.get(key);
    if (read === undefined) return;
    this.reads.delete(key);
    clearTimeout(read.timer);
    read.reject(new RaftProposalError(reason, 0, cause === undefined ? undefined : { cause }));
  }

  private onSoftState(leader: boolean, leaderId: NodeId): void {
    if (leader !== this.leader) {
      this.logger.info({ from: this.leader ? 'leader' : 'not-leader', to: leader ? 'leader' : 'not-leader', leaderId, term: this.node.status().term }, 'raft leadership changed');
    }
    if (this.leader && !leader) {
      for (const index of [...this.pending.keys()]) this.failPending(index, 'leadership-lost');
    }
    this.leader = leader;
  }

  private failPending(index: number, reason: 'overwritten' | 'timeout' | 'leadership-lost' | 'closed', cause?: unknown): void {
    const p = this.pending.get(index);
    if (p === undefined) return;
    this.pending.delete(index);
    clearTimeout(p.timer);
    p.reject(new RaftProposalError(reason, index, cause === undefined ? undefined : { cause }));
  }

  private fail(err: unknown): void {
    if (this.state !== 'running') return;
    this.logger.error({ err }, 'raft driver failed; closing');
    this.closing ??= this.shutdown(err).catch((closeErr: unknown) => {
      this.logger.error({ err: closeErr }, 'raft driver shutdown after a failure failed');
    });
  }

  private async shutdown(cause: unknown): Promise<void> {
    this.state = 'closing';
    clearInterval(this.tickTimer);
    await this.options.transport.close();
    // Let the Ready in hand finish (a failed loop has already returned).
    if (this.loop !== undefined && cause === undefined) await this.loop;
    for (const index of [...this.pending.keys()]) this.failPending(index, 'closed', cause);
    for (const key of [...this.reads.keys()]) this.failRead(key, 'closed', cause);
    for (const task of this.maintenance.splice(0)) task.abandon(new RaftDriverClosedError(cause === undefined ? undefined : { cause }));
    try {
      await this.options.storage.close();
    } catch (err) {
      // The storage already failed; closing it may fail too. The owner still needs to hear about it.
      if (cause === undefined) throw err;
      this.logger.warn({ err }, 'closing the failed raft storage failed');
    }
    this.state = 'closed';
    this.logger.info({ failed: cause !== undefined }, 'raft driver closed');
    if (cause !== undefined) this.options.onFailed?.(cause);
  }
}
