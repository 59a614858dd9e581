// The txn workload's records and history values, shared by the member processes (txn-member.ts),
// the workload (txn-workload.ts) and the checker (txn-checker.ts). Pure.
//
// Input records: value = the input id `i<n>` (unique in the run), written once by the input producer.
// Output records: value = JSON of TxnOutput — which input it is the effect of (id and input
// position) and which transaction wrote it (`txn`, its index `k` among the transaction's `n`
// outputs). `n` lets the checker prove atomicity from the output topic alone: a transaction is
// visible whole (k = 0..n-1 all present) or not at all, whatever its member reported before dying.

/** One output record's payload. */
export interface TxnOutput {
  /** Input id, `i<n>`. */
  readonly id: string;
  /** Input partition and offset the member consumed it at. */
  readonly ip: number;
  readonly io: number;
  /** Transaction id `<member>.<n>` (member = `x<slot>.<incarnation>`): unique in the run. */
  readonly txn: string;
  /** Index of this output in its transaction, 0 ≤ k < n. */
  readonly k: number;
  /** Outputs the transaction wrote in all. */
  readonly n: number;
}

export function encodeOutput(output: TxnOutput): string {
  return JSON.stringify({ id: output.id, ip: output.ip, io: output.io, txn: output.txn, k: output.k, n: output.n });
}

/** The output a record value names; undefined when it is not one (the checker reports that). */
export function parseOutput(value: unknown): TxnOutput | undefined {
  if (typeof value === 'object' && value !== null) return isOutput(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return isOutput(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isOutput(value: unknown): value is TxnOutput {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Record<string, unknown>;
  const int = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
  return typeof o.id === 'string' && typeof o.txn === 'string' && int(o.ip) && int(o.io) && int(o.k) && int(o.n) && (o.k as number) < (o.n as number);
}

/** The workload's topics and group (fixed names: the checker finds them in any history). */
export const TXN_INPUT_TOPIC = 'chaos-txn-in';
export const TXN_OUTPUT_TOPIC = 'chaos-txn-out';
export const TXN_GROUP_ID = 'chaos-txn';

export const inputId = (n: number): string => `i${n}`;

/** What a member meant to do with a transaction: commit it, or abort it on purpose. */
export type TxnIntent = 'commit' | 'abort';

/** An output as the member sent it: `offset` once the send was acknowledged, else null. */
export interface SentOutput {
  readonly id: string;
  readonly ip: number;
  readonly io: number;
  readonly k: number;
  readonly partition: number;
  readonly offset: number | null;
}

/**
 * Value of a `txn` op. The invoke carries { txn, intent, n }; the completion adds what was sent and
 * the offsets given to sendOffsetsToTransaction. Completion types: `ok` = commitTransaction()
 * resolved (committed); `fail` = certainly not committed (abortTransaction() resolved, on purpose
 * when intent = 'abort', else after an abortable error; `reason` says which); `info` = unknown (a
 * fatal error such as PRODUCER_FENCED during commit, a timeout, or the member died).
 */
export interface TxnOpValue {
  readonly txn: string;
  readonly intent: TxnIntent;
  readonly n: number;
  readonly outputs?: readonly SentOutput[];
  /** Input offsets committed with the transaction: partition → next offset to read. */
  readonly offsets?: readonly { readonly partition: number; readonly offset: number }[];
  /** Why a fail/info ended as it did: `deliberate`, or the error code. */
  readonly reason?: string;
}

/** Readers of the output topic; the isolation level is in the name. */
export const READER_TAIL_COMMITTED = 'rc-tail';
export const READER_FINAL_COMMITTED = 'rc-final';
export const READER_FINAL_UNCOMMITTED = 'ru-final';
/** Reader of the input topic after the run (plain topic, every record). */
export const READER_FINAL_INPUT = 'in-final';
export const isReadCommitted = (process: string): boolean => process.startsWith('rc-');
