// `consume TOPIC`: manual assignment of the chosen partitions from an offset spec; prints JSON lines
// or a `-f` template; stops after `-n` records, at the end (`--exit-at-end`), or on Ctrl-C.
import type { CommandContext } from '../context.js';
import { CliError, EXIT_OK, invalidArgument } from '../errors.js';
import { compileRecordTemplate, recordJsonLine, type RecordView } from '../format/record.js';
import type { OutputFormat } from '../format/table.js';
import { parseOffsetSpec, resolveStartOffset, type OffsetSpec } from '../parse/offset-spec.js';
import { parsePartitionList } from '../parse/partitions.js';
import type { AdminPort, TopicPartitionOffset } from '../ports.js';

/** How long one poll waits; bounds how late we notice Ctrl-C or the end. */
export const POLL_TIMEOUT_MS = 500;

export interface ConsumeOptions {
  readonly offset: string;
  readonly count: number | undefined;
  readonly partitions: readonly string[];
  readonly template: string | undefined;
  readonly format: OutputFormat;
  readonly exitAtEnd: boolean;
  /**
   * read_committed: skip records of aborted transactions and read only up to the last stable offset
   * (with --exit-at-end, an open transaction below the starting high watermark is waited for).
   */
  readonly isolationLevel?: 'read_uncommitted' | 'read_committed' | undefined;
}

export interface ConsumePlan {
  readonly starts: TopicPartitionOffset[];
  /** High watermark per partition when we started (the `--exit-at-end` target). */
  readonly ends: Map<number, number>;
}

/** Looks up the partitions and their bounds, and resolves where each one starts. */
export async function planConsume(
  admin: AdminPort,
  topic: string,
  spec: OffsetSpec,
  requestedPartitions: readonly number[],
): Promise<ConsumePlan> {
  const [description] = await admin.describeTopics([topic]);
  if (description === undefined) throw new CliError(`topic '${topic}' not found`, { code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  const existing = description.partitions.map((p) => p.partition).sort((a, b) => a - b);
  const missing = requestedPartitions.filter((p) => !existing.includes(p));
  if (missing.length > 0) {
    throw new CliError(`topic '${topic}' has no partition ${missing.join(', ')} (it has ${existing.length})`, {
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
  }
  const partitions = requestedPartitions.length > 0 ? [...requestedPartitions] : existing;
  const [earliest, latest, byTime] = await Promise.all([
    admin.listOffsets(topic, partitions, { kind: 'earliest' }),
    admin.listOffsets(topic, partitions, { kind: 'latest' }),
    spec.kind === 'timestamp' ? admin.listOffsets(topic, partitions, spec) : Promise.resolve(undefined),
  ]);
  const starts: TopicPartitionOffset[] = [];
  const ends = new Map<number, number>();
  for (const partition of partitions) {
    const logStartOffset = earliest.get(partition) ?? 0;
    const highWatermark = latest.get(partition) ?? logStartOffset;
    ends.set(partition, highWatermark);
    const offset = resolveStartOffset(spec, { logStartOffset, highWatermark, offsetForTimestamp: byTime?.get(partition) });
    starts.push({ partition, offset });
  }
  return { starts, ends };
}

export async function consume(ctx: CommandContext, topic: string, options: ConsumeOptions): Promise<number> {
  const spec = parseOffsetSpec(options.offset, ctx.nowMs());
  const requested = parsePartitionList(options.partitions);
  if (options.template !== undefined && options.format === 'json') throw invalidArgument('-f and --format json cannot be used together');
  const render: (record: RecordView) => string =
    options.template !== undefined
      ? compileRecordTemplate(options.template)
      : options.format === 'text'
        ? compileRecordTemplate('%v\\n')
        : recordJsonLine;

  const plan = await planConsume(await ctx.admin(), topic, spec, requested);
  const consumer = await ctx.consumer({ isolationLevel: options.isolationLevel });
  await consumer.assign(topic, plan.starts);

  // Partitions still short of their starting high watermark (only tracked with --exit-at-end).
  const pending = new Map<number, number>();
  if (options.exitAtEnd) {
    for (const { partition, offset } of plan.starts) {
      const end = plan.ends.get(partition) ?? 0;
      if (offset < end) pending.set(partition, end);
    }
  }
  const limit = options.count ?? Number.POSITIVE_INFINITY;
  let printed = 0;
  while (printed < limit && !(options.exitAtEnd && pending.size === 0) && !ctx.signal.aborted) {
    const records = await consumer.poll(POLL_TIMEOUT_MS);
    let chunk = '';
    for (const record of records) {
      if (printed >= limit) break;
      chunk += render(record);
      printed += 1;
      const end = pending.get(record.partition);
      if (end !== undefined && record.offset + 1 >= end) pending.delete(record.partition);
    }
    for (const [partition, end] of pending) {
      const position = await consumer.position(topic, partition);
      if (position !== undefined && position >= end) pending.delete(partition);
    }
    await ctx.out(chunk);
  }
  return EXIT_OK;
}
