export { freePort } from './free-port.js';
export { NodeProcess, TRIBUTARY_BIN, DEFAULT_READY_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_MS } from './node-process.js';
export type { NodeProcessOptions, NodeProcessState } from './node-process.js';
