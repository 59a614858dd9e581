// A cluster of real node processes (NodeProcess): for tests that need real crashes (SIGKILL,
// SIGSTOP) of whole nodes. Ports are reserved up front (the voters list names them); each node's
// data and log live under `dataDir` (`node-<id>/`, `node-<id>.log`).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BrokerClient, type tributary } from '@tributary/protocol';
import { reservePorts, type ClusterTopology } from './cluster.js';
import { NodeProcess, DEFAULT_READY_TIMEOUT_MS } from './node-process.js';

export interface StartProcessClusterOptions {
  /** Combined-mode node count; ignored when `topology` names controllers and brokers. Default 3. */
  readonly nodes?: number;
  readonly topology?: ClusterTopology;
  /** Default: a fresh temp dir, removed by stop(). */
  readonly dataDir?: string;
  /** `--set` configs for every node. */
  readonly configs?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
}

export interface ProcessCluster {
  readonly nodes: readonly NodeProcess[];
  readonly brokers: readonly NodeProcess[];
  readonly controllers: readonly NodeProcess[];
  readonly bootstrapServers: string;
  readonly voters: string;
  readonly dataDir: string;
  node(nodeId: number): NodeProcess;
  /** The cluster's Metadata as one node answers it from its own image (no routing). */
  metadata(nodeId: number, timeoutMs?: number): Promise<tributary.v1.IMetadataResponse>;
  /** Stops every node (SIGTERM, then SIGKILL) and removes the data directory if the harness created it. */
  stop(): Promise<void>;
}

export async function startProcessCluster(options: StartProcessClusterOptions = {}): Promise<ProcessCluster> {
  const topology = options.topology ?? 'combined';
  const roles: string[][] = topology === 'combined'
    ? Array.from({ length: options.nodes ?? 3 }, () => ['broker', 'controller'])
    : [...Array.from({ length: topology.controllers }, () => ['controller']), ...Array.from({ length: topology.brokers }, () => ['broker'])];
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'tributary-procs-'));
  const ports = await reservePorts('127.0.0.1', roles.length);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const voters = roles.flatMap((r, i) => (r.includes('controller') ? [`${i + 1}@${addresses[i]!}`] : [])).join(',');
  const nodes = roles.map((r, i) => new NodeProcess({
    nodeId: i + 1, dataDir: join(dataDir, `node-${i + 1}`), listen: addresses[i]!, roles: r, voters,
    ...(options.configs === undefined ? {} : { configs: options.configs }),
  }));
  const brokers = nodes.filter((n) => n.options.roles?.includes('broker') === true);
  const cluster: ProcessCluster = {
    nodes, brokers, voters, dataDir,
    controllers: nodes.filter((n) => n.options.roles?.includes('controller') === true),
    bootstrapServers: brokers.map((b) => b.address).join(','),
    node(nodeId) {
      const node = nodes.find((n) => n.nodeId === nodeId);
      if (node === undefined) throw new Error(`process cluster: no node ${nodeId}`);
      return node;
    },
    metadata: (nodeId, timeoutMs = 2000) => metadataOf(cluster.node(nodeId).address, timeoutMs),
    async stop() {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.start(options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

async function metadataOf(address: string, timeoutMs: number): Promise<tributary.v1.IMetadataResponse> {
  const client = new BrokerClient(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => {
      client.metadata({ topics: [] }, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err !== null || res === undefined) reject(err ?? new Error('metadata: empty response'));
        else resolve(res);
      });
    });
  } finally {
    client.close();
  }
}
