// `<data.dir>/meta.properties`: the identity of the node this data directory belongs to — node id,
// cluster id, and how it runs: `process.roles` and `controller.quorum.voters`. A node started without
// --voters is a quorum of one voter on itself: the file stores that voter (`<node.id>@<listen>`), so a
// later start with another quorum's voters is refused like any change of voter ids.
// Written on first start. A later start whose flags disagree is refused with what differs and how to
// fix it: obeyed, a node of a quorum restarted without --voters would form a quorum of its own with
// empty metadata and take every partition on disk for unknown. Files written before the mode was stored (no
// `process.roles` / `controller.quorum.voters` keys) are completed from the flags of the next start.
//
// A voter's address may change (a host moved) while the voter ids stay: the stored address is
// rewritten and the change logged. The set of voter ids may not: a static quorum with another
// membership can elect a second leader.
//
// Earlier versions ran a node alone on a local metadata file (`__cluster_metadata/metadata.json`,
// stored voters empty). Such a directory is reported as `legacyLocalMetadata`; the node imports that
// file into its one-voter quorum (cluster/local-metadata-import.ts) and only then stores its voter and
// `local.metadata.imported=true` (completeLocalMetadataImport).
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RAFT_DIR } from '@tributary/controller';
import { writeFileAtomic } from '@tributary/storage';
import { LEGACY_METADATA_DIR, LEGACY_METADATA_FILE } from './cluster/local-metadata-import.js';
import { assert } from './errors.js';
import { formatHostPort, parseHostPort } from './host-port.js';
import { ConfigError, type ConfigIssue, type NodeRole, type QuorumVoter } from './node-config.js';

export const META_PROPERTIES_FILE = 'meta.properties';
const META_VERSION = 1;

export interface MetaProperties {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Sorted. */
  readonly processRoles: readonly NodeRole[];
  /** Empty only in files of earlier versions (a node alone on a local metadata file). */
  readonly controllerQuorumVoters: readonly QuorumVoter[];
  /** The earlier version's local metadata file was imported into this node's quorum. */
  readonly localMetadataImported?: boolean;
}

/** What a meta.properties file holds; the mode keys are absent in files of older versions. */
export interface StoredMetaProperties {
  readonly nodeId?: number;
  readonly clusterId?: string;
  readonly processRoles?: readonly NodeRole[];
  readonly controllerQuorumVoters?: readonly QuorumVoter[];
  readonly localMetadataImported?: boolean;
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
  const imported = values.get('local.metadata.imported');
  const processRoles = rolesText === undefined ? undefined : parseRoles(rolesText);
  const controllerQuorumVoters = votersText === undefined ? undefined : parseVoters(votersText);
  return {
    ...(nodeId !== undefined && /^\d+$/.test(nodeId) ? { nodeId: Number(nodeId) } : {}),
    ...(clusterId !== undefined ? { clusterId } : {}),
    ...(processRoles !== undefined ? { processRoles } : {}),
    ...(controllerQuorumVoters !== undefined ? { controllerQuorumVoters } : {}),
    ...(imported === 'true' ? { localMetadataImported: true } : {}),
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
    ...(meta.localMetadataImported === true ? ['local.metadata.imported=true'] : []),
    '',
  ].join('\n');
}

/** A stored voter set that is this node alone: a quorum of one voter on itself (or, earlier versions, none). */
function storedAlone(meta: MetaProperties): boolean {
  const voters = meta.controllerQuorumVoters;
  return voters.length === 0 || (voters.length === 1 && voters[0]!.nodeId === meta.nodeId);
}

/** The flags that would repeat the stored mode. */
function modeFlags(meta: MetaProperties): string {
  const voters = storedAlone(meta) ? 'without --voters' : `with --voters ${formatVoters(meta.controllerQuorumVoters)}`;
  return `${voters} --roles ${meta.processRoles.join(',')}`;
}

/**
 * Where the configured mode (`given`) disagrees with the stored one: one issue per key, each saying
 * stored vs given and how to fix it. Voter address changes alone are not issues. `given.alone`: the
 * start gave no --voters (its controllerQuorumVoters is then the node itself).
 */
export function identityMismatches(args: {
  readonly path: string;
  readonly dataDir: string;
  readonly stored: MetaProperties;
  readonly given: Omit<MetaProperties, 'clusterId'> & { readonly clusterId: string | undefined; readonly alone: boolean };
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
  const storedIds = stored.controllerQuorumVoters.map((v) => v.nodeId).sort((a, b) => a - b);
  const givenIds = given.controllerQuorumVoters.map((v) => v.nodeId).sort((a, b) => a - b);
  if (stored.controllerQuorumVoters.length === 0) {
    // An earlier version's node alone: started alone again it imports its local metadata file.
    if (!given.alone) {
      issues.push({
        key: 'controller.quorum.voters',
        message: `${dataDir} belongs to a node that ran alone on a local metadata file (${LEGACY_METADATA_DIR}/${LEGACY_METADATA_FILE}, stored in ${path}: no controller.quorum.voters), but this start gives --voters ${formatVoters(given.controllerQuorumVoters)}: a quorum does not read that file. To fix: restart without --voters (the node then imports the file into a quorum of one voter on itself), or move ${dataDir} away to start a new node`,
      });
    }
  } else if (storedIds.join(',') !== givenIds.join(',') && !(given.alone && storedAlone(stored))) {
    // (Both alone with different ids: the node.id issue above says it.)
    let message: string;
    if (given.alone) {
      message = `${dataDir} belongs to a member of the controller quorum ${formatVoters(stored.controllerQuorumVoters)} (stored in ${path}), but this start gives no --voters: alone, the node would form a quorum of its own, would not see that quorum's metadata and would take every partition on disk for unknown. To fix: ${fix}`;
    } else if (storedAlone(stored)) {
      message = `${dataDir} belongs to a node that runs alone (a quorum of one voter on itself: ${formatVoters(stored.controllerQuorumVoters)}, stored in ${path}), but this start gives --voters ${formatVoters(given.controllerQuorumVoters)}: its metadata lives in its own quorum's log, which those voters do not share, and a static quorum whose members disagree on its membership can elect two leaders. To fix: ${fix}`;
    } else {
      message = `stored voters ${formatVoters(stored.controllerQuorumVoters)} (in ${path}), given ${formatVoters(given.controllerQuorumVoters)}: the voter ids differ (${storedIds.join(',')} vs ${givenIds.join(',')}), and a static quorum whose members disagree on its membership can elect two leaders. To fix: ${fix}`;
    }
    issues.push({ key: 'controller.quorum.voters', message });
  }
  if (stored.processRoles.join(',') !== given.processRoles.join(',')) {
    issues.push({
      key: 'process.roles',
      message: `stored ${stored.processRoles.join(',')} (in ${path}), given ${given.processRoles.join(',')}: a node's roles are fixed when its data directory is created. To fix: ${fix}`,
    });
  }
  return issues;
}

/** The identity to run with; `legacyLocalMetadata`: an earlier version's node alone, whose local metadata is yet to be imported. */
export type EnsuredMetaProperties = MetaProperties & { readonly legacyLocalMetadata: boolean };

/**
 * Reads or creates meta.properties and returns the identity to run with. Throws ConfigError naming
 * each key where the stored identity differs from the configured one (nothing on disk is changed then).
 * An earlier version's node alone (`legacyLocalMetadata`) keeps its file as it is until
 * completeLocalMetadataImport.
 */
export async function ensureMetaProperties(args: {
  readonly dataDir: string;
  readonly nodeId: number;
  readonly clusterId: string | undefined;
  readonly processRoles: readonly NodeRole[];
  /** As configured; empty: the node runs alone, a quorum of one voter on `selfVoter`. */
  readonly controllerQuorumVoters: readonly QuorumVoter[];
  /** This node as a voter (`<node.id>@<listen address>`). */
  readonly selfVoter: QuorumVoter;
  /** Used on first start when clusterId is unset (cluster mode: every node must agree without talking). */
  readonly defaultClusterId?: string;
  readonly logger?: MetaPropertiesLogger;
}): Promise<EnsuredMetaProperties> {
  const path = join(args.dataDir, META_PROPERTIES_FILE);
  const processRoles = [...new Set(args.processRoles)].sort();
  const alone = args.controllerQuorumVoters.length === 0;
  assert(args.selfVoter.nodeId === args.nodeId, `self voter ${args.selfVoter.nodeId} is not node ${args.nodeId}`);
  const voters = alone ? [args.selfVoter] : args.controllerQuorumVoters;
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === undefined) {
    // An earlier version's metadata file without meta.properties: the identity is lost. Refuse rather
    // than start empty (its partition logs would be renamed as strays).
    if (await storedModeEvidence(args.dataDir) === 'alone') {
      throw new ConfigError([{ key: 'data.dir', message: `${args.dataDir} holds an earlier version's local metadata (${LEGACY_METADATA_DIR}/${LEGACY_METADATA_FILE}) but no ${META_PROPERTIES_FILE}: its identity is lost. To fix: restore ${path}, or move ${args.dataDir} away to start a new node` }]);
    }
    const meta: MetaProperties = {
      nodeId: args.nodeId, clusterId: args.clusterId ?? args.defaultClusterId ?? generateClusterId(),
      processRoles, controllerQuorumVoters: voters,
    };
    await writeFileAtomic(path, formatMetaProperties(meta));
    return { ...meta, legacyLocalMetadata: false };
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
  let storedVoters = stored.controllerQuorumVoters;
  if (storedVoters === undefined) {
    // An older file does not say the mode, but the directory does: refuse a start the contents contradict.
    const evidence = await storedModeEvidence(args.dataDir);
    if (evidence === 'quorum' && alone) {
      throw new ConfigError([{ key: 'controller.quorum.voters', message: `${args.dataDir} holds a controller quorum's Raft log (${RAFT_DIR}), but this start gives no --voters: alone, the node would not see the quorum's metadata and would take every partition on disk for unknown. To fix: restart with --voters as before (id@host:port of every voter), or move ${args.dataDir} away to start a new node` }]);
    }
    // The local metadata file: the node ran alone (the identity check below refuses --voters).
    storedVoters = evidence === 'alone' ? [] : voters;
  }
  const complete: MetaProperties = {
    nodeId: stored.nodeId, clusterId: stored.clusterId,
    processRoles: stored.processRoles ?? processRoles,
    controllerQuorumVoters: storedVoters,
    ...(stored.localMetadataImported === true ? { localMetadataImported: true } : {}),
  };
  const issues = identityMismatches({
    path, dataDir: args.dataDir, stored: complete,
    given: { nodeId: args.nodeId, clusterId: args.clusterId, processRoles, controllerQuorumVoters: voters, alone },
  });
  if (issues.length > 0) throw new ConfigError(issues);
  if (complete.controllerQuorumVoters.length === 0) {
    args.logger?.info({ path }, 'data directory of a node that ran alone on a local metadata file (an earlier version): importing it into a quorum of one voter on itself');
    return { ...complete, controllerQuorumVoters: voters, legacyLocalMetadata: true };
  }
  const meta: MetaProperties = { ...complete, controllerQuorumVoters: voters };
  const before = formatVoters(complete.controllerQuorumVoters);
  if (stored.processRoles === undefined || stored.controllerQuorumVoters === undefined) {
    args.logger?.info({ path, processRoles: meta.processRoles, controllerQuorumVoters: formatVoters(meta.controllerQuorumVoters) }, 'meta.properties of an older version: storing the node\'s mode from this start');
    await writeFileAtomic(path, formatMetaProperties(meta));
  } else if (before !== formatVoters(meta.controllerQuorumVoters)) {
    // A node alone on an ephemeral port (listen port 0) gets a new address every start: expected, not a warning.
    const log = alone ? args.logger?.info.bind(args.logger) : args.logger?.warn.bind(args.logger);
    log?.({ path, from: before, to: formatVoters(meta.controllerQuorumVoters) }, 'controller quorum voter addresses changed (same voter ids): storing the new addresses');
    await writeFileAtomic(path, formatMetaProperties(meta));
  }
  return { ...meta, legacyLocalMetadata: false };
}

/**
 * After the import of an earlier version's local metadata committed: stores the node's one voter and
 * that the import is done (the next start is an ordinary one).
 */
export async function completeLocalMetadataImport(args: { readonly dataDir: string; readonly meta: MetaProperties }): Promise<MetaProperties> {
  const meta: MetaProperties = { ...args.meta, localMetadataImported: true };
  assert(meta.controllerQuorumVoters.length === 1 && meta.controllerQuorumVoters[0]!.nodeId === meta.nodeId, `an imported node alone is one voter on itself, not ${formatVoters(meta.controllerQuorumVoters)}`);
  await writeFileAtomic(join(args.dataDir, META_PROPERTIES_FILE), formatMetaProperties(meta));
  return meta;
}

/** Which mode a data directory's contents show: an earlier version's local metadata file, or a controller's Raft log. */
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
  if (await present(join(dataDir, LEGACY_METADATA_DIR, LEGACY_METADATA_FILE))) return 'alone';
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
