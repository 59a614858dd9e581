// startNode: the I/O shell that wires one Tributary node together — data dir identity, metadata,
// partition logs, the gRPC server (Broker, Admin, health, reflection), HTTP metrics, timers.
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { pino, type Logger } from 'pino';
import { AdminService, BrokerService, PROTO_DIR } from '@tributary/protocol';
import { createAdminHandlers } from './admin-service.js';
import { createBrokerHandlers } from './broker-service.js';
import { createBrokerMetrics, type BrokerMetrics } from './broker-metrics.js';
import { registerControllerMetrics } from './controller-metrics.js';
import { ChangeNotifier } from './change-notifier.js';
import { formatHostPort, type HostPort } from './host-port.js';
import { startHttpServer, type HttpServerHandle } from './http-server.js';
import { takeCleanShutdownMarker, writeCleanShutdownMarker } from './clean-shutdown.js';
import { ClusterRuntime, type ClusterRuntimeOptions } from './cluster/cluster-runtime.js';
import { LocalMetadataStore } from './local-metadata-store.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { clusterIdFromVoters, ensureMetaProperties } from './meta-properties.js';
import type { MetadataCommands, MetadataView } from './metadata-view.js';
import { REQUEST_OVERHEAD_BYTES, withConfigOverrides, type NodeConfig } from './node-config.js';
import { groupCoordinatorConfig, logMaintenanceConfig } from './component-configs.js';
import { LogMaintenance } from './log-maintenance.js';
import type { LogFactory } from './partition-log.js';
import { ReplicaManager } from './replica-manager.js';
import { registerReplicaService } from './replication/replica-service.js';
import { storageLogFactory } from './adapters/storage-partition-log.js';
import { GroupCoordinator } from './groups/group-coordinator.js';
import { registerGroupsService } from './groups/groups-service.js';

/** How long close() lets in-flight calls finish before cutting them off. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000;

export interface StartNodeOptions {
  /** Defaults to a pino logger at config.logLevel with base {nodeId}. */
  readonly logger?: Logger;
  /** Defaults to packages/storage logs on disk. */
  readonly openLog?: LogFactory;
  readonly nowMs?: () => number;
  readonly shutdownGraceMs?: number;
  /**
   * Node config keys by Kafka name (offsets.topic.num.partitions, offsets.retention.minutes, ...) over
   * `config`, parsed by the node config's own parser: a bad one is a ConfigError before anything starts.
   */
  readonly groups?: Readonly<Record<string, string | number>>;
  /** Test seam: wraps the controller's metadata log storage each time it is opened (fault injection). */
  readonly wrapRaftStorage?: ClusterRuntimeOptions['wrapRaftStorage'];
}

export interface TributaryNode {
  readonly nodeId: number;
  readonly clusterId: string;
  /** The gRPC address actually bound (`host:port`, the real port when configured with 0). */
  readonly address: string;
  /** The HTTP address (`host:port`), when http.listen is set. */
  readonly httpAddress: string | undefined;
  readonly config: NodeConfig;
  readonly metadata: MetadataView;
  readonly metrics: BrokerMetrics;
  /** Cluster mode only (controller.quorum.voters set): the controller voter and broker membership. */
  readonly cluster: ClusterRuntime | undefined;
  /**
   * Stops accepting, lets in-flight requests finish (up to the grace period), closes logs. Idempotent.
   * In cluster mode it first does a controlled shutdown (leadership moves away) unless
   * `controlledShutdown` is false (then the controller fences this broker after its session timeout).
   */
  close(options?: { readonly controlledShutdown?: boolean }): Promise<void>;
}

function defaultLogger(config: NodeConfig): Logger {
  return pino({ level: config.logLevel, base: { nodeId: config.nodeId } });
}

async function listProtoFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.proto'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

async function bindGrpc(server: grpc.Server, listen: HostPort): Promise<number> {
  return new Promise((resolve, reject) => {
    const address = formatHostPort(listen);
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err === null) resolve(port);
      // grpc-js says "No address added out of total 1 resolved"; the cause (EADDRINUSE, ...) is what matters.
      else reject(new Error(`cannot listen on ${address} (listen): ${err.message}`, { cause: err }));
    });
  });
}

export async function startNode(nodeConfig: NodeConfig, options: StartNodeOptions = {}): Promise<TributaryNode> {
  const config = options.groups === undefined ? nodeConfig : withConfigOverrides(nodeConfig, options.groups);
  const rootLogger = options.logger ?? defaultLogger(config);
  const logger = rootLogger.child({ component: 'node' });
  const nowMs = options.nowMs ?? Date.now;
  const openLog = options.openLog ?? storageLogFactory({ logger: rootLogger.child({ component: 'storage' }), nowMs });

  await mkdir(config.dataDir, { recursive: true });
  // Before anything reads or writes the directory: a second node on it is refused here, untouched.
  const lock = await acquireDataDirLock({ dataDir: config.dataDir, nodeId: config.nodeId, nowMs });
  let identity: Awaited<ReturnType<typeof ensureMetaProperties>>;
  try {
    identity = await ensureMetaProperties({
      dataDir: config.dataDir, nodeId: config.nodeId, clusterId: config.clusterId,
      processRoles: config.processRoles, controllerQuorumVoters: config.controllerQuorumVoters,
      ...(config.controllerQuorumVoters.length > 0 ? { defaultClusterId: clusterIdFromVoters(config.controllerQuorumVoters) } : {}),
      logger,
    });
  } catch (err) {
    await lock.release();
    throw err;
  }
  // Taken before anything can write to a log: this run's registration says whether the last ended cleanly.
  const cleanShutdown = await takeCleanShutdownMarker(config.dataDir);
  const server = new grpc.Server({
    // Oversized requests are refused by grpc-js with RESOURCE_EXHAUSTED before we see them.
    'grpc.max_receive_message_length': config.socketRequestMaxBytes,
    'grpc.max_send_message_length': config.fetchMaxBytes + REQUEST_OVERHEAD_BYTES,
  });
  // Cluster mode: metadata comes from the controller quorum; alone: from the local store.
  const cluster = config.controllerQuorumVoters.length > 0
    ? await ClusterRuntime.create({
      config, clusterId: identity.clusterId, server, logger: rootLogger, nowMs, cleanShutdown,
      ...(options.wrapRaftStorage === undefined ? {} : { wrapRaftStorage: options.wrapRaftStorage }),
    })
    : undefined;
  const store = cluster === undefined
    ? await LocalMetadataStore.open({ dataDir: config.dataDir, clusterId: identity.clusterId, nodeId: config.nodeId, roles: config.processRoles, config })
    : undefined;
  const metadata: MetadataView & MetadataCommands = cluster?.metadata ?? store!;
  const notifier = new ChangeNotifier();
  const replicas = new ReplicaManager({
    nodeId: config.nodeId, config, metadata, openLog, notifier, nowMs, logger: rootLogger.child({ component: 'replica-manager' }),
    ...(cluster === undefined ? {} : { replication: cluster.replicationOptions(), onReplicaOffline: () => cluster.heartbeatNow() }),
  });
  if (store !== undefined) await replicas.startup();
  const unsubscribe = store?.subscribe((change) => replicas.applyChange(change)) ?? (() => {});

  const metrics = createBrokerMetrics({
    nodeId: config.nodeId,
    processMetrics: config.httpListen !== undefined,
    source: {
      *partitions() {
        for (const topic of metadata.topics()) {
          for (const p of topic.partitions) {
            const hosted = replicas.findPartition(p.topic, p.partition);
            if (hosted !== undefined) {
              yield { topic: p.topic, partition: p.partition, logStartOffset: hosted.logStartOffset, highWatermark: hosted.highWatermark, logEndOffset: hosted.logEndOffset };
            }
          }
        }
      },
      waitingRequests: () => notifier.size,
      offlineReplicas: () => replicas.offlineReplicas(),
    },
  });

  const shutdown = new AbortController();
  const background = new Set<Promise<unknown>>();
  server.addService(BrokerService, createBrokerHandlers({
    config, metadata, commands: metadata, replicas, notifier, metrics, nowMs,
    logger: rootLogger.child({ component: 'broker-service' }),
    shutdownSignal: shutdown.signal,
    trackBackground: (work) => {
      background.add(work);
      void work.finally(() => background.delete(work));
    },
  }));
  if (cluster !== undefined) {
    // Followers fetch from this node when it leads a partition (DESIGN.md §5, Replication).
    registerReplicaService(server, {
      clusterId: identity.clusterId, replicas, notifier, nowMs,
      logger: rootLogger.child({ component: 'replica-service' }), shutdownSignal: shutdown.signal,
    });
  }
  const groups = new GroupCoordinator({
    nodeId: config.nodeId, metadata, commands: metadata, replicas, notifier, nowMs,
    config: groupCoordinatorConfig(config), logger: rootLogger.child({ component: 'group-coordinator' }),
  });
  const maintenance = new LogMaintenance({
    config: logMaintenanceConfig(config), logs: () => replicas.hostedPartitions(), nowMs,
    logger: rootLogger.child({ component: 'log-maintenance' }),
  });
  registerGroupsService(server, { coordinator: groups, logger: rootLogger.child({ component: 'groups-service' }) });
  server.addService(AdminService, createAdminHandlers({
    config, metadata, commands: metadata, replicas, logger: rootLogger.child({ component: 'admin-service' }),
  }));
  const health = new HealthImplementation({ '': 'NOT_SERVING', 'tributary.v1.Broker': 'NOT_SERVING', 'tributary.v1.Admin': 'NOT_SERVING' });
  health.addToServer(server);
  const protoFiles = await listProtoFiles(PROTO_DIR);
  const reflectionDefinition = protoLoader.loadSync([...protoFiles, HEALTH_PROTO_PATH], {
    includeDirs: [PROTO_DIR, dirname(dirname(dirname(HEALTH_PROTO_PATH)))],
  });
  new ReflectionService(reflectionDefinition).addToServer(server);

  let port: number;
  try {
    port = await bindGrpc(server, config.listen);
  } catch (err) {
    server.forceShutdown();
    unsubscribe();
    await cluster?.close();
    await replicas.shutdown();
    await lock.release();
    throw err;
  }
  const advertised = config.advertisedListen ?? { host: config.listen.host, port };
  store?.setAdvertisedAddress(advertised.host, advertised.port);
  // Cluster mode: catching up on metadata, opening logs and registering go on in the background,
  // for as long as the quorum takes to form; until then the node is up but not ready.
  cluster?.start({ replicas, advertised });

  let ready = true;
  const controller = cluster?.controller;
  if (controller !== undefined) registerControllerMetrics(metrics.registry, controller);
  // A controller voter whose Raft driver stopped is not ready until a restarted one runs.
  const isReady = (): boolean => ready && (cluster?.started ?? true) && (controller?.driverRunning() ?? true);
  let http: HttpServerHandle | undefined;
  if (config.httpListen !== undefined) {
    http = await startHttpServer({ listen: config.httpListen, registry: metrics.registry, isReady });
  }
  groups.start();
  maintenance.start();
  for (const service of ['', 'tributary.v1.Broker', 'tributary.v1.Admin']) health.setStatus(service, 'SERVING');
  const unsubscribeDriver = controller?.onDriverRunningChange((running) => {
    if (!ready) return;
    health.setStatus('', running ? 'SERVING' : 'NOT_SERVING');
  }) ?? (() => {});
  const address = formatHostPort({ host: config.listen.host, port });
  logger.info({ address, httpAddress: http === undefined ? undefined : formatHostPort(http.address), clusterId: identity.clusterId, dataDir: config.dataDir, partitions: replicas.partitionCount }, 'node started');

  let closing: Promise<void> | undefined;
  const close = (closeOptions: { readonly controlledShutdown?: boolean } = {}): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      unsubscribeDriver();
      logger.info('node stopping');
      await cluster?.leave(closeOptions.controlledShutdown ?? true);
      for (const service of ['', 'tributary.v1.Broker', 'tributary.v1.Admin']) health.setStatus(service, 'NOT_SERVING');
      groups.close();
      await maintenance.close();
      shutdown.abort();
      notifier.notifyAll();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await Promise.allSettled([...background]);
      await http?.close();
      unsubscribe();
      await cluster?.close();
      const clean = await replicas.shutdown();
      if (clean) await writeCleanShutdownMarker(config.dataDir);
      logger.info({ clean }, 'node stopped');
    })().finally(() => lock.release()); // last: the directory is free only once nothing of this node writes to it
    return closing;
  };

  return {
    nodeId: config.nodeId, clusterId: identity.clusterId, address,
    httpAddress: http === undefined ? undefined : formatHostPort(http.address),
    config, metadata, metrics, cluster, close,
  };
}
