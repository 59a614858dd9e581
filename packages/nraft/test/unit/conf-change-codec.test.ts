import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfChangeDecodeError, decodeConfChange, encodeConfChange, type ConfChangeType } from '../../src/index.js';

describe('conf change codec', () => {
  it('round-trips every type and id (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ConfChangeType>('add-voter', 'remove-node', 'add-learner'),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        (type, nodeId) => {
          expect(decodeConfChange(encodeConfChange({ type, nodeId }))).toEqual({ type, nodeId });
        },
      ),
    );
  });

  it('rejects malformed bytes with a typed error', () => {
    const good = encodeConfChange({ type: 'add-voter', nodeId: 7 });
    expect(() => decodeConfChange(good.subarray(0, 9))).toThrow(ConfChangeDecodeError);
    const badVersion = good.slice();
    badVersion[0] = 9;
    expect(() => decodeConfChange(badVersion)).toThrow(/version/);
    const badType = good.slice();
    badType[1] = 77;
    expect(() => decodeConfChange(badType)).toThrow(/type/);
    const zeroId = good.slice();
    zeroId.fill(0, 2);
    expect(() => decodeConfChange(zeroId)).toThrow(/out of range/);
    expect(() => encodeConfChange({ type: 'add-voter', nodeId: 0 })).toThrow(ConfChangeDecodeError);
  });

  it('decodes from a view into a larger buffer', () => {
    const enc = encodeConfChange({ type: 'remove-node', nodeId: 3 });
    const big = new Uint8Array(20);
    big.set(enc, 5);
    expect(decodeConfChange(big.subarray(5, 15))).toEqual({ type: 'remove-node', nodeId: 3 });
  });
});
