// The one seam to the protocol package's error table (name + retriable per wire code).
export { errorName, isRetriable } from '@tributary/protocol';
