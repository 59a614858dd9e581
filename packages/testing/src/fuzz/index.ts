// The RPC fuzzer: `npm run fuzz`, and a short fixed-seed run in `npm test`.
export {
  runRpcFuzz, formatFuzzReport, describeCase, DEFAULT_FUZZ_SEED, DEFAULT_REQUESTS_PER_RUN_MAX,
  DEFAULT_ORACLE_EVERY_RUNS, DEFAULT_CHUNK_RUNS, DEFAULT_SHRINK_ATTEMPTS_MAX, FUZZ_REQUEST_DEADLINE_MS,
} from './rpc-fuzz.js';
export type { RpcFuzzOptions, RpcFuzzReport, FuzzFinding } from './rpc-fuzz.js';
export { loadRpcCatalog, GENERATOR_NAMES, MESSAGE_GENERATOR_NAMES, type GeneratorName, type RpcInfo, type FuzzTargets } from './rpc-catalog.js';
export { BATCH_GENERATOR_NAMES, batchGenerators, type BatchGeneratorName, FOREIGN_PRODUCER_ID_MIN, ALLOCATED_PRODUCER_ID_MAX, BOMB_DECOMPRESSED_BYTES_MAX } from './batch-generators.js';
export { FuzzOracle, ORACLE_VALUE_PREFIX, type OracleFinding } from './fuzz-oracle.js';
