// The aborted-transaction index of one segment (Kafka's TransactionIndex): `<base>.txnindex`, one
// fixed-size big-endian entry per aborted transaction whose ABORT marker is in this segment:
//
//   version i16 (0) | producerId i64 | firstOffset i64 | lastOffset i64 | lastStableOffset i64   = 34 bytes
//
// firstOffset: the first offset of the transaction's data on this partition (it may lie in an earlier
// segment); lastOffset: the offset of the ABORT marker (in this segment); lastStableOffset: the LSO right
// after the marker was written (≤ lastOffset + 1; lower while an older transaction was still open).
// Entries are in strictly increasing lastOffset order. The index lives in memory; the file holds
// exactly the entries and is replaced atomically (temp + rename) when persisted.
//
// Pure: no I/O here. The file comes from disk and is hostile: parseTxnIndex checks every entry and
// says what it cut or why it refused the file, and never throws on bad bytes.
import assert from 'node:assert/strict';
import { readInt64, writeInt64 } from './batch-header.js';

export const TXN_INDEX_SUFFIX = '.txnindex';
export const TXN_INDEX_ENTRY_BYTES = 34;
/** The only entry version (Kafka's AbortedTxn.CurrentVersion). */
export const TXN_INDEX_VERSION = 0;

/** One aborted transaction (Kafka's AbortedTxn). Offsets are closed: the marker is at lastOffset. */
export interface AbortedTxn {
  readonly producerId: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly lastStableOffset: number;
}

/** Why `txn` is not a well-formed entry (integers, producerId ≥ 0, 0 ≤ firstOffset ≤ lastOffset, 0 ≤ lastStableOffset ≤ lastOffset + 1); null when it is. */
export function checkAbortedTxn(txn: AbortedTxn): string | null {
  const { producerId, firstOffset, lastOffset, lastStableOffset } = txn;
  for (const [name, value] of [['producerId', producerId], ['firstOffset', firstOffset], ['lastOffset', lastOffset], ['lastStableOffset', lastStableOffset]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) return `${name} ${value} is not a non-negative integer`;
  }
  if (firstOffset > lastOffset) return `firstOffset ${firstOffset} is after the marker at lastOffset ${lastOffset}`;
  if (lastStableOffset > lastOffset + 1) return `lastStableOffset ${lastStableOffset} is past the marker at lastOffset ${lastOffset}`;
  return null;
}

export class TxnIndex {
  private list: AbortedTxn[] = [];

  constructor(
    readonly baseOffset: number,
    /** Entries after which its segment must roll (from segment.index.bytes); not a hard cap. */
    readonly maxEntries: number,
  ) {
    assert.ok(maxEntries >= 1, 'txn index needs room for one entry');
  }

  get entries(): readonly AbortedTxn[] {
    return this.list;
  }

  /** The segment should roll (entries may still be added past it for markers already appended). */
  isFull(): boolean {
    return this.list.length >= this.maxEntries;
  }

  lastEntry(): AbortedTxn | null {
    return this.list.at(-1) ?? null;
  }

  /**
   * Appends `txn`, whose marker must be in this segment and after the last entry's (asserted: the log
   * filters duplicates and places entries before calling).
   */
  append(txn: AbortedTxn): void {
    assert.equal(checkAbortedTxn(txn), null, `aborted txn entry ${JSON.stringify(txn)} is malformed`);
    assert.ok(txn.lastOffset >= this.baseOffset, `aborted txn marker at ${txn.lastOffset} is below segment ${this.baseOffset}`);
    const last = this.lastEntry();
    assert.ok(last === null || txn.lastOffset > last.lastOffset, `aborted txn marker at ${txn.lastOffset} is not after the last entry's ${last?.lastOffset}`);
    this.list.push({ producerId: txn.producerId, firstOffset: txn.firstOffset, lastOffset: txn.lastOffset, lastStableOffset: txn.lastStableOffset });
  }

  /** Drops every entry whose marker is at or after `offset`; returns whether any was dropped. */
  truncateTo(offset: number): boolean {
    const keep = this.list.findIndex((e) => e.lastOffset >= offset);
    if (keep < 0) return false;
    this.list = this.list.slice(0, keep);
    return true;
  }

  /** Keeps only the entries `keep` accepts; returns whether any was dropped. */
  retain(keep: (txn: AbortedTxn) => boolean): boolean {
    const kept = this.list.filter(keep);
    const changed = kept.length !== this.list.length;
    this.list = kept;
    return changed;
  }

  /**
   * Kafka's TransactionIndex.collectAbortedTxns: the entries overlapping [fetchOffset, upperBoundOffset)
   * (lastOffset ≥ fetchOffset and firstOffset < upperBoundOffset), in order. `complete` says an entry's
   * lastStableOffset reached upperBoundOffset: no later entry (here or in a later segment) can overlap,
   * since a transaction aborted later whose data began below that LSO would have held the LSO down.
   */
  collect(fetchOffset: number, upperBoundOffset: number): { readonly txns: AbortedTxn[]; readonly complete: boolean } {
    const txns: AbortedTxn[] = [];
    for (const txn of this.list) {
      if (txn.lastOffset >= fetchOffset && txn.firstOffset < upperBoundOffset) txns.push(txn);
      if (txn.lastStableOffset >= upperBoundOffset) return { txns, complete: true };
    }
    return { txns, complete: false };
  }

  /** The file image: exactly the entries. The buffer is the caller's. */
  toBuffer(): Buffer {
    const buf = Buffer.alloc(this.list.length * TXN_INDEX_ENTRY_BYTES);
    this.list.forEach((txn, i) => {
      const at = i * TXN_INDEX_ENTRY_BYTES;
      buf.writeInt16BE(TXN_INDEX_VERSION, at);
      writeInt64(buf, at + 2, txn.producerId);
      writeInt64(buf, at + 10, txn.firstOffset);
      writeInt64(buf, at + 18, txn.lastOffset);
      writeInt64(buf, at + 26, txn.lastStableOffset);
    });
    return buf;
  }
}

export type TxnIndexParse =
  | {
      readonly kind: 'ok';
      readonly index: TxnIndex;
      /** What was cut to make the file fit the segment (torn tail, entries past the segment's end); null when nothing. */
      readonly cut: string | null;
      /** A partial last entry was cut: an entry may have been lost (entries past the end point at nothing). */
      readonly tornTail: boolean;
    }
  | { readonly kind: 'unreadable'; readonly reason: string };

/**
 * Parses a `.txnindex` file of the segment [baseOffset, nextOffset). A torn tail (a partial last entry)
 * is cut to whole entries, and entries whose marker is at or past nextOffset (after recovery truncated
 * the log) are dropped — both reported in `cut`. Anything else wrong makes the whole file `unreadable`
 * (the caller starts the segment with an empty index and the broker re-adds entries): more entries
 * than `maxEntries` (the caller's bound on what the segment can hold), an unknown version, a malformed entry, a marker below baseOffset, markers out of
 * order. Never throws on bad bytes.
 */
export function parseTxnIndex(bytes: Buffer, segment: { readonly baseOffset: number; readonly nextOffset: number; readonly maxEntries: number }): TxnIndexParse {
  const whole = Math.floor(bytes.length / TXN_INDEX_ENTRY_BYTES);
  if (whole > segment.maxEntries) return { kind: 'unreadable', reason: `${whole} entries, more than the ${segment.maxEntries} a segment may hold` };
  const cuts: string[] = [];
  if (bytes.length % TXN_INDEX_ENTRY_BYTES !== 0) cuts.push(`torn tail of ${bytes.length % TXN_INDEX_ENTRY_BYTES} bytes`);
  const index = new TxnIndex(segment.baseOffset, segment.maxEntries);
  for (let i = 0; i < whole; i++) {
    const at = i * TXN_INDEX_ENTRY_BYTES;
    const where = `entry ${i}`;
    const version = bytes.readInt16BE(at);
    if (version !== TXN_INDEX_VERSION) return { kind: 'unreadable', reason: `${where}: unknown version ${version}` };
    const txn: AbortedTxn = { producerId: readInt64(bytes, at + 2), firstOffset: readInt64(bytes, at + 10), lastOffset: readInt64(bytes, at + 18), lastStableOffset: readInt64(bytes, at + 26) };
    const problem = checkAbortedTxn(txn);
    if (problem !== null) return { kind: 'unreadable', reason: `${where}: ${problem}` };
    if (txn.lastOffset < segment.baseOffset) return { kind: 'unreadable', reason: `${where}: marker at ${txn.lastOffset} is below the segment's base offset ${segment.baseOffset}` };
    const last = index.lastEntry();
    if (last !== null && txn.lastOffset <= last.lastOffset) return { kind: 'unreadable', reason: `${where}: marker at ${txn.lastOffset} is not after the previous entry's ${last.lastOffset}` };
    if (txn.lastOffset >= segment.nextOffset) {
      // Entries are ordered, so the rest is past the end too: the suffix an unclean stop leaves when
      // recovery cut the log's tail. It is dropped whole.
      cuts.push(`${whole - i} entries with markers at or past the segment end ${segment.nextOffset}`);
      break;
    }
    index.append(txn);
  }
  return { kind: 'ok', index, cut: cuts.length === 0 ? null : cuts.join('; '), tornTail: bytes.length % TXN_INDEX_ENTRY_BYTES !== 0 };
}
