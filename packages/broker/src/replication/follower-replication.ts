// The follower's replication decisions, pure: where to truncate when the leader reports a diverging
// epoch (leader-epoch truncation, KIP-101/KIP-279 — never the high watermark), and the follower's HW.
import { assert } from '../errors.js';
import type { EpochEndOffset } from '../partition-log.js';

export type TruncationDecision =
  /** Truncate the log to `offset` (records at ≥ offset go), then fetch from the new end. */
  | { readonly kind: 'truncate'; readonly offset: number }
  /** Nothing in our log is known to match: drop everything and restart at the leader's log start. */
  | { readonly kind: 'truncateFully'; readonly startOffset: number };

/**
 * KIP-279: the leader said its log of `diverging.epoch` ends at `diverging.endOffset`. We truncate to
 * the smaller of that and where *our* log of that epoch ends. When we do not have that exact epoch
 * (ours ends in an older one) the truncation is intermediate: the next fetch carries our new last
 * epoch and the leader answers again, so the exchange converges in at most one round per epoch.
 * An unknown diverging epoch (-1): the leader holds no epoch ≤ ours, so nothing we have is known
 * to match; restart at the leader's log start.
 */
export function followerTruncation(args: {
  readonly diverging: EpochEndOffset;
  readonly localLogStartOffset: number;
  readonly localLogEndOffset: number;
  readonly localEndOffsetForEpoch: (epoch: number) => EpochEndOffset | undefined;
  readonly leaderLogStartOffset: number;
}): TruncationDecision {
  const { diverging } = args;
  if (diverging.epoch < 0 || diverging.endOffset < 0) {
    if (args.leaderLogStartOffset > args.localLogStartOffset) return { kind: 'truncateFully', startOffset: args.leaderLogStartOffset };
    return { kind: 'truncate', offset: Math.max(args.localLogStartOffset, args.leaderLogStartOffset) };
  }
  const local = args.localEndOffsetForEpoch(diverging.epoch);
  const localEnd = local === undefined || local.epoch < 0 ? args.localLogStartOffset : local.endOffset;
  const offset = Math.min(diverging.endOffset, localEnd, args.localLogEndOffset);
  assert(offset <= args.localLogEndOffset, `truncation offset ${offset} beyond LEO ${args.localLogEndOffset}`);
  if (offset < args.localLogStartOffset) return { kind: 'truncateFully', startOffset: Math.max(offset, args.leaderLogStartOffset) };
  return { kind: 'truncate', offset };
}

/** A follower's HW: the leader's, capped by what we hold; it only moves back by truncation. */
export function followerHighWatermark(args: { readonly leaderHighWatermark: number; readonly logEndOffset: number; readonly currentHighWatermark: number }): number {
  return Math.min(args.logEndOffset, Math.max(args.currentHighWatermark, Math.min(args.leaderHighWatermark, args.logEndOffset)));
}
