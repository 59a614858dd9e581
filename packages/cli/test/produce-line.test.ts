import { describe, expect, it } from 'vitest';
import { lineToRecord, parseAcks, type LineShape } from '../src/commands/produce.js';
import { InFlightLimit } from '../src/in-flight-limit.js';

const dec = new TextDecoder();
const shape: LineShape = { topic: 't', partition: undefined, fixedKey: null, keyDelimiter: undefined, headers: [] };

describe('stdin line to record', () => {
  it('uses the whole line as the value, with the fixed key if any', () => {
    const record = lineToRecord('hello world', { ...shape, fixedKey: new TextEncoder().encode('k') });
    expect(dec.decode(record.value ?? new Uint8Array())).toBe('hello world');
    expect(dec.decode(record.key ?? new Uint8Array())).toBe('k');
  });

  it('splits at the first delimiter; a line without it is an error', () => {
    const record = lineToRecord('user-1::a::b', { ...shape, keyDelimiter: '::' });
    expect(dec.decode(record.key ?? new Uint8Array())).toBe('user-1');
    expect(dec.decode(record.value ?? new Uint8Array())).toBe('a::b');
    expect(() => lineToRecord('novalue', { ...shape, keyDelimiter: '::' })).toThrow(/no key delimiter/);
  });

  it('accepts Kafka acks spellings', () => {
    expect(parseAcks('0')).toBe('0');
    expect(parseAcks('1')).toBe('1');
    expect(parseAcks('all')).toBe('all');
    expect(parseAcks('-1')).toBe('all');
    expect(() => parseAcks('2')).toThrow(/--acks must be 0, 1 or all/);
  });
});

describe('in-flight limit', () => {
  it('never lets more than the maximum through and drains', async () => {
    const limit = new InFlightLimit(3);
    let peak = 0;
    const work = Array.from({ length: 20 }, async (_, i) => {
      await limit.acquire();
      peak = Math.max(peak, limit.count);
      await new Promise((resolve) => setTimeout(resolve, i % 3));
      limit.release();
    });
    await Promise.all(work);
    await limit.drained();
    expect(peak).toBe(3);
    expect(limit.count).toBe(0);
    expect(() => limit.release()).toThrow(/without a matching acquire/);
    expect(() => new InFlightLimit(0)).toThrow(RangeError);
  });
});
