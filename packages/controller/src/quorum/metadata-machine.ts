// The port between the quorum shell and the pure metadata state machine. The shell only moves bytes
// (a Raft entry's data is an encoded MetadataBatch, a Raft snapshot's data an encoded
// MetadataSnapshot); the machine turns them into images. Keeping the shell generic over `Image`
// means the Raft plumbing, liveness timers and watch streams never touch record semantics.

export interface MetadataMachine<Image> {
  /** The image of an empty metadata log. */
  empty(): Image;
  /** Applies one committed entry's MetadataBatch (encoded) at `offset`; pure. */
  apply(image: Image, batch: Uint8Array, offset: number): Image;
  /** The image as one encoded MetadataSnapshot (the records that rebuild it). */
  snapshot(image: Image, position: { readonly clusterId: string; readonly lastOffset: number; readonly lastTerm: number }): Uint8Array;
  /** Rebuilds the image from an encoded MetadataSnapshot. */
  restore(snapshot: Uint8Array): Image;
}
