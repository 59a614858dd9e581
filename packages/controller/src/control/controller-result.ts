// What every controller command returns (Kafka's ControllerResult): the records to commit and the
// answer, which the shell hands back only once those records are committed. Expected refusals are
// data (a ControllerError in the answer), never exceptions; commands throw only on bugs.
import type { tributary } from '@tributary/protocol';
import type { MetadataRecord } from '../metadata/metadata-records.js';

export interface ControllerResult<R> {
  /** Applied atomically as one batch; empty = nothing to commit (answer at once). */
  readonly records: readonly MetadataRecord[];
  readonly response: R;
}

/**
 * Kafka's error names. Those the wire enum (tributary.v1.ErrorCode) lacks map to a neighbour in
 * `wireErrorCode` and keep their own name as the `reason`.
 */
export type ControllerErrorCode =
  | 'INVALID_TOPIC_EXCEPTION'
  | 'TOPIC_ALREADY_EXISTS'
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'INVALID_PARTITIONS'
  | 'INVALID_REPLICATION_FACTOR'
  | 'INVALID_REPLICA_ASSIGNMENT'
  | 'INVALID_CONFIG'
  | 'INVALID_REQUEST'
  | 'FENCED_LEADER_EPOCH'
  | 'NOT_LEADER_OR_FOLLOWER'
  | 'PREFERRED_LEADER_NOT_AVAILABLE'
  | 'ELECTION_NOT_NEEDED'
  | 'ELIGIBLE_LEADERS_NOT_AVAILABLE'
  // Not (yet) in the wire enum:
  | 'STALE_BROKER_EPOCH'
  | 'BROKER_ID_NOT_REGISTERED'
  | 'INVALID_UPDATE_VERSION'
  | 'INELIGIBLE_REPLICA'
  | 'UNKNOWN_TOPIC_ID'
  | 'DUPLICATE_BROKER_REGISTRATION';

type WireCode = keyof typeof tributary.v1.ErrorCode;

const WIRE_FALLBACK: Partial<Record<ControllerErrorCode, WireCode>> = {
  STALE_BROKER_EPOCH: 'INVALID_REQUEST',
  BROKER_ID_NOT_REGISTERED: 'INVALID_REQUEST',
  INVALID_UPDATE_VERSION: 'INVALID_REQUEST',
  INELIGIBLE_REPLICA: 'INVALID_REQUEST',
  UNKNOWN_TOPIC_ID: 'UNKNOWN_TOPIC_OR_PARTITION',
  DUPLICATE_BROKER_REGISTRATION: 'INVALID_REQUEST',
};

export interface ControllerError {
  readonly code: ControllerErrorCode;
  readonly message: string;
}

export function controllerError(code: ControllerErrorCode, message: string): ControllerError {
  return { code, message };
}

/** The wire code for `code`, and Kafka's name as `reason` when the wire enum lacks it. */
export function wireErrorCode(code: ControllerErrorCode): { readonly code: WireCode; readonly reason: string | undefined } {
  const fallback = WIRE_FALLBACK[code];
  return fallback === undefined ? { code: code as WireCode, reason: undefined } : { code: fallback, reason: code };
}

export function isControllerError(x: unknown): x is ControllerError {
  return typeof x === 'object' && x !== null && typeof (x as ControllerError).code === 'string' && typeof (x as ControllerError).message === 'string' && !('ok' in x);
}
