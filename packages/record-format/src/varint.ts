// Variable-length integers as Kafka writes them inside records: zigzag, then unsigned LEB128
// (7 bits per byte, least significant group first, high bit = "more bytes follow").
//
//   varint  = zigzag int32, 1..5 bytes      varlong = zigzag int64, 1..10 bytes
//
// Number vs BigInt. The `number` functions cover every int32, and for varlongs every *safe* integer
// (|v| <= 2^53 - 1): encoding a non-safe number is an InvalidArgumentError, and decoding a varlong whose value
// is not a safe integer is a CorruptRecordError (Tributary never writes one: timestamps in ms and offset deltas
// are far below 2^53). The BigInt functions cover the full int64 range for callers that need it.
//
// Decoding functions read from a ByteCursor, which bounds-checks every byte against its `end` and throws
// CorruptRecordError on overrun, overlong encodings or out-of-range values: never a RangeError.
import { CorruptRecordError, InvalidArgumentError } from './errors.js';

export const MAX_VARINT_BYTES = 5;
export const MAX_VARLONG_BYTES = 10;

const TWO_POW_28 = 2 ** 28;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A read position in `buf`, valid over the half-open range [pos, end). */
export class ByteCursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    /** Exclusive bound; callers may narrow it temporarily to parse a length-prefixed sub-structure. */
    public end: number,
  ) {}

  remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. `what` names the field for the error message. */
  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new CorruptRecordError(`${what}: needs ${n} bytes at position ${this.pos} but only ${this.end - this.pos} remain`);
    }
  }

  readInt8(what: string): number {
    this.need(1, what);
    return this.buf.readInt8(this.pos++);
  }

  /** A view (no copy) of the next `n` bytes. */
  readBytes(n: number, what: string): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads a zigzag varint (int32). */
  readVarint(what: string): number {
    // Small-integer bit operations only (this is the hottest function of record validation and decoding):
    // groups 0-3 fill bits 0-27, the 5th byte may only carry bits 28-31.
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    if (pos >= end) throw new CorruptRecordError(`${what}: varint runs past the end at position ${pos}`);
    let b = buf[pos++]!;
    let raw = b & 0x7f;
    for (let shift = 7; b >= 0x80; shift += 7) {
      if (pos >= end) throw new CorruptRecordError(`${what}: varint runs past the end at position ${pos}`);
      b = buf[pos++]!;
      if (shift === 28) {
        if (b > 0x0f) throw new CorruptRecordError(`${what}: varint overflows 32 bits at position ${pos - 1}`);
        raw = (raw | (b << 28)) >>> 0;
        break;
      }
      raw |= (b & 0x7f) << shift;
    }
    this.pos = pos;
    // raw is the unsigned 32-bit zigzag value; undo zigzag into an int32.
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Reads a zigzag varlong (int64) whose value must be a safe integer. */
  readVarlong(what: string): number {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    // Fast path: up to 4 bytes (28 bits) accumulate exactly in a double.
    let raw = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw new CorruptRecordError(`${what}: varlong runs past the end at position ${pos}`);
      const b = buf[pos++]!;
      raw += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        this.pos = pos;
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
      shift += 7;
      if (shift === 28) break;
    }
    // Slow path: finish in BigInt so that no bit is lost, then insist on a safe result.
    this.pos = pos;
    const value = this.continueVarlongBigInt(BigInt(raw), 28, what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new CorruptRecordError(`${what}: varlong ${value} is outside the safe integer range`);
    }
    return Number(value);
  }

  /** Reads a zigzag varlong (full int64 range). */
  readVarlongBigInt(what: string): bigint {
    return this.continueVarlongBigInt(0n, 0, what);
  }

  private continueVarlongBigInt(rawSoFar: bigint, shiftSoFar: number, what: string): bigint {
    let raw = rawSoFar;
    let shift = shiftSoFar;
    for (;;) {
      if (this.pos >= this.end) throw new CorruptRecordError(`${what}: varlong runs past the end at position ${this.pos}`);
      const b = this.buf[this.pos++]!;
      // The 10th byte carries bit 63 only.
      if (shift === 63 && b > 0x01) throw new CorruptRecordError(`${what}: varlong overflows 64 bits at position ${this.pos - 1}`);
      raw |= BigInt(b & 0x7f) << BigInt(shift);
      if (b < 0x80) break;
      shift += 7;
    }
    return (raw >> 1n) ^ -(raw & 1n);
  }
}

function zigzag32(value: number): number {
  // Unsigned result in [0, 2^32).
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Bytes a zigzag varint takes. `value` must be an int32. */
export function sizeOfVarint(value: number): number {
  let raw = zigzag32(value);
  let n = 1;
  while (raw >= 0x80) {
    raw = Math.floor(raw / 128);
    n++;
  }
  return n;
}

/** Bytes a zigzag varlong takes. `value` must be a safe integer. */
export function sizeOfVarlong(value: number): number {
  if (value >= -TWO_POW_28 && value < TWO_POW_28) return sizeOfVarint(value);
  let raw = zigzagBigInt(BigInt(value));
  let n = 1;
  while (raw >= 0x80n) {
    raw >>= 7n;
    n++;
  }
  return n;
}

export function assertInt32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new InvalidArgumentError(field, `${value} is not a 32-bit integer`);
  }
}

export function assertSafeInteger(value: number, field: string): void {
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(field, `${value} is not a safe integer`);
}

/** Writes a zigzag varint at `pos`; returns the position after it. The caller has sized `buf`. */
export function writeVarint(buf: Buffer, pos: number, value: number): number {
  let raw = zigzag32(value);
  while (raw >= 0x80) {
    buf[pos++] = (raw & 0x7f) | 0x80;
    raw = Math.floor(raw / 128);
  }
  buf[pos++] = raw;
  return pos;
}

/** Writes a zigzag varlong (safe integer) at `pos`; returns the position after it. */
export function writeVarlong(buf: Buffer, pos: number, value: number): number {
  if (value >= -TWO_POW_28 && value < TWO_POW_28) return writeVarint(buf, pos, value);
  return writeVarlongBigInt(buf, pos, BigInt(value));
}

function zigzagBigInt(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

/** Writes a zigzag varlong (any int64) at `pos`; returns the position after it. */
export function writeVarlongBigInt(buf: Buffer, pos: number, value: bigint): number {
  if (value < -(2n ** 63n) || value >= 2n ** 63n) throw new InvalidArgumentError('varlong', `${value} is not a 64-bit integer`);
  let raw = zigzagBigInt(value);
  while (raw >= 0x80n) {
    buf[pos++] = Number(raw & 0x7fn) | 0x80;
    raw >>= 7n;
  }
  buf[pos++] = Number(raw);
  return pos;
}

/** Convenience: the varint encoding of `value` as a fresh buffer. */
export function encodeVarint(value: number): Buffer {
  assertInt32(value, 'varint');
  const buf = Buffer.allocUnsafe(sizeOfVarint(value));
  writeVarint(buf, 0, value);
  return buf;
}

/** Convenience: the varlong encoding of a safe integer or a bigint as a fresh buffer. */
export function encodeVarlong(value: number | bigint): Buffer {
  if (typeof value === 'bigint') {
    const buf = Buffer.alloc(MAX_VARLONG_BYTES);
    return buf.subarray(0, writeVarlongBigInt(buf, 0, value));
  }
  assertSafeInteger(value, 'varlong');
  const buf = Buffer.allocUnsafe(sizeOfVarlong(value));
  writeVarlong(buf, 0, value);
  return buf;
}

// ---- fixed-width int64 as number ----

const TWO_POW_32 = 2 ** 32;

/**
 * Reads a big-endian int64 as a number, or returns undefined if it is not a safe integer. Splitting into two
 * 32-bit halves is exact whenever the result is safe, and cheaper than readBigInt64BE on the hot path.
 */
export function readInt64Safe(buf: Buffer, pos: number): number | undefined {
  const value = buf.readInt32BE(pos) * TWO_POW_32 + buf.readUInt32BE(pos + 4);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Writes a safe integer as a big-endian int64. */
export function writeInt64(buf: Buffer, pos: number, value: number): void {
  const hi = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * TWO_POW_32, pos + 4);
}
