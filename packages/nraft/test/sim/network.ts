// The simulated network: decides, from the seeded PRNG, what happens to each sent message (lost,
// delivered once after a delay, or duplicated with independent delays, which also reorders) and which
// links are cut by partitions. It holds no messages itself; the simulator queues deliveries.
import type { NodeId } from '../../src/types.js';
import type { SimRandom } from './random.js';

export interface NetworkFaults {
  /** Probability that a message is dropped outright. */
  readonly lossRate: number;
  /** Probability that a delivered message is delivered a second time. */
  readonly duplicateRate: number;
  /** Every delivery takes a delay in [delayMinMs, delayMaxMs]... */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** ...except, with this probability, one in [delayMaxMs, longDelayMaxMs] (a stalled packet). */
  readonly longDelayRate: number;
  readonly longDelayMaxMs: number;
}

export const BENIGN_FAULTS: NetworkFaults = {
  lossRate: 0,
  duplicateRate: 0,
  delayMinMs: 1,
  delayMaxMs: 5,
  longDelayRate: 0,
  longDelayMaxMs: 5,
};

/** At most this many nodes, so a directed link packs into one small integer. */
const NODE_ID_MAX = 1023;

export class Network {
  private readonly cut = new Set<number>();
  private partitionLabel = '';

  constructor(
    private readonly rng: SimRandom,
    public faults: NetworkFaults,
  ) {}

  /** Delivery times of one message sent at `nowMs`: [] = lost, two entries = duplicated. */
  plan(nowMs: number): number[] {
    const f = this.faults;
    if (f.lossRate > 0 && this.rng.chance(f.lossRate)) return [];
    const times = [nowMs + this.delayMs()];
    if (f.duplicateRate > 0 && this.rng.chance(f.duplicateRate)) times.push(nowMs + this.delayMs());
    return times;
  }

  /** Checked at delivery time, so a partition also swallows messages already in flight. */
  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(link(from, to));
  }

  get partitioned(): boolean {
    return this.cut.size > 0;
  }

  /** Symmetric partition: no traffic between nodes of different groups. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    for (const [gi, g] of groups.entries()) {
      for (const [hi, h] of groups.entries()) {
        if (gi === hi) continue;
        for (const a of g) for (const b of h) this.cut.add(link(a, b));
      }
    }
    this.partitionLabel = groups.map((g) => g.join(' ')).join(' | ');
  }

  /** One-way cuts: `from` can no longer reach `to`, but still hears from it. */
  cutOneWay(links: readonly (readonly [NodeId, NodeId])[]): void {
    this.heal();
    for (const [a, b] of links) this.cut.add(link(a, b));
    this.partitionLabel = links.map(([a, b]) => `${a} -/-> ${b}`).join(', ');
  }

  heal(): void {
    this.cut.clear();
    this.partitionLabel = '';
  }

  describe(): string {
    return this.partitionLabel === '' ? 'connected' : this.partitionLabel;
  }

  private delayMs(): number {
    const f = this.faults;
    if (f.longDelayRate > 0 && this.rng.chance(f.longDelayRate)) return this.rng.between(f.delayMaxMs, f.longDelayMaxMs);
    return this.rng.between(f.delayMinMs, f.delayMaxMs);
  }
}

function link(from: NodeId, to: NodeId): number {
  if (from > NODE_ID_MAX || to > NODE_ID_MAX) throw new RangeError(`node ids above ${NODE_ID_MAX} are not supported by the simulated network`);
  return from * (NODE_ID_MAX + 1) + to;
}
