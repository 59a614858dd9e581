// The controller's Raft I/O shell: the driver loop around nraft's RawNode and its transports.
export {
  RaftDriver, DEFAULT_TICK_MS, DEFAULT_SNAPSHOT_KEEP_ENTRIES, DEFAULT_PROPOSAL_TIMEOUT_MS, DEFAULT_PENDING_PROPOSALS_MAX, DEFAULT_PENDING_READS_MAX,
  type RaftDriverOptions, type RaftDriverStorage, type RaftDriverStats, type DriverState,
} from './raft-driver.js';
export { RaftProposalError, RaftDriverClosedError, type RaftProposalFailure } from './raft-driver-errors.js';
export { LoopbackRaftNetwork, type RaftTransport, type RaftMessageHandler, type RaftDropHandler, type RaftSnapshotSentHandler } from './raft-transport.js';
export {
  GrpcRaftTransport, addRaftService,
  DEFAULT_RECONNECT_BACKOFF_MIN_MS, DEFAULT_RECONNECT_BACKOFF_MAX_MS, DEFAULT_PEER_QUEUE_ENVELOPES_MAX, DEFAULT_ENVELOPE_MESSAGES_MAX, DEFAULT_MESSAGE_BYTES_MAX,
  type GrpcRaftTransportOptions, type RaftServiceHandler,
} from './grpc-raft-transport.js';
export { encodeRaftMessage, decodeRaftMessage, RaftMessageDecodeError } from './raft-message-codec.js';
