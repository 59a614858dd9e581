// CreateTopics, DeleteTopics, CreatePartitions as pure commands. Each topic succeeds or fails on its
// own (as in Kafka); the records of the successful ones commit as one batch. validateOnly answers
// without records.
import type { MetadataImage } from '../metadata/metadata-image.js';
import { topicByName, usableBrokers } from '../metadata/metadata-image.js';
import type { MetadataRecord } from '../metadata/metadata-records.js';
import type { ControllerContext, Random } from './controller-config.js';
import { type ControllerError, type ControllerResult, controllerError } from './controller-result.js';
import { placeReplicas } from './replica-placement.js';

export const TOPIC_NAME_CHARS_MAX = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;
/** Topics the brokers own (Kafka's internal topics). */
export const INTERNAL_TOPIC_NAMES: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state']);

/** Kafka's topic name rules (org.apache.kafka.common.internals.Topic); the reason, or undefined. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`;
  if (name.length > TOPIC_NAME_CHARS_MAX) return `topic name is ${name.length} characters, longer than the maximum ${TOPIC_NAME_CHARS_MAX}`;
  if (!LEGAL_TOPIC_NAME.test(name)) return `topic name ${JSON.stringify(name)} contains characters other than ASCII alphanumerics, '.', '_' and '-'`;
  return undefined;
}

/** '.' and '_' collide in metric names: Kafka refuses a.b when a_b exists. */
export function topicCollisionKey(name: string): string {
  return name.replaceAll('.', '_');
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A random 128-bit id as Kafka prints a Uuid: 22 characters of unpadded base64url. */
export function newTopicId(random: Random): string {
  const bytes = Array.from({ length: 16 }, () => random.intn(256));
  let bits = 0;
  let acc = 0;
  let out = '';
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += BASE64URL[(acc >> bits) & 63];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE64URL[(acc << (6 - bits)) & 63];
  return out;
}

export interface CreatableTopic {
  readonly name: string;
  /** -1 = config.defaultNumPartitions. */
  readonly numPartitions: number;
  /** -1 = config.defaultReplicationFactor. */
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

export interface CreateTopicsRequest {
  readonly topics: readonly CreatableTopic[];
  readonly validateOnly: boolean;
}

export type CreateTopicResult =
  | { readonly ok: true; readonly name: string; readonly topicId: string; readonly numPartitions: number; readonly replicationFactor: number; readonly configs: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly name: string; readonly error: ControllerError };

export interface CreateTopicsResponse {
  readonly topics: readonly CreateTopicResult[];
}

export function createTopics(image: MetadataImage, req: CreateTopicsRequest, ctx: ControllerContext): ControllerResult<CreateTopicsResponse> {
  const { config, random } = ctx;
  const brokers = usableBrokers(image);
  const records: MetadataRecord[] = [];
  const results: CreateTopicResult[] = [];
  const collisionKeys = new Map<string, string>();
  for (const name of image.topicIdsByName.keys()) collisionKeys.set(topicCollisionKey(name), name);
  const requested = new Set<string>();
  const takenIds = new Set<string>();
  for (const t of req.topics) {
    const fail = (code: ControllerError['code'], message: string): void => {
      results.push({ ok: false, name: t.name, error: controllerError(code, message) });
    };
    if (requested.has(t.name)) {
      fail('INVALID_REQUEST', `topic ${t.name} appears more than once in the request`);
      continue;
    }
    requested.add(t.name);
    const nameProblem = topicNameProblem(t.name);
    if (nameProblem !== undefined) {
      fail('INVALID_TOPIC_EXCEPTION', nameProblem);
      continue;
    }
    if (image.topicIdsByName.has(t.name)) {
      fail('TOPIC_ALREADY_EXISTS', `topic ${t.name} already exists`);
      continue;
    }
    const collides = collisionKeys.get(topicCollisionKey(t.name));
    if (collides !== undefined) {
      fail('INVALID_TOPIC_EXCEPTION', `topic ${t.name} collides with existing topic ${collides} ('.' and '_' are equivalent in metric names)`);
      continue;
    }
    const partitions = t.numPartitions === -1 ? config.defaultNumPartitions : t.numPartitions;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > config.partitionsPerTopicMax) {
      fail('INVALID_PARTITIONS', `num_partitions must be -1 or 1..${config.partitionsPerTopicMax}, got ${t.numPartitions}`);
      continue;
    }
    const rf = t.replicationFactor === -1 ? config.defaultReplicationFactor : t.replicationFactor;
    if (!Number.isInteger(rf) || rf < 1) {
      fail('INVALID_REPLICATION_FACTOR', `replication_factor must be -1 or at least 1, got ${t.replicationFactor}`);
      continue;
    }
    if (rf > brokers.length) {
      fail('INVALID_REPLICATION_FACTOR', `replication factor ${rf} is larger than the ${brokers.length} available brokers`);
      continue;
    }
    const validated = config.validateTopicConfigs(t.configs);
    if (!validated.ok) {
      fail('INVALID_CONFIG', validated.message);
      continue;
    }
    const tooLong = Object.entries(validated.configs).find(([, v]) => v.length > config.configValueCharsMax);
    if (tooLong !== undefined) {
      fail('INVALID_CONFIG', `value of ${tooLong[0]} is longer than ${config.configValueCharsMax} characters`);
      continue;
    }
    collisionKeys.set(topicCollisionKey(t.name), t.name);
    let topicId = newTopicId(random);
    while (image.topicsById.has(topicId) || takenIds.has(topicId)) topicId = newTopicId(random);
    takenIds.add(topicId);
    results.push({ ok: true, name: t.name, topicId, numPartitions: partitions, replicationFactor: rf, configs: validated.configs });
    if (req.validateOnly) continue;
    records.push({ type: 'topic', name: t.name, topicId, internal: INTERNAL_TOPIC_NAMES.has(t.name) });
    for (const [name, value] of Object.entries(validated.configs).sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      records.push({ type: 'config', resourceType: 'topic', resourceName: t.name, name, value });
    }
    const assignment = placeReplicas({ brokers, partitions, replicationFactor: rf, firstPartition: 0, random });
    assignment.forEach((replicas, partition) => {
      // A new partition is empty: every replica is in sync, the preferred replica leads.
      records.push({ type: 'partition', topicId, partition, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 });
    });
  }
  return { records, response: { topics: results } };
}

export interface DeleteTopicsRequest {
  readonly names: readonly string[];
}

export type DeleteTopicResult =
  | { readonly ok: true; readonly name: string; readonly topicId: string }
  | { readonly ok: false; readonly name: string; readonly error: ControllerError };

export interface DeleteTopicsResponse {
  readonly topics: readonly DeleteTopicResult[];
}

export function deleteTopics(image: MetadataImage, req: DeleteTopicsRequest, _ctx: ControllerContext): ControllerResult<DeleteTopicsResponse> {
  const records: MetadataRecord[] = [];
  const results: DeleteTopicResult[] = [];
  const seen = new Set<string>();
  for (const name of req.names) {
    if (seen.has(name)) {
      results.push({ ok: false, name, error: controllerError('INVALID_REQUEST', `topic ${name} appears more than once in the request`) });
      continue;
    }
    seen.add(name);
    const topic = topicByName(image, name);
    if (topic === undefined) {
      results.push({ ok: false, name, error: controllerError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`) });
      continue;
    }
    records.push({ type: 'removeTopic', topicId: topic.topicId });
    results.push({ ok: true, name, topicId: topic.topicId });
  }
  return { records, response: { topics: results } };
}

export interface CreatePartitionsRequest {
  /** `count` is the new total partition count. */
  readonly topics: readonly { readonly name: string; readonly count: number }[];
  readonly validateOnly: boolean;
}

export type CreatePartitionsResult =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly name: string; readonly error: ControllerError };

export interface CreatePartitionsResponse {
  readonly topics: readonly CreatePartitionsResult[];
}

/** Grows topics (never shrinks); new partitions are placed like new topics' and start fully in sync. */
export function createPartitions(image: MetadataImage, req: CreatePartitionsRequest, ctx: ControllerContext): ControllerResult<CreatePartitionsResponse> {
  const brokers = usableBrokers(image);
  const records: MetadataRecord[] = [];
  const results: CreatePartitionsResult[] = [];
  const seen = new Set<string>();
  for (const t of req.topics) {
    const fail = (code: ControllerError['code'], message: string): void => {
      results.push({ ok: false, name: t.name, error: controllerError(code, message) });
    };
    if (seen.has(t.name)) {
      fail('INVALID_REQUEST', `topic ${t.name} appears more than once in the request`);
      continue;
    }
    seen.add(t.name);
    const topic = topicByName(image, t.name);
    if (topic === undefined) {
      fail('UNKNOWN_TOPIC_OR_PARTITION', `topic ${t.name} does not exist`);
      continue;
    }
    const current = topic.partitions.length;
    if (!Number.isInteger(t.count) || t.count <= current) {
      fail('INVALID_PARTITIONS', `topic ${t.name} has ${current} partitions; the new count ${t.count} must be larger (partitions only grow)`);
      continue;
    }
    if (t.count > ctx.config.partitionsPerTopicMax) {
      fail('INVALID_PARTITIONS', `partition count ${t.count} exceeds the maximum ${ctx.config.partitionsPerTopicMax}`);
      continue;
    }
    const rf = topic.partitions[0]?.replicas.length ?? 1;
    if (rf > brokers.length) {
      fail('INVALID_REPLICATION_FACTOR', `replication factor ${rf} is larger than the ${brokers.length} available brokers`);
      continue;
    }
    results.push({ ok: true, name: t.name });
    if (req.validateOnly) continue;
    const assignment = placeReplicas({ brokers, partitions: t.count - current, replicationFactor: rf, firstPartition: current, random: ctx.random });
    assignment.forEach((replicas, i) => {
      records.push({ type: 'partition', topicId: topic.topicId, partition: current + i, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 });
    });
  }
  return { records, response: { topics: results } };
}
