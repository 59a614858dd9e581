export * from './raft/index.js';
export * from './quorum/index.js';
