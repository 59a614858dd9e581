// Typed failures of the quorum shell. Their `code` is the wire ErrorCode name the Quorum service
// answers with; `retriable` follows the protocol's table.
import { isRetriable, tributary } from '@tributary/protocol';

export type QuorumErrorCode = keyof typeof tributary.v1.ErrorCode;

export class QuorumError extends Error {
  override name = 'QuorumError';
  readonly retriable: boolean;
  constructor(
    readonly code: Exclude<QuorumErrorCode, 'NONE'>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.retriable = isRetriable(tributary.v1.ErrorCode[code]);
  }
}

/** This voter is not the active controller (or stopped being it before the command committed). */
export class NotControllerError extends QuorumError {
  override name = 'NotControllerError';
  constructor(
    readonly leaderId: number,
    readonly term: number,
    options?: { cause?: unknown; detail?: string },
  ) {
    super('NOT_CONTROLLER', `not the active controller${options?.detail === undefined ? '' : ` (${options.detail})`}; leader is ${leaderId < 0 ? 'unknown' : leaderId} in term ${term}`, options);
  }
}
