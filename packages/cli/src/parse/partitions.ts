// `-p P` (repeatable and/or comma-separated) partition lists.
import { invalidArgument } from '../errors.js';

/** Kafka caps partitions per topic far below this; it bounds the list we build. */
export const PARTITION_ID_MAX = 1_000_000;

/** ['0,2', '1'] → [0, 1, 2]: sorted, deduplicated. */
export function parsePartitionList(texts: readonly string[]): number[] {
  const partitions = new Set<number>();
  for (const text of texts) {
    for (const part of text.split(',')) {
      partitions.add(parsePartition(part));
    }
  }
  return [...partitions].sort((a, b) => a - b);
}

export function parsePartition(text: string): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || value > PARTITION_ID_MAX) {
    throw invalidArgument(`invalid partition '${text}' (expected a number >= 0)`);
  }
  return value;
}

/** A non-negative integer flag like `-n 100` or `--num-records 1000000`. */
export function parseCount(text: string, what: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^-?\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(`${what}: invalid value '${text}' (expected an integer in [${min}, ${max}])`);
  }
  return value;
}
