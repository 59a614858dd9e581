// The retry decision, from the error table's `retriable` bit: pure (attempt count, deadline and jitter
// are inputs), so it is tested without timers. Backoff is exponential from `retry.backoff.ms` up to
// `retry.backoff.max.ms` with ±20% jitter, as the Java client does (KIP-580).
import { TributaryClientError } from './errors.js';
// Backoffs use Node's promise setTimeout, which keeps the process alive on purpose: while every
// connection is down it may be the only handle left, and an unref'd timer let Node exit in the
// middle of `await producer.send()` (exit code 13, unsettled top-level await) instead of retrying.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  readonly retries: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
}

export type RetryDecision =
  | { readonly retry: true; readonly backoffMs: number }
  | { readonly retry: false; readonly reason: 'not-retriable' | 'retries-exhausted' | 'deadline' };

export const BACKOFF_JITTER = 0.2;

/** Backoff before retry number `attempt` (1 = first retry). `jitter01` is a uniform sample in [0, 1). */
export function backoffMs(policy: Pick<RetryPolicy, 'retryBackoffMs' | 'retryBackoffMaxMs'>, attempt: number, jitter01: number): number {
  const exp = policy.retryBackoffMs * 2 ** Math.max(0, Math.min(attempt - 1, 30));
  const base = Math.min(exp, policy.retryBackoffMaxMs);
  const jittered = base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * jitter01);
  return Math.max(0, Math.min(Math.round(jittered), policy.retryBackoffMaxMs));
}

export function isRetriableError(error: unknown): boolean {
  return error instanceof TributaryClientError && error.retriable;
}

/**
 * Whether to retry after `error` on attempt `attempt` (1 = the first try failed).
 * `deadlineMs` is absolute (same clock as `nowMs`); a retry whose backoff would end past it is refused.
 */
export function decideRetry(args: {
  error: unknown;
  attempt: number;
  nowMs: number;
  deadlineMs: number;
  policy: RetryPolicy;
  jitter01: number;
  /** Overrides the error's own `retriable` (a caller that knows more, e.g. sequence gaps under idempotence). */
  retriable?: boolean;
  /** The attempt number the backoff grows with, when not `attempt` (e.g. attempts at the current leader only). */
  backoffAttempt?: number;
}): RetryDecision {
  if (!(args.retriable ?? isRetriableError(args.error))) return { retry: false, reason: 'not-retriable' };
  if (args.attempt > args.policy.retries) return { retry: false, reason: 'retries-exhausted' };
  const wait = backoffMs(args.policy, args.backoffAttempt ?? args.attempt, args.jitter01);
  if (args.nowMs + wait >= args.deadlineMs) return { retry: false, reason: 'deadline' };
  return { retry: true, backoffMs: wait };
}


/**
 * Runs `op` until it succeeds, fails with a non-retriable error, or the deadline passes; the last
 * error is rethrown. `onRetriableError` lets the caller refresh metadata between attempts.
 */
export async function withRetries<T>(args: {
  op: (attempt: number) => Promise<T>;
  policy: RetryPolicy;
  deadlineMs: number;
  now?: () => number;
  random?: () => number;
  onRetriableError?: (error: unknown) => void | Promise<void>;
  isClosed?: () => boolean;
}): Promise<T> {
  const now = args.now ?? Date.now;
  const random = args.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await args.op(attempt);
    } catch (error) {
      const decision = decideRetry({ error, attempt, nowMs: now(), deadlineMs: args.deadlineMs, policy: args.policy, jitter01: random() });
      if (!decision.retry || args.isClosed?.() === true) throw error;
      await args.onRetriableError?.(error);
      await sleep(decision.backoffMs);
    }
  }
}
