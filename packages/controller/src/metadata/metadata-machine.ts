// The metadata state machine as the quorum shell drives it: bytes in (a committed Raft entry's
// MetadataBatch, a Raft snapshot's MetadataSnapshot), images out. Structurally the shell's
// `MetadataMachine<MetadataImage>` port.
import { applyRecords } from './metadata-apply.js';
import { decodeMetadataBatch } from './metadata-codec.js';
import { type MetadataImage, emptyImage } from './metadata-image.js';
import { encodeImageSnapshot, imageFromSnapshot } from './metadata-snapshot.js';

export interface MetadataStateMachine {
  empty(): MetadataImage;
  apply(image: MetadataImage, batch: Uint8Array, offset: number): MetadataImage;
  snapshot(image: MetadataImage, position: { readonly clusterId: string; readonly lastOffset: number; readonly lastTerm: number }): Uint8Array;
  restore(snapshot: Uint8Array): MetadataImage;
}

/** The state machine for cluster `clusterId` (the empty image carries it; snapshots carry their own). */
export function metadataStateMachine(clusterId: string): MetadataStateMachine {
  return {
    empty: () => emptyImage(clusterId),
    apply: (image, batch, offset) => applyRecords(image, decodeMetadataBatch(batch), offset),
    snapshot: (image, position) => encodeImageSnapshot({ ...image, clusterId: position.clusterId }, position),
    restore: (bytes) => imageFromSnapshot(bytes),
  };
}
