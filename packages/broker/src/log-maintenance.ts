// Log maintenance: the one task that deletes and compacts old data in this node's partition logs.
// Two passes over every hosted replica, on their own schedules (Kafka's keys):
//
// - retention, every log.retention.check.interval.ms: each log drops closed segments past retention.ms /
//   retention.bytes (the log applies its topic's cleanup.policy);
// - the cleaner, log.cleaner.backoff.ms after its previous pass ended (when log.cleaner.enable): each log of
//   a topic whose cleanup.policy contains `compact` keeps the last record per key in its closed segments
//   (__consumer_offsets is one such topic, not a special case).
//
// Passes run one at a time (a pass waits for the one before it), so retention and cleaning never touch a
// log at once. A failing log is logged and skipped: one partition's trouble does not stop the others'
// maintenance (a log that fails on I/O takes its replica offline through the replica manager).
// Nothing runs before start(); close() stops the timers and waits for the pass under way. Idempotent.
import type { Logger } from 'pino';

/** log.retention.check.interval.ms's default, milliseconds (Kafka's: 5 minutes). */
export const DEFAULT_LOG_RETENTION_CHECK_INTERVAL_MS = 5 * 60 * 1000;
/** log.cleaner.backoff.ms's default, milliseconds (Kafka's). */
export const DEFAULT_LOG_CLEANER_BACKOFF_MS = 15_000;

export interface LogMaintenanceConfig {
  /** log.retention.check.interval.ms: time between the starts of two retention passes, milliseconds. */
  readonly retentionCheckIntervalMs: number;
  /** log.cleaner.enable */
  readonly cleanerEnable: boolean;
  /** log.cleaner.backoff.ms: pause between the end of one cleaner pass and the next, milliseconds. */
  readonly cleanerBackoffMs: number;
}

/** One hosted replica as maintenance sees it. */
export interface MaintainedLog {
  readonly topic: string;
  readonly partition: number;
  readonly topicConfig: { readonly cleanupPolicy: string };
  /** The cleaner never touches offsets at or above it (undecided transactions); absent: the log's HW. */
  readonly lastStableOffset?: number;
  /** The two PartitionLogPort operations maintenance calls (a log without a cleaner has no compact). */
  readonly log: {
    readonly highWatermark?: number;
    applyRetention(nowMs: number): Promise<void>;
    compact?(nowMs: number, options: { readonly lastStableOffset: number }): Promise<void>;
  };
}

export interface LogMaintenanceOptions {
  readonly config: LogMaintenanceConfig;
  /** The replicas hosted now (read at every pass: replicas come and go). */
  readonly logs: () => Iterable<MaintainedLog>;
  readonly nowMs: () => number;
  readonly logger: Logger;
}

type Pass = 'retention' | 'cleaner';

export class LogMaintenance {
  private readonly timers = new Map<Pass, NodeJS.Timeout>();
  /** The pass under way and those queued behind it. */
  private queue: Promise<void> = Promise.resolve();
  private state: 'new' | 'running' | 'closed' = 'new';

  constructor(private readonly options: LogMaintenanceOptions) {}

  /** Schedules both passes. Once only; nothing happens after close(). */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.schedule('retention', this.options.config.retentionCheckIntervalMs);
    if (this.options.config.cleanerEnable) this.schedule('cleaner', this.options.config.cleanerBackoffMs);
  }

  /** Stops scheduling and waits for the pass under way (a log is never closed mid-pass). Idempotent. */
  async close(): Promise<void> {
    this.state = 'closed';
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.queue;
  }

  /** One retention pass over every hosted log, after the passes already queued. */
  runRetention(): Promise<void> {
    return this.enqueue('retention');
  }

  /** One cleaner pass over every hosted log of a compacted topic, after the passes already queued. */
  runCleaner(): Promise<void> {
    return this.enqueue('cleaner');
  }

  private schedule(pass: Pass, delayMs: number): void {
    if (this.state !== 'running') return;
    const timer = setTimeout(() => {
      this.timers.delete(pass);
      const started = this.options.nowMs();
      void this.enqueue(pass).then(() => {
        // Retention keeps its rate (the next pass is due an interval after this one started); the
        // cleaner backs off from the end of its pass.
        const next = pass === 'retention'
          ? Math.max(0, this.options.config.retentionCheckIntervalMs - (this.options.nowMs() - started))
          : this.options.config.cleanerBackoffMs;
        this.schedule(pass, next);
      });
    }, delayMs);
    timer.unref();
    this.timers.set(pass, timer);
  }

  private enqueue(pass: Pass): Promise<void> {
    const run = this.queue.then(() => this.runPass(pass));
    this.queue = run;
    return run;
  }

  private async runPass(pass: Pass): Promise<void> {
    for (const hosted of this.options.logs()) {
      // close() waits for this pass: stop at the next log rather than finish every one.
      if (this.state === 'closed') return;
      try {
        if (pass === 'retention') await hosted.log.applyRetention(this.options.nowMs());
        else if (hosted.topicConfig.cleanupPolicy.includes('compact') && hosted.log.compact !== undefined) {
          await hosted.log.compact(this.options.nowMs(), { lastStableOffset: hosted.lastStableOffset ?? hosted.log.highWatermark ?? 0 });
        }
      } catch (err) {
        this.options.logger.warn({ err, topic: hosted.topic, partition: hosted.partition, pass }, 'log maintenance failed');
      }
    }
  }
}
