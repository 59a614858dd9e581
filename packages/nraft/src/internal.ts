// Test-only internals: building blocks exercised directly by unit tests. Not a stable API.
export * from './index.js';
export { Raft, CAMPAIGN_TRANSFER_CONTEXT } from './raft.js';
export { RaftLog } from './raft-log.js';
export { Unstable } from './unstable.js';
export { Inflights } from './inflights.js';
export { Progress } from './progress.js';
export { ProgressTracker } from './tracker.js';
export { committedIndex, voteResult, hasQuorum, quorumSize, type VoteResult } from './quorum.js';
export { ReadOnly, ctxKey, type ReadRequest } from './read-only.js';
export { limitEntriesBytes, entriesPayloadBytes } from './entry-size.js';
export { invariant } from './errors.js';
