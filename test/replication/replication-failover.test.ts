// Three combined nodes as processes, RF=3, min.insync.replicas=2 (issue 5 "Must show"):
//   (a) SIGKILL a partition leader under a stream of idempotent acks=all produces: after failover every
//       acknowledged record is read back exactly once, at its acknowledged offset, in producer order;
//   (b) SIGSTOP a follower: it leaves the ISR within replica.lag.time.max.ms (plus the controller's
//       round trip) and acks=all produces go on; SIGCONT: it is back in the ISR;
//   (c) SIGKILL both followers: acks=all produces are not acknowledged (NOT_ENOUGH_REPLICAS or a
//       timeout — with 3 combined nodes the controller quorum is gone too, so the ISR cannot shrink and
//       the produce waits for a high watermark that cannot move); after the restart nothing is lost.
// Timings are printed for the report.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import type { ProcessCluster } from '@tributary/testing';
import {
  REPLICA_LAG_TIME_MAX_MS, startReplicationCluster, ProduceStream, describePartitions, exactlyOnceViolations,
  readAll, waitFor, waitFullIsr,
} from './helpers.js';

const TOPIC_CONFIGS = { 'min.insync.replicas': '2' };

describe('replication across three node processes (RF=3, min.insync.replicas=2)', () => {
  let cluster: ProcessCluster;
  let admin: Admin;

  beforeAll(async () => {
    ({ cluster, admin } = await startReplicationCluster({ nodes: 3 }));
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  }, 60_000);

  it('(a) SIGKILL of a leader during idempotent acks=all streams: every acknowledged record exactly once, in order', async () => {
    const topic = 'failover';
    await admin.createTopics([{ topic, numPartitions: 3, replicationFactor: 3, configs: TOPIC_CONFIGS }]);
    const before = await waitFullIsr(admin, topic, 10_000);

    const stream = new ProduceStream({ bootstrapServers: cluster.bootstrapServers, topic, partitions: 3, producers: 3, inFlightMax: 20 });
    await waitFor('300 acknowledged records before the kill', () => (stream.acknowledged.length >= 300 ? true : undefined), 20_000);
    const victim = before[0]!.leader;
    const victimPartitions = new Set(before.filter((p) => p.leader === victim).map((p) => p.partition));
    const ackedBeforeKill = stream.outcomes.length;
    const killedAt = Date.now();
    await cluster.node(victim).kill();

    // Failover = the first acknowledgement, on a partition the victim led, of a send completed after the kill.
    await waitFor(`acknowledgements on partitions ${[...victimPartitions].join(',')} after the kill`, () => {
      const after = stream.outcomes.slice(ackedBeforeKill).filter((o) => o.error === undefined && victimPartitions.has(o.partition));
      return after.length >= 100 ? true : undefined;
    }, 20_000);
    const resumedMs = Date.now() - killedAt;
    await stream.stop();
    const afterKill = await describePartitions(admin, topic);
    for (const p of before.filter((q) => q.leader === victim)) {
      const now = afterKill[p.partition]!;
      expect(now.leader).not.toBe(victim);
      expect(p.isr).toContain(now.leader);
      expect(now.leaderEpoch).toBeGreaterThan(p.leaderEpoch);
    }

    const restartAt = Date.now();
    await cluster.node(victim).start();
    await waitFullIsr(admin, topic, 20_000);
    const rejoinedMs = Date.now() - restartAt;

    const records = await readAll(cluster.bootstrapServers, topic, 3, admin);
    const violations = exactlyOnceViolations(stream.outcomes, records);
    expect(violations.slice(0, 20)).toEqual([]);
    // Within delivery.timeout.ms (30 s) the producers ride out a failover of a few seconds.
    expect(stream.failed.map((o) => `${o.value}: ${o.error?.message}`).slice(0, 5)).toEqual([]);
    console.log(`replication (a): ${stream.acknowledged.length} acknowledged (${records.length} in the log) by 3 producers; leader ${victim} `
      + `SIGKILLed, acks on its partitions resumed ${resumedMs} ms later; restarted node back in every ISR ${rejoinedMs} ms after its start`);
  }, 90_000);

  it('(b) a stopped follower leaves the ISR, acks=all produces go on, and it rejoins when resumed', async () => {
    const topic = 'isr';
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3, configs: TOPIC_CONFIGS }]);
    const [p0] = await waitFullIsr(admin, topic, 10_000);
    // Stop a follower that is not the active controller, so the controller quorum is not disturbed.
    const controller = (await admin.describeCluster()).controller.leaderId;
    const follower = p0!.replicas.find((id) => id !== p0!.leader && id !== controller)!;
    const producer = new Producer({ 'bootstrap.servers': cluster.bootstrapServers, acks: 'all', 'request.timeout.ms': 3000, 'delivery.timeout.ms': 20_000, 'linger.ms': 0 });
    try {
      await producer.send({ topic, partition: 0, value: 'before' });
      const stoppedAt = Date.now();
      cluster.node(follower).signal('SIGSTOP');
      await waitFor(`follower ${follower} out of the ISR`, async () => {
        const [p] = await describePartitions(admin, topic);
        return p!.isr.includes(follower) ? undefined : p;
      }, REPLICA_LAG_TIME_MAX_MS + 8_000);
      const shrunkMs = Date.now() - stoppedAt;
      const acked: number[] = [];
      for (let i = 0; i < 20; i++) acked.push((await producer.send({ topic, partition: 0, value: `during-${i}` })).offset);
      expect(acked).toEqual(Array.from({ length: 20 }, (_, i) => acked[0]! + i));

      const resumedAt = Date.now();
      cluster.node(follower).signal('SIGCONT');
      const [back] = await waitFullIsr(admin, topic, 20_000);
      const expandedMs = Date.now() - resumedAt;
      expect(back!.isr).toContain(follower);
      await producer.send({ topic, partition: 0, value: 'after' });
      console.log(`replication (b): follower ${follower} SIGSTOPped -> out of the ISR after ${shrunkMs} ms (replica.lag.time.max.ms=${REPLICA_LAG_TIME_MAX_MS}); `
        + `20 acks=all produces meanwhile; SIGCONT -> back in the ISR after ${expandedMs} ms`);
      // The shrink is driven by the lag time (or the session timeout fencing it), not by anything slower.
      expect(shrunkMs).toBeLessThan(REPLICA_LAG_TIME_MAX_MS + 8_000);
    } finally {
      await producer.close({ timeoutMs: 5000 });
    }
  }, 60_000);

  it('(c) with both followers killed acks=all produces are not acknowledged; nothing acknowledged is lost', async () => {
    const topic = 'quorum';
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3, configs: TOPIC_CONFIGS }]);
    const [p0] = await waitFullIsr(admin, topic, 10_000);
    const producer = new Producer({
      'bootstrap.servers': cluster.bootstrapServers, acks: 'all', 'request.timeout.ms': 1500, 'delivery.timeout.ms': 4000,
      'linger.ms': 0, 'retry.backoff.ms': 100, 'metadata.max.age.ms': 1000,
    });
    const followers = p0!.replicas.filter((id) => id !== p0!.leader);
    try {
      const acked: string[] = [];
      for (let i = 0; i < 10; i++) {
        await producer.send({ topic, partition: 0, value: `ok-${i}` });
        acked.push(`ok-${i}`);
      }
      await Promise.all(followers.map((id) => cluster.node(id).kill()));
      const startedAt = Date.now();
      const outcome = await producer.send({ topic, partition: 0, value: 'alone' }).then(() => undefined, (err: Error) => err);
      const failedMs = Date.now() - startedAt;
      expect(outcome).toBeInstanceOf(Error);
      const codes = [(outcome as { code?: string }).code, ((outcome as { cause?: { code?: string } }).cause)?.code];
      console.log(`replication (c): followers ${followers.join(',')} SIGKILLed; acks=all produce failed after ${failedMs} ms with ${codes.filter(Boolean).join(' <- ')}`);
      expect(codes.some((c) => c !== undefined && /NOT_ENOUGH_REPLICAS|REQUEST_TIMED_OUT|DELIVERY_TIMEOUT/.test(c))).toBe(true);

      const restartAt = Date.now();
      await Promise.all(followers.map((id) => cluster.node(id).start()));
      await waitFullIsr(admin, topic, 30_000);
      const recoveredMs = Date.now() - restartAt;
      await producer.send({ topic, partition: 0, value: 'after' });
      const values = (await readAll(cluster.bootstrapServers, topic, 1, admin)).map((r) => r.value?.toString());
      for (const v of [...acked, 'after']) expect(values.filter((x) => x === v)).toHaveLength(1);
      expect(values.indexOf('after')).toBeGreaterThan(values.indexOf('ok-9'));
      console.log(`replication (c): followers restarted, full ISR after ${recoveredMs} ms; all ${acked.length + 1} acknowledged records present once`);
    } finally {
      await producer.close({ timeoutMs: 5000 });
    }
  }, 90_000);
});
