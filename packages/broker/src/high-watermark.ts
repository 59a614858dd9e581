// The high watermark rule, pure so that followers' log end offsets can be fed to it:
// HW = min log end offset over the in-sync replicas, and it never moves backwards.

export interface HighWatermarkInputs {
  readonly leaderId: number;
  readonly leaderLogEndOffset: number;
  /** Last known log end offset of each follower (replica id → LEO); missing = unknown. */
  readonly followerLogEndOffsets: ReadonlyMap<number, number>;
  /** In-sync replicas, the leader included. */
  readonly isr: readonly number[];
  readonly currentHighWatermark: number;
}

/**
 * The new high watermark. An ISR member whose LEO is unknown holds the HW where it is (it cannot be
 * shown to have the records). The result is clamped to [currentHighWatermark, leaderLogEndOffset].
 */
export function computeHighWatermark(inputs: HighWatermarkInputs): number {
  let candidate = inputs.leaderLogEndOffset;
  for (const replica of inputs.isr) {
    if (replica === inputs.leaderId) continue;
    const leo = inputs.followerLogEndOffsets.get(replica) ?? inputs.currentHighWatermark;
    candidate = Math.min(candidate, leo);
  }
  return Math.max(inputs.currentHighWatermark, Math.min(candidate, inputs.leaderLogEndOffset));
}
