// Structural checks on a message from a peer, before raft looks at its term. Pure.
//
// Everything a peer sends is hostile until checked: a message whose numbers are not what any
// correct raft node could send (negative or fractional indexes, entries that do not follow the
// index they claim to follow, terms going back inside an append, entries from a term later than the
// message's own) is refused here, so none of it can reach an invariant further in. Invariants are for
// our own state; remote input gets a reason and is dropped (which raft tolerates like a lost packet).
// Values that are well formed but beyond what this node can know (a commit index past the end of
// its log) are not refused here: the handlers clamp them, as etcd-raft does.
import type { Entry, Message, Snapshot } from './types.js';

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isId(v: unknown): v is number {
  return isCount(v) && v > 0;
}

function checkEntries(m: Message): string | undefined {
  const entries: readonly Entry[] = m.entries;
  if (!Array.isArray(entries)) return 'entries is not a list';
  if (entries.length === 0) return undefined;
  if (m.type !== 'app') return `${m.type} carries ${entries.length} entries`;
  let prevTerm = m.logTerm;
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    if (!isCount(e.index) || !isCount(e.term)) return `entry ${k} has index ${String(e.index)} term ${String(e.term)}`;
    if (e.index !== m.index + 1 + k) return `entry ${k} has index ${e.index}, expected ${m.index + 1 + k} (after ${m.index})`;
    if (e.term < 1 || e.term < prevTerm) return `entry ${e.index} has term ${e.term} after term ${prevTerm}`;
    if (e.term > m.term) return `entry ${e.index} has term ${e.term} beyond the message term ${m.term}`;
    if (e.type !== 'normal' && e.type !== 'conf-change') return `entry ${e.index} has type ${String(e.type)}`;
    if (!(e.data instanceof Uint8Array)) return `entry ${e.index} has no data bytes`;
    prevTerm = e.term;
  }
  return undefined;
}

function checkSnapshot(m: Message): string | undefined {
  const s: Snapshot | undefined = m.snapshot;
  if (s === undefined) return m.type === 'snap' ? 'snap without a snapshot' : undefined;
  if (m.type !== 'snap') return `${m.type} carries a snapshot`;
  const md = s.metadata;
  if (!isId(md.index) || !isId(md.term)) return `snapshot at index ${String(md.index)} term ${String(md.term)}`;
  if (md.term > m.term) return `snapshot term ${md.term} beyond the message term ${m.term}`;
  const { voters, learners } = md.confState;
  if (!Array.isArray(voters) || !Array.isArray(learners)) return 'snapshot membership is not two lists';
  if (voters.length === 0) return 'snapshot membership has no voters';
  if (!voters.every(isId) || !learners.every(isId)) return 'snapshot membership has an invalid node id';
  if (!(s.data instanceof Uint8Array)) return 'snapshot has no data bytes';
  return undefined;
}

/** Why `m` cannot come from a correct raft node, or undefined when it is well formed. */
export function malformedReason(m: Message): string | undefined {
  if (!isId(m.from) || !isId(m.to)) return `from ${String(m.from)} to ${String(m.to)}`;
  for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    if (!isCount(m[field])) return `${field} ${String(m[field])} is not a non-negative integer`;
  }
  if (m.rejectHintTerm !== undefined && !isCount(m.rejectHintTerm)) return `rejectHintTerm ${String(m.rejectHintTerm)} is not a non-negative integer`;
  if (typeof m.reject !== 'boolean') return 'reject is not a boolean';
  if (!(m.context instanceof Uint8Array)) return 'context is not bytes';
  if (m.type === 'app' && m.logTerm > m.term) return `logTerm ${m.logTerm} beyond the message term ${m.term}`;
  if ((m.type === 'vote' || m.type === 'pre-vote') && m.logTerm > m.term) return `last log term ${m.logTerm} beyond the campaign term ${m.term}`;
  return checkEntries(m) ?? checkSnapshot(m);
}
