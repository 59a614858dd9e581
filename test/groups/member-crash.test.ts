// Consumer-group members as real processes (the chaos suite's group-member-main.ts) on a 3-node
// cluster: 3 members of one group on a 6-partition topic get 2 partitions each; one is SIGKILLed (no
// LeaveGroup, no last commit) → the coordinator notices after session.timeout.ms and its partitions
// move to the two others; the whole history passes the chaos checker: no committed record read again
// (a takeover starts exactly at the committed offset), nothing skipped, committed offsets never back,
// and the group's commits reach the end of every partition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import { waitFor } from '../cluster/helpers.js';
import { GroupsWorkload, HistoryRecorder, SeededRandom, checkHistory, startCluster, type HistoryOp } from '@tributary/testing';

const TOPIC = 'orders';
const SESSION_TIMEOUT_MS = 3_000;

/** member → partitions it owns now, from the members' group-assign / group-revoke / group-lost ops. */
function ownership(ops: readonly HistoryOp[]): Map<string, Set<number>> {
  const owned = new Map<string, Set<number>>();
  for (const op of ops) {
    if (op.f === 'group-assign' && op.type === 'ok' && op.partition !== undefined) {
      const member = op.process.split(':')[0] as string;
      if (!owned.has(member)) owned.set(member, new Set());
      owned.get(member)!.add(op.partition);
    } else if ((op.f === 'group-revoke' || op.f === 'group-lost') && Array.isArray(op.value)) {
      for (const p of op.value as number[]) owned.get(op.process)?.delete(p);
    }
  }
  return owned;
}

describe('consumer group with member processes (3 nodes, 6 partitions)', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let admin: Admin;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3 });
    admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers });
    await admin.createTopics([{ topic: TOPIC, numPartitions: 6, replicationFactor: 3 }]);
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  }, 60_000);

  it('SIGKILL of one of 3 members: its 2 partitions move to the others, nothing committed is read again', async () => {
    const history = new HistoryRecorder();
    const producer = new Producer({ 'bootstrap.servers': cluster.bootstrapServers, 'linger.ms': 1 });
    let seq = 0;
    const produce = async (count: number): Promise<void> => {
      await Promise.all(Array.from({ length: count }, async () => {
        const value = `p1-${seq++}`;
        const partition = seq % 6;
        history.record({ process: 'p1', type: 'invoke', f: 'send', value, node: null, topic: TOPIC, partition });
        const md = await producer.send({ topic: TOPIC, partition, value });
        history.record({ process: 'p1', type: 'ok', f: 'send', value, node: null, topic: TOPIC, partition: md.partition, offset: md.offset });
      }));
    };
    const group = new GroupsWorkload({
      bootstrapServers: cluster.bootstrapServers, topic: TOPIC, groupId: 'orders-app', history, random: new SeededRandom(1),
      membersMin: 1, membersMax: 3, churnMs: [60_000, 60_001], sessionTimeoutMs: SESSION_TIMEOUT_MS, requestTimeoutMs: 3_000, commitIntervalMs: 200,
    });
    try {
      await produce(300);
      group.start({ churn: false, initialMembers: 3 });
      const balanced = (owners: readonly string[], each: number): boolean => {
        const owned = ownership(history.ops);
        return owners.every((m) => owned.get(m)?.size === each) && new Set(owners.flatMap((m) => [...owned.get(m)!])).size === 6;
      };
      const members = group.memberNames();
      await waitFor('2 partitions for each of 3 members', () => (balanced(members, 2) ? true : undefined), 30_000);
      await produce(300);

      const victim = members[0] as string;
      const victimPartitions = [...ownership(history.ops).get(victim)!];
      const killedAt = Date.now();
      await group.crash(victim);
      const survivors = members.filter((m) => m !== victim);
      await waitFor('3 partitions for each survivor', () => (balanced(survivors, 3) ? true : undefined), SESSION_TIMEOUT_MS * 4);
      const movedMs = Date.now() - killedAt;
      console.log(`group: member ${victim} SIGKILLed; its partitions ${victimPartitions.join(',')} moved to ${survivors.join(',')} after ${movedMs} ms (session.timeout.ms ${SESSION_TIMEOUT_MS})`);
      expect(movedMs).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - 500); // a crash is noticed by the session timeout, not earlier
      expect(movedMs).toBeLessThan(SESSION_TIMEOUT_MS * 3);

      await produce(300);
      const ends = await admin.listOffsets(Array.from({ length: 6 }, (_, partition) => ({ topic: TOPIC, partition, spec: 'latest' as const })));
      expect(await group.drain(new Map(ends.map((e) => [e.partition, e.offset])), 30_000)).toBe(true);
    } finally {
      await group.stop();
      await producer.close();
    }
    const check = checkHistory(history.ops);
    expect(check.violations.slice(0, 5)).toEqual([]);
    expect(check.counts.groups.groupReads).toBeGreaterThanOrEqual(900);
    // What was read twice is only what the victim had read but not committed when it died.
    const reads = history.ops.filter((op) => op.f === 'read').length;
    console.log(`group: ${check.counts.groups.spans} takeovers, ${reads} reads of ${seq} records (${reads - seq} read again after the crash), ${check.counts.groups.commitsOk} commits`);
  }, 120_000);
});
