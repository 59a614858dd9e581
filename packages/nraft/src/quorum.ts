// Majority arithmetic over one voter set (nraft changes membership one server at a time, so there is
// never a joint configuration). Pure functions over ids and numbers.
import type { NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/** The number of votes (or acknowledgements) that form a majority of `voterCount` voters. */
export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index replicated on a majority of voters: sort the voters' match indexes descending and
 * take the quorum-th. Voters we know nothing about count as 0. No voters: 0 (nothing can commit).
 */
export function committedIndex(voters: Iterable<NodeId>, matchOf: (id: NodeId) => number | undefined): number {
  const matches: number[] = [];
  for (const id of voters) matches.push(matchOf(id) ?? 0);
  if (matches.length === 0) return 0;
  matches.sort((a, b) => b - a);
  return matches[quorumSize(matches.length) - 1]!;
}

/** Tallies granted/rejected votes from voters (votes from non-voters are ignored). */
export function voteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.size);
  if (voters.size === 0) return 'lost';
  if (granted >= q) return 'won';
  if (voters.size - rejected < q) return 'lost';
  return 'pending';
}

/** Is the set of responsive voters a majority? */
export function hasQuorum(voters: ReadonlySet<NodeId>, isActive: (id: NodeId) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active++;
  return voters.size > 0 && active >= quorumSize(voters.size);
}
