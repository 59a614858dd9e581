// Updating a CRC32C after a few bytes of the covered range changed, without reading the rest.
//
// CRC is linear over GF(2): for messages A and B of one length, crc(A xor B) = crc(A) xor crc(B) xor
// crc(zeros). So when only bytes [0, k) of an n-byte range change from `before` to `after`,
//   crc(new) = crc(old) xor raw(delta followed by n - k zero bytes)
// where raw is the CRC without its initial value and final xor, and delta = before xor after. Appending
// zero bytes to a raw CRC is a multiplication by x^(8·zeros) modulo the polynomial, done in O(log n)
// (zlib's crc32_combine method). The result is exactly the stored CRC updated by the change: if the stored
// CRC did not match the old bytes, the updated one does not match the new bytes either, so a corrupt
// batch stays detectably corrupt.
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';

/** CRC32C's polynomial, bit-reflected. */
const POLY_REFLECTED = 0x82f63b78;

/** a(x)·b(x) modulo the polynomial, both reflected (bit 31 is x^0). */
function multiplyModPoly(a: number, b: number): number {
  let product = 0;
  let multiplicand = b >>> 0;
  for (let m = 0x80000000; m !== 0; m >>>= 1) {
    if ((a & m) !== 0) product ^= multiplicand;
    multiplicand = (multiplicand & 1) !== 0 ? (multiplicand >>> 1) ^ POLY_REFLECTED : multiplicand >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo the polynomial for k in [0, 32); x^(8·n) is a product of some of them. Pure constants. */
const X_POW_2K: readonly number[] = (() => {
  const table: number[] = [0x40000000]; // x^1
  for (let k = 1; k < 32; k++) table.push(multiplyModPoly(table[k - 1]!, table[k - 1]!));
  return table;
})();

/** The raw CRC `raw` of some bytes, extended by `zeroBytes` zero bytes. */
function appendZeros(raw: number, zeroBytes: number): number {
  let power = 0x80000000; // x^0
  let n = zeroBytes;
  for (let k = 3; n > 0; n = Math.floor(n / 2), k++) { // x^(8·n) = x^(n·2^3); k < 32 as zeroBytes < 2^29
    if (n % 2 === 1) power = multiplyModPoly(X_POW_2K[k]!, power);
  }
  return multiplyModPoly(power, raw);
}

/**
 * The CRC32C of a `rangeBytes`-long range whose first `before.length` bytes changed from `before` to
 * `after` (nothing else changed), given the range's old CRC `crc`. Costs O(before.length + log rangeBytes).
 */
export function updateCrc32c(crc: number, before: Buffer, after: Buffer, rangeBytes: number): number {
  assert.ok(before.length === after.length && before.length <= rangeBytes && rangeBytes < 2 ** 29, `updateCrc32c: ${before.length}/${after.length} changed bytes in a ${rangeBytes}-byte range`);
  const delta = Buffer.allocUnsafe(before.length);
  for (let i = 0; i < delta.length; i++) delta[i] = before[i]! ^ after[i]!;
  // raw(delta) = crc32c(delta) xor crc32c(zeros of its length): the initial value and final xor cancel.
  const raw = (crc32c(delta) ^ crc32c(Buffer.alloc(delta.length))) >>> 0;
  return (crc ^ appendZeros(raw, rangeBytes - delta.length)) >>> 0;
}
