// One raft entry as stored in a log segment:
//
//   u32 bodyBytes | u32 crc32c(body) | body = u64 term | u64 index | u8 type | data
//
// Records are self-describing (they carry their index), so a segment needs no header and a torn
// write can only damage the record it was writing: recovery stops at the first record whose length
// or checksum does not hold.
import { crc32c } from '@node-rs/crc32';
import type { Entry, EntryType } from '../types.js';
import { readU64, writeU64 } from './binary.js';

export const RECORD_HEADER_BYTES = 8;
export const RECORD_BODY_FIXED_BYTES = 17;

const TYPE_CODES: Record<EntryType, number> = { normal: 0, 'conf-change': 1 };

function typeFromCode(code: number): EntryType | undefined {
  if (code === 0) return 'normal';
  if (code === 1) return 'conf-change';
  return undefined;
}

export function recordBytes(entry: Entry): number {
  return RECORD_HEADER_BYTES + RECORD_BODY_FIXED_BYTES + entry.data.byteLength;
}

/** Writes `entry` at `offset` in `buf` (which must have recordBytes(entry) bytes free). */
export function encodeRecordInto(buf: Buffer, offset: number, entry: Entry): number {
  const bodyBytes = RECORD_BODY_FIXED_BYTES + entry.data.byteLength;
  const body = offset + RECORD_HEADER_BYTES;
  writeU64(buf, body, entry.term);
  writeU64(buf, body + 8, entry.index);
  buf.writeUInt8(TYPE_CODES[entry.type], body + 16);
  buf.set(entry.data, body + RECORD_BODY_FIXED_BYTES);
  buf.writeUInt32LE(bodyBytes, offset);
  buf.writeUInt32LE(crc32c(buf.subarray(body, body + bodyBytes)), offset + 4);
  return RECORD_HEADER_BYTES + bodyBytes;
}

export type DecodedRecord =
  | { readonly ok: true; readonly entry: Entry; readonly bytes: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Decodes the record at `offset`. A record that runs past the end of `buf`, claims a length outside
 * [RECORD_BODY_FIXED_BYTES, recordBytesMax] or fails its checksum is reported, not thrown: whether
 * that is a torn tail or corruption depends on where it is.
 */
export function decodeRecord(buf: Buffer, offset: number, recordBytesMax: number): DecodedRecord {
  if (offset + RECORD_HEADER_BYTES > buf.length) return { ok: false, reason: 'short header' };
  const bodyBytes = buf.readUInt32LE(offset);
  if (bodyBytes < RECORD_BODY_FIXED_BYTES || RECORD_HEADER_BYTES + bodyBytes > recordBytesMax) {
    return { ok: false, reason: `bad length ${bodyBytes}` };
  }
  const body = offset + RECORD_HEADER_BYTES;
  if (body + bodyBytes > buf.length) return { ok: false, reason: 'short body' };
  const crc = buf.readUInt32LE(offset + 4);
  if (crc32c(buf.subarray(body, body + bodyBytes)) !== crc) return { ok: false, reason: 'checksum mismatch' };
  const term = readU64(buf, body);
  const index = readU64(buf, body + 8);
  const type = typeFromCode(buf.readUInt8(body + 16));
  if (term < 0 || index <= 0 || type === undefined) return { ok: false, reason: 'bad field' };
  // Copy the data out: callers keep entries long after the read buffer is gone.
  const data = new Uint8Array(buf.subarray(body + RECORD_BODY_FIXED_BYTES, body + bodyBytes));
  return { ok: true, entry: { term, index, type, data }, bytes: RECORD_HEADER_BYTES + bodyBytes };
}
