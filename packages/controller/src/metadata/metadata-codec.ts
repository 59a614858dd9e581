// Domain records <-> the wire (tributary.internal.v1.MetadataBatch / MetadataSnapshot). Decoding
// checks every field it converts: garbage never reaches applyRecords as a half-formed record.
import { tributary } from '@tributary/protocol';
import { MetadataDecodeError } from './metadata-errors.js';
import type { ConfigResourceType, MetadataRecord } from './metadata-records.js';

import pb = tributary.internal.v1;

/** A decoded MetadataSnapshot: the records that rebuild the image, and where it stands in the log. */
export interface MetadataSnapshotData {
  readonly clusterId: string;
  /** Raft index of the last entry the snapshot includes. */
  readonly lastOffset: number;
  readonly lastTerm: number;
  readonly records: readonly MetadataRecord[];
}

const RESOURCE_TO_WIRE: Record<ConfigResourceType, pb.ConfigResourceKind> = {
  topic: pb.ConfigResourceKind.CONFIG_TOPIC,
  broker: pb.ConfigResourceKind.CONFIG_BROKER,
  cluster: pb.ConfigResourceKind.CONFIG_CLUSTER,
};

export function recordToWire(r: MetadataRecord): pb.IMetadataRecord {
  switch (r.type) {
    case 'registerBroker':
      return { registerBroker: {
        brokerId: r.brokerId, incarnationId: r.incarnationId, brokerEpoch: r.brokerEpoch,
        endpoint: { host: r.endpoint.host, port: r.endpoint.port }, rack: r.rack ?? '', roles: [...r.roles], fenced: r.fenced,
      } };
    case 'unregisterBroker':
      return { unregisterBroker: { brokerId: r.brokerId, brokerEpoch: r.brokerEpoch } };
    case 'fenceBroker':
      return { fenceBroker: { brokerId: r.brokerId, brokerEpoch: r.brokerEpoch } };
    case 'unfenceBroker':
      return { unfenceBroker: { brokerId: r.brokerId, brokerEpoch: r.brokerEpoch } };
    case 'brokerShutdown':
      return { brokerShutdown: { brokerId: r.brokerId, brokerEpoch: r.brokerEpoch } };
    case 'topic':
      return { topic: { name: r.name, topicId: r.topicId, internal: r.internal } };
    case 'partition':
      return { partition: {
        topicId: r.topicId, partition: r.partition, replicas: [...r.replicas], isr: [...r.isr],
        leader: r.leader, leaderEpoch: r.leaderEpoch, partitionEpoch: r.partitionEpoch, recovering: r.recovering === true,
        offlineReplicas: r.offlineReplicas === undefined ? [] : [...r.offlineReplicas],
      } };
    case 'partitionChange':
      return { partitionChange: {
        topicId: r.topicId, partition: r.partition,
        hasLeader: r.leader !== undefined, leader: r.leader ?? 0,
        hasIsr: r.isr !== undefined, isr: r.isr === undefined ? [] : [...r.isr],
        hasReplicas: r.replicas !== undefined, replicas: r.replicas === undefined ? [] : [...r.replicas],
        leaderEpoch: r.leaderEpoch, partitionEpoch: r.partitionEpoch, unclean: r.unclean,
        hasRecovering: r.recovering !== undefined, recovering: r.recovering === true,
        hasOfflineReplicas: r.offlineReplicas !== undefined, offlineReplicas: r.offlineReplicas === undefined ? [] : [...r.offlineReplicas],
      } };
    case 'config':
      return { config: {
        resourceType: RESOURCE_TO_WIRE[r.resourceType], resourceName: r.resourceName, name: r.name,
        value: r.value ?? '', delete: r.value === undefined,
      } };
    case 'producerIdsBlock':
      return { producerIdsBlock: { brokerId: r.brokerId, brokerEpoch: r.brokerEpoch, firstProducerId: r.firstProducerId, size: r.size } };
    case 'removeTopic':
      return { removeTopic: { topicId: r.topicId } };
  }
}

/** protobufjs may hand back Long-like objects for int64 when `long` is loadable; accept both. */
function int(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'object' && value !== null ? Number(String(value)) : NaN;
  if (!Number.isSafeInteger(n)) throw new MetadataDecodeError(`${field}: not a safe integer (${String(value)})`);
  return n;
}

function ints(values: readonly unknown[] | null | undefined, field: string): number[] {
  return (values ?? []).map((v, i) => int(v, `${field}[${i}]`));
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new MetadataDecodeError(`${field}: not a string`);
  return value;
}

function required<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) throw new MetadataDecodeError(`${field}: missing`);
  return value;
}

export function recordFromWire(w: pb.IMetadataRecord, where = 'record'): MetadataRecord {
  const kind = (w as pb.MetadataRecord).record ?? Object.keys(w).find((k) => (w as Record<string, unknown>)[k] != null);
  switch (kind) {
    case 'registerBroker': {
      const r = required(w.registerBroker, where);
      const endpoint = required(r.endpoint, `${where}.registerBroker.endpoint`);
      const rack = str(r.rack ?? '', `${where}.registerBroker.rack`);
      return {
        type: 'registerBroker', brokerId: int(r.brokerId ?? 0, `${where}.registerBroker.brokerId`),
        incarnationId: str(r.incarnationId ?? '', `${where}.registerBroker.incarnationId`),
        brokerEpoch: int(r.brokerEpoch ?? 0, `${where}.registerBroker.brokerEpoch`),
        endpoint: { host: str(endpoint.host ?? '', `${where}.registerBroker.endpoint.host`), port: int(endpoint.port ?? 0, `${where}.registerBroker.endpoint.port`) },
        rack: rack === '' ? undefined : rack,
        roles: (r.roles ?? []).map((x, i) => str(x, `${where}.registerBroker.roles[${i}]`)),
        fenced: r.fenced === true,
      };
    }
    case 'unregisterBroker':
    case 'fenceBroker':
    case 'unfenceBroker':
    case 'brokerShutdown': {
      const r = required(w[kind], where);
      return { type: kind, brokerId: int(r.brokerId ?? 0, `${where}.${kind}.brokerId`), brokerEpoch: int(r.brokerEpoch ?? 0, `${where}.${kind}.brokerEpoch`) };
    }
    case 'topic': {
      const r = required(w.topic, where);
      return { type: 'topic', name: str(r.name ?? '', `${where}.topic.name`), topicId: str(r.topicId ?? '', `${where}.topic.topicId`), internal: r.internal === true };
    }
    case 'partition': {
      const r = required(w.partition, where);
      return {
        type: 'partition', topicId: str(r.topicId ?? '', `${where}.partition.topicId`), partition: int(r.partition ?? 0, `${where}.partition.partition`),
        replicas: ints(r.replicas, `${where}.partition.replicas`), isr: ints(r.isr, `${where}.partition.isr`),
        leader: int(r.leader ?? 0, `${where}.partition.leader`), leaderEpoch: int(r.leaderEpoch ?? 0, `${where}.partition.leaderEpoch`),
        partitionEpoch: int(r.partitionEpoch ?? 0, `${where}.partition.partitionEpoch`),
        ...(r.recovering === true ? { recovering: true } : {}),
        ...((r.offlineReplicas ?? []).length > 0 ? { offlineReplicas: ints(r.offlineReplicas, `${where}.partition.offlineReplicas`) } : {}),
      };
    }
    case 'partitionChange': {
      const r = required(w.partitionChange, where);
      const f = `${where}.partitionChange`;
      return {
        type: 'partitionChange', topicId: str(r.topicId ?? '', `${f}.topicId`), partition: int(r.partition ?? 0, `${f}.partition`),
        leader: r.hasLeader === true ? int(r.leader ?? 0, `${f}.leader`) : undefined,
        isr: r.hasIsr === true ? ints(r.isr, `${f}.isr`) : undefined,
        replicas: r.hasReplicas === true ? ints(r.replicas, `${f}.replicas`) : undefined,
        leaderEpoch: int(r.leaderEpoch ?? 0, `${f}.leaderEpoch`), partitionEpoch: int(r.partitionEpoch ?? 0, `${f}.partitionEpoch`),
        unclean: r.unclean === true,
        ...(r.hasRecovering === true ? { recovering: r.recovering === true } : {}),
        ...(r.hasOfflineReplicas === true ? { offlineReplicas: ints(r.offlineReplicas, `${f}.offlineReplicas`) } : {}),
      };
    }
    case 'config': {
      const r = required(w.config, where);
      const kindCode = r.resourceType ?? pb.ConfigResourceKind.CONFIG_TOPIC;
      const resourceType: ConfigResourceType | undefined = kindCode === pb.ConfigResourceKind.CONFIG_TOPIC ? 'topic'
        : kindCode === pb.ConfigResourceKind.CONFIG_BROKER ? 'broker' : kindCode === pb.ConfigResourceKind.CONFIG_CLUSTER ? 'cluster' : undefined;
      if (resourceType === undefined) throw new MetadataDecodeError(`${where}.config.resourceType: unknown kind ${String(kindCode)}`);
      return {
        type: 'config', resourceType, resourceName: str(r.resourceName ?? '', `${where}.config.resourceName`),
        name: str(r.name ?? '', `${where}.config.name`), value: r.delete === true ? undefined : str(r.value ?? '', `${where}.config.value`),
      };
    }
    case 'producerIdsBlock': {
      const r = required(w.producerIdsBlock, where);
      const f = `${where}.producerIdsBlock`;
      return {
        type: 'producerIdsBlock', brokerId: int(r.brokerId ?? 0, `${f}.brokerId`), brokerEpoch: int(r.brokerEpoch ?? 0, `${f}.brokerEpoch`),
        firstProducerId: int(r.firstProducerId ?? 0, `${f}.firstProducerId`), size: int(r.size ?? 0, `${f}.size`),
      };
    }
    case 'removeTopic': {
      const r = required(w.removeTopic, where);
      return { type: 'removeTopic', topicId: str(r.topicId ?? '', `${where}.removeTopic.topicId`) };
    }
    default:
      throw new MetadataDecodeError(`${where}: no record kind set (unknown or empty oneof)`);
  }
}

function decodeWire<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw new MetadataDecodeError(`not a valid ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** One Raft entry's data. */
export function encodeMetadataBatch(records: readonly MetadataRecord[]): Uint8Array {
  return pb.MetadataBatch.encode({ records: records.map(recordToWire) }).finish();
}

/** Throws MetadataDecodeError on bytes that are not a MetadataBatch of known records. */
export function decodeMetadataBatch(bytes: Uint8Array): MetadataRecord[] {
  const batch = decodeWire('MetadataBatch', () => pb.MetadataBatch.decode(bytes));
  return batch.records.map((r, i) => recordFromWire(r, `records[${i}]`));
}

export function snapshotToWire(s: MetadataSnapshotData): pb.IMetadataSnapshot {
  return { clusterId: s.clusterId, lastOffset: s.lastOffset, lastTerm: s.lastTerm, records: s.records.map(recordToWire) };
}

export function snapshotFromWire(w: pb.IMetadataSnapshot): MetadataSnapshotData {
  return {
    clusterId: str(w.clusterId ?? '', 'clusterId'),
    lastOffset: int(w.lastOffset ?? 0, 'lastOffset'),
    lastTerm: int(w.lastTerm ?? 0, 'lastTerm'),
    records: (w.records ?? []).map((r, i) => recordFromWire(r, `records[${i}]`)),
  };
}

export function encodeMetadataSnapshot(s: MetadataSnapshotData): Uint8Array {
  return pb.MetadataSnapshot.encode(snapshotToWire(s)).finish();
}

/** Throws MetadataDecodeError on bytes that are not a MetadataSnapshot of known records. */
export function decodeMetadataSnapshot(bytes: Uint8Array): MetadataSnapshotData {
  return snapshotFromWire(decodeWire('MetadataSnapshot', () => pb.MetadataSnapshot.decode(bytes)));
}
