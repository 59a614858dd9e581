export * from './raft/index.js';
export * from './quorum/index.js';
export * from './metadata/index.js';
export * from './control/index.js';
// quorum/ has stand-ins with these names; the metadata core's are the real ones.
export { imageHash, imageToRecords } from './metadata/index.js';
