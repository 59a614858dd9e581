// `group list|describe|seek|delete` and `consume -g`: consumer groups through @tributary/client's
// GroupAdmin and Consumer.subscribe. Log end offsets and timestamp lookups come from the admin port.
import { Consumer, GroupAdmin, type GroupDescription, type GroupOffset } from '@tributary/client';
import type { CommandContext } from '../context.js';
import { CliError, EXIT_OK, invalidArgument } from '../errors.js';
import { compileRecordTemplate, recordJsonLine, type RecordView } from '../format/record.js';
import { jsonLine, renderFacts, renderTable, type OutputFormat } from '../format/table.js';
import { parseOffsetSpec, resolveStartOffset } from '../parse/offset-spec.js';
import type { AdminPort } from '../ports.js';

/** How long one poll of `consume -g` waits; bounds how late Ctrl-C is noticed. */
export const GROUP_POLL_TIMEOUT_MS = 500;

async function withGroupAdmin<T>(ctx: CommandContext, body: (groups: GroupAdmin) => Promise<T>): Promise<T> {
  const groups = new GroupAdmin({ 'bootstrap.servers': ctx.brokers().join(',') });
  try {
    return await body(groups);
  } finally {
    await groups.close();
  }
}

export async function groupList(ctx: CommandContext, format: OutputFormat): Promise<number> {
  const listed = await withGroupAdmin(ctx, (g) => g.listGroups());
  if (format === 'json') await ctx.out(jsonLine(listed.map((l) => ({ group: l.groupId, state: l.state }))));
  else await ctx.out(renderTable(['GROUP', 'STATE'], listed.map((l) => [l.groupId, l.state])));
  return EXIT_OK;
}

export interface GroupOffsetRow {
  readonly topic: string;
  readonly partition: number;
  /** null: nothing committed yet. */
  readonly committed: number | null;
  readonly logEndOffset: number;
  /** null when nothing is committed. */
  readonly lag: number | null;
  readonly memberId: string | null;
}

/** Committed offsets and assigned partitions, with each partition's log end offset and lag. */
export async function groupOffsetRows(admin: AdminPort, description: GroupDescription, offsets: readonly GroupOffset[]): Promise<GroupOffsetRow[]> {
  const owners = new Map<string, string>();
  for (const m of description.members) for (const tp of m.assignment) owners.set(`${tp.topic}\u0000${tp.partition}`, m.memberId);
  const committed = new Map(offsets.filter((o) => o.offset >= 0).map((o) => [`${o.topic}\u0000${o.partition}`, o.offset]));
  const keys = new Set([...committed.keys(), ...owners.keys()]);
  const byTopic = new Map<string, number[]>();
  for (const k of keys) {
    const [topic, p] = k.split('\u0000') as [string, string];
    let list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, (list = []));
    list.push(Number(p));
  }
  const rows: GroupOffsetRow[] = [];
  for (const [topic, partitions] of [...byTopic].sort(([a], [b]) => (a < b ? -1 : 1))) {
    partitions.sort((a, b) => a - b);
    const ends = await admin.listOffsets(topic, partitions, { kind: 'latest' });
    for (const partition of partitions) {
      const k = `${topic}\u0000${partition}`;
      const logEndOffset = ends.get(partition) ?? 0;
      const c = committed.get(k) ?? null;
      rows.push({ topic, partition, committed: c, logEndOffset, lag: c === null ? null : Math.max(0, logEndOffset - c), memberId: owners.get(k) ?? null });
    }
  }
  return rows;
}

export async function groupDescribe(ctx: CommandContext, groupId: string, format: OutputFormat): Promise<number> {
  const admin = await ctx.admin();
  const { description, offsets } = await withGroupAdmin(ctx, async (g) => ({ description: await g.describeGroup(groupId), offsets: await g.fetchOffsets(groupId) }));
  if (description.state === 'Dead' && offsets.length === 0) throw new CliError(`group '${groupId}' not found`, { code: 'GROUP_ID_NOT_FOUND' });
  const rows = await groupOffsetRows(admin, description, offsets);
  if (format === 'json') {
    await ctx.out(jsonLine({
      group: groupId,
      state: description.state,
      members: description.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, assignment: m.assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition })) })),
      offsets: rows.map((r) => ({ topic: r.topic, partition: r.partition, committed: r.committed, logEndOffset: r.logEndOffset, lag: r.lag })),
    }));
    return EXIT_OK;
  }
  const totalLag = rows.reduce((sum, r) => sum + (r.lag ?? 0), 0);
  await ctx.out(renderFacts([['GROUP', groupId], ['STATE', description.state], ['STRATEGY', description.protocolName || null], ['MEMBERS', description.members.length]]));
  await ctx.out('\n');
  await ctx.out(renderTable(['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'MEMBER'],
    rows.map((r) => [r.topic, r.partition, r.committed ?? '-', r.logEndOffset, r.lag ?? '-', r.memberId ?? '-'])));
  await ctx.out(renderFacts([['TOTAL LAG', totalLag]]));
  return EXIT_OK;
}

export interface GroupSeekOptions {
  /** start | end | N | @timestamp (the consume offset spec); exclusive with shiftBy. */
  readonly to: string | undefined;
  readonly shiftBy: number | undefined;
  readonly topics: readonly string[];
  readonly dryRun: boolean;
}

/** Resets committed offsets of an Empty group: every topic it has commits for, plus `--topic`s. */
export async function groupSeek(ctx: CommandContext, groupId: string, options: GroupSeekOptions): Promise<number> {
  if ((options.to === undefined) === (options.shiftBy === undefined)) throw invalidArgument('give exactly one of --to and --shift-by');
  const spec = options.to === undefined ? undefined : parseOffsetSpec(options.to, ctx.nowMs());
  const admin = await ctx.admin();
  return withGroupAdmin(ctx, async (groups) => {
    const description = await groups.describeGroup(groupId);
    if (description.state !== 'Empty' && description.state !== 'Dead') {
      throw new CliError(`group '${groupId}' is ${description.state} with ${description.members.length} member(s); stop its consumers first (seek needs an Empty group)`, { code: 'NON_EMPTY_GROUP' });
    }
    const committed = await groups.fetchOffsets(groupId);
    const topics = [...new Set([...committed.map((o) => o.topic), ...options.topics])].sort();
    if (topics.length === 0) throw invalidArgument(`group '${groupId}' has no committed offsets; name topics with --topic`);
    const plan: { topic: string; partition: number; current: number | null; next: number }[] = [];
    for (const topic of topics) {
      const [description] = await admin.describeTopics([topic]);
      const partitions = (description?.partitions ?? []).map((p) => p.partition).sort((a, b) => a - b);
      const [earliest, latest, byTime] = await Promise.all([
        admin.listOffsets(topic, partitions, { kind: 'earliest' }),
        admin.listOffsets(topic, partitions, { kind: 'latest' }),
        spec?.kind === 'timestamp' ? admin.listOffsets(topic, partitions, spec) : Promise.resolve(undefined),
      ]);
      for (const partition of partitions) {
        const logStartOffset = earliest.get(partition) ?? 0;
        const highWatermark = latest.get(partition) ?? logStartOffset;
        const current = committed.find((o) => o.topic === topic && o.partition === partition)?.offset ?? null;
        const next = spec !== undefined
          ? resolveStartOffset(spec, { logStartOffset, highWatermark, offsetForTimestamp: byTime?.get(partition) })
          : Math.min(Math.max((current ?? logStartOffset) + options.shiftBy!, logStartOffset), highWatermark);
        plan.push({ topic, partition, current, next });
      }
    }
    await ctx.out(renderTable(['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'NEW-OFFSET'], plan.map((p) => [p.topic, p.partition, p.current ?? '-', p.next])));
    if (options.dryRun) {
      await ctx.out('(dry run: nothing committed)\n');
      return EXIT_OK;
    }
    await groups.commitOffsets(groupId, plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.next })));
    return EXIT_OK;
  });
}

export async function groupDelete(ctx: CommandContext, groupId: string): Promise<number> {
  await withGroupAdmin(ctx, (g) => g.deleteGroup(groupId));
  await ctx.out(`deleted group '${groupId}'\n`);
  return EXIT_OK;
}

export interface GroupConsumeOptions {
  readonly count: number | undefined;
  readonly template: string | undefined;
  readonly format: OutputFormat;
  /** Where to start in partitions the group has no commit for: earliest (start) or latest (end). */
  readonly reset: 'earliest' | 'latest';
  readonly isolationLevel?: 'read_uncommitted' | 'read_committed' | undefined;
}

/** `consume TOPIC -g GROUP`: joins the group, prints records, commits what it printed, leaves on exit. */
export async function groupConsume(ctx: CommandContext, topic: string, groupId: string, options: GroupConsumeOptions): Promise<number> {
  const render: (record: RecordView) => string = options.template !== undefined ? compileRecordTemplate(options.template)
    : options.format === 'text' ? compileRecordTemplate('%v\\n') : recordJsonLine;
  const consumer = new Consumer({
    'bootstrap.servers': ctx.brokers().join(','), 'group.id': groupId, 'auto.offset.reset': options.reset, 'enable.auto.commit': false,
    'client.id': 'tributary-cli', 'isolation.level': options.isolationLevel ?? 'read_uncommitted',
  });
  try {
    consumer.subscribe([topic]);
    const limit = options.count ?? Number.POSITIVE_INFINITY;
    let printed = 0;
    while (printed < limit && !ctx.signal.aborted) {
      const records = await consumer.poll({ timeoutMs: GROUP_POLL_TIMEOUT_MS });
      let chunk = '';
      const next = new Map<number, number>();
      for (const r of records) {
        if (printed >= limit) break;
        chunk += render({ topic: r.topic, partition: r.partition, offset: r.offset, timestampMs: r.timestamp, key: r.key, value: r.value, headers: r.headers });
        printed += 1;
        next.set(r.partition, r.offset + 1);
      }
      await ctx.out(chunk);
      // Commit exactly what was printed (with -n the rest of a poll stays uncommitted).
      if (next.size > 0) await consumer.commit([...next].map(([partition, offset]) => ({ topic, partition, offset })));
    }
  } finally {
    await consumer.close();
  }
  return EXIT_OK;
}
