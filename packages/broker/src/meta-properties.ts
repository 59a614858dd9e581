// `<data.dir>/meta.properties`: the node id and cluster id this data directory belongs to. Written on
// first start; a later start with another node.id or cluster.id is refused, so one node's data can
// never be served under another identity.
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { ConfigError } from './node-config.js';

export const META_PROPERTIES_FILE = 'meta.properties';
const META_VERSION = 1;

export interface MetaProperties {
  readonly nodeId: number;
  readonly clusterId: string;
}

/** A 22-character base64url id from a random UUID, like Kafka's cluster ids. */
export function generateClusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

export function parseMetaProperties(text: string): Partial<MetaProperties> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq > 0) values.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim());
  }
  const nodeId = values.get('node.id');
  const clusterId = values.get('cluster.id');
  return {
    ...(nodeId !== undefined && /^\d+$/.test(nodeId) ? { nodeId: Number(nodeId) } : {}),
    ...(clusterId !== undefined ? { clusterId } : {}),
  };
}

/**
 * Reads or creates meta.properties and returns the identity to run with. Throws ConfigError when the
 * stored identity differs from the configured one.
 */
export async function ensureMetaProperties(args: {
  readonly dataDir: string;
  readonly nodeId: number;
  readonly clusterId: string | undefined;
  /** Used on first start when clusterId is unset (cluster mode: every node must agree without talking). */
  readonly defaultClusterId?: string;
}): Promise<MetaProperties> {
  const path = join(args.dataDir, META_PROPERTIES_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === undefined) {
    const meta = { nodeId: args.nodeId, clusterId: args.clusterId ?? args.defaultClusterId ?? generateClusterId() };
    await writeFileAtomic(path, `# Tributary node identity: do not edit\nversion=${META_VERSION}\nnode.id=${meta.nodeId}\ncluster.id=${meta.clusterId}\n`);
    return meta;
  }
  const stored = parseMetaProperties(text);
  if (stored.nodeId === undefined || stored.clusterId === undefined) {
    throw new ConfigError([{ key: 'data.dir', message: `${path} is missing node.id or cluster.id` }]);
  }
  const issues = [];
  if (stored.nodeId !== args.nodeId) {
    issues.push({ key: 'node.id', message: `is ${args.nodeId} but ${path} belongs to node ${stored.nodeId}` });
  }
  if (args.clusterId !== undefined && stored.clusterId !== args.clusterId) {
    issues.push({ key: 'cluster.id', message: `is ${args.clusterId} but ${path} belongs to cluster ${stored.clusterId}` });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { nodeId: stored.nodeId, clusterId: stored.clusterId };
}

/**
 * The cluster id nodes of one quorum agree on when `cluster.id` is not set: derived from the voter
 * set, so three nodes started with the same `--voters` form one cluster with no formatting step
 * (Kafka needs `kafka-storage format -t ID` on each node for this). Two clusters with identical
 * voter addresses must set `cluster.id` to tell themselves apart.
 */
export function clusterIdFromVoters(voters: readonly { nodeId: number; host: string; port: number }[]): string {
  const canonical = [...voters].sort((a, b) => a.nodeId - b.nodeId).map((v) => `${v.nodeId}@${v.host}:${v.port}`).join(',');
  return createHash('sha256').update(`tributary-cluster:${canonical}`).digest('base64url').slice(0, 22);
}
