// Subpath `@tributary/protocol/internal`: everything public plus helpers for tests and tools.
export * from './index.js';
export { compress, decompress } from './compression.js';
export { assertInt32, assertSafeInteger } from './varint.js';
