// The metadata state machine as the quorum shell drives it: bytes in (a committed Raft entry's
// MetadataBatch, a Raft snapshot's MetadataSnapshot), images out: the shell's
// `MetadataMachine<MetadataImage>` port (declared by its consumer, quorum/metadata-machine.ts).
import type { MetadataMachine } from '../quorum/metadata-machine.js';
import { applyRecords } from './metadata-apply.js';
import { decodeMetadataBatch } from './metadata-codec.js';
import { type MetadataImage, emptyImage } from './metadata-image.js';
import { encodeImageSnapshot, imageFromSnapshot } from './metadata-snapshot.js';

export type MetadataStateMachine = MetadataMachine<MetadataImage>;

/** The state machine for cluster `clusterId` (the empty image carries it; snapshots carry their own). */
export function metadataStateMachine(clusterId: string): MetadataStateMachine {
  return {
    empty: () => emptyImage(clusterId),
    apply: (image, batch, offset) => applyRecords(image, decodeMetadataBatch(batch), offset),
    snapshot: (image, position) => encodeImageSnapshot({ ...image, clusterId: position.clusterId }, position),
    restore: (bytes) => imageFromSnapshot(bytes),
  };
}
