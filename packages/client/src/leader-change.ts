// Which backing-off retries may go at once because their partition has a new leader: pure.
import { needsMetadataRefresh } from './errors.js';

export interface BackingOffRetry {
  readonly topic: string;
  readonly partition: number;
  /** The error the last attempt failed with. */
  readonly lastError: unknown;
  /** The partition's leader epoch in the client's metadata when that attempt was sent (-1 = unknown). */
  readonly sentLeaderEpoch: number;
}

export interface LeaderView {
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

/**
 * A retry that failed on a leadership or connection error backed off for the leader it was sent to;
 * once the metadata names a newer leader (a higher leader epoch) it is `due` now (as KIP-951 has the
 * Java client do). `waitingForLeader`: some such retry still sees the leader it failed on, so the
 * caller should look at the metadata again soon. Retries that failed for other reasons keep their backoff.
 */
export function retriesOnNewLeader<T extends BackingOffRetry>(
  retries: readonly T[], leaderOf: (topic: string, partition: number) => LeaderView | undefined,
): { readonly due: T[]; readonly waitingForLeader: boolean } {
  const due: T[] = [];
  let waitingForLeader = false;
  for (const r of retries) {
    if (!needsMetadataRefresh(r.lastError)) continue;
    const p = leaderOf(r.topic, r.partition);
    if (p !== undefined && p.leaderId >= 0 && p.leaderEpoch > r.sentLeaderEpoch) due.push(r);
    else waitingForLeader = true;
  }
  return { due, waitingForLeader };
}
