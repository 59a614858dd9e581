// Public API of @tributary/nraft: a pure Raft state machine (RawNode) and its data types, plus the
// in-memory storage and the conf-change codec drivers need.
export * from './types.js';
export {
  parseRaftConfig,
  validateRaftConfig,
  DEFAULT_ELECTION_TICKS,
  DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_MAX_SIZE_PER_MSG_BYTES,
  DEFAULT_MAX_INFLIGHT_MSGS,
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES,
  DEFAULT_MAX_COMMITTED_BYTES_PER_READY,
  DEFAULT_MAX_PENDING_READ_INDEX_REQUESTS,
  type RaftConfig,
  type RaftConfigInput,
} from './config.js';
export {
  RaftConfigError,
  ProposalDroppedError,
  ConfChangeDecodeError,
  type RaftConfigIssue,
  type ProposalDropReason,
} from './errors.js';
export { encodeConfChange, decodeConfChange } from './conf-change-codec.js';
export { MemoryStorage, SnapshotOutOfDateError, type MemoryStorageOptions } from './memory-storage.js';
export { RawNode } from './raw-node.js';
export type { RaftStatus, ProgressStatus } from './raft.js';
export type { ProgressState } from './progress.js';
export { entryPayloadBytes } from './entry-size.js';
