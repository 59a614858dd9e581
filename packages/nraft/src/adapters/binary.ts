// Little-endian fixed-width encoding for the adapter's file formats. Raft indexes and terms are
// safe integers (< 2^53); they are stored as u64 and checked on the way back in.
import { invariant } from '../errors.js';

const TWO_32 = 0x1_0000_0000;

export function writeU64(buf: Buffer, offset: number, value: number): void {
  invariant(Number.isSafeInteger(value) && value >= 0, () => `u64 field out of range: ${value}`);
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}

/** Returns -1 when the stored value is not a safe integer (only corrupt data can do that). */
export function readU64(buf: Buffer, offset: number): number {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if (hi >= 0x20_0000) return -1;
  return hi * TWO_32 + lo;
}

/** Appends fields to a growing list of chunks; used for the small state and snapshot files. */
export class BinaryWriter {
  private readonly chunks: Buffer[] = [];

  u32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(value, 0);
    this.chunks.push(b);
    return this;
  }

  u64(value: number): this {
    const b = Buffer.allocUnsafe(8);
    writeU64(b, 0, value);
    this.chunks.push(b);
    return this;
  }

  u64List(values: readonly number[]): this {
    this.u32(values.length);
    for (const v of values) this.u64(v);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u32(value.byteLength);
    this.chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Thrown by BinaryReader on truncated or out-of-range input; callers turn it into corruption. */
export class ShortReadError extends Error {
  override readonly name = 'ShortReadError';
}

export class BinaryReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  private need(bytes: number): void {
    if (this.offset + bytes > this.buf.length) throw new ShortReadError(`need ${bytes} bytes at ${this.offset}`);
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = readU64(this.buf, this.offset);
    if (v < 0) throw new ShortReadError(`u64 out of range at ${this.offset}`);
    this.offset += 8;
    return v;
  }

  u64List(countMax: number): number[] {
    const n = this.u32();
    if (n > countMax) throw new ShortReadError(`list of ${n} exceeds ${countMax}`);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.u64());
    return out;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    // Copy: the caller keeps the result while the file buffer is dropped.
    const out = new Uint8Array(this.buf.subarray(this.offset, this.offset + n));
    this.offset += n;
    return out;
  }

  atEnd(): boolean {
    return this.offset === this.buf.length;
  }
}
