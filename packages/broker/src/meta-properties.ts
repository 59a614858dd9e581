// `<data.dir>/meta.properties`: the identity of the node this data directory belongs to — node id,
// cluster id, and how it runs: `process.roles` and `controller.quorum.voters` (empty: a node alone,
// whose metadata is the local store; set: a member of that quorum, whose metadata is the quorum's).
// Written on first start. A later start whose flags disagree is refused with what differs and how to
// fix it: obeyed, a node of a quorum restarted without --voters would open an empty local metadata
// store and see every partition on disk as unknown. Files written before the mode was stored (no
// `process.roles` / `controller.quorum.voters` keys) are completed from the flags of the next start.
//
// A voter's address may change (a host moved) while the voter ids stay: the stored address is
// rewritten and the change logged. The set of voter ids may not: a static quorum with another
// membership can elect a second leader.
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RAFT_DIR } from '@tributary/controller';
import { writeFileAtomic } from '@tributary/storage';
import { METADATA_DIR, METADATA_FILE } from './local-metadata-store.js';
import { formatHostPort, parseHostPort } from './host-port.js';
import { ConfigError, type ConfigIssue, type NodeRole, type QuorumVoter } from './node-config.js';

export const META_PROPERTIES_FILE = 'meta.properties';
const META_VERSION = 1;

export interface MetaProperties {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Sorted. */
  readonly processRoles: readonly NodeRole[];
  /** Empty: the node runs alone (no quorum). */
  readonly controllerQuorumVoters: readonly QuorumVoter[];
}

/** What a meta.properties file holds; the mode keys are absent in files of older versions. */
export interface StoredMetaProperties {
  readonly nodeId?: number;
  readonly clusterId?: string;
  readonly processRoles?: readonly NodeRole[];
  readonly controllerQuorumVoters?: readonly QuorumVoter[];
}

/** Logs what ensureMetaProperties changed in an existing file. */
export interface MetaPropertiesLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A 22-character base64url id from a random UUID, like Kafka's cluster ids. */
export function generateClusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

export function formatVoters(voters: readonly QuorumVoter[]): string {
  return [...voters].sort((a, b) => a.nodeId - b.nodeId).map((v) => `${v.nodeId}@${formatHostPort(v)}`).join(',');
}

function parseVoters(text: string): QuorumVoter[] | undefined {
  if (text === '') return [];
  const voters: QuorumVoter[] = [];
  for (const part of text.split(',')) {
    const match = /^(\d+)@(.+)$/.exec(part.trim());
    const address = match === null ? undefined : parseHostPort(match[2]!);
    if (match === null || address === undefined || typeof address === 'string') return undefined;
    voters.push({ nodeId: Number(match[1]), host: address.host, port: address.port });
  }
  return voters;
}

function parseRoles(text: string): NodeRole[] | undefined {
  const roles = text.split(',').map((r) => r.trim()).filter((r) => r !== '');
  if (roles.length === 0 || roles.some((r) => r !== 'broker' && r !== 'controller')) return undefined;
  return [...new Set(roles as NodeRole[])].sort();
}

export function parseMetaProperties(text: string): StoredMetaProperties {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq > 0) values.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim());
  }
  const nodeId = values.get('node.id');
  const clusterId = values.get('cluster.id');
  const rolesText = values.get('process.roles');
  const votersText = values.get('controller.quorum.voters');
  const processRoles = rolesText === undefined ? undefined : parseRoles(rolesText);
  const controllerQuorumVoters = votersText === undefined ? undefined : parseVoters(votersText);
  return {
    ...(nodeId !== undefined && /^\d+$/.test(nodeId) ? { nodeId: Number(nodeId) } : {}),
    ...(clusterId !== undefined ? { clusterId } : {}),
    ...(processRoles !== undefined ? { processRoles } : {}),
    ...(controllerQuorumVoters !== undefined ? { controllerQuorumVoters } : {}),
  };
}

export function formatMetaProperties(meta: MetaProperties): string {
  return [
    '# Tributary node identity: do not edit',
    `version=${META_VERSION}`,
    `node.id=${meta.nodeId}`,
    `cluster.id=${meta.clusterId}`,
    `process.roles=${meta.processRoles.join(',')}`,
    `controller.quorum.voters=${formatVoters(meta.controllerQuorumVoters)}`,
    '',
  ].join('\n');
}

/** The flags that would repeat the stored mode. */
function modeFlags(meta: { readonly processRoles: readonly NodeRole[]; readonly controllerQuorumVoters: readonly QuorumVoter[] }): string {
  const voters = meta.controllerQuorumVoters.length === 0 ? 'without --voters' : `with --voters ${formatVoters(meta.controllerQuorumVoters)}`;
  return `${voters} --roles ${meta.processRoles.join(',')}`;
}

/**
 * Where the configured mode (`given`) disagrees with the stored one: one issue per key, each saying
 * stored vs given and how to fix it. Voter address changes alone are not issues.
 */
export function identityMismatches(args: {
  readonly path: string;
  readonly dataDir: string;
  readonly stored: MetaProperties;
  readonly given: Omit<MetaProperties, 'clusterId'> & { readonly clusterId: string | undefined };
}): ConfigIssue[] {
  const { path, dataDir, stored, given } = args;
  const fix = `restart ${modeFlags(stored)} as before, or move ${dataDir} away to start a new node (its data stays in the moved directory)`;
  const issues: ConfigIssue[] = [];
  if (stored.nodeId !== given.nodeId) {
    issues.push({ key: 'node.id', message: `is ${given.nodeId} but ${path} belongs to node ${stored.nodeId}` });
  }
  if (given.clusterId !== undefined && stored.clusterId !== given.clusterId) {
    issues.push({ key: 'cluster.id', message: `is ${given.clusterId} but ${path} belongs to cluster ${stored.clusterId}` });
  }
  const storedAlone = stored.controllerQuorumVoters.length === 0;
  const givenAlone = given.controllerQuorumVoters.length === 0;
  if (storedAlone !== givenAlone) {
    issues.push({
      key: 'controller.quorum.voters',
      message: storedAlone
        ? `${dataDir} belongs to a node that runs alone (stored in ${path}: no controller.quorum.voters), but this start gives --voters ${formatVoters(given.controllerQuorumVoters)}: its topics live in the local metadata store, which a quorum does not read. To fix: ${fix}`
        : `${dataDir} belongs to a member of the controller quorum ${formatVoters(stored.controllerQuorumVoters)} (stored in ${path}), but this start gives no --voters: alone, the node would not see the quorum's metadata and would take every partition on disk for unknown. To fix: ${fix}`,
    });
  } else if (!storedAlone) {
    const storedIds = stored.controllerQuorumVoters.map((v) => v.nodeId).sort((a, b) => a - b);
    const givenIds = given.controllerQuorumVoters.map((v) => v.nodeId).sort((a, b) => a - b);
    if (storedIds.join(',') !== givenIds.join(',')) {
      issues.push({
        key: 'controller.quorum.voters',
        message: `stored voters ${formatVoters(stored.controllerQuorumVoters)} (in ${path}), given ${formatVoters(given.controllerQuorumVoters)}: the voter ids differ (${storedIds.join(',')} vs ${givenIds.join(',')}), and a static quorum whose members disagree on its membership can elect two leaders. To fix: ${fix}`,
      });
    }
  }
  if (stored.processRoles.join(',') !== given.processRoles.join(',')) {
    issues.push({
      key: 'process.roles',
      message: `stored ${stored.processRoles.join(',')} (in ${path}), given ${given.processRoles.join(',')}: a node's roles are fixed when its data directory is created. To fix: ${fix}`,
    });
  }
  return issues;
}

/**
 * Reads or creates meta.properties and returns the identity to run with. Throws ConfigError naming
 * each key where the stored identity differs from the configured one (nothing on disk is changed then).
 */
export async function ensureMetaProperties(args: {
  readonly dataDir: string;
  readonly nodeId: number;
  readonly clusterId: string | undefined;
  readonly processRoles: readonly NodeRole[];
  /** Empty: the node runs alone. */
  readonly controllerQuorumVoters: readonly QuorumVoter[];
  /** Used on first start when clusterId is unset (cluster mode: every node must agree without talking). */
  readonly defaultClusterId?: string;
  readonly logger?: MetaPropertiesLogger;
}): Promise<MetaProperties> {
  const path = join(args.dataDir, META_PROPERTIES_FILE);
  const processRoles = [...new Set(args.processRoles)].sort();
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === undefined) {
    const meta: MetaProperties = {
      nodeId: args.nodeId, clusterId: args.clusterId ?? args.defaultClusterId ?? generateClusterId(),
      processRoles, controllerQuorumVoters: args.controllerQuorumVoters,
    };
    await writeFileAtomic(path, formatMetaProperties(meta));
    return meta;
  }
  const stored = parseMetaProperties(text);
  if (stored.nodeId === undefined || stored.clusterId === undefined) {
    throw new ConfigError([{ key: 'data.dir', message: `${path} is missing node.id or cluster.id` }]);
  }
  // Older files: the keys are absent (the next start fills them in); present but unreadable is damage.
  if (/^\s*process\.roles\s*=/m.test(text) && stored.processRoles === undefined) {
    throw new ConfigError([{ key: 'data.dir', message: `${path} has an unreadable process.roles` }]);
  }
  if (/^\s*controller\.quorum\.voters\s*=/m.test(text) && stored.controllerQuorumVoters === undefined) {
    throw new ConfigError([{ key: 'data.dir', message: `${path} has an unreadable controller.quorum.voters` }]);
  }
  if (stored.controllerQuorumVoters === undefined) {
    // An older file does not say the mode, but the directory does: refuse a start the contents contradict.
    const evidence = await storedModeEvidence(args.dataDir);
    const givenAlone = args.controllerQuorumVoters.length === 0;
    if (evidence === 'quorum' && givenAlone) {
      throw new ConfigError([{ key: 'controller.quorum.voters', message: `${args.dataDir} holds a controller quorum's Raft log (${RAFT_DIR}), but this start gives no --voters: alone, the node would not see the quorum's metadata and would take every partition on disk for unknown. To fix: restart with --voters as before (id@host:port of every voter), or move ${args.dataDir} away to start a new node` }]);
    }
    if (evidence === 'alone' && !givenAlone) {
      throw new ConfigError([{ key: 'controller.quorum.voters', message: `${args.dataDir} holds the metadata of a node that ran alone (${METADATA_DIR}/${METADATA_FILE}), but this start gives --voters ${formatVoters(args.controllerQuorumVoters)}: its topics live in the local metadata store, which a quorum does not read. To fix: restart without --voters as before, or move ${args.dataDir} away to start a new node` }]);
    }
  }
  const complete: MetaProperties = {
    nodeId: stored.nodeId, clusterId: stored.clusterId,
    processRoles: stored.processRoles ?? processRoles,
    controllerQuorumVoters: stored.controllerQuorumVoters ?? args.controllerQuorumVoters,
  };
  const issues = identityMismatches({
    path, dataDir: args.dataDir, stored: complete,
    given: { nodeId: args.nodeId, clusterId: args.clusterId, processRoles, controllerQuorumVoters: args.controllerQuorumVoters },
  });
  if (issues.length > 0) throw new ConfigError(issues);
  const meta: MetaProperties = { ...complete, controllerQuorumVoters: args.controllerQuorumVoters };
  const before = formatVoters(complete.controllerQuorumVoters);
  if (stored.processRoles === undefined || stored.controllerQuorumVoters === undefined) {
    args.logger?.info({ path, processRoles: meta.processRoles, controllerQuorumVoters: formatVoters(meta.controllerQuorumVoters) }, 'meta.properties of an older version: storing the node\'s mode from this start');
    await writeFileAtomic(path, formatMetaProperties(meta));
  } else if (before !== formatVoters(meta.controllerQuorumVoters)) {
    args.logger?.warn({ path, from: before, to: formatVoters(meta.controllerQuorumVoters) }, 'controller quorum voter addresses changed (same voter ids): storing the new addresses');
    await writeFileAtomic(path, formatMetaProperties(meta));
  }
  return meta;
}

/** Which mode a data directory's contents show: the local metadata store, or a controller's Raft log. */
async function storedModeEvidence(dataDir: string): Promise<'alone' | 'quorum' | undefined> {
  const present = async (path: string): Promise<boolean> => {
    try {
      await stat(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  };
  if (await present(join(dataDir, RAFT_DIR))) return 'quorum';
  if (await present(join(dataDir, METADATA_DIR, METADATA_FILE))) return 'alone';
  return undefined;
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
