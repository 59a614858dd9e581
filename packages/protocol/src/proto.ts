// The wire contract: message classes generated from proto/ (see scripts/gen-proto.mjs).
import { fileURLToPath } from 'node:url';
export { tributary } from '../generated/proto.js';
export * from './generated/services.js';

/** Directory holding the .proto sources (for gRPC server reflection). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));
