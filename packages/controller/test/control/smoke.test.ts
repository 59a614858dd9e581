import { describe, expect, it } from 'vitest';
import { imageInvariantViolations, topicByName } from './core.js';
import { clusterWith, context, withTopic } from './fixtures.js';

describe('smoke', () => {
  it('builds a cluster and a topic', () => {
    const ctx = context(7);
    let image = clusterWith([1, 2, 3], ctx);
    image = withTopic(image, ctx, 'orders', 6, 3);
    const t = topicByName(image, 'orders')!;
    expect(t.partitions).toHaveLength(6);
    expect(imageInvariantViolations(image)).toEqual([]);
    expect([...image.brokers.values()].every((b) => !b.fenced)).toBe(true);
  });
});
