// Shared set-up for PartitionLog tests: a temp directory per test, opened logs closed afterwards.
import { cp } from 'node:fs/promises';
import { type LogConfig, PartitionLog, parseLogConfig } from '../src/index.js';
import { buildBatch, type BatchView, ManualClock, splitBatches, tempDir } from './batch-builder.js';

export class LogHarness {
  readonly clock = new ManualClock();
  private readonly logs: PartitionLog[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];

  async dir(): Promise<string> {
    const { dir, cleanup } = await tempDir();
    this.cleanups.push(cleanup);
    return dir;
  }

  async open(dir: string, overrides: Partial<LogConfig> = {}, recoveryPoint?: number, highWatermarkCheckpointIntervalMs?: number): Promise<PartitionLog> {
    const config = parseLogConfig(overrides);
    const log = await PartitionLog.open({
      dir,
      config,
      clock: this.clock.now,
      ...(recoveryPoint === undefined ? {} : { recoveryPoint }),
      ...(highWatermarkCheckpointIntervalMs === undefined ? {} : { highWatermarkCheckpointIntervalMs }),
    });
    this.logs.push(log);
    return log;
  }

  /** Copies a live log's directory, as a crash would leave it (no clean-shutdown marker). */
  async snapshot(dir: string): Promise<string> {
    const copy = await this.dir();
    await cp(dir, copy, { recursive: true });
    return copy;
  }

  async dispose(): Promise<void> {
    for (const log of this.logs.splice(0)) await log.close().catch(() => undefined);
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
  }
}

/** Reads the whole log from logStartOffset in fetches of maxBytes, returning every batch once. */
export async function readAll(log: PartitionLog, maxBytes = 4096): Promise<BatchView[]> {
  const out: BatchView[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const result = await log.read(offset, maxBytes);
    const batches = splitBatches(result.records);
    if (batches.length === 0) throw new Error(`empty read at ${offset} below LEO ${log.logEndOffset}`);
    for (const batch of batches) if (batch.lastOffset >= offset) out.push(batch);
    offset = batches.at(-1)!.lastOffset + 1;
  }
  return out;
}

/** Appends `count` single-record batches (fill = index) and returns their appended infos. */
export async function appendMany(log: PartitionLog, count: number, spec: { payloadBytes?: number; recordCount?: number; epoch?: number; firstFill?: number } = {}) {
  const infos = [];
  for (let i = 0; i < count; i++) {
    const fill = ((spec.firstFill ?? 0) + i) % 256;
    infos.push(await log.appendAsLeader(buildBatch({ payloadBytes: spec.payloadBytes ?? 100, recordCount: spec.recordCount ?? 1, fill }), spec.epoch ?? 0));
  }
  return infos;
}
