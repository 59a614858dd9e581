// The data nraft exchanges with its driver. Shaped after etcd-io/raft's raftpb: everything a node
// says or needs is plain, immutable data; no I/O, clocks or randomness live in this package.

/** Node ids are positive safe integers; 0 means "none". */
export type NodeId = number;
export const NONE: NodeId = 0;

export type EntryType = 'normal' | 'conf-change';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque to raft for 'normal'; an encoded ConfChange for 'conf-change'. Empty = leader no-op. */
  readonly data: Uint8Array;
}

/** What must be durable before any message that depends on it is sent (Raft §5, Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  /** Index and term of the last entry the snapshot covers. */
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** Application state, opaque to raft. */
  readonly data: Uint8Array;
}

/** Single-server membership change (Raft thesis §4.1): one voter or learner at a time. */
export type ConfChangeType = 'add-voter' | 'remove-node' | 'add-learner';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export type MessageType =
  | 'app'                 // append entries (also carries commit)
  | 'app-resp'
  | 'vote'
  | 'vote-resp'
  | 'pre-vote'
  | 'pre-vote-resp'
  | 'heartbeat'
  | 'heartbeat-resp'
  | 'snap'                // install snapshot
  | 'timeout-now'         // leadership transfer: the target campaigns at once
  | 'read-index'          // follower -> leader: forward a ReadIndex request
  | 'read-index-resp'
  | 'transfer-leader';    // follower -> leader: forward a transfer request

/** A message between raft nodes. Fields not meaningful for a type are 0 / empty. */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** app: term of the entry at `index` (the one preceding `entries`); votes: last log term. */
  readonly logTerm: number;
  /** app: index preceding `entries`; app-resp: last matched index (or rejected index); votes: last log index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** app-resp on reject: the follower's hint for fast backtracking (its last index, or conflict index). */
  readonly rejectHint: number;
  /** Term of the conflicting entry at rejectHint, for term-based backtracking (0 when unknown). */
  readonly rejectHintTerm?: number;
  readonly snapshot?: Snapshot;
  /** read-index request id / campaign-transfer marker; opaque bytes. */
  readonly context: Uint8Array;
}

export type StateRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state that changes often and needs no persistence. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: StateRole;
}

/** A ReadIndex request that is now safe to serve once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

/**
 * The handoff from the state machine to its driver. The driver MUST, in this order:
 *  1. persist `snapshot` (if any), `entries` and `hardState` (if any), durably (fsync);
 *  2. send `messages` (they may depend on 1.);
 *  3. apply `committedEntries` (and restore `snapshot`) to the application state machine;
 *  4. call `advance(ready)`.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly readStates: readonly ReadState[];
  /** Entries to append to stable storage (may overwrite a conflicting tail). */
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
}

/**
 * Stable storage as raft reads it (etcd-raft's Storage port). Writes happen in the driver, which
 * owns the concrete implementation (MemoryStorage in this package, a file-backed one in adapters/).
 * All indexes are absolute raft log indexes.
 */
export interface RaftStorage {
  /** Hard state and membership as last persisted (used once, when a node starts). */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at most maxBytes in total but always at least one if any exist. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i, for firstIndex()-1 <= i <= lastIndex(); throws CompactedError / UnavailableError. */
  term(i: number): number;
  /** Index of the first entry still in the log (snapshot.index + 1 when compacted). */
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot (an empty one with index 0 when there is none). */
  snapshot(): Snapshot;
}

/** Asked for an index that was compacted into a snapshot. */
export class CompactedError extends Error {
  constructor(readonly index: number) {
    super(`raft log index ${index} is compacted`);
    this.name = 'CompactedError';
  }
}

/** Asked for an index past the end of the log. */
export class UnavailableError extends Error {
  constructor(readonly index: number) {
    super(`raft log index ${index} is unavailable`);
    this.name = 'UnavailableError';
  }
}

/** Injected randomness (a seeded PRNG in tests and the simulator). Returns an integer in [0, n). */
export interface Random {
  intn(n: number): number;
}

/** The tiny logger interface pure code takes (pino satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
