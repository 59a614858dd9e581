// A small, fast, seeded PRNG for the simulator: xoshiro128** seeded through splitmix32.
// Everything random in a simulation run flows from one seed through instances of this class, so a
// seed replays exactly. Not cryptographic; 32-bit arithmetic only (Math.imul), no floats in the state.
import type { Random } from '../../src/types.js';

const UINT32_RANGE = 0x1_0000_0000;

/** splitmix32: spreads a small integer seed over 32 bits so nearby seeds give unrelated streams. */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class SimRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    // Fold the high bits in too, so seeds above 2^32 are not aliases of small ones.
    const state = { x: (seed ^ Math.floor(seed / UINT32_RANGE) * 0x632be5ab) | 0 };
    this.a = splitmix32(state);
    this.b = splitmix32(state);
    this.c = splitmix32(state);
    this.d = splitmix32(state);
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // the all-zero state is a fixed point
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** An integer in [0, n). */
  intn(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > UINT32_RANGE) throw new RangeError(`intn: n must be an integer in [1, 2^32], got ${n}`);
    // Multiply-shift: maps 32 random bits onto [0, n) with bias < n / 2^32, negligible here.
    return Math.floor((this.nextUint32() / UINT32_RANGE) * n);
  }

  /** An integer in [lo, hi] (both inclusive). */
  between(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`between: empty range [${lo}, ${hi}]`);
    return lo + this.intn(hi - lo + 1);
  }

  /** True with probability p (0 <= p <= 1). */
  chance(p: number): boolean {
    return this.nextUint32() < p * UINT32_RANGE;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick: empty list');
    return items[this.intn(items.length)] as T;
  }

  /** Fisher-Yates, in place; returns its argument. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.intn(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** An independent stream derived from this one (e.g. one per node), so adding draws in one
   * component does not shift every other component's choices. */
  fork(): SimRandom {
    return new SimRandom(this.nextUint32() * 0x1f_ffff + this.intn(0x1f_ffff));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
