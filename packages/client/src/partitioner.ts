// Partition choice: murmur2 of the key (the Java client's rule) for keyed records, uniform sticky for
// null keys (KIP-480: stick to one partition until its batch is sent or full, then switch), or a user
// function. The random source is injected so tests are deterministic.
import { murmur2Partition } from './murmur2.js';

/** A user partitioner: returns a partition in [0, numPartitions). */
export type Partitioner = (topic: string, key: Buffer | null, numPartitions: number) => number;

export type RandomInt = (exclusiveMax: number) => number;

export const defaultRandomInt: RandomInt = (exclusiveMax) => Math.floor(Math.random() * exclusiveMax);

/**
 * Sticky choice for null-key records, per topic. `onBatchClosed` is called by the accumulator when a
 * batch stops accepting records (sent or full); if it was the sticky batch, the next record picks a new
 * partition, different from the previous one when there is more than one.
 */
export class StickyPartitionCache {
  private readonly current = new Map<string, number>();
  constructor(private readonly randomInt: RandomInt = defaultRandomInt) {}

  partition(topic: string, numPartitions: number): number {
    const cached = this.current.get(topic);
    if (cached !== undefined && cached < numPartitions) return cached;
    return this.pick(topic, numPartitions, cached);
  }

  onBatchClosed(topic: string, partition: number, numPartitions: number): void {
    if (this.current.get(topic) === partition) this.pick(topic, numPartitions, partition);
  }

  private pick(topic: string, numPartitions: number, previous: number | undefined): number {
    let next = this.randomInt(numPartitions);
    if (numPartitions > 1 && next === previous) next = (next + 1 + this.randomInt(numPartitions - 1)) % numPartitions;
    this.current.set(topic, next);
    return next;
  }
}

export interface PartitionChoice {
  readonly partition: number;
  /** True when the sticky cache chose it (so a closed batch should move the sticky partition). */
  readonly sticky: boolean;
}

/** Picks the partition for a record: explicit > user function > murmur2(key) > sticky. */
export function choosePartition(args: {
  topic: string;
  key: Buffer | null;
  explicitPartition: number | undefined;
  numPartitions: number;
  userPartitioner: Partitioner | undefined;
  sticky: StickyPartitionCache;
}): PartitionChoice {
  if (args.explicitPartition !== undefined) return { partition: args.explicitPartition, sticky: false };
  if (args.userPartitioner !== undefined) {
    return { partition: args.userPartitioner(args.topic, args.key, args.numPartitions), sticky: false };
  }
  if (args.key !== null) return { partition: murmur2Partition(args.key, args.numPartitions), sticky: false };
  return { partition: args.sticky.partition(args.topic, args.numPartitions), sticky: true };
}
