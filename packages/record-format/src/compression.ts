// Compression codecs of the record batch (attributes bits 0-2). Codes are Kafka's.
import { gunzipSync, gzipSync } from 'node:zlib';
import { compressSync as lz4CompressSync, uncompressSync as lz4UncompressSync } from 'lz4-napi';
import { CorruptRecordError, InvalidArgumentError, MessageTooLargeError, UnsupportedCompressionError } from './errors.js';

export type Compression = 'none' | 'gzip' | 'lz4';

export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'lz4'];

/** Attribute codes. 2 (snappy) and 4 (zstd) are Kafka's and reserved here; 5-7 are invalid. */
export const COMPRESSION_CODE = { none: 0, gzip: 1, lz4: 3 } as const satisfies Record<Compression, number>;
const SNAPPY_CODE = 2;
const ZSTD_CODE = 4;

/**
 * Upper bound on a batch's decompressed record bytes unless the caller passes another. Bounds memory for a
 * hostile or corrupt batch: gzip can expand ~1000x, so a 1 MiB batch could otherwise ask for ~1 GiB.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Parses a user-facing codec name (`compression.type`). Throws InvalidArgumentError naming the value. */
export function compressionFromName(name: string, field = 'compression.type'): Compression {
  if ((COMPRESSIONS as readonly string[]).includes(name)) return name as Compression;
  throw new InvalidArgumentError(field, `unknown compression ${JSON.stringify(name)} (expected one of ${COMPRESSIONS.join(', ')})`);
}

/** Codec from the attribute bits 0-2. Unsupported Kafka codecs and undefined codes throw typed errors. */
export function compressionFromCode(code: number): Compression {
  switch (code) {
    case COMPRESSION_CODE.none:
      return 'none';
    case COMPRESSION_CODE.gzip:
      return 'gzip';
    case COMPRESSION_CODE.lz4:
      return 'lz4';
    case SNAPPY_CODE:
    case ZSTD_CODE:
      throw new UnsupportedCompressionError(code);
    default:
      throw new CorruptRecordError(`invalid compression code ${code} in batch attributes`);
  }
}

/** Compresses the record sequence of a batch. The result is a fresh buffer owned by the caller. */
export function compress(compression: Compression, data: Buffer): Buffer {
  switch (compression) {
    case 'none':
      return data;
    case 'gzip':
      return gzipSync(data);
    case 'lz4':
      // LZ4 *block* format with a 4-byte little-endian uncompressed size in front (lz4_flex's
      // size-prepended form), not Kafka's LZ4 frame format: the size lets decompress() refuse an
      // oversized batch before allocating anything. See docs/record-format.md.
      return lz4CompressSync(data);
  }
}

/**
 * Decompresses a record sequence, refusing output beyond `maxBytes`. Every failure (bad stream, size over
 * the limit) is a CorruptRecordError with the codec's error as `cause`. The result is a fresh buffer.
 */
export function decompress(compression: Compression, data: Uint8Array, maxBytes: number): Buffer {
  try {
    return inflateBounded(compression, data, maxBytes);
  } catch (err) {
    if (err instanceof MessageTooLargeError) throw new CorruptRecordError(err.message, { cause: err });
    throw err;
  }
}

/**
 * Decompresses a record sequence whose decompressed size may not exceed `maxBytes`, stopping *while*
 * inflating: gzip through zlib's maxOutputLength (zlib aborts as soon as its output passes the bound, so a
 * 200 KB bomb that would inflate to 200 MiB costs ~1 MiB of work), lz4 from its size prefix before
 * anything is allocated. Throws MessageTooLargeError past the bound and CorruptRecordError (codec error
 * as `cause`) for a stream that does not decompress. `none` returns a view of `data` (no copy, no bound:
 * the caller already bounded the batch). The result is a fresh buffer otherwise.
 */
export function inflateBounded(compression: Compression, data: Uint8Array, maxBytes: number): Buffer {
  switch (compression) {
    case 'none':
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case 'gzip':
      try {
        return gunzipSync(data, { maxOutputLength: Math.max(1, maxBytes) });
      } catch (cause) {
        if ((cause as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new MessageTooLargeError(`gzip record data inflates past the limit of ${maxBytes} bytes`, { cause });
        }
        throw new CorruptRecordError(`gzip record data does not decompress`, { cause });
      }
    case 'lz4': {
      if (data.byteLength < 4) throw new CorruptRecordError('lz4 record data shorter than its size prefix');
      const declaredBytes = Buffer.from(data.buffer, data.byteOffset, 4).readUInt32LE(0);
      if (declaredBytes > maxBytes) {
        throw new MessageTooLargeError(`lz4 record data declares ${declaredBytes} bytes, over the limit of ${maxBytes}`);
      }
      let out: Buffer;
      try {
        out = lz4UncompressSync(data);
      } catch (cause) {
        throw new CorruptRecordError('lz4 record data does not decompress', { cause });
      }
      // lz4_flex accepts a declared size larger than the real output and truncates; we do not.
      if (out.length !== declaredBytes) {
        throw new CorruptRecordError(`lz4 record data declares ${declaredBytes} bytes but holds ${out.length}`);
      }
      return out;
    }
  }
}
