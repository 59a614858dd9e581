// Real keyed record batches for the compaction tests, encoded and decoded here independently of
// src/record-reader.ts (docs/record-format.md, "Record layout"), with none / gzip / lz4 compression.
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { compressSync, uncompressSync } from 'lz4-napi';

export type Codec = 'none' | 'gzip' | 'lz4';
const CODE: Record<Codec, number> = { none: 0, gzip: 1, lz4: 3 };

export interface TestRecord {
  readonly key: string | null;
  /** null = tombstone. */
  readonly value: string | null;
  readonly timestamp: number;
}

export interface DecodedRecord extends TestRecord {
  readonly offset: number;
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varint(n: number): Buffer {
  let v = zigzag(n);
  const out: number[] = [];
  do {
    const b = v % 128;
    v = Math.floor(v / 128);
    out.push(v > 0 ? b | 0x80 : b);
  } while (v > 0);
  return Buffer.from(out);
}

function bytesField(s: string | null): Buffer {
  if (s === null) return varint(-1);
  const b = Buffer.from(s);
  return Buffer.concat([varint(b.length), b]);
}

/** A v2 batch (baseOffset 0, epoch -1) holding `records` with offset deltas 0..n-1. */
export function buildRecordBatch(records: readonly TestRecord[], codec: Codec = 'none'): Buffer {
  const baseTimestamp = records[0]!.timestamp;
  const encoded = records.map((r, i) => {
    const body = Buffer.concat([Buffer.from([0]), varint(r.timestamp - baseTimestamp), varint(i), bytesField(r.key), bytesField(r.value), varint(0)]);
    return Buffer.concat([varint(body.length), body]);
  });
  const raw = Buffer.concat(encoded);
  const section = codec === 'none' ? raw : codec === 'gzip' ? gzipSync(raw) : compressSync(raw);
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(0n, 0);
  header.writeInt32BE(61 + section.length - 12, 8);
  header.writeInt32BE(-1, 12);
  header.writeInt8(2, 16);
  header.writeInt16BE(CODE[codec], 21);
  header.writeInt32BE(records.length - 1, 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(Math.max(...records.map((r) => r.timestamp))), 35);
  header.writeBigInt64BE(-1n, 43);
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  header.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([header, section]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

class Cursor {
  constructor(
    readonly buf: Buffer,
    public at = 0,
  ) {}
  varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.buf[this.at++]!;
      v += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }
  bytes(): string | null {
    const n = this.varint();
    if (n < 0) return null;
    const s = this.buf.subarray(this.at, this.at + n).toString();
    this.at += n;
    return s;
  }
}

/** Decodes concatenated batches (checking CRC, recordCount and lastOffsetDelta bounds) into records. */
export function decodeRecords(buf: Buffer): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    const size = 12 + buf.readInt32BE(at + 8);
    const batch = buf.subarray(at, at + size);
    if (crc32c(batch.subarray(21)) !== batch.readUInt32BE(17)) throw new Error(`bad crc at ${at}`);
    const baseOffset = Number(batch.readBigInt64BE(0));
    const codec = batch.readInt16BE(21) & 7;
    const lastOffsetDelta = batch.readInt32BE(23);
    const baseTimestamp = Number(batch.readBigInt64BE(27));
    const count = batch.readInt32BE(57);
    const section = codec === 0 ? batch.subarray(61) : codec === 1 ? gunzipSync(batch.subarray(61)) : uncompressSync(batch.subarray(61));
    const c = new Cursor(section);
    for (let i = 0; i < count; i++) {
      const length = c.varint();
      const end = c.at + length;
      c.at += 1;
      const timestamp = baseTimestamp + c.varint();
      const delta = c.varint();
      if (delta > lastOffsetDelta) throw new Error(`offset delta ${delta} beyond lastOffsetDelta ${lastOffsetDelta}`);
      const key = c.bytes();
      const value = c.bytes();
      out.push({ offset: baseOffset + delta, key, value, timestamp });
      c.at = end;
    }
    if (c.at !== section.length) throw new Error(`records do not fill the section at ${at}`);
    at += size;
  }
  return out;
}
