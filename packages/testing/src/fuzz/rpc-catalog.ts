// Every RPC a node serves, read from proto/ by reflection (plus grpc.health.v1, which comes from a
// library), and request generators for each: well-typed messages drawn field by field from the
// schema (with extremes), the same messages with their wire bytes mutated, and plain random bytes.
// A new RPC in proto/ is fuzzed without touching this file.
import { join } from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '@tributary/protocol';
import { batchGenerators, type BatchGeneratorName, BATCH_GENERATOR_NAMES } from './batch-generators.js';

export type RpcKind = 'unary' | 'server-stream' | 'client-stream' | 'bidi-stream';

export interface RpcInfo {
  /** `Service.Method`, e.g. `Broker.Produce`. */
  readonly name: string;
  readonly path: string;
  readonly kind: RpcKind;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
}

/** The health service is grpc-health-check's; its two messages, for the catalog. */
const HEALTH_PROTO = `
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; }
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse); }
`;

function listProtos(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listProtos(path);
    return name.endsWith('.proto') ? [path] : [];
  }).sort();
}

/** Every service method in proto/ and grpc.health.v1. */
export function loadRpcCatalog(): RpcInfo[] {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
  root.loadSync(listProtos(PROTO_DIR), { keepCase: false });
  protobuf.parse(HEALTH_PROTO, root, { keepCase: false });
  root.resolveAll();
  const rpcs: RpcInfo[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Service) {
        for (const method of nested.methodsArray) {
          method.resolve();
          const kind: RpcKind = method.requestStream
            ? (method.responseStream ? 'bidi-stream' : 'client-stream')
            : (method.responseStream ? 'server-stream' : 'unary');
          rpcs.push({
            name: `${nested.name}.${method.name}`,
            path: `/${nested.fullName.slice(1)}/${method.name}`,
            kind, requestType: method.resolvedRequestType!, responseType: method.resolvedResponseType!,
          });
        }
      } else if (nested instanceof protobuf.Namespace) {
        walk(nested);
      }
    }
  };
  walk(root);
  return rpcs;
}

/** What the generators aim at: the live cluster's names, so requests reach past the first checks. */
export interface FuzzTargets {
  readonly clusterId: string;
  /** Topics the oracle's well-behaved producer writes: fuzzed requests read and produce there, never delete or reconfigure them. */
  readonly oracleTopics: readonly string[];
  /** Topics the fuzzer may create, delete, reconfigure and grow. */
  readonly victimTopics: readonly string[];
  readonly memberIds: readonly number[];
  /**
   * Let peer-identity fields (broker_id, replica_id, a Raft message's from) name real members. Off by
   * default: without authentication a forged member message is obeyed by design (a fake follower's fetch
   * offset moves the high watermark, a forged heartbeat asks for a controlled shutdown), so it would
   * only show that authentication is missing.
   */
  readonly impersonate: boolean;
}

/** Request generators (by name, for --generators); BATCH_GENERATOR_NAMES are used inside Produce requests. */
export const MESSAGE_GENERATOR_NAMES = ['typed', 'wire', 'bytes', 'raft-peer'] as const;
export type MessageGeneratorName = (typeof MESSAGE_GENERATOR_NAMES)[number];
export type GeneratorName = MessageGeneratorName | BatchGeneratorName;
export const GENERATOR_NAMES: readonly GeneratorName[] = [...MESSAGE_GENERATOR_NAMES, ...BATCH_GENERATOR_NAMES];

/** RPCs that change topics: their topic names never name an oracle topic. */
const TOPIC_MUTATING_RPCS = new Set(['Admin.CreateTopics', 'Admin.DeleteTopics', 'Admin.AlterConfigs', 'Admin.CreatePartitions', 'Quorum.Forward']);
const TOPIC_NAME_FIELDS = new Set(['topic', 'topics', 'names', 'name']);
const PEER_ID_FIELDS = new Set(['brokerId', 'replicaId']);
const WAIT_FIELDS = new Set(['maxWaitMs', 'timeoutMs', 'transactionTimeoutMs', 'sessionTimeoutMs', 'rebalanceTimeoutMs']);
const CONFIG_NAMES = [
  'retention.ms', 'retention.bytes', 'segment.bytes', 'segment.ms', 'max.message.bytes', 'cleanup.policy', 'min.insync.replicas',
  'compression.type', 'message.timestamp.type', 'unclean.leader.election.enable', 'delete.retention.ms', 'flush.messages',
  'num.partitions', 'log.retention.ms', 'no.such.config', '',
];
const NESTING_MAX = 4;
const REPEATED_MAX = 4;

function int32(): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -2, max: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, -1, 2 ** 16, 1_000_000) },
    { weight: 2, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
  );
}
function uint32(): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom(2 ** 32 - 1, 2 ** 31, 2 ** 31 - 1, 2 ** 16) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }) },
  );
}
function int64(unsigned: boolean): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: unsigned ? 0 : -2, max: 10 }) },
    { weight: 1, arbitrary: fc.constantFrom(...(unsigned ? [2 ** 53 - 1, 2 ** 32, 2 ** 31] : [-(2 ** 53) + 1, 2 ** 53 - 1, -1, 2 ** 31, -(2 ** 31) - 1])) },
    { weight: 2, arbitrary: unsigned ? fc.integer({ min: 0, max: 2 ** 53 - 1 }) : fc.maxSafeInteger() },
  );
}
function anyString(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 2, arbitrary: fc.constantFrom('', ' ', '\u0000', 'é日本', '\uFEFF', '..', '-1') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom(10_000, 300_000).map((n) => 'x'.repeat(n)) },
  );
}
function anyBytes(): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }) }, { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(100_000)) });
}

interface FieldContext {
  readonly rpc: string;
  readonly generator: MessageGeneratorName;
  /** Id of the node the request goes to (a Raft message's `to`). */
  readonly targetId: number;
  readonly batches: fc.Arbitrary<Buffer> | undefined;
}

/** Generators of well-typed messages for one target set. */
export class MessageArbitraries {
  private readonly memo = new Map<string, fc.Arbitrary<Record<string, unknown>>>();
  private readonly batches: fc.Arbitrary<Buffer> | undefined;

  constructor(private readonly targets: FuzzTargets, enabledBatches: readonly BatchGeneratorName[]) {
    const arbs = batchGenerators();
    this.batches = enabledBatches.length === 0 ? undefined : fc.oneof(...enabledBatches.map((n) => arbs[n]));
  }

  private topicName(rpc: string): fc.Arbitrary<string> {
    const mutating = TOPIC_MUTATING_RPCS.has(rpc);
    const known = mutating ? this.targets.victimTopics : [...this.targets.oracleTopics, ...this.targets.victimTopics];
    const victims = this.targets.victimTopics;
    const hash = (s: string): number => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
    return fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...known) },
      { weight: 2, arbitrary: fc.constantFrom('no-such-topic', '__consumer_offsets', '', '.', '..', 'a'.repeat(249), 'a'.repeat(250), 'bad/name', 'ünïcode', ' ') },
      // A random name that happens to be valid becomes a victim topic when it could create one: the
      // number of topics stays bounded however long the run.
      { weight: 2, arbitrary: anyString().map((s) => (mutating && /^[a-zA-Z0-9._-]+$/.test(s) && s !== '.' && s !== '..' ? victims[hash(s) % victims.length]! : s)) },
    );
  }

  private peerId(): fc.Arbitrary<number> {
    const members = new Set(this.targets.memberIds);
    const foreign = fc.oneof(fc.constantFrom(-1, 0, 2 ** 31 - 1, -(2 ** 31)), fc.integer({ min: 4, max: 9 }), int32()).filter((id) => !members.has(id));
    return this.targets.impersonate ? fc.oneof(fc.constantFrom(...this.targets.memberIds), foreign) : foreign;
  }

  /** A semantic override for a field (names, ids, waits), or undefined for the schema's generic one. */
  private override(field: protobuf.Field, ctx: FieldContext, parent: protobuf.Type): fc.Arbitrary<unknown> | undefined {
    const name = field.name;
    const scalar = (arb: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => (field.repeated ? fc.array(arb, { maxLength: REPEATED_MAX }) : arb);
    if (field.type === 'string' && TOPIC_NAME_FIELDS.has(name) && !(parent.name === 'ConfigEntry' || parent.name === 'AlterableConfig')) {
      if (parent.name === 'ConfigResource' && ctx.rpc !== 'Admin.AlterConfigs') return fc.oneof(this.topicName(ctx.rpc), fc.constantFrom('1', '2', '3', '-1', '99'));
      return scalar(this.topicName(ctx.rpc));
    }
    if (field.type === 'string' && (parent.name === 'ConfigEntry' || parent.name === 'AlterableConfig') && name === 'name') return fc.oneof(fc.constantFrom(...CONFIG_NAMES), anyString());
    if (field.type === 'string' && name === 'clusterId') {
      // A Raft stream with the right cluster id reaches nraft: only the raft-peer generator does that.
      if (ctx.rpc === 'Raft.Send' && ctx.generator !== 'raft-peer') return anyString();
      return fc.oneof({ weight: 4, arbitrary: fc.constant(this.targets.clusterId) }, { weight: 1, arbitrary: anyString() });
    }
    if (field.type === 'string' && (name === 'groupId' || name === 'groupIds')) return scalar(fc.oneof(fc.constantFrom('fuzz-group-0', 'fuzz-group-1', ''), anyString()));
    if (PEER_ID_FIELDS.has(name) && field.type === 'int32') return scalar(this.peerId());
    if (parent.name === 'RaftMessage' && name === 'to') return fc.constant(ctx.targetId);
    if (parent.name === 'RaftMessage' && name === 'from') return this.peerId().map((id) => (id <= 0 ? 1000 - id : id));
    if (WAIT_FIELDS.has(name)) return fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 200 }) }, { weight: 1, arbitrary: field.type === 'uint32' ? uint32() : int32() });
    if (name === 'acks' && parent.name === 'ProduceRequest') return fc.oneof(fc.constantFrom(-1, 0, 1, -1, 1), int32());
    if (name === 'numPartitions' || (name === 'count' && parent.name === 'CreatePartitionsTopic')) {
      // Valid but large counts ([7, 10000]) only cost time and disk; the limit itself is hit by 10001.
      return fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom(10_001, 2 ** 31 - 1, -(2 ** 31)));
    }
    if (name === 'replicationFactor') return fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constantFrom(2 ** 15, 2 ** 31 - 1, -(2 ** 31)));
    if (name === 'partition' || name === 'partitions') {
      if (field.type === 'int32' || field.type === 'uint32') return scalar(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: field.type === 'uint32' ? uint32() : int32() }));
    }
    if (name === 'recordBatch' && parent.name === 'ProducePartitionData') {
      return ctx.batches === undefined ? fc.constant(new Uint8Array(0)) : fc.oneof({ weight: 9, arbitrary: ctx.batches }, { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) });
    }
    if (parent.name === 'CreatableTopic' && name === 'configs') {
      return fc.dictionary(fc.constantFrom(...CONFIG_NAMES), fc.oneof(anyString(), int64(false).map(String)), { maxKeys: 3 });
    }
    return undefined;
  }

  private fieldArb(field: protobuf.Field, ctx: FieldContext, parent: protobuf.Type, depth: number): fc.Arbitrary<unknown> {
    field.resolve();
    const custom = this.override(field, ctx, parent);
    if (custom !== undefined) return custom;
    if (field instanceof protobuf.MapField) {
      return fc.dictionary(this.scalarArb(field.keyType, undefined, ctx, depth).map(String), this.scalarArb(field.type, field.resolvedType, ctx, depth), { maxKeys: 3 });
    }
    const one = this.scalarArb(field.type, field.resolvedType, ctx, depth);
    return field.repeated ? fc.array(one, { maxLength: REPEATED_MAX }) : one;
  }

  private scalarArb(type: string, resolved: protobuf.Type | protobuf.Enum | null | undefined, ctx: FieldContext, depth: number): fc.Arbitrary<unknown> {
    if (resolved instanceof protobuf.Enum) {
      // Unknown enum values are legal on the wire (proto3 keeps them): send some.
      return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...Object.values(resolved.values)) }, { weight: 1, arbitrary: int32() });
    }
    if (resolved instanceof protobuf.Type) return depth >= NESTING_MAX ? fc.constant({}) : this.messageArbAt(resolved, ctx, depth + 1);
    switch (type) {
      case 'int32': case 'sint32': case 'sfixed32': return int32();
      case 'uint32': case 'fixed32': return uint32();
      case 'int64': case 'sint64': case 'sfixed64': return int64(false);
      case 'uint64': case 'fixed64': return int64(true);
      case 'bool': return fc.boolean();
      case 'string': return anyString();
      case 'bytes': return anyBytes();
      case 'double': case 'float': return fc.double();
      default: throw new Error(`fuzz: no generator for protobuf type ${type}`);
    }
  }

  private messageArbAt(type: protobuf.Type, ctx: FieldContext, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const key = `${ctx.rpc}|${ctx.generator}|${ctx.targetId}|${type.fullName}|${depth}`;
    let arb = this.memo.get(key);
    if (arb === undefined) {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const field of type.fieldsArray) model[field.name] = this.fieldArb(field, ctx, type, depth);
      arb = fc.record(model, { requiredKeys: [] });
      this.memo.set(key, arb);
    }
    return arb;
  }

  /**
   * A Produce request shaped so its record batches reach batch validation: valid acks, a known topic
   * and partition, leader epoch -1 (unknown), no transactional id. Undefined when no batch generator is on.
   */
  produceEnvelope(): fc.Arbitrary<Record<string, unknown>> | undefined {
    const batches = this.batches;
    if (batches === undefined) return undefined;
    const partition = fc.record({ partition: fc.integer({ min: 0, max: 2 }), recordBatch: batches, currentLeaderEpoch: fc.constant(-1) });
    return fc.record({
      acks: fc.constantFrom(-1, 1, 0),
      timeoutMs: fc.constantFrom(500, 2000),
      topics: fc.array(fc.record({ topic: fc.constantFrom(...this.targets.oracleTopics, ...this.targets.victimTopics), partitions: fc.array(partition, { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 2 }),
    });
  }

  /** A well-typed request of `rpc` for the node `targetId` (plain object, encodable with rpc.requestType). */
  request(rpc: RpcInfo, generator: MessageGeneratorName, targetId: number): fc.Arbitrary<Record<string, unknown>> {
    return this.messageArbAt(rpc.requestType, { rpc: rpc.name, generator, targetId, batches: this.batches }, 0).map((obj) => fixup(rpc.name, obj));
  }
}

/** Request rules a generic generator cannot know: changes to broker configs are only validated. */
function fixup(rpc: string, obj: Record<string, unknown>): Record<string, unknown> {
  if (rpc === 'Admin.AlterConfigs') {
    const resources = (obj['resources'] as { resource?: { type?: number } }[] | undefined) ?? [];
    // A broker-level default (log.retention.ms, min.insync.replicas) would reach the oracle topics too.
    if (resources.some((r) => (r.resource?.type ?? 0) !== 0)) return { ...obj, validateOnly: true };
  }
  return obj;
}

/** Byte-level mutations of an encoded message: flips, overwrites, truncation, junk, a doubled tail. */
export function wireMutationArb(): fc.Arbitrary<(bytes: Uint8Array) => Buffer> {
  const edit = fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('append' as const), junk: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), junk: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    const apply = (bytes: Uint8Array): Buffer => {
      let buf = Buffer.from(bytes);
      for (const e of edits) {
        if (e.op === 'set') { if (buf.length > 0) buf[e.at % buf.length] = e.value; }
        else if (e.op === 'truncate') buf = buf.subarray(0, buf.length === 0 ? 0 : e.at % buf.length);
        else if (e.op === 'append') buf = Buffer.concat([buf, e.junk]);
        else { const at = buf.length === 0 ? 0 : e.at % buf.length; buf = Buffer.concat([buf.subarray(0, at), e.junk, buf.subarray(at)]); }
      }
      return buf;
    };
    return Object.assign(apply, { toString: () => `mutate${JSON.stringify(edits.map((e) => ({ ...e, junk: 'junk' in e ? Buffer.from(e.junk).toString('hex') : undefined })))}` });
  });
}
