// Conversion between nraft's Message and the wire RaftMessage (proto/tributary/internal/v1/raft.proto).
// Pure: no I/O. Decoding validates what raft would otherwise trust blindly (types, node ids, index
// ranges) and throws RaftMessageDecodeError; the transport logs and drops such messages.
import type { ConfState, Entry, EntryType, Message, MessageType, Snapshot } from '@tributary/nraft';
import { tributary } from '@tributary/protocol';

import pb = tributary.internal.v1;

const TYPE_TO_WIRE: Readonly<Record<MessageType, pb.RaftMessageType>> = {
  app: pb.RaftMessageType.MSG_APP,
  'app-resp': pb.RaftMessageType.MSG_APP_RESP,
  vote: pb.RaftMessageType.MSG_VOTE,
  'vote-resp': pb.RaftMessageType.MSG_VOTE_RESP,
  'pre-vote': pb.RaftMessageType.MSG_PRE_VOTE,
  'pre-vote-resp': pb.RaftMessageType.MSG_PRE_VOTE_RESP,
  heartbeat: pb.RaftMessageType.MSG_HEARTBEAT,
  'heartbeat-resp': pb.RaftMessageType.MSG_HEARTBEAT_RESP,
  snap: pb.RaftMessageType.MSG_SNAP,
  'timeout-now': pb.RaftMessageType.MSG_TIMEOUT_NOW,
  'read-index': pb.RaftMessageType.MSG_READ_INDEX,
  'read-index-resp': pb.RaftMessageType.MSG_READ_INDEX_RESP,
  'transfer-leader': pb.RaftMessageType.MSG_TRANSFER_LEADER,
};

const TYPE_FROM_WIRE: ReadonlyMap<number, MessageType> = new Map(
  (Object.entries(TYPE_TO_WIRE) as [MessageType, pb.RaftMessageType][]).map(([t, w]) => [w, t]),
);

const EMPTY = new Uint8Array(0);

/** Bytes from a peer that do not make a valid raft message. Not retriable: the sender is broken. */
export class RaftMessageDecodeError extends Error {
  override readonly name = 'RaftMessageDecodeError';
  readonly code = 'RAFT_MESSAGE_INVALID';
  readonly retriable = false;
}

function encodeEntryType(t: EntryType): pb.RaftEntryType {
  return t === 'conf-change' ? pb.RaftEntryType.ENTRY_CONF_CHANGE : pb.RaftEntryType.ENTRY_NORMAL;
}

function encodeEntry(e: Entry): pb.RaftEntry.$Properties {
  return { term: e.term, index: e.index, type: encodeEntryType(e.type), data: e.data };
}

function encodeConfState(cs: ConfState): pb.RaftConfState.$Properties {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}

function encodeSnapshot(s: Snapshot): pb.RaftSnapshot.$Properties {
  return {
    metadata: { index: s.metadata.index, term: s.metadata.term, confState: encodeConfState(s.metadata.confState) },
    data: s.data,
  };
}

export function encodeRaftMessage(m: Message): pb.RaftMessage.$Properties {
  const out: pb.RaftMessage.$Properties = {
    type: TYPE_TO_WIRE[m.type],
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(encodeEntry),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    rejectHintTerm: m.rejectHintTerm ?? 0,
    context: m.context,
  };
  if (m.snapshot !== undefined) out.snapshot = encodeSnapshot(m.snapshot);
  return out;
}

/** protobufjs hands uint64 fields over as a Long at run time (its types say number); accept both. */
function toNumber(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    // Beyond 2^53 the value cannot be a raft index, term or node id.
    return high >>> 0 >= 0x20_0000 ? Number.NaN : (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
  }
  return Number.NaN;
}

function count(value: unknown, field: string, min = 0): number {
  const v = toNumber(value);
  if (!Number.isSafeInteger(v) || v < min) throw new RaftMessageDecodeError(`${field} out of range: ${String(value)}`);
  return v;
}

function bytes(value: Uint8Array | null | undefined): Uint8Array {
  if (value === null || value === undefined || value.byteLength === 0) return EMPTY;
  // Copy out of the (shared, pooled) wire buffer: raft keeps entries for a long time.
  return new Uint8Array(value);
}

function decodeEntry(e: pb.RaftEntry.$Properties, expectedIndex: number): Entry {
  const index = count(e.index, 'entry.index', 1);
  if (expectedIndex > 0 && index !== expectedIndex) throw new RaftMessageDecodeError(`entries not contiguous at ${index}`);
  let type: EntryType;
  if ((e.type ?? 0) === pb.RaftEntryType.ENTRY_NORMAL) type = 'normal';
  else if (e.type === pb.RaftEntryType.ENTRY_CONF_CHANGE) type = 'conf-change';
  else throw new RaftMessageDecodeError(`unknown entry type ${String(e.type)}`);
  return { term: count(e.term, 'entry.term'), index, type, data: bytes(e.data) };
}

function decodeIds(ids: readonly number[] | null | undefined, field: string): number[] {
  return (ids ?? []).map((id) => count(id, field, 1));
}

function decodeSnapshot(s: pb.RaftSnapshot.$Properties): Snapshot {
  const md = s.metadata;
  if (md === null || md === undefined) throw new RaftMessageDecodeError('snapshot without metadata');
  const cs = md.confState;
  return {
    metadata: {
      index: count(md.index, 'snapshot.index'),
      term: count(md.term, 'snapshot.term'),
      confState: { voters: decodeIds(cs?.voters, 'voter'), learners: decodeIds(cs?.learners, 'learner') },
    },
    data: bytes(s.data),
  };
}

export function decodeRaftMessage(w: pb.RaftMessage.$Properties): Message {
  const type = TYPE_FROM_WIRE.get(w.type ?? 0);
  if (type === undefined) throw new RaftMessageDecodeError(`unknown message type ${String(w.type)}`);
  const index = count(w.index, 'index');
  const entries: Entry[] = [];
  for (const e of w.entries ?? []) entries.push(decodeEntry(e, entries.length === 0 ? 0 : entries[entries.length - 1]!.index + 1));
  const rejectHintTerm = count(w.rejectHintTerm, 'rejectHintTerm');
  const message: Message = {
    type,
    from: count(w.from, 'from', 1),
    to: count(w.to, 'to', 1),
    term: count(w.term, 'term'),
    logTerm: count(w.logTerm, 'logTerm'),
    index,
    entries,
    commit: count(w.commit, 'commit'),
    reject: w.reject ?? false,
    rejectHint: count(w.rejectHint, 'rejectHint'),
    context: bytes(w.context),
    ...(rejectHintTerm > 0 ? { rejectHintTerm } : {}),
    ...(w.snapshot !== null && w.snapshot !== undefined ? { snapshot: decodeSnapshot(w.snapshot) } : {}),
  };
  return message;
}
