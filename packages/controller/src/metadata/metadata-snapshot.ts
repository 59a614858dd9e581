// The image as the records that rebuild it (a metadata snapshot), its encoding, and a content hash.
import { createHash } from 'node:crypto';
import { applyRecords } from './metadata-apply.js';
import { type MetadataSnapshotData, decodeMetadataSnapshot, encodeMetadataSnapshot } from './metadata-codec.js';
import { MetadataInvariantError } from './metadata-errors.js';
import { type MetadataImage, emptyImage } from './metadata-image.js';
import type { MetadataRecord } from './metadata-records.js';

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Records that rebuild `image` from the empty image (in a deterministic order): brokers (with their
 * epochs and fence state), topics with their configs and partitions, broker and cluster configs, the
 * producer id position. `applyRecords(emptyImage(image.clusterId), imageToRecords(image), image.offset)`
 * equals `image`.
 */
export function imageToRecords(image: MetadataImage): MetadataRecord[] {
  const out: MetadataRecord[] = [];
  const brokers = [...image.brokers.values()].sort((a, b) => a.brokerId - b.brokerId);
  for (const b of brokers) {
    out.push({
      type: 'registerBroker', brokerId: b.brokerId, incarnationId: b.incarnationId, brokerEpoch: b.brokerEpoch,
      endpoint: b.endpoint, rack: b.rack, roles: b.roles, fenced: b.fenced,
    });
    if (b.inControlledShutdown) out.push({ type: 'brokerShutdown', brokerId: b.brokerId, brokerEpoch: b.brokerEpoch });
  }
  const topics = [...image.topicsById.values()].sort((a, b) => byString(a.name, b.name));
  for (const t of topics) {
    out.push({ type: 'topic', name: t.name, topicId: t.topicId, internal: t.internal });
    for (const [name, value] of [...(image.topicConfigs.get(t.name) ?? new Map<string, string>())].sort((a, b) => byString(a[0], b[0]))) {
      out.push({ type: 'config', resourceType: 'topic', resourceName: t.name, name, value });
    }
    for (const p of t.partitions) {
      out.push({
        type: 'partition', topicId: t.topicId, partition: p.partition, replicas: p.replicas, isr: p.isr,
        leader: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch,
        ...(p.recovering ? { recovering: true } : {}),
        ...(p.offlineReplicas.length > 0 ? { offlineReplicas: p.offlineReplicas } : {}),
      });
    }
  }
  for (const [resourceName, configs] of [...image.brokerConfigs].sort((a, b) => byString(a[0], b[0]))) {
    for (const [name, value] of [...configs].sort((a, b) => byString(a[0], b[0]))) {
      out.push({ type: 'config', resourceType: 'broker', resourceName, name, value });
    }
  }
  for (const [name, value] of [...image.clusterConfigs].sort((a, b) => byString(a[0], b[0]))) {
    out.push({ type: 'config', resourceType: 'cluster', resourceName: '', name, value });
  }
  if (image.nextProducerId > 0) out.push({ type: 'producerIdsBlock', brokerId: -1, brokerEpoch: -1, firstProducerId: image.nextProducerId, size: 0 });
  return out;
}

/** The image as an encoded MetadataSnapshot standing at `lastOffset`/`lastTerm`. */
export function encodeImageSnapshot(image: MetadataImage, position: { readonly lastOffset: number; readonly lastTerm: number }): Uint8Array {
  if (position.lastOffset < image.offset) {
    throw new MetadataInvariantError(`snapshot at ${position.lastOffset} behind the image at ${image.offset}`);
  }
  return encodeMetadataSnapshot({ clusterId: image.clusterId, lastOffset: position.lastOffset, lastTerm: position.lastTerm, records: imageToRecords(image) });
}

/** Rebuilds an image from an encoded MetadataSnapshot (MetadataDecodeError / MetadataInvariantError). */
export function imageFromSnapshot(bytes: Uint8Array): MetadataImage {
  return imageFromSnapshotData(decodeMetadataSnapshot(bytes));
}

/** Rebuilds an image from a decoded snapshot (MetadataInvariantError). */
export function imageFromSnapshotData(snap: MetadataSnapshotData): MetadataImage {
  return applyRecords(emptyImage(snap.clusterId), snap.records, snap.lastOffset);
}

/**
 * A stable hash of the image's content (hex sha-256 of its snapshot records, which are sorted): equal
 * for equal metadata whatever order it was built in, and independent of the offset and cluster id.
 */
export function imageHash(image: MetadataImage): string {
  const h = createHash('sha256');
  for (const r of imageToRecords(image)) h.update(canonicalJson(r)).update('\n');
  return h.digest('hex');
}

/** JSON with sorted keys and undefined fields dropped. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort((a, b) => byString(a[0], b[0]));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
