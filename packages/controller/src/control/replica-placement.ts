// Replica placement (Kafka's AdminUtils.assignReplicasToBrokers), pure: a random start from the
// seeded source, then round-robin, so first replicas — the preferred leaders — rotate evenly over
// the brokers, and followers are shifted so that they spread too.
//
// Rack-aware when every broker has a rack: brokers are listed alternating racks (a1, b1, c1, a2, ...),
// and after the first replica each next one skips brokers whose rack the partition already uses until
// every rack has one. So each partition lands on min(replicationFactor, racks) distinct racks.
import type { Random } from './controller-config.js';

export interface PlacementBroker {
  readonly brokerId: number;
  readonly rack: string | undefined;
}

export interface PlacementRequest {
  /** Candidate brokers (usable ones); order does not matter. */
  readonly brokers: readonly PlacementBroker[];
  readonly partitions: number;
  readonly replicationFactor: number;
  /** The id of the first partition to place (createPartitions continues a topic). */
  readonly firstPartition: number;
  readonly random: Random;
}

/**
 * Replica lists, one per partition [firstPartition, firstPartition + partitions). Requires
 * 1 <= replicationFactor <= brokers.length (the caller answers INVALID_REPLICATION_FACTOR otherwise).
 */
export function placeReplicas(req: PlacementRequest): number[][] {
  const n = req.brokers.length;
  if (req.replicationFactor < 1 || req.replicationFactor > n) throw new RangeError(`replication factor ${req.replicationFactor} with ${n} brokers`);
  if (req.partitions < 0) throw new RangeError(`partitions ${req.partitions}`);
  const sorted = [...req.brokers].sort((a, b) => a.brokerId - b.brokerId);
  const rackAware = sorted.every((b) => b.rack !== undefined) && new Set(sorted.map((b) => b.rack)).size > 1;
  return rackAware ? placeRackAware(sorted, req) : placeRackUnaware(sorted.map((b) => b.brokerId), req);
}

/** The j-th follower's index (j >= 1) for a first replica at `first` and a shift, as Kafka's replicaIndex. */
function followerIndex(first: number, shift: number, j: number, n: number): number {
  return (first + 1 + ((shift + j - 1) % (n - 1))) % n;
}

function placeRackUnaware(ids: readonly number[], req: PlacementRequest): number[][] {
  const n = ids.length;
  const start = req.random.intn(n);
  let shift = req.random.intn(n);
  const out: number[][] = [];
  for (let i = 0; i < req.partitions; i++) {
    const p = req.firstPartition + i;
    if (p > 0 && p % n === 0) shift++;
    const first = (p + start) % n;
    const replicas = [ids[first]!];
    for (let j = 1; j < req.replicationFactor; j++) replicas.push(ids[followerIndex(first, shift, j, n)]!);
    out.push(replicas);
  }
  return out;
}

/** Brokers interleaved by rack: racks sorted, each rack's brokers by id, then round-robin over racks. */
function rackAlternated(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const b of brokers) {
    const list = byRack.get(b.rack!) ?? [];
    list.push(b);
    byRack.set(b.rack!, list);
  }
  const racks = [...byRack.keys()].sort();
  const out: PlacementBroker[] = [];
  for (let round = 0; out.length < brokers.length; round++) {
    for (const rack of racks) {
      const b = byRack.get(rack)![round];
      if (b !== undefined) out.push(b);
    }
  }
  return out;
}

function placeRackAware(brokers: readonly PlacementBroker[], req: PlacementRequest): number[][] {
  const list = rackAlternated(brokers);
  const n = list.length;
  const racksTotal = new Set(list.map((b) => b.rack)).size;
  const start = req.random.intn(n);
  let shift = req.random.intn(n);
  const out: number[][] = [];
  for (let i = 0; i < req.partitions; i++) {
    const p = req.firstPartition + i;
    if (p > 0 && p % n === 0) shift++;
    const first = (p + start) % n;
    const leader = list[first]!;
    const replicas = [leader.brokerId];
    const racksUsed = new Set([leader.rack]);
    const brokersUsed = new Set([leader.brokerId]);
    let k = 1;
    for (let j = 1; j < req.replicationFactor; j++) {
      // Walk the follower sequence until a broker fits: a new rack while some rack is unused, any
      // unused broker once every rack has one. n - 1 candidates in a row always include a fit.
      for (let tries = 0; ; tries++) {
        if (tries > n) throw new Error(`rack-aware placement found no replica ${j} for partition ${p}`);
        const candidate = list[followerIndex(first, shift, k, n)]!;
        k++;
        if (brokersUsed.has(candidate.brokerId)) continue;
        if (racksUsed.size < racksTotal && racksUsed.has(candidate.rack)) continue;
        replicas.push(candidate.brokerId);
        racksUsed.add(candidate.rack);
        brokersUsed.add(candidate.brokerId);
        break;
      }
    }
    out.push(replicas);
  }
  return out;
}
