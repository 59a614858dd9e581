// Offline replicas (a broker reports a partition log that failed or could not open; Kafka's offline
// log directories, per replica): the replica leaves the leadership and the ISR of that partition alone,
// is never elected or re-admitted while offline, and a new registration of its broker clears the mark.
import { describe, expect, it } from 'vitest';
import {
  type MetadataImage, type PartitionImage, alterPartition, brokerHeartbeat, createTopics, decodeMetadataBatch, electLeaders,
  encodeImageSnapshot, encodeMetadataBatch, imageFromSnapshot, imageInvariantViolations, registerBroker, topicByName,
} from './core.js';
import { apply, clusterWith, commit, context } from './fixtures.js';

const ctx = context(5);

function part(image: MetadataImage, topic: string, p = 0): PartitionImage {
  return topicByName(image, topic)!.partitions[p]!;
}

/** Brokers 1..4; topics "t" and "u", one partition each, on replicas [1,2,3] led by 1. */
function cluster(): MetadataImage {
  let image = clusterWith([1, 2, 3, 4], ctx);
  const r = createTopics(image, { topics: [{ name: 't', numPartitions: 1, replicationFactor: 3, configs: {} }, { name: 'u', numPartitions: 1, replicationFactor: 3, configs: {} }], validateOnly: false }, ctx);
  return apply(image, r.records.map((x) => (x.type === 'partition' ? { ...x, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 } : x)));
}

function heartbeat(image: MetadataImage, brokerId: number, offline: readonly { topic: string; partition: number }[]) {
  return brokerHeartbeat(image, {
    brokerId, brokerEpoch: image.brokers.get(brokerId)!.brokerEpoch, metadataOffset: image.offset, wantShutDown: false,
    offlineReplicas: offline.map((o) => ({ topicId: topicByName(image, o.topic)?.topicId ?? 'no-such-topic', partition: o.partition })),
  }, ctx);
}

function commitChecked<R>(image: MetadataImage, r: Parameters<typeof commit<R>>[1]): MetadataImage {
  const next = commit(image, r);
  expect(imageInvariantViolations(next)).toEqual([]);
  return next;
}

/** cluster() after broker 1 reported its replica of "t" offline. */
function offlined(): MetadataImage {
  const image = cluster();
  return commitChecked(image, heartbeat(image, 1, [{ topic: 't', partition: 0 }]));
}

describe('offline replicas', () => {
  it('a reported replica leaves leadership and ISR of its partition only; the broker stays unfenced', () => {
    let image = cluster();
    const r = heartbeat(image, 1, [{ topic: 't', partition: 0 }]);
    expect(r.response).toMatchObject({ ok: true, isFenced: false });
    image = commitChecked(image, r);
    expect(part(image, 't')).toMatchObject({ leader: 2, isr: [2, 3], offlineReplicas: [1], leaderEpoch: 1, partitionEpoch: 1 });
    expect(part(image, 'u')).toMatchObject({ leader: 1, isr: [1, 2, 3], offlineReplicas: [] });
    expect(image.brokers.get(1)?.fenced).toBe(false);
    // Reported again every heartbeat: nothing more to record.
    expect(heartbeat(image, 1, [{ topic: 't', partition: 0 }]).records).toEqual([]);
  });

  it('ignores reports of partitions the broker does not host, unknown topics and partitions', () => {
    const image = cluster();
    expect(heartbeat(image, 4, [{ topic: 't', partition: 0 }]).records).toEqual([]);
    expect(heartbeat(image, 1, [{ topic: 'nope', partition: 0 }, { topic: 't', partition: 7 }]).records).toEqual([]);
  });

  it('the last ISR member going offline keeps the partition offline rather than elect an out-of-ISR replica', () => {
    let image = cluster();
    image = commitChecked(image, alterPartition(image, {
      brokerId: 1, brokerEpoch: image.brokers.get(1)!.brokerEpoch, topicId: topicByName(image, 't')!.topicId, topic: 't', partition: 0,
      leaderEpoch: 0, partitionEpoch: 0, newIsr: [1],
    }, ctx));
    image = commitChecked(image, heartbeat(image, 1, [{ topic: 't', partition: 0 }]));
    expect(part(image, 't')).toMatchObject({ leader: -1, isr: [1], offlineReplicas: [1] });
  });

  it('an offline replica is never re-admitted to the ISR nor made preferred leader', () => {
    let image = offlined();
    const p = part(image, 't');
    const expand = alterPartition(image, {
      brokerId: 2, brokerEpoch: image.brokers.get(2)!.brokerEpoch, topicId: topicByName(image, 't')!.topicId, topic: 't', partition: 0,
      leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [1, 2, 3],
    }, ctx);
    expect(expand.records).toEqual([]);
    expect(expand.response).toMatchObject({ ok: false, error: { code: 'INELIGIBLE_REPLICA' } });
    const preferred = electLeaders(image, { partitions: [{ topic: 't', partition: 0 }] }, ctx);
    expect(preferred.records).toEqual([]);
    image = commitChecked(image, preferred);
    expect(part(image, 't').leader).toBe(2);
  });

  it('a new registration of the broker clears its offline marks (it reports again what still fails)', () => {
    let image = offlined();
    image = commitChecked(image, registerBroker(image, { brokerId: 1, incarnationId: 'restarted', endpoint: { host: 'h', port: 1 }, rack: undefined, roles: ['broker'], cleanShutdown: false }, ctx));
    expect(part(image, 't')).toMatchObject({ leader: 2, offlineReplicas: [] });
    expect(image.brokers.get(1)?.fenced).toBe(true);
    // Its first caught-up heartbeat reports the log still failing: marked offline, not unfenced yet...
    const report = heartbeat(image, 1, [{ topic: 't', partition: 0 }]);
    expect(report.response).toMatchObject({ ok: true, isFenced: true });
    image = commitChecked(image, report);
    expect(part(image, 't').offlineReplicas).toEqual([1]);
    // ...the next one unfences it. It may rejoin the ISR of "u" (and lead it again), never of "t".
    image = commitChecked(image, heartbeat(image, 1, [{ topic: 't', partition: 0 }]));
    expect(image.brokers.get(1)?.fenced).toBe(false);
    const rejoin = (topic: string) => {
      const p = part(image, topic);
      return alterPartition(image, {
        brokerId: p.leader, brokerEpoch: image.brokers.get(p.leader)!.brokerEpoch, topicId: topicByName(image, topic)!.topicId, topic, partition: 0,
        leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [1, 2, 3],
      }, ctx);
    };
    expect(rejoin('t').response).toMatchObject({ ok: false, error: { code: 'INELIGIBLE_REPLICA' } });
    image = commitChecked(image, rejoin('u'));
    image = commitChecked(image, electLeaders(image, { partitions: undefined }, ctx));
    expect(part(image, 'u').leader).toBe(1);
    expect(part(image, 't').leader).not.toBe(1);
  });

  it('survives the wire and snapshots', () => {
    const base = cluster();
    const r = heartbeat(base, 1, [{ topic: 't', partition: 0 }]);
    expect(decodeMetadataBatch(encodeMetadataBatch(r.records))).toEqual(r.records);
    const image = commitChecked(base, r);
    const rebuilt = imageFromSnapshot(encodeImageSnapshot(image, { lastOffset: image.offset, lastTerm: 1 }));
    expect(part(rebuilt, 't').offlineReplicas).toEqual([1]);
    expect(part(rebuilt, 'u').offlineReplicas).toEqual([]);
  });
});
