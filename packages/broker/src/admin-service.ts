// tributary.v1.Admin handlers: decode → MetadataCommands / MetadataView → encode. Per-topic failures
// go into each result's error; only a malformed request fails the whole call.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { tributary, type AdminHandlers } from '@tributary/protocol';
import { NO_ERROR, toWireError, InvalidArgumentError } from './errors.js';
import { int64, requireName, unary } from './grpc-call.js';
import type { BrokerNode, MetadataCommands, MetadataView, TopicInfo } from './metadata-view.js';
import type { NodeConfig } from './node-config.js';
import type { ReplicaManager } from './replica-manager.js';
import { describeTopicConfig } from './topic-config.js';
import { formatHostPort } from './host-port.js';

/** Most resources one admin request may name: bounds the work and the response size. */
export const MAX_ADMIN_RESOURCES_PER_REQUEST = 1000;

export interface AdminServiceDeps {
  readonly config: NodeConfig;
  readonly metadata: MetadataView;
  readonly commands: MetadataCommands;
  readonly replicas: ReplicaManager;
  readonly logger: Logger;
}

function limitResources(count: number, field: string): void {
  if (count > MAX_ADMIN_RESOURCES_PER_REQUEST) {
    throw new InvalidArgumentError(field, `${count} entries, more than the maximum ${MAX_ADMIN_RESOURCES_PER_REQUEST}`);
  }
}

/** The calling client's deadline (epoch ms), when it set one: forwarded changes must not outlive it. */
function clientDeadlineMs(call: { getDeadline(): grpc.Deadline }): number | undefined {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The idempotency key of one item of a client request (the broker forwards items one by one). */
function itemRequestId(requestId: string, kind: string, item: string): { requestId?: string } {
  return requestId === '' ? {} : { requestId: `${requestId}/${kind}/${item}` };
}

export function createAdminHandlers(deps: AdminServiceDeps): AdminHandlers {
  const { logger, metadata, commands } = deps;

  const configEntries = (topic: TopicInfo): tributary.v1.IConfigEntry[] =>
    describeTopicConfig(topic.configs, deps.config).map((e) => ({ name: e.name, value: e.value, isDefault: e.isDefault }));

  const describeTopic = (topic: TopicInfo): tributary.v1.ITopicDescription => ({
    name: topic.name, error: NO_ERROR, topicId: topic.topicId, internal: topic.internal,
    partitions: topic.partitions.map((p) => {
      const hosted = deps.replicas.findPartition(p.topic, p.partition);
      return {
        partition: p.partition, leader: p.leader, replicas: [...p.replicas], isr: [...p.isr], leaderEpoch: p.leaderEpoch,
        logStartOffset: hosted?.logStartOffset ?? -1, highWatermark: hosted?.highWatermark ?? -1,
        logEndOffset: hosted?.logEndOffset ?? -1, offlineReplicas: deps.replicas.offlineReplicasOf(p),
      };
    }),
    configs: configEntries(topic),
  });

  return {
    createTopics: unary(logger, 'CreateTopics', async (req: tributary.v1.CreateTopicsRequest, call) => {
      const deadlineMs = clientDeadlineMs(call);
      limitResources(req.topics.length, 'topics');
      req.topics.forEach((t, i) => requireName(t.name, `topics[${i}].name`));
      const topics: tributary.v1.ICreateTopicResult[] = [];
      for (const t of req.topics) {
        try {
          const created = await commands.createTopic({
            name: t.name ?? '', numPartitions: t.numPartitions ?? -1, replicationFactor: t.replicationFactor ?? -1,
            configs: { ...t.configs }, validateOnly: req.validateOnly, ...(deadlineMs === undefined ? {} : { deadlineMs }),
            ...itemRequestId(req.requestId, 'create-topic', t.name ?? ''),
          });
          topics.push({
            name: t.name, error: NO_ERROR, topicId: req.validateOnly ? '' : created.topicId,
            numPartitions: created.partitions.length, replicationFactor: created.partitions[0]?.replicas.length ?? 0,
          });
          if (!req.validateOnly) logger.info({ topic: t.name, partitions: created.partitions.length }, 'topic created');
        } catch (err) {
          topics.push({ name: t.name, error: toWireError(err), numPartitions: -1, replicationFactor: -1 });
        }
      }
      return { topics };
    }),

    deleteTopics: unary(logger, 'DeleteTopics', async (req: tributary.v1.DeleteTopicsRequest, call) => {
      const deadlineMs = clientDeadlineMs(call);
      limitResources(req.names.length, 'names');
      req.names.forEach((n, i) => requireName(n, `names[${i}]`));
      const topics: tributary.v1.IDeleteTopicResult[] = [];
      for (const name of req.names) {
        try {
          await commands.deleteTopic(name, { deadlineMs, ...itemRequestId(req.requestId, 'delete-topic', name) });
          logger.info({ topic: name }, 'topic deleted');
          topics.push({ name, error: NO_ERROR });
        } catch (err) {
          topics.push({ name, error: toWireError(err) });
        }
      }
      return { topics };
    }),

    listTopics: unary(logger, 'ListTopics', async (req: tributary.v1.ListTopicsRequest) => ({
      topics: metadata.topics()
        .filter((t) => req.includeInternal || !t.internal)
        .map((t) => ({
          name: t.name, topicId: t.topicId, internal: t.internal, numPartitions: t.partitions.length,
          replicationFactor: t.partitions[0]?.replicas.length ?? 0,
        })),
    })),

    describeTopics: unary(logger, 'DescribeTopics', async (req: tributary.v1.DescribeTopicsRequest) => {
      limitResources(req.names.length, 'names');
      const names = req.names.length === 0 ? metadata.topics().filter((t) => !t.internal).map((t) => t.name) : req.names;
      names.forEach((n, i) => requireName(n, `names[${i}]`));
      return {
        topics: names.map((name) => {
          const topic = metadata.topic(name);
          if (topic === undefined) {
            return { name, error: { code: tributary.v1.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `topic ${name} does not exist` } };
          }
          return describeTopic(topic);
        }),
      };
    }),

    describeConfigs: unary(logger, 'DescribeConfigs', async (req: tributary.v1.DescribeConfigsRequest) => {
      limitResources(req.resources.length, 'resources');
      return {
        results: req.resources.map((resource, i) => {
          const name = requireName(resource.name, `resources[${i}].name`);
          if (resource.type === tributary.v1.ConfigResourceType.BROKER) {
            return { resource, error: { code: tributary.v1.ErrorCode.INVALID_REQUEST, message: 'broker configs are not exposed yet; only TOPIC resources' } };
          }
          const topic = metadata.topic(name);
          if (topic === undefined) {
            return { resource, error: { code: tributary.v1.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `topic ${name} does not exist` } };
          }
          return { resource, error: NO_ERROR, configs: configEntries(topic) };
        }),
      };
    }),

    alterConfigs: unary(logger, 'AlterConfigs', async (req: tributary.v1.AlterConfigsRequest, call) => {
      limitResources(req.resources.length, 'resources');
      req.resources.forEach((r, i) => {
        requireName(r.resource?.name, `resources[${i}].resource.name`);
        (r.configs ?? []).forEach((c, j) => requireName(c.name, `resources[${i}].configs[${j}].name`));
      });
      const results: tributary.v1.IAlterConfigsResult[] = [];
      for (const r of req.resources) {
        const resource = r.resource as tributary.v1.ConfigResource;
        try {
          if (resource.type !== tributary.v1.ConfigResourceType.TOPIC) {
            results.push({ resource, error: { code: tributary.v1.ErrorCode.INVALID_REQUEST, message: 'only TOPIC configs can be altered' } });
            continue;
          }
          await commands.alterTopicConfigs(resource.name, (r.configs ?? []).map((c) => ({
            name: c.name ?? '', value: c.value ?? '', op: c.op === tributary.v1.AlterConfigOp.DELETE ? 'DELETE' : 'SET',
          })), req.validateOnly, { deadlineMs: clientDeadlineMs(call), ...itemRequestId(req.requestId, 'alter-configs', resource.name) });
          if (!req.validateOnly) logger.info({ topic: resource.name, configs: (r.configs ?? []).map((c) => c.name) }, 'topic configs altered');
          results.push({ resource, error: NO_ERROR });
        } catch (err) {
          results.push({ resource, error: toWireError(err) });
        }
      }
      return { results };
    }),

    createPartitions: unary(logger, 'CreatePartitions', async (req: tributary.v1.CreatePartitionsRequest, call) => {
      limitResources(req.topics.length, 'topics');
      req.topics.forEach((t, i) => requireName(t.name, `topics[${i}].name`));
      const results: tributary.v1.ICreatePartitionsResult[] = [];
      for (const t of req.topics) {
        try {
          await commands.createPartitions(t.name ?? '', t.count ?? 0, req.validateOnly, { deadlineMs: clientDeadlineMs(call), ...itemRequestId(req.requestId, 'create-partitions', t.name ?? '') });
          if (!req.validateOnly) logger.info({ topic: t.name, partitions: t.count }, 'partitions added');
          results.push({ name: t.name, error: NO_ERROR });
        } catch (err) {
          results.push({ name: t.name, error: toWireError(err) });
        }
      }
      return { results };
    }),

    describeCluster: unary(logger, 'DescribeCluster', async (_req: tributary.v1.DescribeClusterRequest) => {
      const controller = metadata.controller();
      return {
        error: NO_ERROR,
        clusterId: metadata.clusterId,
        controllerLeaderId: controller.leaderId,
        controllerTerm: int64(controller.term),
        nodes: describeNodes(metadata.brokers(), deps.config),
        unreachableControllerVoters: [...(controller.unreachableVoters ?? [])],
      };
    }),
  };
}

/**
 * Registered brokers, plus the controller voters that are not brokers (dedicated controllers never
 * register: they are known from `controller.quorum.voters`, which every node is started with).
 */
function describeNodes(brokers: readonly BrokerNode[], config: NodeConfig): tributary.v1.INodeDescription[] {
  const nodes = brokers.map((b) => ({
    id: b.nodeId, roles: [...b.roles], address: formatHostPort(b), fenced: b.fenced, rack: b.rack ?? '',
  }));
  const known = new Set(brokers.map((b) => b.nodeId));
  for (const voter of config.controllerQuorumVoters) {
    if (known.has(voter.nodeId)) continue;
    nodes.push({ id: voter.nodeId, roles: ['controller'], address: formatHostPort(voter), fenced: false, rack: '' });
  }
  return nodes.sort((a, b) => a.id - b.id);
}
