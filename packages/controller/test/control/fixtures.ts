// Shared test fixtures: a seeded random source, a context, and a cluster built through the commands
// themselves (so fixtures never hold states the controller could not reach).
import {
  type ControllerContext, type ControllerResult, type MetadataImage, type MetadataRecord, type Random,
  applyRecords, brokerHeartbeat, createTopics, emptyImage, parseControllerConfig, registerBroker,
  type ControllerConfig,
} from './core.js';

/** mulberry32: a small seeded PRNG. */
export function seededRandom(seed: number): Random & { next(): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, intn: (n: number) => Math.floor(next() * n) };
}

export function context(seed = 1, config: Partial<ControllerConfig> = {}): ControllerContext {
  return { nowMs: 0, random: seededRandom(seed), config: parseControllerConfig(config) };
}

/** Applies a command's records as the next offset, like a committed Raft entry. */
export function commit<R>(image: MetadataImage, result: ControllerResult<R>): MetadataImage {
  return result.records.length === 0 ? image : applyRecords(image, result.records, image.offset + 1);
}

export function apply(image: MetadataImage, records: readonly MetadataRecord[]): MetadataImage {
  return applyRecords(image, records, image.offset + 1);
}

/** Registers brokers (rack per id when given) and unfences each through a caught-up heartbeat. */
export function clusterWith(brokerIds: readonly number[], ctx: ControllerContext, racks: Readonly<Record<number, string>> = {}): MetadataImage {
  let image = emptyImage('test-cluster');
  for (const id of brokerIds) {
    image = commit(image, registerBroker(image, { brokerId: id, incarnationId: `inc-${id}-a`, endpoint: { host: 'localhost', port: 9000 + id }, rack: racks[id], roles: ['broker'], cleanShutdown: false }, ctx));
  }
  for (const id of brokerIds) {
    const b = image.brokers.get(id)!;
    image = commit(image, brokerHeartbeat(image, { brokerId: id, brokerEpoch: b.brokerEpoch, metadataOffset: image.offset, wantShutDown: false }, ctx));
  }
  return image;
}

export function withTopic(image: MetadataImage, ctx: ControllerContext, name: string, numPartitions: number, replicationFactor: number, configs: Record<string, string> = {}): MetadataImage {
  const r = createTopics(image, { topics: [{ name, numPartitions, replicationFactor, configs }], validateOnly: false }, ctx);
  const t = r.response.topics[0]!;
  if (!t.ok) throw new Error(`createTopics failed: ${t.error.code} ${t.error.message}`);
  return commit(image, r);
}
