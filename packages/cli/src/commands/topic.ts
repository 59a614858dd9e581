// `topic create|list|describe|delete|alter-config|add-partitions`.
import type { CommandContext } from '../context.js';
import { CliError, EXIT_FAILURE, EXIT_OK, errorCodeName, formatErrorLine, invalidArgument } from '../errors.js';
import { renderTable, type OutputFormat } from '../format/table.js';
import { renderTopic, renderTopicList } from '../format/views.js';
import { parseKeyValueMap } from '../parse/key-value.js';
import type { TopicResult } from '../ports.js';

export interface CreateTopicOptions {
  readonly partitions: number | undefined;
  readonly replicationFactor: number | undefined;
  readonly configs: readonly string[];
  readonly ifNotExists: boolean;
}

export async function createTopic(ctx: CommandContext, name: string, options: CreateTopicOptions): Promise<number> {
  const configs = parseKeyValueMap(options.configs, '-c/--config');
  const admin = await ctx.admin();
  const results = await admin.createTopics([
    { name, partitions: options.partitions ?? -1, replicationFactor: options.replicationFactor ?? -1, configs },
  ]);
  const tolerated = (result: TopicResult): boolean =>
    result.error !== undefined && options.ifNotExists && errorCodeName(result.error) === 'TOPIC_ALREADY_EXISTS';
  return reportResults(ctx, results, (result) => (tolerated(result) ? 'EXISTS' : undefined));
}

export async function listTopics(ctx: CommandContext, format: OutputFormat): Promise<number> {
  const admin = await ctx.admin();
  await ctx.out(renderTopicList(await admin.listTopics(), format));
  return EXIT_OK;
}

export async function describeTopics(ctx: CommandContext, names: readonly string[], format: OutputFormat): Promise<number> {
  const admin = await ctx.admin();
  const topics = await admin.describeTopics(names);
  // One JSON object per topic per line, so `topic describe t --format json | jq` sees the contract shape.
  await ctx.out(topics.map((topic) => renderTopic(topic, format)).join(format === 'text' ? '\n' : ''));
  return EXIT_OK;
}

export async function deleteTopics(ctx: CommandContext, names: readonly string[]): Promise<number> {
  const admin = await ctx.admin();
  return reportResults(ctx, await admin.deleteTopics(names), () => undefined);
}

export async function alterTopicConfig(
  ctx: CommandContext,
  name: string,
  options: { set: readonly string[]; delete: readonly string[] },
): Promise<number> {
  const set = parseKeyValueMap(options.set, '--set');
  const deleted = options.delete.map((key) => key.trim());
  if (Object.keys(set).length === 0 && deleted.length === 0) throw invalidArgument('nothing to change: give --set key=value and/or --delete key');
  const both = deleted.find((key) => Object.hasOwn(set, key));
  if (both !== undefined) throw invalidArgument(`'${both}' is both set and deleted`);
  const admin = await ctx.admin();
  await admin.alterTopicConfigs(name, { set, delete: deleted });
  await ctx.out(`TOPIC ${name}: configs altered\n`);
  return EXIT_OK;
}

export async function addPartitions(ctx: CommandContext, name: string, totalCount: number): Promise<number> {
  const admin = await ctx.admin();
  await admin.createPartitions(name, totalCount);
  await ctx.out(`TOPIC ${name}: now ${totalCount} partitions\n`);
  return EXIT_OK;
}

/**
 * rpk-style `TOPIC STATUS` table; a failed topic shows its error code and makes the run fail,
 * unless `toleratedStatus` names it (e.g. EXISTS under --if-not-exists).
 */
async function reportResults(
  ctx: CommandContext,
  results: readonly TopicResult[],
  toleratedStatus: (result: TopicResult) => string | undefined,
): Promise<number> {
  let failed = 0;
  const rows = results.map((result) => {
    if (result.error === undefined) return [result.name, 'OK'];
    const tolerated = toleratedStatus(result);
    if (tolerated !== undefined) return [result.name, tolerated];
    failed += 1;
    return [result.name, formatErrorLine(result.error).replace(/^error: /, '')];
  });
  await ctx.out(renderTable(['topic', 'status'], rows));
  if (failed === 0) return EXIT_OK;
  const first = results.find((r) => r.error !== undefined && toleratedStatus(r) === undefined)?.error;
  // One topic: its own typed error says it all. Several: a count, plus the first error.
  if (results.length === 1 && first !== undefined) throw first;
  throw new CliError(`${failed} of ${results.length} topics failed (first: ${first?.message ?? 'unknown'})`, {
    code: first === undefined ? undefined : errorCodeName(first),
    exitCode: EXIT_FAILURE,
  });
}
