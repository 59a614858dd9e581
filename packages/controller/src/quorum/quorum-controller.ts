// QuorumController: the I/O shell of one controller voter. It runs a RaftDriver over the storage and
// transport its QuorumIo port opens (quorum-io.ts; the runtime passes FileRaftStorage under
// `<data.dir>/__cluster_metadata_raft` and the gRPC Raft transport), applies every committed
// MetadataBatch to the image through the pure MetadataMachine, and — while its voter leads — is the
// *active controller*:
//
// - Commands run one at a time (a FIFO queue): decide against the image, propose the records, answer
//   once they are committed and applied. With a single command in flight the applied image always
//   includes every earlier command, so no "uncommitted image" is needed (Kafka keeps one to pipeline;
//   metadata commands are rare enough that we do not).
// - A voter becomes active only once it has applied an entry of its own term (its leader no-op):
//   everything an earlier leader committed is then in the image it decides against.
// - Losing leadership fails queued and in-flight commands with NOT_CONTROLLER.
// - Broker liveness: the last heartbeat per broker, on the active controller only; a new active
//   controller gives every registered broker a fresh session before it fences anyone, and a session
//   check that runs late (this process was paused or starved) credits every session the lost time
//   (session-clock.ts) instead of fencing live brokers whose heartbeats are still queued. A broker
//   silent for `brokerLivenessProbeAfterMs` is probed (QuorumIo.probeBrokerListener): if its listener
//   refuses a connection the process is gone, and it is fenced at once rather than at its session
//   timeout (listener-probe.ts says why a refusal, and only a refusal, is evidence).
// - Every `snapshotIntervalRecords` records the image becomes the Raft snapshot and the log is compacted.
// - No remote message stops the Raft driver (nraft refuses them); if it stops anyway (a storage error, a
//   broken invariant) the voter says so (status().driverRunning, leader hint -1, not active) and
//   driver-supervisor.ts starts a new driver on the same durable log after a backoff
//   (raftDriverRestartBackoff{Min,Max}Ms), at most raftDriverRestartsMax times in a row. The image is
//   kept: committed entries the new driver hands back again (everything after its snapshot) are
//   already in it and are skipped.
// - Watchers (brokers' WatchMetadata streams) get committed batches from a bounded in-memory tail of
//   the log, or a snapshot of the image when they are further behind than that tail (metadata-watchers.ts).
// One unit of about 600 lines: the command queue, the active-controller state and the session and
// leader-balance timers all act on the same image and term in one order; what could stand alone
// (driver supervision, watchers, the session clock) already lives beside it.
import type { Entry, Logger as RaftLogger, Snapshot } from '@tributary/nraft';
import { tributary } from '@tributary/protocol';
import type { Logger } from 'pino';
import { RaftDriver } from '../raft/raft-driver.js';
import { RaftProposalError } from '../raft/raft-driver-errors.js';
import { DriverSupervisor } from './driver-supervisor.js';
import { MetadataWatchers, type MetadataWatcher } from './metadata-watchers.js';
import type { MetadataMachine } from './metadata-machine.js';
import type { QuorumIo } from './quorum-io.js';
import { creditControllerStall } from './session-clock.js';
import { NotControllerError, QuorumError } from './quorum-errors.js';

import pb = tributary.internal.v1;

export const DEFAULT_BROKER_SESSION_TIMEOUT_MS = 9_000;
/** Heartbeat silence after which the active controller probes a broker's listener; 0 = never. */
/** 0 = off: opt in with broker.liveness.probe.after.ms (see docs/replication.md, "Failover time"). */
export const DEFAULT_BROKER_LIVENESS_PROBE_AFTER_MS = 0;
export const DEFAULT_SNAPSHOT_INTERVAL_RECORDS = 10_000;
export const DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS = 300_000;
/** Commands waiting behind the one in flight; more are refused (REQUEST_TIMED_OUT, retriable). */
export const DEFAULT_COMMAND_QUEUE_MAX = 1_000;
/** Committed batches kept in memory for watchers; one further behind gets a snapshot. */
export const DEFAULT_WATCH_TAIL_ENTRIES = 10_000;
/** Watch streams served at once. */
export const DEFAULT_WATCHERS_MAX = 1_000;
/** First wait before restarting a failed Raft driver; doubles per consecutive failure up to the max. */
export const DEFAULT_RAFT_DRIVER_RESTART_BACKOFF_MIN_MS = 200;
export const DEFAULT_RAFT_DRIVER_RESTART_BACKOFF_MAX_MS = 30_000;
/** Consecutive failed driver runs after which the voter stays down (unhealthy) for an operator. */
export const DEFAULT_RAFT_DRIVER_RESTARTS_MAX = 10;
/** A driver that ran this long counts as recovered: the consecutive-failure count starts again. */
export const DEFAULT_RAFT_DRIVER_STABLE_MS = 60_000;

export interface QuorumControllerConfig {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly brokerSessionTimeoutMs: number;
  /** 0 = never probe; otherwise < brokerSessionTimeoutMs. */
  readonly brokerLivenessProbeAfterMs: number;
  readonly snapshotIntervalRecords: number;
  readonly autoLeaderRebalanceEnable: boolean;
  readonly leaderImbalanceCheckIntervalMs: number;
  readonly proposalTimeoutMs: number;
  readonly commandQueueMax: number;
  readonly watchTailEntries: number;
  readonly watchersMax: number;
  readonly raftDriverRestartBackoffMinMs: number;
  readonly raftDriverRestartBackoffMaxMs: number;
  readonly raftDriverRestartsMax: number;
  readonly raftDriverStableMs: number;
}

export const DEFAULT_QUORUM_CONTROLLER_CONFIG: QuorumControllerConfig = {
  tickMs: 100,
  electionTicks: 10,
  heartbeatTicks: 1,
  brokerSessionTimeoutMs: DEFAULT_BROKER_SESSION_TIMEOUT_MS,
  brokerLivenessProbeAfterMs: DEFAULT_BROKER_LIVENESS_PROBE_AFTER_MS,
  snapshotIntervalRecords: DEFAULT_SNAPSHOT_INTERVAL_RECORDS,
  autoLeaderRebalanceEnable: true,
  leaderImbalanceCheckIntervalMs: DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS,
  proposalTimeoutMs: 10_000,
  commandQueueMax: DEFAULT_COMMAND_QUEUE_MAX,
  watchTailEntries: DEFAULT_WATCH_TAIL_ENTRIES,
  watchersMax: DEFAULT_WATCHERS_MAX,
  raftDriverRestartBackoffMinMs: DEFAULT_RAFT_DRIVER_RESTART_BACKOFF_MIN_MS,
  raftDriverRestartBackoffMaxMs: DEFAULT_RAFT_DRIVER_RESTART_BACKOFF_MAX_MS,
  raftDriverRestartsMax: DEFAULT_RAFT_DRIVER_RESTARTS_MAX,
  raftDriverStableMs: DEFAULT_RAFT_DRIVER_STABLE_MS,
};

/** Validates a partial config over the defaults; names every bad field. */
export function parseQuorumControllerConfig(input: Partial<QuorumControllerConfig> = {}): QuorumControllerConfig {
  const config = { ...DEFAULT_QUORUM_CONTROLLER_CONFIG, ...input };
  const problems: string[] = [];
  for (const [field, v] of Object.entries(config)) {
    if (typeof v === 'boolean' || field === 'brokerLivenessProbeAfterMs') continue;
    if (!Number.isSafeInteger(v) || (v as number) <= 0) problems.push(`${field} must be a positive integer, got ${String(v)}`);
  }
  if (config.raftDriverRestartBackoffMinMs > config.raftDriverRestartBackoffMaxMs) {
    problems.push(`raftDriverRestartBackoffMinMs (${config.raftDriverRestartBackoffMinMs}) must be <= raftDriverRestartBackoffMaxMs (${config.raftDriverRestartBackoffMaxMs})`);
  }
  const probeAfterMs = config.brokerLivenessProbeAfterMs;
  if (!Number.isSafeInteger(probeAfterMs) || probeAfterMs < 0) problems.push(`brokerLivenessProbeAfterMs must be a non-negative integer (0 = off), got ${String(probeAfterMs)}`);
  else if (probeAfterMs >= config.brokerSessionTimeoutMs) problems.push(`brokerLivenessProbeAfterMs (${probeAfterMs}) must be < brokerSessionTimeoutMs (${config.brokerSessionTimeoutMs}), or 0`);
  if (config.heartbeatTicks >= config.electionTicks) problems.push(`heartbeatTicks (${config.heartbeatTicks}) must be < electionTicks (${config.electionTicks})`);
  if (problems.length > 0) throw new RangeError(`invalid quorum controller config: ${problems.join('; ')}`);
  return Object.freeze(config);
}

/** The shell's liveness bookkeeping, handed to the core to judge (times from the shell's clock). */
export interface BrokerSessions {
  /** The last heartbeat per broker; brokers without one are not judged. */
  readonly lastHeartbeatMs: ReadonlyMap<number, number>;
  readonly nowMs: number;
  readonly sessionTimeoutMs: number;
  /** Brokers whose listener refused a connection after their last heartbeat: expired now. */
  readonly goneBrokers: ReadonlySet<number>;
}

/** The decisions the shell triggers by itself (timers), answered by the pure core. */
export interface ControllerPolicies<Image> {
  /** Unfenced brokers in the image (each gets a fresh session when this voter becomes active). */
  registeredBrokers(image: Image): readonly number[];
  /** A registered broker's listener, for the liveness probe; absent: brokers are never probed. */
  brokerEndpoint?(image: Image, brokerId: number): { readonly host: string; readonly port: number } | undefined;
  /** Records fencing the brokers whose session expired; undefined = nothing to write. */
  fenceStaleBrokers(image: Image, sessions: BrokerSessions): Uint8Array | undefined;
  /** Preferred-leader election where the preferred replica is live and in the ISR; undefined = balanced. */
  rebalanceLeaders(image: Image, nowMs: number): Uint8Array | undefined;
}

/** What one command decides: the records to commit (undefined/empty = none) and the answer. */
export interface CommandDecision<T> {
  readonly batch: Uint8Array | undefined;
  readonly response: T;
}

export interface CommandResult<T> {
  readonly response: T;
  /** The metadata offset at which the records committed (the applied offset when there were none). */
  readonly offset: number;
}

export interface ControllerStatus {
  readonly nodeId: number;
  /** -1 = unknown. */
  readonly leaderId: number;
  readonly term: number;
  readonly active: boolean;
  readonly appliedOffset: number;
  readonly commandsQueued: number;
  readonly watchers: number;
  /** The Raft driver is running (false between a failure and a successful restart, or for good). */
  readonly driverRunning: boolean;
  /** Drivers started again after a failure, since this voter started. */
  readonly driverRestarts: number;
  /** The driver failed more than raftDriverRestartsMax times in a row and is not restarted any more. */
  readonly driverGivenUp: boolean;
  /** Peer messages raft refused (non-members, malformed, impossible indexes), over all driver runs. */
  readonly refusedRaftMessages: number;
}

export interface QuorumControllerOptions<Image> {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Voter id → "host:port" (this node included). */
  readonly voters: ReadonlyMap<number, string>;
  readonly machine: MetadataMachine<Image>;
  readonly policies: ControllerPolicies<Image>;
  readonly config?: Partial<QuorumControllerConfig>;
  readonly logger: Logger;
  /** The clock, milliseconds since the epoch (broker sessions, driver restarts). */
  readonly nowMs: () => number;
  /** The durable Raft log and the transport to the other voters (fileGrpcQuorumIo in production). */
  readonly io: QuorumIo;
}

function raftLogger(logger: Logger): RaftLogger {
  return {
    debug: (obj, msg) => logger.debug(obj, msg),
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => logger.error(obj, msg),
  };
}

export class QuorumController<Image> {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly config: QuorumControllerConfig;
  private readonly logger: Logger;
  private readonly nowMs: () => number;
  /** The Raft driver and its restarts after a failure (driver-supervisor.ts). */
  private readonly supervisor: DriverSupervisor;
  private imageValue: Image;
  private appliedOffset = 0;
  private appliedTerm = 0;
  private recordsSinceSnapshot = 0;
  private snapshotting = false;
  /** The WatchMetadata streams and the in-memory tail of committed batches they are served from. */
  private readonly watchers: MetadataWatchers;
  /** The term this voter is the active controller in; -1 = not active. */
  private activeTerm = -1;
  private readonly lastHeartbeatMs = new Map<number, number>();
  /** When checkSessions last ran while active (to tell how late the next one runs). */
  private lastSessionCheckMs: number | undefined;
  private commandChain: Promise<unknown> = Promise.resolve();
  private commandsQueued = 0;
  /** A fenceStaleBrokers command is queued or in flight (one at a time). */
  private fencing = false;
  /** Brokers whose listener probe is in flight (one per broker at a time). */
  private readonly probing = new Set<number>();
  /** When each broker was last probed: a silent broker that accepts is probed once per probe delay, not per check. */
  private readonly probedAtMs = new Map<number, number>();
  /** Brokers whose listener refused a connection after their last heartbeat (active controller only). */
  private readonly goneBrokers = new Set<number>();
  private lastHint = { leaderId: -1, term: 0, unreachable: '' };
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;
  private readonly activeListeners = new Set<(active: boolean) => void>();
  /** Leader only: when each other voter was last seen active by raft (sampled every tick). */
  private readonly voterSeenMs = new Map<number, number>();
  private unreachableVoters: readonly number[] = [];

  private constructor(private readonly options: QuorumControllerOptions<Image>) {
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.config = parseQuorumControllerConfig(options.config);
    this.logger = options.logger.child({ component: 'quorum-controller' });
    this.nowMs = options.nowMs;
    this.imageValue = options.machine.empty();
    this.watchers = new MetadataWatchers({
      appliedOffset: () => this.appliedOffset,
      snapshot: () => this.options.machine.snapshot(this.imageValue, { clusterId: this.clusterId, lastOffset: this.appliedOffset, lastTerm: this.appliedTerm }),
      hint: () => this.hint(),
      upToDate: () => this.upToDate(),
    }, this.config, this.logger);
    this.supervisor = new DriverSupervisor({
      limits: this.config, logger: this.logger, nowMs: this.nowMs,
      openDriver: (onFailed) => this.openDriver(onFailed),
      onStopped: () => {
        if (this.activeTerm >= 0) this.resign();
        this.announceLeader();
      },
      // The only voter has nobody to wait for: a randomized election timeout (electionTicks..2x ticks)
      // would only delay the first leader (and every node started without --voters is such a quorum).
      onStarted: (driver) => {
        if (options.voters.size === 1) driver.campaign();
      },
      describe: () => ({ appliedOffset: this.appliedOffset }),
    });
  }

  /** The current driver (undefined only while the first one starts: raft may call apply meanwhile). */
  private get driver(): RaftDriver {
    return this.supervisor.driver!;
  }

  /**
   * Opens the metadata log, restores the image from its snapshot and replays nothing yet (raft hands
   * committed entries back through apply) and starts the driver and the voter's timers.
   */
  static async start<Image>(options: QuorumControllerOptions<Image>): Promise<QuorumController<Image>> {
    if (!options.voters.has(options.nodeId)) throw new RangeError(`node ${options.nodeId} is not among the voters ${[...options.voters.keys()].join(',')}`);
    const controller = new QuorumController(options);
    await controller.open();
    return controller;
  }

  private async open(): Promise<void> {
    const o = this.options;
    await this.supervisor.start();
    this.every(this.config.tickMs, () => this.watchLeadership());
    this.every(this.sessionCheckIntervalMs(), () => this.checkSessions());
    if (this.config.brokerLivenessProbeAfterMs > 0 && o.io.probeBrokerListener !== undefined && o.policies.brokerEndpoint !== undefined) {
      this.every(Math.max(25, Math.floor(this.config.brokerLivenessProbeAfterMs / 4)), () => this.probeSilentBrokers());
    }
    if (this.config.autoLeaderRebalanceEnable) this.every(this.config.leaderImbalanceCheckIntervalMs, () => this.checkLeaderBalance());
    this.logger.info({ nodeId: o.nodeId, voters: [...o.voters].map(([id, a]) => `${id}@${a}`), appliedOffset: this.appliedOffset }, 'quorum controller started');
  }

  /** Opens the durable metadata log and starts a driver (and its transport) on it (the supervisor's openDriver). */
  private async openDriver(onFailed: (cause: unknown) => void): Promise<RaftDriver> {
    const o = this.options;
    const rlog = raftLogger(o.logger.child({ component: 'raft' }));
    const storage = await o.io.openRaftStorage({ voters: [...o.voters.keys()].sort((a, b) => a - b), logger: rlog });
    const transport = o.io.openRaftTransport({ logger: rlog });
    let driver: RaftDriver;
    try {
      driver = await RaftDriver.start({
        nodeId: o.nodeId, storage, transport, logger: rlog,
        apply: (entries) => this.apply(entries),
        restore: (snap) => this.restore(snap),
        tickMs: this.config.tickMs, proposalTimeoutMs: this.config.proposalTimeoutMs,
        raft: { electionTicks: this.config.electionTicks, heartbeatTicks: this.config.heartbeatTicks, preVote: true, checkQuorum: true },
        onFailed,
      });
    } catch (err) {
      await transport.close();
      await storage.close().catch(() => undefined);
      throw err;
    }
    return driver;
  }

  // ---- reading ----

  get image(): Image {
    return this.imageValue;
  }

  get metadataOffset(): number {
    return this.appliedOffset;
  }

  isActive(): boolean {
    return this.activeTerm >= 0;
  }

  status(): ControllerStatus {
    const raft = this.driver.status();
    return {
      nodeId: this.nodeId, leaderId: raft.lead > 0 && this.driverRunning() ? raft.lead : -1, term: raft.term, active: this.isActive(),
      appliedOffset: this.appliedOffset, commandsQueued: this.commandsQueued, watchers: this.watchers.size,
      driverRunning: this.driverRunning(), driverRestarts: this.supervisor.restarts, driverGivenUp: this.supervisor.givenUp,
      refusedRaftMessages: this.supervisor.refusedMessages(raft.refusedMessages),
    };
  }

  /** False while the Raft driver is down (between a failure and its restart, or for good). */
  driverRunning(): boolean {
    return this.supervisor.running();
  }

  /**
   * The leader hint sent with NOT_CONTROLLER answers and watch events (-1 while our driver is down:
   * we know nothing), with the voters the leader cannot reach.
   */
  hint(): pb.IControllerHint {
    const s = this.driver.status();
    const leaderId = s.lead > 0 && this.driverRunning() ? s.lead : -1;
    return { leaderId, term: s.term, unreachableVoters: leaderId === this.nodeId ? [...this.unreachableVoters] : [] };
  }

  /**
   * Leader only: a voter is unreachable once raft has not heard from it for two election timeouts
   * (CheckQuorum clears raft's activity flags every election timeout, so one sample proves nothing).
   */
  private trackVoters(): void {
    const s = this.driver.status();
    if (s.role !== 'leader' || s.progress === undefined || !this.driverRunning()) {
      this.voterSeenMs.clear();
      this.unreachableVoters = [];
      return;
    }
    const now = this.nowMs();
    const limitMs = 2 * this.config.electionTicks * this.config.tickMs;
    const unreachable: number[] = [];
    for (const id of s.confState.voters) {
      if (id === this.nodeId) continue;
      if (s.progress.get(id)?.recentActive === true || !this.voterSeenMs.has(id)) this.voterSeenMs.set(id, now);
      if (now - this.voterSeenMs.get(id)! > limitMs) unreachable.push(id);
    }
    this.unreachableVoters = unreachable;
  }

  /** Told when this voter becomes (true) or stops being (false) the active controller. */
  onActiveChange(listener: (active: boolean) => void): () => void {
    this.activeListeners.add(listener);
    return () => this.activeListeners.delete(listener);
  }

  /** Told when the Raft driver stops on a failure (false) and when a restarted one runs again (true). */
  onDriverRunningChange(listener: (running: boolean) => void): () => void {
    return this.supervisor.onRunningChange(listener);
  }

  /** Moves leadership to another voter (tests, rolling restarts). */
  transferLeadership(to: number): void {
    this.driver.transferLeadership(to);
  }

  // ---- commands (active controller only) ----

  /** Throws NotControllerError unless this voter is the active controller. */
  requireActive(): void {
    if (!this.isActive()) {
      const h = this.hint();
      throw new NotControllerError(h.leaderId ?? -1, Number(h.term ?? 0));
    }
  }

  /**
   * Runs one command: `decide` sees the image with every earlier command applied; its records are
   * proposed and the response resolves once they are committed and applied here. Rejects with
   * NotControllerError (not active, or leadership lost before commit: the records may still commit),
   * QuorumError REQUEST_TIMED_OUT (queue full, or not committed in time), or what `decide` throws.
   */
  runCommand<T>(name: string, decide: (image: Image) => CommandDecision<T>): Promise<CommandResult<T>> {
    try {
      this.requireActive();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.commandsQueued >= this.config.commandQueueMax) {
      return Promise.reject(new QuorumError('REQUEST_TIMED_OUT', `controller command queue is full (${this.config.commandQueueMax})`));
    }
    this.commandsQueued++;
    const run = async (): Promise<CommandResult<T>> => {
      this.requireActive();
      const term = this.activeTerm;
      const decision = decide(this.imageValue);
      if (decision.batch === undefined || decision.batch.byteLength === 0) return { response: decision.response, offset: this.appliedOffset };
      try {
        const committed = await this.driver.propose(decision.batch);
        return { response: decision.response, offset: committed.index };
      } catch (err) {
        throw this.proposalFailure(name, term, err);
      }
    };
    const result = this.commandChain.then(run, run).finally(() => {
      this.commandsQueued--;
    });
    this.commandChain = result.catch(() => undefined);
    return result;
  }

  /** Records a heartbeat (the active controller's liveness view). */
  noteHeartbeat(brokerId: number): void {
    if (!this.isActive()) return;
    this.lastHeartbeatMs.set(brokerId, this.nowMs());
    this.goneBrokers.delete(brokerId);
  }

  /** Ends a broker's session at once (controlled shutdown finished, or it re-registered). */
  forgetSession(brokerId: number): void {
    this.lastHeartbeatMs.delete(brokerId);
    this.goneBrokers.delete(brokerId);
    this.probedAtMs.delete(brokerId);
  }

  private proposalFailure(name: string, term: number, err: unknown): Error {
    const h = this.hint();
    if (err instanceof RaftProposalError) {
      if (err.reason === 'timeout') return new QuorumError('REQUEST_TIMED_OUT', `${name}: not committed within ${this.config.proposalTimeoutMs} ms`, { cause: err });
      return new NotControllerError(h.leaderId ?? -1, Number(h.term ?? 0), { cause: err, detail: `${name} in term ${term}: ${err.reason}` });
    }
    if ((err as { code?: unknown }).code === 'PROPOSAL_DROPPED') {
      return new NotControllerError(h.leaderId ?? -1, Number(h.term ?? 0), { cause: err, detail: `${name}: ${(err as Error).message}` });
    }
    return err as Error;
  }

  // ---- watching the committed log ----

  /**
   * Streams the committed log from `fromOffset` to `watcher`: a snapshot first when that offset is
   * no longer in the in-memory tail, then every batch as it commits. Returns the unsubscribe.
   */
  watch(fromOffset: number, watcher: MetadataWatcher): () => void {
    return this.watchers.watch(fromOffset, watcher);
  }

  /**
   * Whether this voter's image holds everything committed so far, so a watcher may be told it has
   * caught up ('progress'). A voter that just restarted knows nothing about the commit index until a
   * leader of the current term has committed an entry of its own term (its no-op) and this voter has
   * applied it: before that its image may be empty or stale, and a broker starting on it would think
   * its topics were deleted.
   */
  private upToDate(): boolean {
    if (!this.driverRunning()) return false;
    const s = this.driver.status();
    return s.lead > 0 && this.appliedTerm === s.term && this.appliedOffset >= s.commit;
  }

  // ---- raft callbacks ----

  private apply(entries: readonly Entry[]): void {
    const machine = this.options.machine;
    for (const e of entries) {
      // A restarted driver hands back committed entries this image already holds.
      if (e.index <= this.appliedOffset) continue;
      if (e.type === 'normal' && e.data.byteLength > 0) {
        this.imageValue = machine.apply(this.imageValue, e.data, e.index);
        this.recordsSinceSnapshot += 1;
        this.watchers.committed(e.index, e.term, e.data);
      }
      this.appliedOffset = e.index;
      this.appliedTerm = e.term;
    }
    // Our own term's first entry is applied: every earlier leader's entries are in the image.
    const last = entries[entries.length - 1];
    if (last !== undefined && this.activeTerm < 0 && this.driver !== undefined && this.driver.isLeader() && last.term === this.driver.status().term) {
      this.becomeActive(last.term);
    }
    this.watchers.catchUpAll();
    if (this.recordsSinceSnapshot >= this.config.snapshotIntervalRecords) this.takeSnapshot();
  }

  private restore(snap: Snapshot): void {
    // A restarted driver restores its own snapshot, which this image has already passed.
    if (snap.metadata.index <= this.appliedOffset) return;
    this.imageValue = this.options.machine.restore(snap.data);
    this.appliedOffset = snap.metadata.index;
    this.appliedTerm = snap.metadata.term;
    this.watchers.restored(snap.metadata.index);
    this.recordsSinceSnapshot = 0;
    this.logger.info({ offset: snap.metadata.index, term: snap.metadata.term }, 'metadata image restored from snapshot');
    this.watchers.catchUpAll();
  }

  private takeSnapshot(): void {
    if (this.snapshotting || this.driver === undefined) return;
    this.snapshotting = true;
    this.recordsSinceSnapshot = 0;
    const capture = (index: number): Uint8Array => {
      if (index !== this.appliedOffset) throw new Error(`snapshot at ${index} but the image is at ${this.appliedOffset}`);
      return this.options.machine.snapshot(this.imageValue, { clusterId: this.clusterId, lastOffset: index, lastTerm: this.appliedTerm });
    };
    this.driver.snapshot(capture).then(
      (snap) => this.logger.info({ offset: snap.metadata.index }, 'metadata snapshot written'),
      (err: unknown) => this.logger.warn({ err }, 'metadata snapshot failed'),
    ).finally(() => {
      this.snapshotting = false;
    });
  }

  // ---- leadership and timers ----

  private watchLeadership(): void {
    if (!this.driverRunning()) return;
    this.trackVoters();
    const s = this.driver.status();
    if (this.activeTerm >= 0 && (!this.driver.isLeader() || s.term !== this.activeTerm)) this.resign();
    this.announceLeader();
  }

  /** Tells watchers about a new leader hint (leader -1 while our driver is down). */
  private announceLeader(): void {
    const hint = this.hint();
    const leaderId = hint.leaderId ?? -1;
    const term = Number(hint.term ?? 0);
    const unreachable = (hint.unreachableVoters ?? []).join(',');
    if (leaderId !== this.lastHint.leaderId || term !== this.lastHint.term || unreachable !== this.lastHint.unreachable) {
      this.lastHint = { leaderId, term, unreachable };
      this.watchers.announce(hint);
    }
  }

  private becomeActive(term: number): void {
    this.activeTerm = term;
    // A fresh session for everyone: the previous controller's view of liveness is gone with it.
    const now = this.nowMs();
    this.lastHeartbeatMs.clear();
    this.goneBrokers.clear();
    this.probedAtMs.clear();
    for (const id of this.options.policies.registeredBrokers(this.imageValue)) this.lastHeartbeatMs.set(id, now);
    this.logger.info({ term, appliedOffset: this.appliedOffset, brokers: this.lastHeartbeatMs.size }, 'became the active controller');
    // A broker that died with the previous active controller (a combined node) would otherwise keep
    // its partitions until it has been silent for the probe delay counted from now: probe them all.
    this.probeSilentBrokers(0);
    for (const l of this.activeListeners) l(true);
  }

  private resign(): void {
    const term = this.activeTerm;
    this.activeTerm = -1;
    this.lastHeartbeatMs.clear();
    this.goneBrokers.clear();
    this.logger.info({ term, leaderId: this.hint().leaderId }, 'no longer the active controller');
    for (const l of this.activeListeners) l(false);
  }

  private sessionCheckIntervalMs(): number {
    return Math.max(50, Math.floor(this.config.brokerSessionTimeoutMs / 4));
  }

  private checkSessions(): void {
    if (!this.isActive()) {
      this.lastSessionCheckMs = undefined;
      return;
    }
    const now = this.nowMs();
    if (this.lastSessionCheckMs !== undefined) {
      const lateMs = now - this.lastSessionCheckMs - this.sessionCheckIntervalMs();
      if (lateMs > 0) {
        const credited = creditControllerStall(this.lastHeartbeatMs, lateMs, now);
        for (const [id, last] of credited) this.lastHeartbeatMs.set(id, last);
        if (lateMs > this.config.brokerSessionTimeoutMs / 4) this.logger.warn({ lateMs }, 'broker session check ran late (this process was not running): sessions credited the lost time');
      }
    }
    this.lastSessionCheckMs = now;
    const expired: number[] = [];
    for (const id of this.options.policies.registeredBrokers(this.imageValue)) {
      const last = this.lastHeartbeatMs.get(id);
      if (last === undefined) this.lastHeartbeatMs.set(id, now); // registered by an entry we just applied
      else if (now - last > this.config.brokerSessionTimeoutMs || this.goneBrokers.has(id)) expired.push(id);
    }
    this.fenceExpired(expired);
  }

  /** Fences `expired` (judged again by the core), unless a fencing command is already queued or in flight. */
  private fenceExpired(expired: readonly number[]): void {
    if (expired.length === 0 || this.fencing) return;
    // The core judges the sessions again against the image the command runs on (a heartbeat may
    // have arrived while it was queued).
    this.fencing = true;
    void this.runCommand('fenceStaleBrokers', (image) => ({
      batch: this.options.policies.fenceStaleBrokers(image, {
        lastHeartbeatMs: this.lastHeartbeatMs, nowMs: this.nowMs(), sessionTimeoutMs: this.config.brokerSessionTimeoutMs, goneBrokers: this.goneBrokers,
      }),
      response: undefined,
    })).finally(() => {
      this.fencing = false;
    }).then(
      ({ offset }) => {
        this.logger.debug({ expired, offset }, 'stale broker sessions handled');
        // Fenced brokers are done with; one found gone while this command ran waits for no session check.
        const unfenced = new Set(this.options.policies.registeredBrokers(this.imageValue));
        for (const id of this.goneBrokers) if (!unfenced.has(id)) this.goneBrokers.delete(id);
        if (this.isActive()) this.fenceExpired([...this.goneBrokers]);
      },
      (err: unknown) => this.logger.warn({ err, expired }, 'fencing stale brokers failed'),
    );
  }

  /**
   * Probes the listener of every unfenced broker silent for brokerLivenessProbeAfterMs; a refusal that
   * no heartbeat contradicts (none arrived since the probe started) marks the broker gone and fences it.
   */
  private probeSilentBrokers(silentForMs = this.config.brokerLivenessProbeAfterMs): void {
    const probe = this.options.io.probeBrokerListener;
    const endpointOf = this.options.policies.brokerEndpoint;
    if (!this.isActive() || probe === undefined || endpointOf === undefined) return;
    const now = this.nowMs();
    const probeAfterMs = this.config.brokerLivenessProbeAfterMs;
    if (probeAfterMs === 0) return;
    for (const id of this.options.policies.registeredBrokers(this.imageValue)) {
      const last = this.lastHeartbeatMs.get(id);
      if (last === undefined || now - last < silentForMs || this.probing.has(id) || this.goneBrokers.has(id)) continue;
      const probedAt = this.probedAtMs.get(id);
      if (silentForMs > 0 && probedAt !== undefined && probedAt > last && now - probedAt < probeAfterMs) continue;
      const endpoint = endpointOf(this.imageValue, id);
      if (endpoint === undefined) continue;
      const term = this.activeTerm;
      const startedMs = now;
      this.probing.add(id);
      this.probedAtMs.set(id, startedMs);
      probe(endpoint, probeAfterMs).then((result) => {
        if (result !== 'refused' || this.activeTerm !== term) return;
        const lastNow = this.lastHeartbeatMs.get(id);
        if (lastNow === undefined || lastNow > startedMs) return; // it heartbeat meanwhile (or its session ended)
        this.goneBrokers.add(id);
        this.logger.info({ brokerId: id, endpoint: `${endpoint.host}:${endpoint.port}`, silentMs: this.nowMs() - lastNow }, 'broker listener refused a connection: fencing the broker now');
        this.fenceExpired([id]);
      }, (err: unknown) => this.logger.warn({ err, brokerId: id }, 'broker listener probe failed')).finally(() => {
        this.probing.delete(id);
      });
    }
  }

  private checkLeaderBalance(): void {
    if (!this.isActive()) return;
    void this.runCommand('rebalanceLeaders', (image) => ({ batch: this.options.policies.rebalanceLeaders(image, this.nowMs()), response: undefined })).then(
      ({ offset }) => this.logger.debug({ offset }, 'preferred leader check done'),
      (err: unknown) => this.logger.warn({ err }, 'preferred leader election failed'),
    );
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(() => {
      try {
        fn();
      } catch (err) {
        this.logger.error({ err }, 'quorum controller timer failed');
      }
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Stops the timers, ends watch streams, closes the driver (transport and storage). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      if (this.activeTerm >= 0) this.resign();
      this.watchers.endAll('controller stopping');
      await this.supervisor.close();
      this.logger.info('quorum controller stopped');
    })();
    return this.closing;
  }
}
