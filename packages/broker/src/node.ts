// startNode: the I/O shell that wires one Tributary node together — data dir identity, metadata,
// partition logs, the gRPC server (Broker, Admin, health, reflection), HTTP metrics, timers.
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { pino, type Logger } from 'pino';
import { AdminService, BrokerService, flowControlServer, PROTO_DIR } from '@tributary/protocol';
import { createAdminHandlers } from './admin-service.js';
import { createBrokerHandlers } from './broker-service.js';
import { createBrokerMetrics, type BrokerMetrics } from './broker-metrics.js';
import { registerControllerMetrics } from './controller-metrics.js';
import { ChangeNotifier } from './change-notifier.js';
import { formatHostPort, type HostPort } from './host-port.js';
import { startHttpServer, type HttpServerHandle } from './http-server.js';
import { takeCleanShutdownMarker, writeCleanShutdownMarker } from './clean-shutdown.js';
import { ClusterRuntime, type ClusterRuntimeOptions } from './cluster/cluster-runtime.js';
import { importLocalMetadata, readLegacyLocalMetadata, retireLegacyLocalMetadata } from './cluster/local-metadata-import.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { clusterIdFromVoters, completeLocalMetadataImport, ensureMetaProperties } from './meta-properties.js';
import type { MetadataView } from './metadata-view.js';
import { REQUEST_OVERHEAD_BYTES, withConfigOverrides, type NodeConfig, type QuorumVoter } from './node-config.js';
import { groupCoordinatorConfig, logMaintenanceConfig } from './component-configs.js';
import { LogMaintenance } from './log-maintenance.js';
import type { LogFactory } from './partition-log.js';
import { ReplicaManager } from './replica-manager.js';
import { registerReplicaService } from './replication/replica-service.js';
import { storageLogFactory } from './adapters/storage-partition-log.js';
import { GroupCoordinator } from './groups/group-coordinator.js';
import { registerGroupsService } from './groups/groups-service.js';
import { OFFSETS_TOPIC } from './groups/group-records.js';
import { grpcTxnTransport } from './adapters/grpc-txn-transport.js';
import { PartitionTransactions } from './partition-transactions.js';
import { TransactionCoordinator } from './transactions/transaction-coordinator.js';
import { registerTransactionsService } from './transactions/transactions-service.js';
import { CoordinatorTxnVerifier } from './transactions/txn-verifier.js';
import type { TxnVerifier } from './transactions/txn-ports.js';
import { transactionCoordinatorConfig } from './component-configs.js';

/** How long close() lets in-flight calls finish before cutting them off. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000;
/**
 * A node without --voters (one voter on itself) returns from startNode once it is ready: its quorum
 * forms at once, so a client may use it right away. Past this it returns anyway, up but not ready.
 */
export const DEFAULT_ALONE_READY_TIMEOUT_MS = 30_000;
const ALONE_READY_POLL_MS = 2;

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
  /** The controller voter (controller role) and broker membership; a node without --voters is a quorum of one voter on itself. */
  readonly cluster: ClusterRuntime;
  /**
   * Stops accepting, lets in-flight requests finish (up to the grace period), closes logs. Idempotent.
   * A broker first does a controlled shutdown (leadership moves away) unless
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

/** This node as the one voter of its own quorum: its listen address (a wildcard host reached over loopback). */
function selfVoter(config: NodeConfig, port: number): QuorumVoter {
  const host = config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host === '::' ? '::1' : config.listen.host;
  return { nodeId: config.nodeId, host, port };
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

export async function startNode(configured: NodeConfig, options: StartNodeOptions = {}): Promise<TributaryNode> {
  let config = options.groups === undefined ? configured : withConfigOverrides(configured, options.groups);
  const rootLogger = options.logger ?? defaultLogger(config);
  const logger = rootLogger.child({ component: 'node' });
  const nowMs = options.nowMs ?? Date.now;
  const openLog = options.openLog ?? storageLogFactory({ logger: rootLogger.child({ component: 'storage' }), nowMs });

  await mkdir(config.dataDir, { recursive: true });
  // Before anything reads or writes the directory: a second node on it is refused here, untouched.
  const lock = await acquireDataDirLock({ dataDir: config.dataDir, nodeId: config.nodeId, nowMs });
  const server = new grpc.Server({
    // Oversized requests are refused by grpc-js with RESOURCE_EXHAUSTED before we see them.
    'grpc.max_receive_message_length': config.socketRequestMaxBytes,
    'grpc.max_send_message_length': config.fetchMaxBytes + REQUEST_OVERHEAD_BYTES,
  });
  // A produce request of a few MiB then arrives without a window round trip per 64 KiB (http2-window.ts).
  flowControlServer(server, config.http2FlowControlWindowBytes);
  // Without --voters the node is a quorum of one voter on itself, at its own address. On an ephemeral
  // port (listen port 0) that address exists only once bound: bind first (nobody can know the port
  // yet, so no call arrives before the services are added).
  const alone = configured.controllerQuorumVoters.length === 0;
  let port: number | undefined;
  let identity: Awaited<ReturnType<typeof ensureMetaProperties>>;
  let legacy: Awaited<ReturnType<typeof readLegacyLocalMetadata>>;
  try {
    if (alone && config.listen.port === 0) port = await bindGrpc(server, config.listen);
    if (alone) config = Object.freeze({ ...configured, controllerQuorumVoters: [selfVoter(configured, port ?? configured.listen.port)] });
    identity = await ensureMetaProperties({
      dataDir: config.dataDir, nodeId: config.nodeId, clusterId: config.clusterId,
      processRoles: config.processRoles, controllerQuorumVoters: configured.controllerQuorumVoters, selfVoter: selfVoter(config, port ?? config.listen.port),
      ...(alone ? {} : { defaultClusterId: clusterIdFromVoters(config.controllerQuorumVoters) }),
      logger,
    });
    // An earlier version's node alone: its local metadata file, checked whole before anything starts.
    legacy = identity.legacyLocalMetadata ? await readLegacyLocalMetadata(config.dataDir) : undefined;
  } catch (err) {
    server.forceShutdown();
    await lock.release();
    throw err;
  }
  // Taken before anything can write to a log: this run's registration says whether the last ended cleanly.
  const cleanShutdown = await takeCleanShutdownMarker(config.dataDir);
  // Metadata comes from the controller quorum (of one voter on itself, without --voters).
  const cluster = await ClusterRuntime.create({
    config, clusterId: identity.clusterId, server, logger: rootLogger, nowMs, cleanShutdown,
    ...(options.wrapRaftStorage === undefined ? {} : { wrapRaftStorage: options.wrapRaftStorage }),
  });
  const metadata = cluster.metadata;
  const notifier = new ChangeNotifier();
  // The verifier needs the transaction coordinator, which needs the replica manager: it is bound below.
  let txnVerifier: TxnVerifier | undefined;
  const replicas = new ReplicaManager({
    nodeId: config.nodeId, config, metadata, openLog, notifier, nowMs, logger: rootLogger.child({ component: 'replica-manager' }),
    replication: cluster.replicationOptions(), onReplicaOffline: () => cluster.heartbeatNow(),
    txnVerifier: {
      verify: (input) => (txnVerifier === undefined ? Promise.resolve('COORDINATOR_NOT_AVAILABLE' as const) : txnVerifier.verify(input)),
    },
  });
  const partitionTransactions = new PartitionTransactions({ replicas, nowMs });
  const txnTransport = grpcTxnTransport({ clusterId: identity.clusterId, nodeId: config.nodeId, http2FlowControlWindowBytes: config.http2FlowControlWindowBytes });
  const transactions = new TransactionCoordinator({
    nodeId: config.nodeId, metadata, commands: metadata, replicas, notifier, nowMs,
    config: transactionCoordinatorConfig(config), markerWriter: partitionTransactions, markerTransport: txnTransport,
    logger: rootLogger.child({ component: 'transaction-coordinator' }),
  });
  txnVerifier = new CoordinatorTxnVerifier({ nodeId: config.nodeId, coordinator: transactions, transport: txnTransport, logger: rootLogger.child({ component: 'txn-verifier' }) });

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
    config, metadata, commands: metadata, replicas, notifier, metrics, nowMs, transactions,
    logger: rootLogger.child({ component: 'broker-service' }),
    shutdownSignal: shutdown.signal,
    trackBackground: (work) => {
      background.add(work);
      void work.finally(() => background.delete(work));
    },
  }));
  // Followers fetch from this node when it leads a partition (DESIGN.md §5, Replication).
  registerReplicaService(server, {
    clusterId: identity.clusterId, replicas, notifier, nowMs, streamBytesInFlightMax: config.replicaFetchStreamMaxBytesInFlight,
    logger: rootLogger.child({ component: 'replica-service' }), shutdownSignal: shutdown.signal,
  });
  const groups = new GroupCoordinator({
    nodeId: config.nodeId, metadata, commands: metadata, replicas, notifier, nowMs,
    config: groupCoordinatorConfig(config), logger: rootLogger.child({ component: 'group-coordinator' }), txnVerifier,
  });
  const maintenance = new LogMaintenance({
    config: logMaintenanceConfig(config), logs: () => replicas.hostedPartitions(), nowMs,
    logger: rootLogger.child({ component: 'log-maintenance' }),
  });
  registerGroupsService(server, { coordinator: groups, transactions, logger: rootLogger.child({ component: 'groups-service' }) });
  registerTransactionsService(server, {
    nodeId: config.nodeId, coordinator: transactions, partitions: partitionTransactions, metadata, nowMs,
    offsetsPartitionFor: (groupId) => groups.partitionFor(groupId), offsetsTopic: OFFSETS_TOPIC,
    logger: rootLogger.child({ component: 'transactions-service' }),
  });
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

  try {
    port ??= await bindGrpc(server, config.listen);
    if (identity.legacyLocalMetadata) {
      // Before the replica manager reads the image: without the import it would take every log for a stray.
      const controller = cluster.controller;
      if (controller === undefined) throw new Error('a node alone has the controller role (node-config checks it)');
      if (legacy !== undefined) {
        const proposed = await importLocalMetadata({ controller, legacy });
        const keptAt = await retireLegacyLocalMetadata(legacy);
        logger.info({ from: legacy.path, keptAt, proposed, records: legacy.records.length }, 'imported the local metadata of an earlier version into this node\'s quorum; the old file is kept');
      }
      await completeLocalMetadataImport({ dataDir: config.dataDir, meta: identity });
    }
  } catch (err) {
    server.forceShutdown();
    await cluster.close();
    await replicas.shutdown();
    await lock.release();
    throw err;
  }
  const advertised = config.advertisedListen ?? { host: config.listen.host, port };
  // Catching up on metadata, opening logs and registering go on in the background, for as long as
  // the quorum takes to form; until then the node is up but not ready.
  cluster.start({ replicas, advertised });

  let ready = true;
  const controller = cluster.controller;
  if (controller !== undefined) registerControllerMetrics(metrics.registry, controller);
  // A controller voter whose Raft driver stopped is not ready until a restarted one runs.
  const isReady = (): boolean => ready && cluster.started && (controller?.driverRunning() ?? true);
  let http: HttpServerHandle | undefined;
  if (config.httpListen !== undefined) {
    http = await startHttpServer({ listen: config.httpListen, registry: metrics.registry, isReady });
  }
  groups.start();
  transactions.start();
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
      await cluster.leave(closeOptions.controlledShutdown ?? true);
      // Our own metadata watch is a stream this server serves (combined node): end it, or the server's
      // graceful shutdown would wait the whole grace period for it.
      cluster.follower.close();
      for (const service of ['', 'tributary.v1.Broker', 'tributary.v1.Admin']) health.setStatus(service, 'NOT_SERVING');
      groups.close();
      transactions.close();
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
      txnTransport.close();
      await cluster.close();
      const clean = await replicas.shutdown();
      if (clean) await writeCleanShutdownMarker(config.dataDir);
      logger.info({ clean }, 'node stopped');
    })().finally(() => lock.release()); // last: the directory is free only once nothing of this node writes to it
    return closing;
  };

  if (alone) {
    // One voter on itself: the quorum forms at once; return when a client can use the node.
    const deadline = performance.now() + DEFAULT_ALONE_READY_TIMEOUT_MS;
    const selfUsable = (): boolean => !config.processRoles.includes('broker')
      || (cluster.lifecycleState === 'running' && metadata.brokers().some((b) => b.nodeId === config.nodeId && !b.fenced));
    while (!(cluster.started && selfUsable()) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, ALONE_READY_POLL_MS));
    }
    if (!cluster.started) logger.warn({ waitedMs: DEFAULT_ALONE_READY_TIMEOUT_MS }, 'node alone is not ready yet; returning (it keeps starting in the background)');
  }

  return {
    nodeId: config.nodeId, clusterId: identity.clusterId, address,
    httpAddress: http === undefined ? undefined : formatHostPort(http.address),
    config, metadata, metrics, cluster, close,
  };
}
