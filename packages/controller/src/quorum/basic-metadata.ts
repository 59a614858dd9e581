// A compact metadata state machine and controller decisions, used by the quorum shell until the full
// pure core (src/metadata, src/control) is wired in its place through the same three ports
// (MetadataMachine, ControllerCommands, ControllerPolicies). Pure: no I/O, no clock, ids come from ctx.
//
// Rules (DESIGN.md §4): a registration starts fenced and is unfenced once the broker reports a metadata
// offset ≥ its registration (its broker epoch); fencing or a controlled shutdown takes the broker out of
// every ISR (never below one member) and moves leadership to the first live ISR member in replica order
// (no live member → leader -1: unclean election is off); every change bumps partitionEpoch, every leader
// change leaderEpoch. The preferred leader (first replica) is restored when it is live and in the ISR.
import { createHash } from 'node:crypto';
import { AssertionError } from 'node:assert';
import { tributary } from '@tributary/protocol';
import type {
  AlterPartitionCommand, BrokerHeartbeat, BrokerRegistration, CommandContext, CommandRefusal, ControllerCommands,
  HeartbeatAnswer, PartitionStateAnswer, ProducerIdsAnswer,
} from './controller-commands.js';
import type { MetadataMachine } from './metadata-machine.js';
import type { CommandDecision, ControllerPolicies } from './quorum-controller.js';

import pb = tributary.internal.v1;
import v1 = tributary.v1;

export const PRODUCER_IDS_BLOCK_SIZE = 1000;
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const PARTITIONS_MAX = 10_000;

export interface BrokerState {
  readonly id: number;
  readonly incarnationId: string;
  readonly epoch: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | undefined;
  readonly roles: readonly string[];
  readonly fenced: boolean;
  readonly shuttingDown: boolean;
}

export interface PartitionState {
  readonly topicId: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

export interface TopicState {
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
  readonly partitions: readonly PartitionState[];
  readonly configs: Readonly<Record<string, string>>;
}

export interface BasicImage {
  readonly offset: number;
  readonly brokers: ReadonlyMap<number, BrokerState>;
  readonly topics: ReadonlyMap<string, TopicState>; // by topic id
  readonly topicIds: ReadonlyMap<string, string>;   // name → id
  readonly nextProducerId: number;
}

export const EMPTY_IMAGE: BasicImage = { offset: 0, brokers: new Map(), topics: new Map(), topicIds: new Map(), nextProducerId: 0 };

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError({ message });
}

// ---- apply (pure, shared by controllers and brokers) ----

export function applyMetadataRecords(image: BasicImage, records: readonly pb.IMetadataRecord[], offset: number): BasicImage {
  const brokers = new Map(image.brokers);
  const topics = new Map(image.topics);
  const topicIds = new Map(image.topicIds);
  let nextProducerId = image.nextProducerId;
  const topicOf = (id: string): TopicState => {
    const t = topics.get(id);
    assert(t !== undefined, `metadata record for unknown topic id ${id} at offset ${offset}`);
    return t;
  };
  const setBroker = (id: number, patch: Partial<BrokerState>): void => {
    const b = brokers.get(id);
    assert(b !== undefined, `metadata record for unknown broker ${id} at offset ${offset}`);
    brokers.set(id, { ...b, ...patch });
  };
  for (const r of records) {
    const m = pb.MetadataRecord.fromObject(r);
    switch (m.record) {
      case 'registerBroker': {
        const x = (m.registerBroker as pb.RegisterBrokerRecord);
        brokers.set(x.brokerId, {
          id: x.brokerId, incarnationId: x.incarnationId, epoch: Number(x.brokerEpoch) > 0 ? Number(x.brokerEpoch) : offset,
          host: x.endpoint?.host ?? '', port: x.endpoint?.port ?? 0, rack: x.rack === '' ? undefined : x.rack, roles: [...x.roles],
          fenced: x.fenced, shuttingDown: false,
        });
        break;
      }
      case 'unregisterBroker': brokers.delete((m.unregisterBroker as pb.UnregisterBrokerRecord).brokerId); break;
      case 'fenceBroker': setBroker((m.fenceBroker as pb.FenceBrokerRecord).brokerId, { fenced: true }); break;
      case 'unfenceBroker': setBroker((m.unfenceBroker as pb.UnfenceBrokerRecord).brokerId, { fenced: false, shuttingDown: false }); break;
      case 'brokerShutdown': setBroker((m.brokerShutdown as pb.BrokerShutdownRecord).brokerId, { shuttingDown: true }); break;
      case 'topic': {
        const x = (m.topic as pb.TopicRecord);
        assert(!topicIds.has(x.name), `topic ${x.name} created twice (offset ${offset})`);
        topics.set(x.topicId, { name: x.name, topicId: x.topicId, internal: x.internal, partitions: [], configs: {} });
        topicIds.set(x.name, x.topicId);
        break;
      }
      case 'partition': {
        const x = (m.partition as pb.PartitionRecord);
        const t = topicOf(x.topicId);
        assert(x.partition === t.partitions.length, `topic ${t.name}: partition ${x.partition} added after ${t.partitions.length}`);
        topics.set(t.topicId, { ...t, partitions: [...t.partitions, {
          topicId: x.topicId, partition: x.partition, replicas: [...x.replicas], isr: [...x.isr], leader: x.leader,
          leaderEpoch: x.leaderEpoch, partitionEpoch: x.partitionEpoch,
        }] });
        break;
      }
      case 'partitionChange': {
        const x = (m.partitionChange as pb.PartitionChangeRecord);
        const t = topicOf(x.topicId);
        const p = t.partitions[x.partition];
        assert(p !== undefined, `change of unknown partition ${t.name}-${x.partition}`);
        assert(x.leaderEpoch >= p.leaderEpoch && x.partitionEpoch > p.partitionEpoch, `${t.name}-${x.partition}: epochs must grow (leader ${p.leaderEpoch}->${x.leaderEpoch}, partition ${p.partitionEpoch}->${x.partitionEpoch})`);
        const next: PartitionState = {
          ...p,
          leader: x.hasLeader ? x.leader : p.leader,
          isr: x.hasIsr ? [...x.isr] : p.isr,
          replicas: x.hasReplicas ? [...x.replicas] : p.replicas,
          leaderEpoch: x.leaderEpoch, partitionEpoch: x.partitionEpoch,
        };
        const partitions = [...t.partitions];
        partitions[x.partition] = next;
        topics.set(t.topicId, { ...t, partitions });
        break;
      }
      case 'config': {
        const x = (m.config as pb.ConfigRecord);
        if (x.resourceType !== pb.ConfigResourceKind.CONFIG_TOPIC) break;
        const id = topicIds.get(x.resourceName);
        if (id === undefined) break;
        const t = topicOf(id);
        const configs = { ...t.configs };
        if (x.delete) delete configs[x.name];
        else configs[x.name] = x.value;
        topics.set(id, { ...t, configs });
        break;
      }
      case 'producerIdsBlock': {
        const x = (m.producerIdsBlock as pb.ProducerIdsBlockRecord);
        nextProducerId = Math.max(nextProducerId, Number(x.firstProducerId) + x.size);
        break;
      }
      case 'removeTopic': {
        const t = topicOf((m.removeTopic as pb.RemoveTopicRecord).topicId);
        topics.delete(t.topicId);
        topicIds.delete(t.name);
        break;
      }
      default:
        throw new AssertionError({ message: `empty metadata record at offset ${offset}` });
    }
  }
  return { offset, brokers, topics, topicIds, nextProducerId };
}

/** The image as the records that rebuild it (a snapshot). */
export function imageToRecords(image: BasicImage): pb.IMetadataRecord[] {
  const out: pb.IMetadataRecord[] = [];
  for (const b of [...image.brokers.values()].sort((a, c) => a.id - c.id)) {
    out.push({ registerBroker: { brokerId: b.id, incarnationId: b.incarnationId, brokerEpoch: b.epoch, endpoint: { host: b.host, port: b.port }, rack: b.rack ?? '', roles: [...b.roles], fenced: b.fenced } });
    if (b.shuttingDown) out.push({ brokerShutdown: { brokerId: b.id, brokerEpoch: b.epoch } });
  }
  for (const t of [...image.topics.values()].sort((a, c) => (a.name < c.name ? -1 : 1))) {
    out.push({ topic: { name: t.name, topicId: t.topicId, internal: t.internal } });
    for (const p of t.partitions) out.push({ partition: { topicId: t.topicId, partition: p.partition, replicas: [...p.replicas], isr: [...p.isr], leader: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch } });
    for (const [name, value] of Object.entries(t.configs).sort()) out.push({ config: { resourceType: pb.ConfigResourceKind.CONFIG_TOPIC, resourceName: t.name, name, value } });
  }
  if (image.nextProducerId > 0) out.push({ producerIdsBlock: { brokerId: -1, firstProducerId: 0, size: image.nextProducerId } });
  return out;
}

/** A content hash of the image (offset excluded): equal on every node that applied the same log. */
export function imageHash(image: BasicImage): string {
  return createHash('sha256').update(pb.MetadataBatch.encode({ records: imageToRecords(image) }).finish()).digest('hex');
}

export function encodeBatch(records: readonly pb.IMetadataRecord[]): Uint8Array | undefined {
  return records.length === 0 ? undefined : pb.MetadataBatch.encode({ records: [...records] }).finish();
}

export const basicMetadataMachine: MetadataMachine<BasicImage> = {
  empty: () => EMPTY_IMAGE,
  apply: (image, batch, offset) => applyMetadataRecords(image, pb.MetadataBatch.decode(batch).records, offset),
  snapshot: (image, position) => pb.MetadataSnapshot.encode({
    clusterId: position.clusterId, lastOffset: position.lastOffset, lastTerm: position.lastTerm, records: imageToRecords(image),
  }).finish(),
  restore: (data) => {
    const snap = pb.MetadataSnapshot.decode(data);
    return applyMetadataRecords(EMPTY_IMAGE, snap.records, Number(snap.lastOffset));
  },
};

// ---- decisions ----

const live = (b: BrokerState | undefined): boolean => b !== undefined && !b.fenced && !b.shuttingDown;

/** Brokers that can take new replicas or leadership, by id. */
function liveBrokerIds(image: BasicImage): number[] {
  return [...image.brokers.values()].filter(live).map((b) => b.id).sort((a, b) => a - b);
}

/**
 * The change that takes `leaving` out of every ISR and leadership (fence or controlled shutdown).
 * An ISR never drops its last member: with no one else in sync the partition goes offline (leader -1)
 * keeping that member, so it can lead again when it returns (no unclean election).
 */
function evacuate(image: BasicImage, leaving: ReadonlySet<number>): pb.IMetadataRecord[] {
  const out: pb.IMetadataRecord[] = [];
  const usable = (id: number): boolean => !leaving.has(id) && live(image.brokers.get(id));
  for (const t of image.topics.values()) {
    for (const p of t.partitions) {
      const touched = p.isr.some((id) => leaving.has(id)) || leaving.has(p.leader);
      if (!touched) continue;
      const remaining = p.isr.filter((id) => !leaving.has(id));
      const isr = remaining.length > 0 ? remaining : p.isr.filter((id) => id === p.leader || leaving.has(id)).slice(0, 1);
      const leader = leaving.has(p.leader) || !usable(p.leader) ? (p.replicas.find((id) => isr.includes(id) && usable(id)) ?? -1) : p.leader;
      out.push(partitionChange(t, p, { leader, isr }));
    }
  }
  return out;
}

function partitionChange(t: TopicState, p: PartitionState, next: { leader?: number; isr?: readonly number[] }): pb.IMetadataRecord {
  const leaderChanged = next.leader !== undefined && next.leader !== p.leader;
  return { partitionChange: {
    topicId: t.topicId, partition: p.partition,
    hasLeader: next.leader !== undefined, leader: next.leader ?? p.leader,
    hasIsr: next.isr !== undefined, isr: [...(next.isr ?? p.isr)],
    leaderEpoch: leaderChanged ? p.leaderEpoch + 1 : p.leaderEpoch, partitionEpoch: p.partitionEpoch + 1,
  } };
}

/** Offline partitions whose ISR has a live member again get it as leader. */
function electOffline(image: BasicImage): pb.IMetadataRecord[] {
  const out: pb.IMetadataRecord[] = [];
  for (const t of image.topics.values()) {
    for (const p of t.partitions) {
      if (p.leader >= 0 && live(image.brokers.get(p.leader))) continue;
      const leader = p.replicas.find((id) => p.isr.includes(id) && live(image.brokers.get(id)));
      if (leader !== undefined && leader !== p.leader) out.push(partitionChange(t, p, { leader }));
    }
  }
  return out;
}

function refuse(code: keyof typeof v1.ErrorCode, message: string, reason?: string): CommandRefusal {
  return { error: reason === undefined ? { code, message } : { code, message, reason } };
}

function none<T>(response: T): CommandDecision<T> {
  return { batch: undefined, response };
}

function wireError(code: keyof typeof v1.ErrorCode, message: string): v1.IError {
  return { code: v1.ErrorCode[code], message };
}

const OK: v1.IError = { code: v1.ErrorCode.NONE, message: '' };

export interface BasicCommandDefaults {
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
}

/** Round-robin placement over live brokers starting at `start`; the first replica is preferred. */
function place(brokers: readonly number[], count: number, rf: number, first: number, start: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const replicas: number[] = [];
    for (let r = 0; r < rf; r++) replicas.push(brokers[(start + first + i + r) % brokers.length]!);
    out.push(replicas);
  }
  return out;
}

export function basicControllerCommands(defaults: BasicCommandDefaults): ControllerCommands<BasicImage> {
  return {
    registerBroker(image: BasicImage, r: BrokerRegistration): CommandDecision<CommandRefusal | { ok: true }> {
      const prior = image.brokers.get(r.brokerId);
      // A new incarnation starts fenced; the old one's leadership moves now (it is gone).
      const records: pb.IMetadataRecord[] = prior === undefined || prior.fenced ? [] : evacuate(image, new Set([r.brokerId]));
      records.push({ registerBroker: { brokerId: r.brokerId, incarnationId: r.incarnationId, endpoint: { host: r.host, port: r.port }, rack: r.rack ?? '', roles: [...r.roles], fenced: true } });
      return { batch: encodeBatch(records), response: { ok: true } };
    },

    brokerHeartbeat(image: BasicImage, h: BrokerHeartbeat): CommandDecision<CommandRefusal | HeartbeatAnswer> {
      const b = image.brokers.get(h.brokerId);
      if (b === undefined || b.epoch !== h.brokerEpoch) {
        return none(refuse('INVALID_REQUEST', `broker ${h.brokerId} epoch ${h.brokerEpoch} is not registered (current ${b?.epoch ?? 'none'})`, 'STALE_BROKER_EPOCH'));
      }
      const isCaughtUp = h.metadataOffset >= b.epoch;
      if (h.wantShutDown) {
        const leads = [...image.topics.values()].some((t) => t.partitions.some((p) => p.leader === b.id || (p.isr.includes(b.id) && p.isr.length > 1)));
        if (b.shuttingDown || b.fenced) return none({ isFenced: b.fenced, isCaughtUp, shouldShutDown: !leads });
        const records = [{ brokerShutdown: { brokerId: b.id, brokerEpoch: b.epoch } }, ...evacuate(image, new Set([b.id]))];
        return { batch: encodeBatch(records), response: { isFenced: b.fenced, isCaughtUp, shouldShutDown: false } };
      }
      if (b.fenced && isCaughtUp) {
        const unfenced: BasicImage = { ...image, brokers: new Map(image.brokers).set(b.id, { ...b, fenced: false, shuttingDown: false }) };
        const records = [{ unfenceBroker: { brokerId: b.id, brokerEpoch: b.epoch } }, ...electOffline(unfenced)];
        return { batch: encodeBatch(records), response: { isFenced: false, isCaughtUp, shouldShutDown: false } };
      }
      return none({ isFenced: b.fenced, isCaughtUp, shouldShutDown: false });
    },

    alterPartition(image: BasicImage, a: AlterPartitionCommand): CommandDecision<CommandRefusal | PartitionStateAnswer> {
      const t = image.topics.get(a.topicId) ?? image.topics.get(image.topicIds.get(a.topic) ?? '');
      const p = t?.partitions[a.partition];
      if (t === undefined || p === undefined) return none(refuse('UNKNOWN_TOPIC_OR_PARTITION', `${a.topic}-${a.partition} does not exist`));
      const b = image.brokers.get(a.brokerId);
      if (b === undefined || b.epoch !== a.brokerEpoch) return none(refuse('INVALID_REQUEST', `broker ${a.brokerId} epoch ${a.brokerEpoch} is stale`, 'STALE_BROKER_EPOCH'));
      if (p.leader !== a.brokerId || p.leaderEpoch !== a.leaderEpoch) return none(refuse('FENCED_LEADER_EPOCH', `${t.name}-${a.partition}: leader ${p.leader} epoch ${p.leaderEpoch}, request from ${a.brokerId} epoch ${a.leaderEpoch}`));
      if (p.partitionEpoch !== a.partitionEpoch) return none(refuse('INVALID_REQUEST', `${t.name}-${a.partition}: partition epoch ${a.partitionEpoch} is not the current ${p.partitionEpoch}`, 'INVALID_UPDATE_VERSION'));
      const bad = a.newIsr.filter((id) => !p.replicas.includes(id) || (id !== a.brokerId && !live(image.brokers.get(id))));
      if (!a.newIsr.includes(a.brokerId) || bad.length > 0) return none(refuse('INVALID_REQUEST', `${t.name}-${a.partition}: ineligible ISR members ${bad.join(',')} (or the leader is missing)`, 'INELIGIBLE_REPLICA'));
      const isr = [...new Set(a.newIsr)];
      return {
        batch: encodeBatch([partitionChange(t, p, { isr })]),
        response: { leader: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch + 1, isr, replicas: p.replicas },
      };
    },

    allocateProducerIds(image: BasicImage, r: { brokerId: number; brokerEpoch: number }): CommandDecision<CommandRefusal | ProducerIdsAnswer> {
      const b = image.brokers.get(r.brokerId);
      if (b === undefined || b.epoch !== r.brokerEpoch) return none(refuse('INVALID_REQUEST', `broker ${r.brokerId} epoch ${r.brokerEpoch} is stale`, 'STALE_BROKER_EPOCH'));
      const first = image.nextProducerId;
      return {
        batch: encodeBatch([{ producerIdsBlock: { brokerId: r.brokerId, brokerEpoch: r.brokerEpoch, firstProducerId: first, size: PRODUCER_IDS_BLOCK_SIZE } }]),
        response: { firstProducerId: first, size: PRODUCER_IDS_BLOCK_SIZE },
      };
    },

    createTopics(image: BasicImage, req: v1.ICreateTopicsRequest, ctx: CommandContext): CommandDecision<v1.ICreateTopicsResponse> {
      const records: pb.IMetadataRecord[] = [];
      const results: v1.ICreateTopicResult[] = [];
      const brokers = liveBrokerIds(image);
      const created = new Set<string>();
      for (const t of req.topics ?? []) {
        const name = t.name ?? '';
        const partitions = (t.numPartitions ?? -1) === -1 ? defaults.numPartitions : t.numPartitions!;
        const rf = (t.replicationFactor ?? -1) === -1 ? defaults.defaultReplicationFactor : t.replicationFactor!;
        const fail = (code: keyof typeof v1.ErrorCode, message: string): void => {
          results.push({ name, error: wireError(code, message), numPartitions: -1, replicationFactor: -1 });
        };
        if (!TOPIC_NAME.test(name) || name === '.' || name === '..') { fail('INVALID_TOPIC_EXCEPTION', `invalid topic name ${JSON.stringify(name)}`); continue; }
        if (image.topicIds.has(name) || created.has(name)) { fail('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`); continue; }
        if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) { fail('INVALID_PARTITIONS', `number of partitions must be in [1, ${PARTITIONS_MAX}], got ${partitions}`); continue; }
        if (!Number.isInteger(rf) || rf < 1 || rf > brokers.length) { fail('INVALID_REPLICATION_FACTOR', `replication factor ${rf} is larger than the ${brokers.length} available broker(s)`); continue; }
        const topicId = ctx.newId();
        created.add(name);
        results.push({ name, error: OK, topicId: req.validateOnly ? '' : topicId, numPartitions: partitions, replicationFactor: rf });
        if (req.validateOnly) continue;
        records.push({ topic: { name, topicId, internal: name.startsWith('__') } });
        place(brokers, partitions, rf, 0, image.topics.size + created.size).forEach((replicas, partition) => {
          records.push({ partition: { topicId, partition, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 } });
        });
        for (const [key, value] of Object.entries(t.configs ?? {})) records.push({ config: { resourceType: pb.ConfigResourceKind.CONFIG_TOPIC, resourceName: name, name: key, value } });
      }
      return { batch: encodeBatch(records), response: { topics: results } };
    },

    deleteTopics(image: BasicImage, req: v1.IDeleteTopicsRequest): CommandDecision<v1.IDeleteTopicsResponse> {
      const records: pb.IMetadataRecord[] = [];
      const results: v1.IDeleteTopicResult[] = [];
      const removed = new Set<string>();
      for (const name of req.names ?? []) {
        const id = image.topicIds.get(name);
        if (id === undefined || removed.has(id)) { results.push({ name, error: wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`) }); continue; }
        removed.add(id);
        records.push({ removeTopic: { topicId: id } });
        results.push({ name, error: OK });
      }
      return { batch: encodeBatch(records), response: { topics: results } };
    },

    alterConfigs(image: BasicImage, req: v1.IAlterConfigsRequest): CommandDecision<v1.IAlterConfigsResponse> {
      const records: pb.IMetadataRecord[] = [];
      const results: v1.IAlterConfigsResult[] = [];
      for (const r of req.resources ?? []) {
        const name = r.resource?.name ?? '';
        if (r.resource?.type !== v1.ConfigResourceType.TOPIC) { results.push({ resource: r.resource, error: wireError('INVALID_REQUEST', 'only TOPIC configs can be altered') }); continue; }
        if (!image.topicIds.has(name)) { results.push({ resource: r.resource, error: wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`) }); continue; }
        results.push({ resource: r.resource, error: OK });
        if (req.validateOnly) continue;
        for (const c of r.configs ?? []) {
          records.push({ config: { resourceType: pb.ConfigResourceKind.CONFIG_TOPIC, resourceName: name, name: c.name ?? '', value: c.value ?? '', delete: c.op === v1.AlterConfigOp.DELETE } });
        }
      }
      return { batch: encodeBatch(records), response: { results } };
    },

    createPartitions(image: BasicImage, req: v1.ICreatePartitionsRequest): CommandDecision<v1.ICreatePartitionsResponse> {
      const records: pb.IMetadataRecord[] = [];
      const results: v1.ICreatePartitionsResult[] = [];
      const brokers = liveBrokerIds(image);
      for (const r of req.topics ?? []) {
        const name = r.name ?? '';
        const t = image.topics.get(image.topicIds.get(name) ?? '');
        const count = r.count ?? 0;
        if (t === undefined) { results.push({ name, error: wireError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`) }); continue; }
        const current = t.partitions.length;
        const rf = t.partitions[0]?.replicas.length ?? 1;
        if (!Number.isInteger(count) || count <= current || count > PARTITIONS_MAX) { results.push({ name, error: wireError('INVALID_PARTITIONS', `topic ${name} has ${current} partitions; the new count ${count} must be larger (and ≤ ${PARTITIONS_MAX})`) }); continue; }
        if (rf > brokers.length) { results.push({ name, error: wireError('INVALID_REPLICATION_FACTOR', `replication factor ${rf} is larger than the ${brokers.length} available broker(s)`) }); continue; }
        results.push({ name, error: OK });
        if (req.validateOnly) continue;
        place(brokers, count - current, rf, current, image.topics.size).forEach((replicas, i) => {
          records.push({ partition: { topicId: t.topicId, partition: current + i, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 } });
        });
      }
      return { batch: encodeBatch(records), response: { results } };
    },
  };
}

export const basicControllerPolicies: ControllerPolicies<BasicImage> = {
  registeredBrokers: (image) => [...image.brokers.values()].filter((b) => !b.fenced).map((b) => b.id),
  fenceStaleBrokers(image, expired) {
    const leaving = new Set(expired.filter((id) => image.brokers.get(id)?.fenced === false));
    if (leaving.size === 0) return undefined;
    const records: pb.IMetadataRecord[] = [...leaving].map((id) => ({ fenceBroker: { brokerId: id, brokerEpoch: image.brokers.get(id)!.epoch } }));
    return encodeBatch([...records, ...evacuate(image, leaving)]);
  },
  rebalanceLeaders(image) {
    // One change per partition: the preferred replica when it is eligible, else (offline only) the first
    // eligible ISR member.
    const records: pb.IMetadataRecord[] = [];
    for (const t of image.topics.values()) {
      for (const p of t.partitions) {
        const eligible = (id: number | undefined): id is number => id !== undefined && p.isr.includes(id) && live(image.brokers.get(id));
        const preferred = p.replicas[0];
        const leaderLive = p.leader >= 0 && live(image.brokers.get(p.leader));
        const target = eligible(preferred) ? preferred : leaderLive ? p.leader : (p.replicas.find(eligible) ?? p.leader);
        if (target !== p.leader) records.push(partitionChange(t, p, { leader: target }));
      }
    }
    return encodeBatch(records);
  },
};
