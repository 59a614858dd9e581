// A broker's membership in the cluster: register with a fresh incarnation id per process start,
// heartbeat every `broker.heartbeat.interval.ms` reporting how far this broker has applied the metadata
// log (the controller unfences it once that covers its registration), and on close() a controlled
// shutdown: ask to shut down, keep heartbeating until the controller has moved leadership away (or a
// timeout), then stop. Without heartbeats the controller fences the broker after the session timeout.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { tributary } from '@tributary/protocol';
import type { NodeRole } from '../node-config.js';
import type { ControllerChannel } from './controller-channel.js';

export const DEFAULT_BROKER_HEARTBEAT_INTERVAL_MS = 500;
/** close() waits at most this long for the controller to move leadership away. */
export const DEFAULT_CONTROLLED_SHUTDOWN_TIMEOUT_MS = 10_000;

export type BrokerLifecycleState =
  | 'starting'          // not registered yet
  | 'fenced'            // registered; the controller has not unfenced us (catching up on metadata)
  | 'running'           // unfenced
  | 'pending-shutdown'  // controlled shutdown requested, waiting for the controller
  | 'stopped';

const TRANSITIONS: Readonly<Record<BrokerLifecycleState, readonly BrokerLifecycleState[]>> = {
  starting: ['fenced', 'running', 'pending-shutdown', 'stopped'],
  fenced: ['running', 'starting', 'pending-shutdown', 'stopped'],
  running: ['fenced', 'starting', 'pending-shutdown', 'stopped'],
  'pending-shutdown': ['stopped'],
  stopped: [],
};

export interface BrokerLifecycleOptions {
  readonly brokerId: number;
  readonly channel: ControllerChannel;
  /** host:port clients and followers reach this broker at. */
  readonly endpoint: { readonly host: string; readonly port: number };
  readonly rack: string | undefined;
  readonly roles: readonly NodeRole[];
  /** The highest metadata offset this broker has applied. */
  readonly metadataOffset: () => number;
  /** The previous run ended in a clean shutdown (every log flushed); sent at registration. */
  readonly cleanShutdown: boolean;
  /** After the controller acknowledged a registration (with the cleanShutdown it carried). */
  readonly onRegistered?: (registration: { readonly brokerEpoch: number; readonly cleanShutdown: boolean }) => Promise<void>;
  /** Log ends of hosted replicas of recovering partitions, sent with every heartbeat. */
  readonly recoveringReplicas: () => readonly RecoveringReplicaLogEnd[];
  /** Hosted replicas whose log failed or could not open in this run, sent with every heartbeat. */
  readonly offlineReplicas?: () => readonly OfflineReplicaRef[];
  readonly heartbeatIntervalMs?: number;
  readonly controlledShutdownTimeoutMs?: number;
  readonly logger: Logger;
}

export interface RecoveringReplicaLogEnd {
  readonly topicId: string;
  readonly partition: number;
  readonly partitionEpoch: number;
  /** Leader epoch of the log's last batch; -1 for an empty log. */
  readonly lastEpoch: number;
  readonly logEndOffset: number;
}

export interface OfflineReplicaRef {
  readonly topicId: string;
  readonly partition: number;
}

export class BrokerLifecycle {
  /** Fresh per process start: lets the controller tell a restart from a retried registration. */
  readonly incarnationId = randomUUID();
  private stateValue: BrokerLifecycleState = 'starting';
  private epoch = -1;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** heartbeatNow() was called while a beat was in flight: send one more when it returns. */
  private beatAgain = false;
  private shutdownRequested = false;
  private shutdownGranted: (() => void) | undefined;
  private readonly heartbeatIntervalMs: number;
  private readonly logger: Logger;
  private readonly registeredWaiters: ((brokerEpoch: number) => void)[] = [];

  constructor(private readonly options: BrokerLifecycleOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_BROKER_HEARTBEAT_INTERVAL_MS;
    this.logger = options.logger;
  }

  get state(): BrokerLifecycleState {
    return this.stateValue;
  }

  /** The epoch of the current registration (-1 before the first). */
  get brokerEpoch(): number {
    return this.epoch;
  }

  /** Resolves with the epoch of the first successful registration (never, if the lifecycle stops first). */
  whenRegistered(): Promise<number> {
    if (this.epoch >= 0) return Promise.resolve(this.epoch);
    return new Promise((resolve) => this.registeredWaiters.push(resolve));
  }

  /** Sends a heartbeat now (unless one is in flight): e.g. once the logs are open, so unfencing need not wait an interval. */
  heartbeatNow(): void {
    // One in flight may carry what was true before the caller's news (say, metadata offset 0 before
    // the logs opened): send another once it returns, rather than a whole interval later.
    if (this.inFlight !== undefined) this.beatAgain = true;
    else this.beat();
  }

  /** Starts registering and heartbeating in the background. */
  start(): void {
    if (this.timer !== undefined || this.stateValue === 'stopped') return;
    this.timer = setInterval(() => this.beat(), this.heartbeatIntervalMs);
    this.timer.unref();
    this.beat();
  }

  /**
   * Controlled shutdown: asks the controller to move leadership away and waits until it says the
   * broker may stop (or the timeout), then stops heartbeating. Idempotent.
   */
  async shutdown(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    if (this.epoch < 0) {
      this.stop();
      return;
    }
    this.shutdownRequested = true;
    this.transition('pending-shutdown');
    const timeoutMs = this.options.controlledShutdownTimeoutMs ?? DEFAULT_CONTROLLED_SHUTDOWN_TIMEOUT_MS;
    let timeout: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.shutdownGranted = resolve;
      timeout = setTimeout(() => {
        this.logger.warn({ timeoutMs }, 'controlled shutdown not confirmed in time; stopping anyway');
        resolve();
      }, timeoutMs);
      this.beat();
    });
    clearTimeout(timeout);
    this.stop();
  }

  /** Stops heartbeating without telling the controller (it fences us after the session timeout). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.stateValue !== 'stopped') this.transition('stopped');
    this.shutdownGranted?.();
  }

  private beat(): void {
    if (this.inFlight !== undefined || this.stateValue === 'stopped') return;
    this.inFlight = (this.epoch < 0 ? this.register() : this.heartbeat())
      .catch((err: unknown) => this.logger.debug({ err }, 'controller unreachable; will retry'))
      .finally(() => {
        this.inFlight = undefined;
        if (this.beatAgain) {
          this.beatAgain = false;
          this.beat();
        }
      });
  }

  private async register(): Promise<void> {
    const o = this.options;
    const res = await o.channel.call('registerBroker', {
      clusterId: o.channel.clusterId, brokerId: o.brokerId, incarnationId: this.incarnationId,
      endpoint: { host: o.endpoint.host, port: o.endpoint.port }, rack: o.rack ?? '', roles: [...o.roles],
      cleanShutdown: o.cleanShutdown,
    }, { timeoutMs: this.heartbeatIntervalMs * 4 });
    if (this.stateValue === 'stopped') return;
    if (res.error !== null && res.error !== undefined && res.error.code !== tributary.v1.ErrorCode.NONE) {
      this.logger.warn({ code: tributary.v1.ErrorCode[res.error.code ?? 0], message: res.error.message }, 'broker registration refused');
      return;
    }
    this.epoch = Number(res.brokerEpoch);
    this.logger.info({ brokerEpoch: this.epoch, incarnationId: this.incarnationId, cleanShutdown: o.cleanShutdown }, 'broker registered');
    await o.onRegistered?.({ brokerEpoch: this.epoch, cleanShutdown: o.cleanShutdown });
    if (this.stateValue === 'starting') this.transition('fenced');
    for (const waiter of this.registeredWaiters.splice(0)) waiter(this.epoch);
    // The first heartbeat right away: unfencing should not wait a whole interval.
    await this.heartbeat();
  }

  private async heartbeat(): Promise<void> {
    const o = this.options;
    const res = await o.channel.call('brokerHeartbeat', {
      clusterId: o.channel.clusterId, brokerId: o.brokerId, brokerEpoch: this.epoch,
      metadataOffset: Math.max(0, o.metadataOffset()), wantShutDown: this.shutdownRequested,
      recoveringReplicas: o.recoveringReplicas().map((r) => ({ ...r })),
      offlineReplicas: (o.offlineReplicas?.() ?? []).map((r) => ({ topicId: r.topicId, partition: r.partition })),
    }, { timeoutMs: this.heartbeatIntervalMs * 4 });
    if (this.stateValue === 'stopped') return;
    const code = res.error?.code ?? tributary.v1.ErrorCode.NONE;
    if (code !== tributary.v1.ErrorCode.NONE) {
      // The controller no longer knows this registration (a stale epoch): register again.
      this.logger.warn({ code: tributary.v1.ErrorCode[code as tributary.v1.ErrorCode], message: res.error?.message, brokerEpoch: this.epoch }, 'heartbeat refused; registering again');
      if (!this.shutdownRequested) {
        this.epoch = -1;
        this.transition('starting');
      }
      return;
    }
    if (this.shutdownRequested) {
      if (res.shouldShutDown) {
        this.logger.info('controlled shutdown confirmed by the controller');
        this.shutdownGranted?.();
      }
      return;
    }
    this.transition(res.isFenced ? 'fenced' : 'running');
  }

  private transition(to: BrokerLifecycleState): void {
    const from = this.stateValue;
    if (from === to) return;
    if (!TRANSITIONS[from].includes(to)) throw new Error(`broker lifecycle ${from} -> ${to} is not a legal transition`);
    this.stateValue = to;
    this.logger.info({ from, to, brokerEpoch: this.epoch }, `broker lifecycle ${from} -> ${to}`);
  }
}
