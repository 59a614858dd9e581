// Builds record batches for storage tests: a valid v2 header, opaque filler bytes standing in for the
// records (storage never decodes them), and the CRC32C. packages/protocol owns real encoding.
import { crc32c } from '@node-rs/crc32';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface BatchSpec {
  readonly baseOffset?: number;
  readonly recordCount?: number;
  /** Bytes of fake record data after the 61-byte header. */
  readonly payloadBytes?: number;
  readonly baseTimestamp?: number;
  readonly maxTimestamp?: number;
  readonly leaderEpoch?: number;
  /** Filler byte value, to tell batches apart. */
  readonly fill?: number;
}

export function buildBatch(spec: BatchSpec = {}): Buffer {
  const recordCount = spec.recordCount ?? 1;
  const payloadBytes = spec.payloadBytes ?? 100;
  const buf = Buffer.alloc(61 + payloadBytes);
  buf.writeBigInt64BE(BigInt(spec.baseOffset ?? 0), 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(spec.leaderEpoch ?? -1, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(0, 21);
  buf.writeInt32BE(recordCount - 1, 23);
  const baseTimestamp = spec.baseTimestamp ?? 1_000;
  buf.writeBigInt64BE(BigInt(baseTimestamp), 27);
  buf.writeBigInt64BE(BigInt(spec.maxTimestamp ?? baseTimestamp), 35);
  buf.writeBigInt64BE(-1n, 43);
  buf.writeInt16BE(-1, 51);
  buf.writeInt32BE(-1, 53);
  buf.writeInt32BE(recordCount, 57);
  buf.fill(spec.fill ?? 0x61, 61);
  return resealCrc(buf);
}

/** Recomputes the CRC of a single batch after a test edits a CRC-covered field. */
export function resealCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

export interface BatchView {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly leaderEpoch: number;
  readonly maxTimestamp: number;
  readonly attributes: number;
  readonly sizeBytes: number;
  readonly fill: number;
  readonly bytes: Buffer;
}

/** Splits concatenated batches (as returned by read) into views, checking framing strictly. */
export function splitBatches(buf: Buffer): BatchView[] {
  const out: BatchView[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 61) throw new Error(`trailing ${buf.length - at} bytes at ${at}`);
    const sizeBytes = 12 + buf.readInt32BE(at + 8);
    if (at + sizeBytes > buf.length) throw new Error(`partial batch at ${at}`);
    const bytes = buf.subarray(at, at + sizeBytes);
    if (crc32c(bytes.subarray(21)) !== bytes.readUInt32BE(17)) throw new Error(`bad crc at ${at}`);
    const baseOffset = Number(bytes.readBigInt64BE(0));
    out.push({
      baseOffset,
      lastOffset: baseOffset + bytes.readInt32BE(23),
      leaderEpoch: bytes.readInt32BE(12),
      maxTimestamp: Number(bytes.readBigInt64BE(35)),
      attributes: bytes.readInt16BE(21),
      sizeBytes,
      fill: sizeBytes > 61 ? bytes[61]! : -1,
      bytes,
    });
    at += sizeBytes;
  }
  return out;
}

/** A fresh temp directory and its cleanup. */
export async function tempDir(prefix = 'tributary-storage-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A controllable clock for segment.ms, retention.ms and LogAppendTime. */
export class ManualClock {
  constructor(public nowMs = 1_000_000) {}
  readonly now = (): number => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** XORs one byte in place (corruption injection). */
export function flipBits(buf: Buffer, at: number, mask: number): void {
  buf.writeUInt8(buf.readUInt8(at) ^ mask, at);
}
