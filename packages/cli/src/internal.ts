// Everything tests (and curious callers) may use beyond the public surface.
export * from './index.js';
export * from './errors.js';
export * from './format/record.js';
export * from './format/table.js';
export * from './format/views.js';
export * from './parse/brokers.js';
export * from './parse/duration.js';
export * from './parse/key-value.js';
export * from './parse/offset-spec.js';
export * from './parse/partitions.js';
export * from './perf/latency-histogram.js';
export * from './perf/perf-stats.js';
export * from './ports.js';
export { InFlightLimit } from './in-flight-limit.js';
