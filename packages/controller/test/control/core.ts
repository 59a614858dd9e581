// The pure core only (the package index also loads the gRPC shell).
export * from '../../src/metadata/index.js';
export * from '../../src/control/index.js';
