import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { Inflights } from '../../src/internal.js';

describe('Inflights', () => {
  it('is full at the message-count limit and frees by acknowledged index', () => {
    const f = new Inflights(3, 0);
    f.add(1, 10);
    f.add(2, 10);
    expect(f.full()).toBe(false);
    f.add(5, 10);
    expect(f.full()).toBe(true);
    expect(() => f.add(6, 1)).toThrow(AssertionError);
    f.freeLE(2);
    expect(f.count()).toBe(1);
    expect(f.bytes()).toBe(10);
    expect(f.full()).toBe(false);
    // Acknowledging an index between two in-flight messages frees only the earlier ones.
    f.add(8, 1);
    f.freeLE(6);
    expect(f.count()).toBe(1);
    f.freeLE(100);
    expect(f.count()).toBe(0);
    expect(f.bytes()).toBe(0);
  });

  it('is full at the byte limit even with few messages', () => {
    const f = new Inflights(100, 1000);
    f.add(1, 600);
    expect(f.full()).toBe(false);
    f.add(2, 400);
    expect(f.full()).toBe(true);
    f.freeLE(1);
    expect(f.full()).toBe(false);
    expect(f.bytes()).toBe(400);
  });

  it('rejects indexes that do not increase', () => {
    const f = new Inflights(10, 0);
    f.add(5, 1);
    expect(() => f.add(5, 1)).toThrow(AssertionError);
    expect(() => f.add(3, 1)).toThrow(AssertionError);
  });

  it('freeFirstOne frees the oldest message and its bytes, opening a full window', () => {
    const inflights = new Inflights(2, 100);
    inflights.add(5, 60);
    inflights.add(9, 40);
    expect(inflights.full()).toBe(true);
    inflights.freeFirstOne();
    expect(inflights.full()).toBe(false);
    expect(inflights.count()).toBe(1);
    expect(inflights.bytes()).toBe(40);
    inflights.freeFirstOne();
    inflights.freeFirstOne(); // empty: no-op
    expect(inflights.count()).toBe(0);
    expect(inflights.bytes()).toBe(0);
  });

  it('reset empties it', () => {
    const f = new Inflights(1, 0);
    f.add(1, 1);
    f.reset();
    expect(f.full()).toBe(false);
    expect(f.count()).toBe(0);
  });
});
