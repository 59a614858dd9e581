// A seeded simulation of the controller's pure core: one seed drives the cluster shape and a random
// sequence of commands, heartbeats, time passing, broker crashes and restarts, controlled shutdowns
// and ISR changes requested by (possibly stale) leaders; restarts after a crash are unclean, so
// partitions whose last ISR member crashed go recovering, and heartbeats report (random) replica log
// ends for them until a recovery election picks the longest. Every command's records are encoded, decoded
// and applied as the next metadata offset; after every step the invariants are checked. A failure
// throws with the seed and the step log so that the run replays exactly.
import {
  type ControllerContext, type MetadataImage, type MetadataRecord, type PartitionImage,
  allocateProducerIds, alterConfigs, alterPartition, applyRecords, brokerHeartbeat, createPartitions, createTopics,
  decodeMetadataBatch, deleteTopics, emptyImage, encodeImageSnapshot, encodeMetadataBatch, fenceStaleBrokers,
  imageFromSnapshot, imageHash, imageInvariantViolations, imageToRecords, isBrokerUsable, NO_LEADER, parseControllerConfig,
  rebalanceLeaders, registerBroker, uncleanElectionEnabled, ReplicaLogReports, type ReplicaLogReport,
} from '../control/core.js';
import { seededRandom } from '../control/fixtures.js';

export interface SimOptions {
  readonly seed: number;
  readonly steps: number;
  readonly sessionTimeoutMs?: number;
}

export interface SimStats {
  readonly steps: number;
  readonly offset: number;
  readonly leaderChanges: number;
  readonly uncleanElections: number;
  readonly offlineObserved: number;
  readonly casRejections: number;
  readonly isrChanges: number;
  readonly fences: number;
  readonly restarts: number;
  readonly recoveries: number;
}

interface SimBroker {
  readonly id: number;
  readonly rack: string | undefined;
  alive: boolean;
  incarnation: number;
  /** The epoch the broker process believes it has (-1 before its registration committed). */
  epoch: number;
  /** Its last stop was a controlled shutdown (a crash or a fresh start is unclean). */
  cleanStop: boolean;
}

export class SimFailure extends Error {
  override readonly name = 'SimFailure';
}

export function runControllerSim(options: SimOptions): SimStats {
  const { seed } = options;
  const rnd = seededRandom(seed);
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 9_000;
  const brokerCount = 3 + rnd.intn(4);
  const useRacks = rnd.intn(2) === 0;
  const config = parseControllerConfig({ defaultReplicationFactor: Math.min(3, brokerCount), uncleanLeaderElectionEnable: rnd.intn(4) === 0 });
  const ctx = (): ControllerContext => ({ nowMs, random: rnd, config });
  const log: string[] = [];
  const fail = (why: string): never => {
    throw new SimFailure(`controller sim seed ${seed}: ${why}\n  last steps:\n    ${log.slice(-15).join('\n    ')}`);
  };

  let nowMs = 0;
  let image: MetadataImage = emptyImage(`sim-${seed}`);
  /** A broker's own image, rebuilt from the encoded batches only (the WatchMetadata path). */
  let replica: MetadataImage = emptyImage(`sim-${seed}`);
  const recentImages: MetadataImage[] = [];
  const lastHeartbeatMs = new Map<number, number>();
  const brokers: SimBroker[] = [];
  for (let id = 1; id <= brokerCount; id++) brokers.push({ id, rack: useRacks ? `rack-${id % 2}` : undefined, alive: true, incarnation: 0, epoch: -1, cleanStop: false });
  const leaderByEpoch = new Map<string, number>();
  const lastEpochs = new Map<string, { leaderEpoch: number; partitionEpoch: number }>();
  const stats = { leaderChanges: 0, uncleanElections: 0, offlineObserved: 0, casRejections: 0, isrChanges: 0, fences: 0, restarts: 0, recoveries: 0 };
  const reports = new ReplicaLogReports();
  /** Each broker's (random, fixed per partition state) log end for recovering partitions it hosts. */
  const logEnds = new Map<string, { lastEpoch: number; logEndOffset: number }>();
  let topicCounter = 0;

  const commit = (what: string, records: readonly MetadataRecord[]): number => {
    log.push(`${what}: ${records.length === 0 ? 'no records' : records.map(describe).join('; ')}`);
    if (records.length === 0) return image.offset;
    const offset = image.offset + 1;
    const bytes = encodeMetadataBatch(records);
    recentImages.push(image);
    if (recentImages.length > 6) recentImages.shift();
    try {
      image = applyRecords(image, records, offset);
      replica = applyRecords(replica, decodeMetadataBatch(bytes), offset);
    } catch (err) {
      fail(`${what} produced records that do not apply: ${(err as Error).message}`);
    }
    for (const r of records) {
      if (r.type === 'partitionChange' && r.unclean) stats.uncleanElections++;
      if (r.type === 'partitionChange' && r.leader !== undefined) stats.leaderChanges++;
      if (r.type === 'fenceBroker') stats.fences++;
    }
    check(what);
    return offset;
  };

  const check = (what: string): void => {
    const problems = imageInvariantViolations(image);
    if (problems.length > 0) fail(`after ${what}: ${problems.join('; ')}`);
    for (const topic of image.topicsById.values()) {
      for (const p of topic.partitions) {
        const key = `${topic.topicId}/${p.partition}`;
        const last = lastEpochs.get(key);
        if (last !== undefined && (p.leaderEpoch < last.leaderEpoch || p.partitionEpoch < last.partitionEpoch)) {
          fail(`after ${what}: ${topic.name}-${p.partition} epochs went back (${last.leaderEpoch}/${last.partitionEpoch} -> ${p.leaderEpoch}/${p.partitionEpoch})`);
        }
        lastEpochs.set(key, { leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch });
        const epochKey = `${key}@${p.leaderEpoch}`;
        const seen = leaderByEpoch.get(epochKey);
        if (seen !== undefined && seen !== p.leader) fail(`after ${what}: ${topic.name}-${p.partition} has leaders ${seen} and ${p.leader} in leader epoch ${p.leaderEpoch}`);
        leaderByEpoch.set(epochKey, p.leader);
        const usableIsr = p.isr.filter((id) => isBrokerUsable(image, id));
        if (p.leader === NO_LEADER) {
          stats.offlineObserved++;
          if (p.recovering) continue; // waits for every replica's report (checked when healed)
          if (usableIsr.length > 0) fail(`after ${what}: ${topic.name}-${p.partition} is offline with live ISR members [${usableIsr.join(',')}]`);
          if (uncleanElectionEnabled(image, topic.name, config) && p.replicas.some((id) => isBrokerUsable(image, id))) {
            fail(`after ${what}: ${topic.name}-${p.partition} is offline with unclean election enabled and a live replica`);
          }
        } else if (!p.replicas.includes(p.leader)) {
          fail(`after ${what}: leader ${p.leader} of ${topic.name}-${p.partition} is not a replica`);
        }
      }
    }
  };

  const randomName = (): string => `t${topicCounter++ % 12}${rnd.intn(3) === 0 ? '.x' : ''}`;
  const pick = <T>(xs: readonly T[]): T | undefined => (xs.length === 0 ? undefined : xs[rnd.intn(xs.length)]);
  const allPartitionsNow = (img: MetadataImage): { topicId: string; name: string; p: PartitionImage }[] =>
    [...img.topicsById.values()].flatMap((t) => t.partitions.map((p) => ({ topicId: t.topicId, name: t.name, p })));

  const register = (b: SimBroker): void => {
    b.incarnation++;
    const r = registerBroker(image, {
      brokerId: b.id, incarnationId: `b${b.id}-${b.incarnation}`, endpoint: { host: 'h', port: 9000 + b.id }, rack: b.rack, roles: ['broker'], cleanShutdown: b.cleanStop,
    }, ctx());
    if (!r.response.ok) fail(`registration of broker ${b.id} refused: ${r.response.error.message}`);
    const offset = commit(`register ${b.id}#${b.incarnation}`, r.records);
    b.epoch = r.response.ok && r.response.kind === 'unchanged' ? r.response.brokerEpoch : offset;
    if (image.brokers.get(b.id)?.brokerEpoch !== b.epoch) fail(`broker ${b.id} epoch ${b.epoch} is not the image's ${image.brokers.get(b.id)?.brokerEpoch}`);
    b.alive = true;
    lastHeartbeatMs.set(b.id, nowMs);
  };

  const heartbeat = (b: SimBroker, wantShutDown: boolean, mayLag = true): void => {
    if (b.epoch < 0) return;
    const behind = mayLag && rnd.intn(5) === 0 ? 1 : 0;
    const mine: ReplicaLogReport[] = [];
    for (const { topicId, p } of allPartitionsNow(image)) {
      if (!p.recovering || !p.replicas.includes(b.id)) continue;
      const k = `${b.id}/${b.epoch}/${topicId}/${p.partition}/${p.partitionEpoch}`;
      if (!logEnds.has(k)) logEnds.set(k, { lastEpoch: Math.max(-1, p.leaderEpoch - rnd.intn(3)), logEndOffset: rnd.intn(5) });
      mine.push({ topicId, partition: p.partition, partitionEpoch: p.partitionEpoch, ...logEnds.get(k)! });
    }
    if (image.brokers.get(b.id)?.brokerEpoch === b.epoch) reports.note(image, b.id, b.epoch, mine);
    const before = image;
    const r = brokerHeartbeat(image, { brokerId: b.id, brokerEpoch: b.epoch, metadataOffset: Math.max(0, image.offset - behind), wantShutDown }, ctx(), reports.lookup);
    for (const c of r.records) {
      if (c.type !== 'partitionChange' || c.recovering !== false) continue;
      // A recovery election: the longest reported log (last epoch, then end offset) leads.
      stats.recoveries++;
      const p = before.topicsById.get(c.topicId)!.partitions[c.partition]!;
      // Candidates: usable replicas (the heartbeating broker may be unfencing in this very batch).
      const usable = p.replicas.filter((id) => id === b.id || isBrokerUsable(before, id));
      const ends = usable.map((id) => ({ id, end: reports.lookup(before, id, c.topicId, c.partition) }));
      const topicName = before.topicsById.get(c.topicId)!.name;
      if (ends.some((e) => e.end === undefined) || usable.length < p.replicas.length) {
        if (!uncleanElectionEnabled(before, topicName, config)) fail(`recovery of ${topicName}-${c.partition} before every replica reported, unclean election off`);
      }
      const chosen = ends.find((e) => e.id === c.leader)?.end;
      if (chosen === undefined) fail(`recovery of ${c.topicId}/${c.partition} elected ${c.leader} without its report`);
      for (const e of ends) {
        if (e.end !== undefined && (e.end.lastEpoch > chosen!.lastEpoch || (e.end.lastEpoch === chosen!.lastEpoch && e.end.logEndOffset > chosen!.logEndOffset))) {
          fail(`recovery of ${c.topicId}/${c.partition} elected ${c.leader} (${JSON.stringify(chosen)}) over ${e.id} (${JSON.stringify(e.end)})`);
        }
      }
    }
    if (!r.response.ok) {
      if (r.response.error.code !== 'STALE_BROKER_EPOCH') fail(`heartbeat of broker ${b.id}: ${r.response.error.code}`);
      return;
    }
    lastHeartbeatMs.set(b.id, nowMs);
    commit(`heartbeat ${b.id}${wantShutDown ? ' (shutdown)' : ''}`, r.records);
    if (wantShutDown && r.response.shouldShutDown) {
      const after = image.brokers.get(b.id)!;
      if (!after.fenced) fail(`broker ${b.id} told to shut down while unfenced`);
      for (const { name, p } of allPartitionsNow(image)) if (p.leader === b.id) fail(`broker ${b.id} shut down while leading ${name}-${p.partition}`);
      b.alive = false;
      b.cleanStop = true;
    }
  };

  for (const b of brokers) register(b);
  for (const b of brokers) heartbeat(b, false);

  for (let step = 0; step < options.steps; step++) {
    const action = rnd.intn(100);
    if (action < 25) {
      nowMs += rnd.intn(4_000);
      for (const b of brokers) if (b.alive && rnd.intn(4) !== 0) heartbeat(b, false);
      const r = fenceStaleBrokers(image, { lastHeartbeatMs, nowMs, sessionTimeoutMs }, ctx());
      commit(`fence stale [${r.response.fenced.join(',')}] at ${nowMs}`, r.records);
    } else if (action < 32) {
      const b = pick(brokers.filter((x) => x.alive));
      if (b !== undefined) {
        b.alive = false;
        b.cleanStop = false;
        log.push(`crash ${b.id}`);
      }
    } else if (action < 42) {
      const b = pick(brokers.filter((x) => !x.alive));
      if (b !== undefined) {
        stats.restarts++;
        register(b);
      }
    } else if (action < 46) {
      const b = pick(brokers.filter((x) => x.alive));
      if (b !== undefined) heartbeat(b, true);
    } else if (action < 56) {
      const name = randomName();
      const configs: Record<string, string> = rnd.intn(3) === 0 ? { 'unclean.leader.election.enable': rnd.intn(2) === 0 ? 'true' : 'false' } : {};
      const r = createTopics(image, { topics: [{ name, numPartitions: 1 + rnd.intn(4), replicationFactor: rnd.intn(4) === 0 ? -1 : 1 + rnd.intn(3), configs }], validateOnly: false }, ctx());
      commit(`create ${name} -> ${r.response.topics.map((t) => (t.ok ? 'ok' : t.error.code)).join(',')}`, r.records);
    } else if (action < 59) {
      const t = pick([...image.topicIdsByName.keys()]);
      if (t !== undefined) commit(`delete ${t}`, deleteTopics(image, { names: [t] }, ctx()).records);
    } else if (action < 62) {
      const t = pick([...image.topicsById.values()]);
      if (t !== undefined) {
        const r = createPartitions(image, { topics: [{ name: t.name, count: t.partitions.length + 1 + rnd.intn(2) }], validateOnly: false }, ctx());
        commit(`grow ${t.name}`, r.records);
      }
    } else if (action < 85) {
      alterIsr();
    } else if (action < 90) {
      commit('rebalance leaders', rebalanceLeaders(image, ctx()).records);
    } else if (action < 94) {
      const t = pick([...image.topicIdsByName.keys()]);
      if (t !== undefined) {
        const r = alterConfigs(image, { resources: [{ type: 'topic', name: t, ops: [{ name: 'unclean.leader.election.enable', value: rnd.intn(2) === 0 ? 'true' : 'false', op: rnd.intn(4) === 0 ? 'DELETE' : 'SET' }] }], validateOnly: false }, ctx());
        commit(`alter configs ${t}`, r.records);
      }
    } else if (action < 97) {
      const b = pick(brokers.filter((x) => x.alive && x.epoch > 0));
      if (b !== undefined) {
        const before = image.nextProducerId;
        const r = allocateProducerIds(image, { brokerId: b.id, brokerEpoch: b.epoch }, ctx());
        commit(`producer ids for ${b.id}`, r.records);
        if (r.response.ok && (r.response.firstProducerId !== before || image.nextProducerId !== before + r.response.size)) fail('producer id block overlaps');
      }
    } else {
      snapshotCheck(`step ${step}`);
    }
  }
  // Heal: everyone back, heartbeats until nothing changes, then compare the broker's replayed image.
  for (const b of brokers) if (!b.alive) register(b);
  for (let round = 0; round < 3; round++) for (const b of brokers) heartbeat(b, false, false);
  for (const b of brokers) if (image.brokers.get(b.id)!.fenced) fail(`broker ${b.id} still fenced after healing`);
  for (const { name, p } of allPartitionsNow(image)) {
    if (p.leader === NO_LEADER && !p.isr.some((id) => image.brokers.has(id))) fail(`${name}-${p.partition} offline after healing`);
    if (p.recovering) fail(`${name}-${p.partition} still recovering after every broker came back and reported`);
  }
  snapshotCheck('end');
  if (imageHash(replica) !== imageHash(image)) fail('the image rebuilt from encoded batches differs from the controller\'s');
  return { steps: options.steps, offset: image.offset, ...stats };

  function snapshotCheck(when: string): void {
    const restored = imageFromSnapshot(encodeImageSnapshot(image, { lastOffset: image.offset, lastTerm: 1 }));
    if (imageHash(restored) !== imageHash(image)) fail(`${when}: snapshot round trip changed the image hash`);
    if (restored.offset !== image.offset) fail(`${when}: snapshot offset ${restored.offset} != ${image.offset}`);
    const a = JSON.stringify(imageToRecords(restored));
    if (a !== JSON.stringify(imageToRecords(image))) fail(`${when}: snapshot round trip changed the records`);
  }

  /** An ISR change from the leader of a partition as some recent image shows it (maybe stale). */
  function alterIsr(): void {
    const view = rnd.intn(3) === 0 ? pick(recentImages) ?? image : image;
    const target = pick(allPartitionsNow(view).filter((x) => x.p.leader !== NO_LEADER));
    if (target === undefined) return;
    const { p } = target;
    const leader = brokers[p.leader - 1]!;
    if (!leader.alive || leader.epoch < 0) return;
    const others = p.replicas.filter((id) => id !== p.leader);
    const newIsr = [p.leader, ...others.filter(() => rnd.intn(2) === 0)];
    const current = image.topicsById.get(target.topicId)?.partitions[p.partition];
    const r = alterPartition(image, {
      brokerId: leader.id, brokerEpoch: rnd.intn(10) === 0 ? leader.epoch - 1 : leader.epoch, topicId: target.topicId, topic: target.name,
      partition: p.partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr,
    }, ctx());
    if (!r.response.ok) {
      stats.casRejections++;
      log.push(`alterPartition ${target.name}-${p.partition} [${newIsr.join(',')}] by ${leader.id} -> ${r.response.error.code}`);
      return;
    }
    if (current === undefined || current.partitionEpoch !== p.partitionEpoch || current.leaderEpoch !== p.leaderEpoch) {
      fail(`alterPartition accepted a stale request for ${target.name}-${p.partition}`);
    }
    if (r.records.length > 0) stats.isrChanges++;
    commit(`alterPartition ${target.name}-${p.partition} [${newIsr.join(',')}] by ${leader.id}`, r.records);
  }
}

function describe(r: MetadataRecord): string {
  switch (r.type) {
    case 'partitionChange':
      return `change ${r.topicId.slice(0, 4)}/${r.partition} leader=${r.leader ?? '='} isr=${r.isr === undefined ? '=' : `[${r.isr.join(',')}]`} le=${r.leaderEpoch} pe=${r.partitionEpoch}${r.unclean ? ' UNCLEAN' : ''}${r.recovering === undefined ? '' : ` recovering=${r.recovering}`}`;
    case 'registerBroker':
      return `register ${r.brokerId} ${r.incarnationId}`;
    case 'fenceBroker':
    case 'unfenceBroker':
    case 'brokerShutdown':
      return `${r.type} ${r.brokerId}`;
    case 'partition':
      return `partition ${r.topicId.slice(0, 4)}/${r.partition} [${r.replicas.join(',')}]`;
    default:
      return r.type;
  }
}
