import { describe, expect, it } from 'vitest';
import {
  type MetadataImage, type PartitionImage, allocateProducerIds, alterConfigs, alterPartition, brokerHeartbeat,
  controlledShutdown, createPartitions, createTopics, deleteTopics, electLeaders, electPartition, fenceStaleBrokers,
  imageInvariantViolations, registerBroker, topicByName, wireErrorCode, ReplicaLogReports,
} from './core.js';
import { apply, clusterWith, commit, context, withTopic } from './fixtures.js';

const ctx = context(3);

function part(image: MetadataImage, topic: string, p = 0): PartitionImage {
  return topicByName(image, topic)!.partitions[p]!;
}

/** Brokers 1..4; topic "t" with one partition on replicas [1,2,3] (forced by rewriting the placement). */
function cluster(configs: Record<string, string> = {}): MetadataImage {
  let image = clusterWith([1, 2, 3, 4], ctx);
  const r = createTopics(image, { topics: [{ name: 't', numPartitions: 1, replicationFactor: 3, configs }], validateOnly: false }, ctx);
  const records = r.records.map((x) => (x.type === 'partition' ? { ...x, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 } : x));
  image = apply(image, records);
  return image;
}

function epoch(image: MetadataImage, id: number): number {
  return image.brokers.get(id)!.brokerEpoch;
}

function fence(image: MetadataImage, ...ids: number[]): MetadataImage {
  const lastHeartbeatMs = new Map([...image.brokers.keys()].map((id) => [id, ids.includes(id) ? 0 : 10_000]));
  const r = fenceStaleBrokers(image, { lastHeartbeatMs, nowMs: 10_000, sessionTimeoutMs: 9_000 }, ctx);
  expect(r.response.fenced).toEqual(ids);
  const next = commit(image, r);
  expect(imageInvariantViolations(next)).toEqual([]);
  return next;
}

describe('election', () => {
  const p: PartitionImage = { partition: 0, replicas: [3, 1, 2], isr: [1, 2], leader: 1, leaderEpoch: 4, partitionEpoch: 7, recovering: false, offlineReplicas: [] };
  it('picks the first usable ISR member in replica order', () => {
    expect(electPartition({ topicId: 'x', partition: p, isUsable: (id) => id !== 1, uncleanEnabled: false, election: 'keep' }))
      .toEqual({ leader: 2, isr: [2], unclean: false, recovering: false });
    expect(electPartition({ topicId: 'x', partition: { ...p, isr: [3, 1, 2], leader: 2 }, isUsable: (id) => id !== 2, uncleanEnabled: false, election: 'keep' }).leader).toBe(3);
  });
  it('goes offline without a usable ISR member when unclean election is off, keeping the last ISR member', () => {
    expect(electPartition({ topicId: 'x', partition: p, isUsable: (id) => id === 3, uncleanEnabled: false, election: 'keep' }))
      .toEqual({ leader: -1, isr: [1], unclean: false, recovering: false });
  });
  it('lets a usable out-of-ISR replica lead when unclean election is on', () => {
    expect(electPartition({ topicId: 'x', partition: p, isUsable: (id) => id === 3, uncleanEnabled: true, election: 'keep' }))
      .toEqual({ leader: 3, isr: [3], unclean: true, recovering: false });
  });
});

describe('broker lifecycle', () => {
  it('registers fenced, unfences once caught up, and treats the same incarnation as a retry', () => {
    let image = clusterWith([1], ctx);
    const req = { brokerId: 2, incarnationId: 'a', endpoint: { host: 'h', port: 1 }, rack: undefined, roles: ['broker'], cleanShutdown: true };
    const r = registerBroker(image, req, ctx);
    expect(r.response).toEqual({ ok: true, kind: 'registered' });
    image = commit(image, r);
    expect(image.brokers.get(2)).toMatchObject({ fenced: true, brokerEpoch: image.offset });
    expect(registerBroker(image, req, ctx)).toEqual({ records: [], response: { ok: true, kind: 'unchanged', brokerEpoch: image.offset } });
    const behind = brokerHeartbeat(image, { brokerId: 2, brokerEpoch: epoch(image, 2), metadataOffset: image.offset - 1, wantShutDown: false }, ctx);
    expect(behind).toEqual({ records: [], response: { ok: true, isFenced: true, isCaughtUp: false, shouldShutDown: false } });
    const caught = brokerHeartbeat(image, { brokerId: 2, brokerEpoch: epoch(image, 2), metadataOffset: image.offset, wantShutDown: false }, ctx);
    expect(caught.response).toMatchObject({ ok: true, isFenced: false });
    image = commit(image, caught);
    expect(image.brokers.get(2)?.fenced).toBe(false);
    expect(brokerHeartbeat(image, { brokerId: 2, brokerEpoch: epoch(image, 2), metadataOffset: image.offset, wantShutDown: false }, ctx).records).toEqual([]);
  });

  it('counts a broker caught up once it has applied its own registration, whatever came after (Kafka’s rule)', () => {
    let image = clusterWith([1], ctx);
    const register = (brokerId: number) => registerBroker(image, { brokerId, incarnationId: `i${brokerId}`, endpoint: { host: 'h', port: brokerId }, rack: undefined, roles: ['broker'], cleanShutdown: true }, ctx);
    image = commit(image, register(2));
    const registeredAt = epoch(image, 2);
    image = commit(image, register(3)); // the log moves on past broker 2's registration
    expect(image.offset).toBeGreaterThan(registeredAt);
    const behind = brokerHeartbeat(image, { brokerId: 2, brokerEpoch: registeredAt, metadataOffset: registeredAt - 1, wantShutDown: false }, ctx);
    expect(behind.response).toMatchObject({ isFenced: true, isCaughtUp: false });
    const own = brokerHeartbeat(image, { brokerId: 2, brokerEpoch: registeredAt, metadataOffset: registeredAt, wantShutDown: false }, ctx);
    expect(own.response).toMatchObject({ isFenced: false, isCaughtUp: true });
  });

  it('answers STALE_BROKER_EPOCH and BROKER_ID_NOT_REGISTERED', () => {
    const image = clusterWith([1], ctx);
    const stale = brokerHeartbeat(image, { brokerId: 1, brokerEpoch: epoch(image, 1) - 1, metadataOffset: 0, wantShutDown: false }, ctx);
    expect(stale.response).toMatchObject({ ok: false, error: { code: 'STALE_BROKER_EPOCH' } });
    const unknown = brokerHeartbeat(image, { brokerId: 9, brokerEpoch: 1, metadataOffset: 0, wantShutDown: false }, ctx);
    expect(unknown.response).toMatchObject({ ok: false, error: { code: 'BROKER_ID_NOT_REGISTERED' } });
    expect(wireErrorCode('STALE_BROKER_EPOCH')).toEqual({ code: 'INVALID_REQUEST', reason: 'STALE_BROKER_EPOCH' });
    expect(wireErrorCode('FENCED_LEADER_EPOCH')).toEqual({ code: 'FENCED_LEADER_EPOCH', reason: undefined });
  });

  it('a restart (new incarnation) bumps the epoch, starts fenced and leaves leadership and the ISR', () => {
    let image = cluster();
    const before = epoch(image, 1);
    image = commit(image, registerBroker(image, { brokerId: 1, incarnationId: 'restarted', endpoint: { host: 'h', port: 1 }, rack: undefined, roles: ['broker'], cleanShutdown: false }, ctx));
    expect(epoch(image, 1)).toBeGreaterThan(before);
    expect(image.brokers.get(1)?.fenced).toBe(true);
    expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1 });
    expect(imageInvariantViolations(image)).toEqual([]);
  });

  it('fencing moves leadership to the next ISR member with leaderEpoch + 1 and drops the broker from the ISR', () => {
    let image = cluster();
    image = fence(image, 1);
    expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1 });
    image = fence(image, 2, 3);
    // No usable ISR member, unclean off: offline, the last ISR member (the leader) kept.
    expect(part(image, 't')).toMatchObject({ leader: -1, isr: [2], leaderEpoch: 2 });
    // That broker comes back after a clean shutdown (its log is whole): it leads again, cleanly.
    image = commit(image, registerBroker(image, { brokerId: 2, incarnationId: 'again', endpoint: { host: 'h', port: 1 }, rack: undefined, roles: ['broker'], cleanShutdown: true }, ctx));
    expect(part(image, 't')).toMatchObject({ leader: -1, isr: [2] });
    image = commit(image, brokerHeartbeat(image, { brokerId: 2, brokerEpoch: epoch(image, 2), metadataOffset: image.offset, wantShutDown: false }, ctx));
    expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 3 });
  });

  describe('unclean restart of the last ISR member (KIP-966)', () => {
    const again = (id: number, cleanShutdown: boolean) => ({ brokerId: id, incarnationId: `again-${id}`, endpoint: { host: 'h', port: 1 }, rack: undefined, roles: ['broker'], cleanShutdown });
    const beat = (image: MetadataImage, id: number, reports: ReplicaLogReports) =>
      brokerHeartbeat(image, { brokerId: id, brokerEpoch: epoch(image, id), metadataOffset: image.offset, wantShutDown: false }, ctx, reports.lookup);
    const report = (image: MetadataImage, reports: ReplicaLogReports, id: number, lastEpoch: number, logEndOffset: number): void => {
      const t = topicByName(image, 't')!;
      reports.note(image, id, epoch(image, id), [{ topicId: t.topicId, partition: 0, partitionEpoch: part(image, 't').partitionEpoch, lastEpoch, logEndOffset }]);
    };
    /** t-0 offline with broker 2 as its last ISR member, all three replicas back after a crash. */
    const offlineThenAllRestarted = (): MetadataImage => {
      let image = fence(fence(cluster(), 1), 2, 3);
      expect(part(image, 't')).toMatchObject({ leader: -1, isr: [2], recovering: false });
      for (const id of [1, 3]) image = commit(image, registerBroker(image, again(id, false), ctx));
      image = commit(image, registerBroker(image, again(2, false), ctx));
      expect(part(image, 't')).toMatchObject({ leader: -1, isr: [2], recovering: true });
      expect(imageInvariantViolations(image)).toEqual([]);
      return image;
    };

    it('an unclean restart makes the partition recovering; no ordinary election of the suspect member', () => {
      let image = offlineThenAllRestarted();
      const reports = new ReplicaLogReports();
      image = commit(image, beat(image, 2, reports)); // unfenced, but no reports: stays offline
      expect(part(image, 't')).toMatchObject({ leader: -1, isr: [2], recovering: true });
    });

    it('waits for every replica to report, then elects the longest log (last epoch, then end offset)', () => {
      let image = offlineThenAllRestarted();
      const reports = new ReplicaLogReports();
      for (const id of [1, 2, 3]) image = commit(image, beat(image, id, reports)); // unfence all
      report(image, reports, 2, 2, 90); // the ISR member lost its tail
      report(image, reports, 1, 2, 120);
      expect(beat(image, 1, reports).records).toEqual([]); // broker 3 has not reported yet
      report(image, reports, 3, 1, 500); // longer, but an older epoch: diverged, loses
      const r = beat(image, 3, reports);
      expect(r.records).toMatchObject([{ type: 'partitionChange', leader: 1, isr: [1], unclean: true, recovering: false }]);
      image = commit(image, r);
      expect(part(image, 't')).toMatchObject({ leader: 1, isr: [1], recovering: false, leaderEpoch: 3 });
      expect(imageInvariantViolations(image)).toEqual([]);
    });

    it('prefers the ISR member on a tie, cleanly; stale reports (older partition epoch, older broker epoch) do not count', () => {
      let image = offlineThenAllRestarted();
      const reports = new ReplicaLogReports();
      for (const id of [1, 2, 3]) image = commit(image, beat(image, id, reports));
      const t = topicByName(image, 't')!;
      reports.note(image, 1, epoch(image, 1), [{ topicId: t.topicId, partition: 0, partitionEpoch: part(image, 't').partitionEpoch - 1, lastEpoch: 9, logEndOffset: 999 }]);
      report(image, reports, 2, 2, 100);
      report(image, reports, 3, 2, 100);
      expect(beat(image, 3, reports).records).toEqual([]); // broker 1's report is of an older state
      report(image, reports, 1, 2, 100);
      const r = beat(image, 1, reports);
      expect(r.records).toMatchObject([{ leader: 2, isr: undefined, unclean: false, recovering: false }]); // ISR [2] unchanged
    });

    it('a clean restart of the last ISR member leads again at once; a recovering partition stays recovering across clean restarts', () => {
      let image = fence(fence(cluster(), 1), 2, 3);
      image = commit(image, registerBroker(image, again(2, true), ctx));
      expect(part(image, 't')).toMatchObject({ leader: -1, isr: [2], recovering: false });
      image = commit(image, brokerHeartbeat(image, { brokerId: 2, brokerEpoch: epoch(image, 2), metadataOffset: image.offset, wantShutDown: false }, ctx));
      expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2] });

      image = offlineThenAllRestarted();
      image = commit(image, registerBroker(image, { ...again(2, true), incarnationId: 'third' }, ctx));
      expect(part(image, 't')).toMatchObject({ leader: -1, recovering: true });
    });

    it('with unclean election enabled the longest reported log leads without waiting for the rest', () => {
      let image = offlineThenAllRestarted();
      image = commit(image, alterConfigs(image, { resources: [{ type: 'topic', name: 't', ops: [{ name: 'unclean.leader.election.enable', value: 'true', op: 'SET' }] }], validateOnly: false }, ctx));
      expect(part(image, 't')).toMatchObject({ leader: -1, recovering: true }); // nobody has reported
      const reports = new ReplicaLogReports();
      image = commit(image, beat(image, 3, reports));
      report(image, reports, 3, 2, 50);
      const r = beat(image, 3, reports);
      expect(r.records).toMatchObject([{ leader: 3, isr: [3], unclean: true, recovering: false }]);
    });
  });

  it('with unclean.leader.election.enable=true a live out-of-ISR replica leads, flagged unclean', () => {
    let image = cluster({ 'unclean.leader.election.enable': 'true' });
    image = commit(image, alterPartition(image, { brokerId: 1, brokerEpoch: epoch(image, 1), topicId: '', topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1] }, ctx));
    const r = fenceStaleBrokers(image, { lastHeartbeatMs: new Map([[1, 0], [2, 10_000], [3, 10_000], [4, 10_000]]), nowMs: 10_000, sessionTimeoutMs: 9_000 }, ctx);
    const change = r.records.find((x) => x.type === 'partitionChange');
    expect(change).toMatchObject({ leader: 2, isr: [2], unclean: true });
    image = commit(image, r);
    expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1 });
  });

  it('enabling unclean election on a topic elects its offline partitions', () => {
    let image = cluster();
    image = commit(image, alterPartition(image, { brokerId: 1, brokerEpoch: epoch(image, 1), topicId: '', topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1] }, ctx));
    image = fence(image, 1);
    expect(part(image, 't').leader).toBe(-1);
    image = commit(image, alterConfigs(image, { resources: [{ type: 'topic', name: 't', ops: [{ name: 'unclean.leader.election.enable', value: 'true', op: 'SET' }] }], validateOnly: false }, ctx));
    expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2] });
  });

  it('controlled shutdown moves leadership away, leaves the ISR, then fences', () => {
    let image = cluster();
    const r = controlledShutdown(image, { brokerId: 1, brokerEpoch: epoch(image, 1) }, ctx);
    expect(r.records.map((x) => x.type)).toEqual(['brokerShutdown', 'partitionChange', 'fenceBroker']);
    expect(r.response).toEqual({ ok: true, shouldShutDown: true });
    image = commit(image, r);
    expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1 });
    expect(image.brokers.get(1)).toMatchObject({ fenced: true, inControlledShutdown: true });
    // It cannot be unfenced by heartbeats until it registers again.
    const hb = brokerHeartbeat(image, { brokerId: 1, brokerEpoch: epoch(image, 1), metadataOffset: image.offset, wantShutDown: false }, ctx);
    expect(hb.response).toMatchObject({ ok: true, isFenced: true, shouldShutDown: true });
    expect(hb.records).toEqual([]);
  });
});

describe('alterPartition', () => {
  const base = (): MetadataImage => cluster();
  const req = (image: MetadataImage, over: Partial<Parameters<typeof alterPartition>[1]> = {}): Parameters<typeof alterPartition>[1] => ({
    brokerId: 1, brokerEpoch: epoch(image, 1), topicId: topicByName(image, 't')!.topicId, topic: 't', partition: 0,
    leaderEpoch: 0, partitionEpoch: 0, newIsr: [1, 2], ...over,
  });

  it('shrinks and expands with compare-and-set on partitionEpoch, never touching leaderEpoch', () => {
    let image = base();
    const shrink = alterPartition(image, req(image), ctx);
    expect(shrink.response).toMatchObject({ ok: true, state: { isr: [1, 2], partitionEpoch: 1, leaderEpoch: 0 } });
    image = commit(image, shrink);
    expect(part(image, 't')).toMatchObject({ isr: [1, 2], partitionEpoch: 1, leaderEpoch: 0 });
    const stale = alterPartition(image, req(image, { newIsr: [1, 2, 3] }), ctx);
    expect(stale.response).toMatchObject({ ok: false, error: { code: 'INVALID_UPDATE_VERSION' }, state: { partitionEpoch: 1 } });
    expect(stale.records).toEqual([]);
    image = commit(image, alterPartition(image, req(image, { newIsr: [3, 1, 2], partitionEpoch: 1 }), ctx));
    expect(part(image, 't')).toMatchObject({ isr: [1, 2, 3], partitionEpoch: 2 });
    expect(alterPartition(image, req(image, { newIsr: [1, 2, 3], partitionEpoch: 2 }), ctx).records).toEqual([]);
  });

  it.each<[string, Partial<Parameters<typeof alterPartition>[1]>, string]>([
    ['a stale leader epoch', { leaderEpoch: -1 }, 'FENCED_LEADER_EPOCH'],
    ['a non-leader', { brokerId: 2 }, 'NOT_LEADER_OR_FOLLOWER'],
    ['an ISR without the leader', { newIsr: [2, 3] }, 'INVALID_REQUEST'],
    ['an ISR outside the replicas', { newIsr: [1, 4] }, 'INVALID_REQUEST'],
    ['duplicates', { newIsr: [1, 1] }, 'INVALID_REQUEST'],
    ['an unknown topic id', { topicId: 'nope' }, 'UNKNOWN_TOPIC_ID'],
    ['an unknown partition', { partition: 5 }, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['a stale broker epoch', { brokerEpoch: 0 }, 'STALE_BROKER_EPOCH'],
  ])('refuses %s', (_what, over, code) => {
    const image = base();
    const full = req(image, over);
    if (over.brokerId === 2) Object.assign(full, { brokerEpoch: epoch(image, 2) });
    const r = alterPartition(image, full, ctx);
    expect(r.records).toEqual([]);
    expect(r.response).toMatchObject({ ok: false, error: { code } });
  });

  it('refuses adding a fenced broker (INELIGIBLE_REPLICA)', () => {
    let image = base();
    image = commit(image, alterPartition(image, req(image, { newIsr: [1, 2] }), ctx));
    image = fence(image, 3);
    const r = alterPartition(image, req(image, { newIsr: [1, 2, 3], partitionEpoch: 1 }), ctx);
    expect(r.response).toMatchObject({ ok: false, error: { code: 'INELIGIBLE_REPLICA' } });
  });

  it('refuses adding a broker that re-registered since the fetch the leader saw (KIP-903)', () => {
    let image = base();
    image = commit(image, alterPartition(image, req(image, { newIsr: [1, 2] }), ctx));
    const seen = epoch(image, 3);
    // Broker 3 restarts (a new incarnation, unfenced again once caught up): a new epoch.
    image = commit(image, registerBroker(image, { brokerId: 3, incarnationId: 'restarted', endpoint: { host: 'h', port: 1 }, rack: undefined, roles: ['broker'] }, ctx));
    image = commit(image, brokerHeartbeat(image, { brokerId: 3, brokerEpoch: epoch(image, 3), metadataOffset: image.offset, wantShutDown: false }, ctx));
    expect(epoch(image, 3)).toBeGreaterThan(seen);
    const epochs = (e3: number): { brokerId: number; brokerEpoch: number }[] => [{ brokerId: 1, brokerEpoch: epoch(image, 1) }, { brokerId: 2, brokerEpoch: -1 }, { brokerId: 3, brokerEpoch: e3 }];
    const stale = alterPartition(image, req(image, { newIsr: [1, 2, 3], partitionEpoch: 1, newIsrBrokerEpochs: epochs(seen) }), ctx);
    expect(stale.records).toEqual([]);
    expect(stale.response).toMatchObject({ ok: false, error: { code: 'INELIGIBLE_REPLICA' }, state: { isr: [1, 2], partitionEpoch: 1 } });
    expect(wireErrorCode('INELIGIBLE_REPLICA')).toEqual({ code: 'INVALID_REQUEST', reason: 'INELIGIBLE_REPLICA' });
    // Fetching with its current epoch (or no epoch known, as without the field) it may join.
    const current = alterPartition(image, req(image, { newIsr: [1, 2, 3], partitionEpoch: 1, newIsrBrokerEpochs: epochs(epoch(image, 3)) }), ctx);
    expect(current.response).toMatchObject({ ok: true, state: { isr: [1, 2, 3], partitionEpoch: 2 } });
    expect(alterPartition(image, req(image, { newIsr: [1, 2, 3], partitionEpoch: 1 }), ctx).response).toMatchObject({ ok: true });
  });
});

describe('preferred leader election', () => {
  it('moves leadership back to the preferred replica when it is alive and in the ISR', () => {
    let image = cluster();
    image = fence(image, 1);
    expect(part(image, 't').leader).toBe(2);
    let r = electLeaders(image, { partitions: [{ topic: 't', partition: 0 }] }, ctx);
    expect(r.response.results[0]).toMatchObject({ ok: false, error: { code: 'PREFERRED_LEADER_NOT_AVAILABLE' } });
    image = commit(image, registerBroker(image, { brokerId: 1, incarnationId: 'b', endpoint: { host: 'h', port: 1 }, rack: undefined, roles: ['broker'] }, ctx));
    image = commit(image, brokerHeartbeat(image, { brokerId: 1, brokerEpoch: epoch(image, 1), metadataOffset: image.offset, wantShutDown: false }, ctx));
    // Back, but not in the ISR until the leader adds it.
    expect(electLeaders(image, { partitions: undefined }, ctx).records).toEqual([]);
    const st = part(image, 't');
    image = commit(image, alterPartition(image, { brokerId: 2, brokerEpoch: epoch(image, 2), topicId: '', topic: 't', partition: 0, leaderEpoch: st.leaderEpoch, partitionEpoch: st.partitionEpoch, newIsr: [1, 2, 3] }, ctx));
    r = electLeaders(image, { partitions: undefined }, ctx);
    expect(r.response.results).toEqual([{ ok: true, topic: 't', partition: 0, leader: 1 }]);
    image = commit(image, r);
    expect(part(image, 't')).toMatchObject({ leader: 1, leaderEpoch: st.leaderEpoch + 1 });
    expect(electLeaders(image, { partitions: [{ topic: 't', partition: 0 }] }, ctx).response.results[0]).toMatchObject({ ok: false, error: { code: 'ELECTION_NOT_NEEDED' } });
  });
});

describe('topics, configs, producer ids', () => {
  it('validates CreateTopics per topic', () => {
    const image = withTopic(clusterWith([1, 2], ctx), ctx, 'a.b', 1, 1);
    const r = createTopics(image, {
      topics: [
        { name: 'a.b', numPartitions: 1, replicationFactor: 1, configs: {} },
        { name: 'a_b', numPartitions: 1, replicationFactor: 1, configs: {} },
        { name: 'bad/name', numPartitions: 1, replicationFactor: 1, configs: {} },
        { name: 'zero', numPartitions: 0, replicationFactor: 1, configs: {} },
        { name: 'rf', numPartitions: 1, replicationFactor: 3, configs: {} },
        { name: 'cfg', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } },
        { name: 'ok', numPartitions: -1, replicationFactor: -1, configs: { 'unclean.leader.election.enable': 'TRUE' } },
        { name: 'ok', numPartitions: 1, replicationFactor: 1, configs: {} },
      ],
      validateOnly: false,
    }, ctx);
    expect(r.response.topics.map((t) => (t.ok ? 'ok' : t.error.code))).toEqual([
      'TOPIC_ALREADY_EXISTS', 'INVALID_TOPIC_EXCEPTION', 'INVALID_TOPIC_EXCEPTION', 'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR', 'INVALID_CONFIG', 'ok', 'INVALID_REQUEST',
    ]);
    const next = commit(image, r);
    expect(topicByName(next, 'ok')?.partitions).toHaveLength(1);
    expect(next.topicConfigs.get('ok')?.get('unclean.leader.election.enable')).toBe('true');
    expect(createTopics(image, { topics: [{ name: 'v', numPartitions: 1, replicationFactor: 1, configs: {} }], validateOnly: true }, ctx).records).toEqual([]);
  });

  it('counts only unfenced brokers for the replication factor', () => {
    const image = fence(clusterWith([1, 2, 3], ctx), 3);
    const r = createTopics(image, { topics: [{ name: 'x', numPartitions: 3, replicationFactor: 3, configs: {} }], validateOnly: false }, ctx);
    expect(r.response.topics[0]).toMatchObject({ ok: false, error: { code: 'INVALID_REPLICATION_FACTOR' } });
  });

  it('deletes topics and grows partitions, never shrinks', () => {
    let image = withTopic(clusterWith([1, 2, 3], ctx), ctx, 'g', 2, 2);
    expect(createPartitions(image, { topics: [{ name: 'g', count: 2 }], validateOnly: false }, ctx).response.topics[0]).toMatchObject({ ok: false, error: { code: 'INVALID_PARTITIONS' } });
    image = commit(image, createPartitions(image, { topics: [{ name: 'g', count: 5 }], validateOnly: false }, ctx));
    expect(topicByName(image, 'g')!.partitions.map((p) => p.replicas.length)).toEqual([2, 2, 2, 2, 2]);
    const del = deleteTopics(image, { names: ['g', 'nope'] }, ctx);
    expect(del.response.topics.map((t) => (t.ok ? 'ok' : t.error.code))).toEqual(['ok', 'UNKNOWN_TOPIC_OR_PARTITION']);
    image = commit(image, del);
    expect(image.topicsById.size).toBe(0);
  });

  it('alters topic and broker configs with SET / DELETE and validateOnly', () => {
    let image = withTopic(clusterWith([1], ctx), ctx, 'c', 1, 1, { 'retention.ms': '100' });
    const ops = [{ name: 'retention.ms', value: '', op: 'DELETE' as const }, { name: 'segment.ms', value: '5', op: 'SET' as const }];
    expect(alterConfigs(image, { resources: [{ type: 'topic', name: 'c', ops }], validateOnly: true }, ctx).records).toEqual([]);
    image = commit(image, alterConfigs(image, { resources: [{ type: 'topic', name: 'c', ops }], validateOnly: false }, ctx));
    expect([...image.topicConfigs.get('c')!]).toEqual([['segment.ms', '5']]);
    const bad = alterConfigs(image, { resources: [{ type: 'topic', name: 'c', ops: [{ name: 'nope', value: '1', op: 'SET' }] }, { type: 'topic', name: 'zz', ops: [] }], validateOnly: false }, ctx);
    expect(bad.response.results.map((x) => (x.ok ? 'ok' : x.error.code))).toEqual(['INVALID_CONFIG', 'UNKNOWN_TOPIC_OR_PARTITION']);
    image = commit(image, alterConfigs(image, { resources: [{ type: 'broker', name: '1', ops: [{ name: 'log.retention.ms', value: '7', op: 'SET' }] }, { type: 'broker', name: '', ops: [{ name: 'unclean.leader.election.enable', value: 'false', op: 'SET' }] }], validateOnly: false }, ctx));
    expect(image.brokerConfigs.get('1')?.get('log.retention.ms')).toBe('7');
    expect(image.clusterConfigs.get('unclean.leader.election.enable')).toBe('false');
  });

  it('hands out consecutive blocks of 1000 producer ids to current brokers', () => {
    let image = clusterWith([1], ctx);
    const a = allocateProducerIds(image, { brokerId: 1, brokerEpoch: epoch(image, 1) }, ctx);
    image = commit(image, a);
    const b = allocateProducerIds(image, { brokerId: 1, brokerEpoch: epoch(image, 1) }, ctx);
    expect([a.response, b.response]).toEqual([{ ok: true, firstProducerId: 0, size: 1000 }, { ok: true, firstProducerId: 1000, size: 1000 }]);
    expect(allocateProducerIds(image, { brokerId: 1, brokerEpoch: 0 }, ctx).response).toMatchObject({ ok: false, error: { code: 'STALE_BROKER_EPOCH' } });
  });
});
