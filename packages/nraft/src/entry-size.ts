// How raft measures entries against its byte limits: payload bytes only, so limits are predictable
// for callers (an empty leader no-op entry weighs 0 bytes, and "at least one entry" rules keep
// zero-weight entries from stalling anything).
import type { Entry } from './types.js';

export function entryPayloadBytes(e: Entry): number {
  return e.data.byteLength;
}

export function entriesPayloadBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const e of entries) total += e.data.byteLength;
  return total;
}

/**
 * The longest prefix of `entries` whose payload fits in maxBytes, but never empty when `entries` is
 * not (one oversized entry must still make progress).
 */
export function limitEntriesBytes<T extends Entry>(entries: readonly T[], maxBytes: number): T[] {
  if (entries.length === 0) return [];
  let size = entryPayloadBytes(entries[0]!);
  let n = 1;
  while (n < entries.length) {
    size += entryPayloadBytes(entries[n]!);
    if (size > maxBytes) break;
    n++;
  }
  return entries.slice(0, n);
}
