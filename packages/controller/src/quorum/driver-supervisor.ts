// The controller voter's Raft driver, supervised: which driver is current, whether it runs, and — when it
// closes itself on a failure (a storage error, a broken invariant; no remote message can cause that) —
// a new driver on the same durable log after a backoff (raftDriverRestartBackoff{Min,Max}Ms, doubling),
// at most raftDriverRestartsMax failures in a row (a run of raftDriverStableMs resets the count). Kept
// apart from QuorumController, which only learns "stopped" and "running again".
import type { Logger } from 'pino';
import type { RaftDriver } from '../raft/raft-driver.js';

export interface DriverSupervisorLimits {
  readonly raftDriverRestartBackoffMinMs: number;
  readonly raftDriverRestartBackoffMaxMs: number;
  readonly raftDriverRestartsMax: number;
  readonly raftDriverStableMs: number;
}

export interface DriverSupervisorOptions {
  readonly limits: DriverSupervisorLimits;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /**
   * Opens the durable log and its transport and starts a driver on them; the driver must call
   * `onFailed` when it closes itself on a failure. Throws (having closed what it opened) when it cannot.
   */
  readonly openDriver: (onFailed: (cause: unknown) => void) => Promise<RaftDriver>;
  /** A driver (the first or a restarted one) is now the current one. */
  readonly onStarted: (driver: RaftDriver) => void;
  /** The current driver stopped on a failure (called once per failure, before any restart is scheduled). */
  readonly onStopped: () => void;
  /** Fields for the restart log line (e.g. the applied offset). */
  readonly describe: () => Record<string, unknown>;
}

export class DriverSupervisor {
  private current: RaftDriver | undefined;
  /** Why the current driver stopped (undefined while it runs). */
  private failure: unknown;
  private startedMs = 0;
  private restartCount = 0;
  /** Driver runs that failed in a row (reset once one runs for raftDriverStableMs). */
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Refused raft messages counted by drivers that are gone. */
  private refusedBefore = 0;
  private closed = false;
  private readonly listeners = new Set<(running: boolean) => void>();

  constructor(private readonly options: DriverSupervisorOptions) {}

  /** The current driver; undefined only while the first one starts. */
  get driver(): RaftDriver | undefined {
    return this.current;
  }

  /** Drivers started again after a failure. */
  /** Failed more than raftDriverRestartsMax times in a row: no restart is scheduled any more. */
  get givenUp(): boolean {
    return this.consecutiveFailures > this.options.limits.raftDriverRestartsMax;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** Refused raft messages over every driver run, given the current driver's count. */
  refusedMessages(currentRefused: number): number {
    return this.refusedBefore + currentRefused;
  }

  /** False while the driver is down (between a failure and its restart, or for good). */
  running(): boolean {
    return this.failure === undefined && this.current?.driverState === 'running';
  }

  /** Told when the driver stops on a failure (false) and when a restarted one runs again (true). */
  onRunningChange(listener: (running: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts a driver (the first one, or a restart). */
  async start(): Promise<void> {
    let driver: RaftDriver | undefined;
    driver = await this.options.openDriver((cause) => this.failed(driver, cause));
    this.current = driver;
    this.failure = undefined;
    this.startedMs = this.options.nowMs();
    this.options.onStarted(driver);
  }

  /** Stops restarting and closes the current driver (its transport and storage). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    await this.current?.close();
  }

  /** The driver closed itself on a failure: report it, then start a new one after a backoff. */
  private failed(driver: RaftDriver | undefined, cause: unknown): void {
    if (driver !== this.current || this.closed) return;
    const limits = this.options.limits;
    // Count a driver's refusals once (a failed restart reports the same, already closed driver).
    if (this.failure === undefined && driver !== undefined) this.refusedBefore += driver.status().refusedMessages;
    this.failure = cause ?? new Error('raft driver failed');
    if (this.options.nowMs() - this.startedMs >= limits.raftDriverStableMs) this.consecutiveFailures = 0;
    this.consecutiveFailures++;
    this.options.onStopped();
    for (const l of this.listeners) l(false);
    if (this.consecutiveFailures > limits.raftDriverRestartsMax) {
      this.options.logger.error({ err: cause, failures: this.consecutiveFailures }, 'raft driver failed too often in a row; not restarting it (this voter stays down)');
      return;
    }
    const delayMs = Math.min(limits.raftDriverRestartBackoffMaxMs, limits.raftDriverRestartBackoffMinMs * 2 ** (this.consecutiveFailures - 1));
    this.options.logger.error({ err: cause, failures: this.consecutiveFailures, delayMs }, 'raft driver stopped; restarting it from the durable log');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.closed) return;
      this.start().then(
        () => {
          this.restartCount++;
          this.options.logger.info({ restarts: this.restartCount, ...this.options.describe() }, 'raft driver restarted');
          for (const l of this.listeners) l(true);
        },
        (err: unknown) => this.failed(this.current, err),
      );
    }, delayMs);
    this.restartTimer.unref();
  }
}
