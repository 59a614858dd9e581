import { describe, expect, it } from 'vitest';
import {
  type MetadataImage, type MetadataRecord, MetadataDecodeError, MetadataInvariantError, applyRecords, decodeMetadataBatch,
  diffImages, emptyImage, encodeImageSnapshot, encodeMetadataBatch, imageFromSnapshot, imageHash, imageToRecords,
  localChanges, metadataStateMachine, topicByName,
} from '../control/core.js';
import { tributary } from '@tributary/protocol';

const T = 'AAAAAAAAAAAAAAAAAAAAAA';

function register(brokerId: number, fenced = false, brokerEpoch = 0): MetadataRecord {
  return { type: 'registerBroker', brokerId, incarnationId: `i${brokerId}`, brokerEpoch, endpoint: { host: 'h', port: 9000 + brokerId }, rack: undefined, roles: ['broker'], fenced };
}

/** Brokers 1..3 unfenced, topic "t" with partition 0 on [1,2,3], leader 1. */
function base(): MetadataImage {
  return applyRecords(emptyImage('c'), [
    register(1), register(2), register(3),
    { type: 'topic', name: 't', topicId: T, internal: false },
    { type: 'partition', topicId: T, partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
  ], 1);
}

function change(fields: Partial<Extract<MetadataRecord, { type: 'partitionChange' }>>): MetadataRecord {
  return { type: 'partitionChange', topicId: T, partition: 0, leader: undefined, isr: undefined, replicas: undefined, leaderEpoch: 0, partitionEpoch: 1, unclean: false, ...fields };
}

describe('codec', () => {
  const every: MetadataRecord[] = [
    register(1, true, 5),
    { type: 'registerBroker', brokerId: 2, incarnationId: 'x', brokerEpoch: 0, endpoint: { host: 'a', port: 1 }, rack: 'r1', roles: ['broker', 'controller'], fenced: false },
    { type: 'unregisterBroker', brokerId: 1, brokerEpoch: 5 },
    { type: 'fenceBroker', brokerId: 1, brokerEpoch: 5 },
    { type: 'unfenceBroker', brokerId: 1, brokerEpoch: 5 },
    { type: 'brokerShutdown', brokerId: 1, brokerEpoch: 5 },
    { type: 'topic', name: 't', topicId: T, internal: true },
    { type: 'partition', topicId: T, partition: 3, replicas: [1, 2], isr: [2], leader: -1, leaderEpoch: 7, partitionEpoch: 9 },
    change({ leader: 2, isr: [2], replicas: [2, 1], leaderEpoch: 3, partitionEpoch: 4, unclean: true }),
    change({}),
    { type: 'config', resourceType: 'topic', resourceName: 't', name: 'retention.ms', value: '10' },
    { type: 'config', resourceType: 'broker', resourceName: '3', name: 'x', value: '' },
    { type: 'config', resourceType: 'cluster', resourceName: '', name: 'y', value: undefined },
    { type: 'producerIdsBlock', brokerId: 1, brokerEpoch: 5, firstProducerId: 2 ** 40, size: 1000 },
    { type: 'removeTopic', topicId: T },
  ];

  it('round-trips every record kind', () => {
    expect(decodeMetadataBatch(encodeMetadataBatch(every))).toEqual(every);
  });

  it('rejects garbage and empty records with MetadataDecodeError', () => {
    expect(() => decodeMetadataBatch(new Uint8Array([0x0a, 0xff, 0xff, 0xff]))).toThrow(MetadataDecodeError);
    const empty = tributary.internal.v1.MetadataBatch.encode({ records: [{}] }).finish();
    expect(() => decodeMetadataBatch(empty)).toThrow(/no record kind/);
  });
});

describe('applyRecords', () => {
  it('stamps the batch offset as the epoch of a registration that says 0', () => {
    const img = applyRecords(emptyImage(), [register(4)], 17);
    expect(img.brokers.get(4)?.brokerEpoch).toBe(17);
    expect(img.offset).toBe(17);
    expect(() => applyRecords(img, [register(4)], 17)).toThrow(/does not exceed/);
  });

  it.each<[string, MetadataRecord[]]>([
    ['leader outside the replicas', [change({ leader: 4, leaderEpoch: 1 })]],
    ['ISR outside the replicas', [change({ isr: [1, 4] })]],
    ['leader outside the new ISR', [change({ isr: [2, 3] })]],
    ['a new leader from outside the ISR, not flagged unclean', [change({ isr: [1, 2] }), change({ leader: 3, isr: [3], leaderEpoch: 1, partitionEpoch: 2 })]],
    ['unclean flag on a clean election', [change({ leader: 2, leaderEpoch: 1, unclean: true })]],
    ['a leader change without a leader epoch bump', [change({ leader: 2 })]],
    ['a leader epoch bump without a leader change', [change({ leaderEpoch: 1 })]],
    ['a partition epoch that does not advance', [change({ isr: [1, 2], partitionEpoch: 0 })]],
    ['a partition epoch that skips', [change({ isr: [1, 2], partitionEpoch: 2 })]],
    ['an empty ISR', [change({ leader: -1, isr: [], leaderEpoch: 1 })]],
    ['an unknown topic id', [{ ...change({}), topicId: 'nope' } as MetadataRecord]],
    ['an unknown partition', [change({ partition: 1 })]],
    ['a fenced broker joining the ISR', [change({ isr: [1, 2] }), { type: 'fenceBroker', brokerId: 3, brokerEpoch: 1 }, change({ isr: [1, 2, 3], partitionEpoch: 2 })]],
    ['a fenced new leader', [{ type: 'fenceBroker', brokerId: 2, brokerEpoch: 1 }, change({ leader: 2, leaderEpoch: 1 })]],
    ['a duplicate topic name', [{ type: 'topic', name: 't', topicId: 'other', internal: false }]],
    ['partitions out of order', [{ type: 'partition', topicId: T, partition: 2, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }]],
    ['duplicate replicas', [{ type: 'partition', topicId: T, partition: 1, replicas: [1, 1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }]],
    ['a fence with a stale broker epoch', [{ type: 'fenceBroker', brokerId: 2, brokerEpoch: 0 }]],
    ['an unknown broker', [{ type: 'unfenceBroker', brokerId: 9, brokerEpoch: 1 }]],
    ['producer ids going back', [{ type: 'producerIdsBlock', brokerId: 1, brokerEpoch: 1, firstProducerId: 1000, size: 1000 }, { type: 'producerIdsBlock', brokerId: 1, brokerEpoch: 1, firstProducerId: 0, size: 1000 }]],
    ['a config for an unknown topic', [{ type: 'config', resourceType: 'topic', resourceName: 'nope', name: 'a', value: 'b' }]],
  ])('rejects %s', (_what, records) => {
    const img = base();
    const before = imageHash(img);
    expect(() => applyRecords(img, records, 2)).toThrow(MetadataInvariantError);
    expect(imageHash(img)).toBe(before);
  });

  it('accepts an unclean election that takes the leader from outside the ISR', () => {
    let img = applyRecords(base(), [change({ isr: [1] })], 2);
    img = applyRecords(img, [change({ leader: 3, isr: [3], leaderEpoch: 1, partitionEpoch: 2, unclean: true })], 3);
    expect(topicByName(img, 't')?.partitions[0]).toMatchObject({ leader: 3, isr: [3], leaderEpoch: 1, partitionEpoch: 2 });
  });

  it('rejects an offset going back', () => {
    expect(() => applyRecords(base(), [], 0)).toThrow(MetadataInvariantError);
  });

  it('removes a topic and its configs', () => {
    let img = applyRecords(base(), [{ type: 'config', resourceType: 'topic', resourceName: 't', name: 'retention.ms', value: '5' }], 2);
    expect(img.topicConfigs.get('t')?.get('retention.ms')).toBe('5');
    img = applyRecords(img, [{ type: 'removeTopic', topicId: T }], 3);
    expect(img.topicsById.size).toBe(0);
    expect(img.topicIdsByName.size).toBe(0);
    expect(img.topicConfigs.size).toBe(0);
  });
});

describe('snapshots and hashes', () => {
  function rich(): MetadataImage {
    return applyRecords(base(), [
      change({ leader: -1, isr: [1], leaderEpoch: 1 }),
      { type: 'fenceBroker', brokerId: 1, brokerEpoch: 1 },
      { type: 'brokerShutdown', brokerId: 2, brokerEpoch: 1 },
      { type: 'config', resourceType: 'topic', resourceName: 't', name: 'b', value: '2' },
      { type: 'config', resourceType: 'topic', resourceName: 't', name: 'a', value: '1' },
      { type: 'config', resourceType: 'broker', resourceName: '2', name: 'k', value: 'v' },
      { type: 'config', resourceType: 'cluster', resourceName: '', name: 'unclean.leader.election.enable', value: 'true' },
      { type: 'producerIdsBlock', brokerId: 3, brokerEpoch: 1, firstProducerId: 0, size: 1000 },
    ], 9);
  }

  it('rebuilds the same image from its records and from an encoded snapshot', () => {
    const img = rich();
    const rebuilt = applyRecords(emptyImage(img.clusterId), imageToRecords(img), img.offset);
    expect(rebuilt).toEqual(img);
    const restored = imageFromSnapshot(encodeImageSnapshot(img, { lastOffset: 9, lastTerm: 2 }));
    expect(restored).toEqual(img);
    expect(imageHash(restored)).toBe(imageHash(img));
  });

  it('hashes content only: not the offset, not the order configs were set in', () => {
    const a = rich();
    const b = applyRecords(base(), [
      change({ leader: -1, isr: [1], leaderEpoch: 1 }),
      { type: 'fenceBroker', brokerId: 1, brokerEpoch: 1 },
      { type: 'brokerShutdown', brokerId: 2, brokerEpoch: 1 },
      { type: 'config', resourceType: 'cluster', resourceName: '', name: 'unclean.leader.election.enable', value: 'true' },
      { type: 'config', resourceType: 'topic', resourceName: 't', name: 'a', value: '1' },
      { type: 'config', resourceType: 'topic', resourceName: 't', name: 'b', value: '2' },
      { type: 'config', resourceType: 'broker', resourceName: '2', name: 'k', value: 'v' },
      { type: 'producerIdsBlock', brokerId: 3, brokerEpoch: 1, firstProducerId: 0, size: 1000 },
    ], 42);
    expect(imageHash(b)).toBe(imageHash(a));
    const c = applyRecords(a, [{ type: 'config', resourceType: 'topic', resourceName: 't', name: 'a', value: '2' }], 43);
    expect(imageHash(c)).not.toBe(imageHash(a));
  });

  it('drives through the shell port (bytes in, images out)', () => {
    const m = metadataStateMachine('cluster-x');
    let img = m.empty();
    img = m.apply(img, encodeMetadataBatch(imageToRecords(rich())), 3);
    const back = m.restore(m.snapshot(img, { clusterId: 'cluster-x', lastOffset: 3, lastTerm: 1 }));
    expect(back.clusterId).toBe('cluster-x');
    expect(imageHash(back)).toBe(imageHash(img));
  });
});

describe('diffImages', () => {
  it('reports created and deleted topics and local leader / follower changes', () => {
    const prev = base();
    const next = applyRecords(prev, [
      change({ leader: 2, isr: [2, 3], leaderEpoch: 1 }),
      { type: 'topic', name: 'u', topicId: 'U', internal: false },
      { type: 'partition', topicId: 'U', partition: 0, replicas: [3, 1], isr: [3, 1], leader: 3, leaderEpoch: 0, partitionEpoch: 0 },
    ], 2);
    const diff = diffImages(prev, next);
    expect(diff.createdTopics.map((t) => t.name)).toEqual(['u']);
    expect(diff.changedPartitions).toHaveLength(2);
    expect(localChanges(diff, 2).leaders.map((d) => d.topic.name)).toEqual(['t']);
    expect(localChanges(diff, 1).followers.map((d) => d.topic.name).sort()).toEqual(['t', 'u']);
    expect(localChanges(diff, 3).leaders.map((d) => d.topic.name)).toEqual(['u']);
    expect(localChanges(diff, 3).followers.map((d) => d.topic.name)).toEqual(['t']);
    const gone = diffImages(next, applyRecords(next, [{ type: 'removeTopic', topicId: T }], 3));
    expect(gone.deletedTopics.map((t) => t.name)).toEqual(['t']);
    expect(localChanges(gone, 1).removed.map((r) => r.topic.name)).toEqual(['t']);
    expect(diffImages(next, next).changedPartitions).toEqual([]);
  });
});
