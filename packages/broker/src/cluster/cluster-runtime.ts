// Metadata wiring for startNode (every node: one without --voters is a quorum of one voter on itself): the controller voter (when this
// node has the controller role: Raft + Quorum services on the node's gRPC server) and the broker's
// cluster membership (controller channel, metadata follower, ClusterMetadata, lifecycle).
//
// Order: create() before the server binds (services must be registered first); start() after it is
// bound (peers can reach us) — it follows the metadata log until caught up, then lets the replica
// manager open its logs, then registers and heartbeats; close() does a controlled shutdown first.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  QuorumController, addQuorumService, controllerCommands, controllerPolicies, fileGrpcQuorumIo, metadataStateMachine,
  type FileGrpcQuorumIoOptions,
} from '@tributary/controller';
import { allPartitions, topicByName, type MetadataImage } from '@tributary/controller/metadata';
import { formatHostPort } from '../host-port.js';
import type { NodeConfig } from '../node-config.js';
import type { ReplicaManager } from '../replica-manager.js';
import type { ReplicationOptions } from '../replication/replication-options.js';
import { controllerConfig, quorumControllerConfig } from '../component-configs.js';
import { clearUncleanUnreported } from '../clean-shutdown.js';
import { BrokerLifecycle, type OfflineReplicaRef, type RecoveringReplicaLogEnd } from './broker-lifecycle.js';
import { ClusterMetadata } from './cluster-metadata.js';
import { ControllerChannel } from './controller-channel.js';
import { GrpcAlterPartitionClient } from './grpc-alter-partition-client.js';
import { replicaChanges } from './image-view.js';
import { MetadataFollower } from './metadata-follower.js';

export interface ClusterRuntimeOptions {
  readonly config: NodeConfig;
  readonly clusterId: string;
  readonly server: grpc.Server;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** The previous run ended in a clean shutdown (clean-shutdown.ts); told to the controller at registration. */
  readonly cleanShutdown: boolean;
  /** Test seam: wraps the controller's metadata log storage (fault injection). */
  readonly wrapRaftStorage?: FileGrpcQuorumIoOptions['wrapRaftStorage'];
}

export class ClusterRuntime {
  readonly controller: QuorumController<MetadataImage> | undefined;
  readonly channel: ControllerChannel;
  readonly follower: MetadataFollower;
  readonly metadata: ClusterMetadata;
  private lifecycle: BrokerLifecycle | undefined;
  private replicas: ReplicaManager | undefined;
  /** Set once the replica manager may receive deltas (it read the whole image at startup). */
  private replicasStarted: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** The background part of start(): catch up, start replicas, register. */
  private startup: Promise<void> | undefined;
  private startedValue = false;
  /** The replica manager has opened its logs on a caught-up image (heartbeats may then report progress). */
  private replicasReady = false;
  /** Resolved by close(), so a start still waiting for the quorum gives up. */
  private readonly closed = deferred();

  private constructor(private readonly options: ClusterRuntimeOptions, controller: QuorumController<MetadataImage> | undefined) {
    const { config, logger } = options;
    this.controller = controller;
    this.channel = new ControllerChannel({
      clusterId: options.clusterId, brokerId: config.nodeId, voters: config.controllerQuorumVoters,
      requestTimeoutMs: config.requestTimeoutMs, http2FlowControlWindowBytes: config.http2FlowControlWindowBytes,
      logger: logger.child({ component: 'controller-channel' }),
    });
    this.follower = new MetadataFollower({
      brokerId: config.nodeId, clusterId: options.clusterId, channel: this.channel, logger: logger.child({ component: 'metadata-follower' }),
      onChange: (before, after) => this.reconcile(before, after),
    });
    this.metadata = new ClusterMetadata({
      clusterId: options.clusterId, config, channel: this.channel, follower: this.follower,
      brokerEpoch: () => this.lifecycle?.brokerEpoch ?? -1,
    });
  }

  /** Registers the controller services (controller role) on the not yet bound server. */
  static async create(options: ClusterRuntimeOptions): Promise<ClusterRuntime> {
    const { config } = options;
    let controller: QuorumController<MetadataImage> | undefined;
    if (config.processRoles.includes('controller')) {
      const core = controllerConfig(config);
      const voters = new Map(config.controllerQuorumVoters.map((v) => [v.nodeId, formatHostPort(v)]));
      const io = fileGrpcQuorumIo({
        nodeId: config.nodeId, clusterId: options.clusterId, voters, dataDir: config.dataDir, fsync: true,
        server: options.server, logger: options.logger.child({ component: 'raft' }),
        ...(options.wrapRaftStorage === undefined ? {} : { wrapRaftStorage: options.wrapRaftStorage }),
      });
      controller = await QuorumController.start({
        nodeId: config.nodeId, clusterId: options.clusterId, voters, io,
        machine: metadataStateMachine(options.clusterId), policies: controllerPolicies({ config: core }), logger: options.logger,
        nowMs: options.nowMs ?? Date.now,
        config: quorumControllerConfig(config),
      });
      addQuorumService(options.server, {
        controller, logger: options.logger,
        commands: controllerCommands({ config: core }),
        ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
      });
    }
    return new ClusterRuntime(options, controller);
  }

  /** What the replica manager needs to replicate. */
  replicationOptions(): ReplicationOptions {
    return {
      alterPartition: new GrpcAlterPartitionClient({
        channel: this.channel,
        awaitMetadataOffset: (offset) => this.follower.waitForOffset(offset, this.options.config.requestTimeoutMs),
      }),
      brokerEpoch: () => this.lifecycle?.brokerEpoch ?? -1,
    };
  }

  get brokerEpoch(): number {
    return this.lifecycle?.brokerEpoch ?? -1;
  }

  get lifecycleState(): string {
    return this.lifecycle?.state ?? 'stopped';
  }

  /**
   * After the server is bound: follow the metadata log, and — in the background, however long the
   * quorum takes to form (after a whole-cluster restart the first node back has no quorum until a
   * second one returns) — once caught up start the replica manager on that image, then register and
   * heartbeat. Until then the broker hosts nothing: clients get retriable errors, /readyz says no.
   */
  start(args: { replicas: ReplicaManager; advertised: { host: string; port: number } }): void {
    this.replicas = args.replicas;
    this.follower.start();
    this.startup ??= this.completeStart(args).catch((err: unknown) => {
      if (this.closing === undefined) this.options.logger.error({ err }, 'cluster member failed to start');
    });
  }

  /** True once the replica manager runs on a caught-up image (and, for brokers, registration began). */
  get started(): boolean {
    return this.startedValue;
  }

  private async completeStart(args: { replicas: ReplicaManager; advertised: { host: string; port: number } }): Promise<void> {
    const { config, logger } = this.options;
    const voters = config.controllerQuorumVoters.map((v) => `${v.nodeId}@${formatHostPort(v)}`).join(',');
    let caughtUp = false;
    const warnTimer = setInterval(() => {
      if (!caughtUp) logger.warn({ voters }, 'waiting for the controller quorum to serve caught-up metadata');
    }, config.requestTimeoutMs);
    warnTimer.unref();
    try {
      await Promise.race([this.follower.whenCaughtUp(), this.closed.promise]);
    } finally {
      caughtUp = true;
      clearInterval(warnTimer);
    }
    if (this.closing !== undefined) return;
    if (config.processRoles.includes('broker')) {
      // Register before taking any replica role. Until this registration is in the image, the image is
      // the previous run's: it may name this broker leader (or ISR member) of partitions whose
      // unflushed tail this restart lost — leading those, it would answer followers' fetches with a
      // shorter log and make them truncate acknowledged records. The registration moves leadership
      // and ISR membership away first; the replica manager starts on the image that contains it.
      // Heartbeats report metadata offset 0 (not caught up: stay fenced) until the logs are open.
      this.lifecycle = new BrokerLifecycle({
        brokerId: config.nodeId, channel: this.channel, endpoint: args.advertised, rack: config.brokerRack,
        roles: config.processRoles, metadataOffset: () => (this.replicasReady ? this.follower.appliedOffset : 0),
        cleanShutdown: this.options.cleanShutdown, recoveringReplicas: () => this.recoveringReplicas(),
        offlineReplicas: () => this.offlineReplicas(),
        onRegistered: async ({ cleanShutdown }) => {
          if (!cleanShutdown) await clearUncleanUnreported(config.dataDir);
        },
        heartbeatIntervalMs: config.brokerHeartbeatIntervalMs, controlledShutdownTimeoutMs: config.controlledShutdownTimeoutMs,
        logger: logger.child({ component: 'broker-lifecycle' }),
      });
      this.lifecycle.start();
      const brokerEpoch = await Promise.race([this.lifecycle.whenRegistered(), this.closed.promise.then(() => -1)]);
      if (this.closing !== undefined || brokerEpoch < 0) return;
      while (this.follower.appliedOffset < brokerEpoch) {
        if (this.closing !== undefined) return;
        await this.follower.waitForOffset(brokerEpoch, config.requestTimeoutMs).catch(() => undefined);
      }
    }
    if (this.closing !== undefined) return;
    // A broker's image now holds its own registration, so everything committed before this start —
    // every partition that can have a directory here — is in it: what it does not assign is stray.
    this.replicasStarted = args.replicas.startup({ strays: config.processRoles.includes('broker') ? 'rename' : 'report' });
    await this.replicasStarted;
    this.replicasReady = true;
    this.lifecycle?.heartbeatNow(); // report the applied offset now: unfencing need not wait an interval
    if (this.closing !== undefined) return;
    this.startedValue = true;
    logger.info({ metadataOffset: this.follower.appliedOffset, topics: this.metadata.topics().length }, 'cluster member started');
  }

  /** Tells the controller now (not at the next interval) what changed, e.g. a replica went offline. */
  heartbeatNow(): void {
    this.lifecycle?.heartbeatNow();
  }

  /** The broker's part of stopping: a controlled shutdown (unless `controlled` is false). */
  async leave(controlled: boolean): Promise<void> {
    if (this.lifecycle === undefined) return;
    if (controlled) await this.lifecycle.shutdown();
    else this.lifecycle.stop();
  }

  /** Stops following and the controller voter. Call after the server stopped. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed.resolve();
      await this.startup;
      this.lifecycle?.stop();
      this.follower.close();
      this.channel.close();
      await this.controller?.close();
    })();
    return this.closing;
  }

  /**
   * Log ends of hosted replicas of recovering partitions, for the controller's recovery election. Only
   * replicas that applied the image's leader epoch (leader none: the fetcher has stopped, the log no
   * longer moves), reported against the image's partition epoch (followers are not handed changes
   * that leave the leadership alone, such as becoming recovering).
   */
  private recoveringReplicas(): RecoveringReplicaLogEnd[] {
    const out: RecoveringReplicaLogEnd[] = [];
    const replicas = this.replicas;
    if (replicas === undefined || this.replicasStarted === undefined) return out;
    for (const { topic, partition } of allPartitions(this.follower.image)) {
      if (!partition.recovering || !partition.replicas.includes(this.options.config.nodeId)) continue;
      const hosted = replicas.findPartition(topic.name, partition.partition);
      if (hosted === undefined || hosted.leaderEpoch !== partition.leaderEpoch || hosted.isLeader) continue;
      out.push({
        topicId: topic.topicId, partition: partition.partition, partitionEpoch: partition.partitionEpoch,
        lastEpoch: hosted.log.latestEpoch, logEndOffset: hosted.logEndOffset,
      });
    }
    return out;
  }

  /** This run's offline replicas (failed or unopenable logs) of partitions in the image, by topic id. */
  private offlineReplicas(): OfflineReplicaRef[] {
    const out: OfflineReplicaRef[] = [];
    for (const r of this.replicas?.offlineReplicas() ?? []) {
      const topic = topicByName(this.follower.image, r.topic);
      if (topic !== undefined && topic.partitions[r.partition] !== undefined) out.push({ topicId: topic.topicId, partition: r.partition });
    }
    return out;
  }

  /** Applies one metadata change to the hosted replicas (partition states, deletions, configs). */
  private async reconcile(before: MetadataImage, after: MetadataImage): Promise<void> {
    const replicas = this.replicas;
    if (this.replicasStarted === undefined || replicas === undefined) return; // startup reads the whole image
    await this.replicasStarted;
    const changes = replicaChanges(before, after, this.options.config.nodeId);
    if (changes.partitionStates.length > 0 || changes.deleted.length > 0) await replicas.applyPartitionStates(changes.partitionStates, changes.deleted);
    for (const topic of changes.configsChanged) await replicas.applyChange({ type: 'configsChanged', topic });
  }
}

function deferred(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
