// Internals for this package's tests: not a stable API.
export * from './raft/index.js';
export * from './quorum/index.js';
export * from './metadata/index.js';
export * from './control/index.js';
