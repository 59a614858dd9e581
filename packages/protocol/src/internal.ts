// Subpath `@tributary/protocol/internal`: everything public plus helpers for tests and tools.
export * from './index.js';
export { compress, decompress, assertInt32, assertSafeInteger } from '@tributary/record-format';
