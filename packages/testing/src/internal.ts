export * from './index.js';
// The RPC fuzzer needs fast-check (a devDependency): only through this subpath.
export * from './fuzz/index.js';
