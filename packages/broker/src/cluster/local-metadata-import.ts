// Importing an earlier version's single-node metadata. Those versions ran a node without --voters on
// a local JSON file (`<data.dir>/__cluster_metadata/metadata.json`: topics, partition states, topic
// configs, the end of the last producer-id block) instead of a quorum. Now such a node is a quorum of
// one voter on itself; on its first start the file's contents become the quorum's first records.
//
// Steps (node.ts): read and check the file (readLegacyLocalMetadata) -> once this voter leads, propose
// the records as one batch unless the log already holds them (importLocalMetadata: one raft entry, so
// a crash leaves all of it or none) -> rename the file to `metadata.json.imported` (kept, never
// deleted) -> store the voter and `local.metadata.imported=true` in meta.properties. A crash between
// any two steps repeats the remaining ones on the next start; a file that cannot be read refuses the
// start, so the node never comes up empty over logs it would then take for strays.
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { QuorumController } from '@tributary/controller';
import {
  NO_LEADER, applyRecords, encodeMetadataBatch, topicByName, type MetadataImage, type MetadataRecord,
} from '@tributary/controller/metadata';
import { ConfigError } from '../node-config.js';

export const LEGACY_METADATA_DIR = '__cluster_metadata';
export const LEGACY_METADATA_FILE = 'metadata.json';
/** What the file is renamed to once imported. */
export const LEGACY_METADATA_IMPORTED_FILE = 'metadata.json.imported';
const LEGACY_METADATA_VERSION = 1;
/** Longest wait for the one voter to lead before the import gives up (it campaigns at once). */
export const DEFAULT_LOCAL_METADATA_IMPORT_TIMEOUT_MS = 30_000;

/** The earlier version's file: what it held, as the quorum's records, and where it is. */
export interface LegacyLocalMetadata {
  readonly path: string;
  readonly records: readonly MetadataRecord[];
  readonly topicIds: readonly string[];
  readonly producerIdBlockEnd: number;
}

function refuse(path: string, problem: string): never {
  throw new ConfigError([{
    key: 'data.dir',
    message: `${path} (the metadata of a node that ran alone, written by an earlier version) ${problem}; it was not imported and nothing was changed. To fix: restore the file from a backup, or move the data directory away to start a new node`,
  }]);
}

const isInt = (x: unknown, min: number): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= min;
const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.every((id) => isInt(id, 0));

/**
 * Reads and checks the file; undefined when there is none (an earlier node alone that never created a
 * topic, or a restart after the file was renamed). Throws ConfigError when it cannot be imported whole.
 */
export async function readLegacyLocalMetadata(dataDir: string): Promise<LegacyLocalMetadata | undefined> {
  const path = join(dataDir, LEGACY_METADATA_DIR, LEGACY_METADATA_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let stored: { version?: unknown; topics?: unknown; producerIdBlockEnd?: unknown };
  try {
    stored = JSON.parse(text) as typeof stored;
  } catch (err) {
    refuse(path, `is not valid JSON (${(err as Error).message})`);
  }
  if (stored === null || typeof stored !== 'object') refuse(path, 'is not a JSON object');
  if (stored.version !== LEGACY_METADATA_VERSION) refuse(path, `has version ${JSON.stringify(stored.version)}, not ${LEGACY_METADATA_VERSION}`);
  if (!isInt(stored.producerIdBlockEnd, 0)) refuse(path, `has an invalid producerIdBlockEnd ${JSON.stringify(stored.producerIdBlockEnd)}`);
  if (!Array.isArray(stored.topics)) refuse(path, 'has no topics list');
  const records: MetadataRecord[] = [];
  const topicIds: string[] = [];
  const names = new Set<string>();
  for (const t of stored.topics as unknown[]) {
    const topic = t as { name?: unknown; topicId?: unknown; internal?: unknown; partitions?: unknown; configs?: unknown };
    if (typeof topic?.name !== 'string' || typeof topic.topicId !== 'string' || topic.topicId === '' || typeof topic.internal !== 'boolean'
      || !Array.isArray(topic.partitions) || topic.configs === null || typeof topic.configs !== 'object') {
      refuse(path, `has a malformed topic entry ${JSON.stringify(t)?.slice(0, 200)}`);
    }
    if (names.has(topic.name) || topicIds.includes(topic.topicId)) refuse(path, `lists topic ${topic.name} (${topic.topicId}) twice`);
    names.add(topic.name);
    topicIds.push(topic.topicId);
    const topicId = topic.topicId;
    const topicName = topic.name;
    records.push({ type: 'topic', name: topicName, topicId, internal: topic.internal });
    (topic.partitions as unknown[]).forEach((p, index) => {
      const part = p as { partition?: unknown; leader?: unknown; leaderEpoch?: unknown; partitionEpoch?: unknown; replicas?: unknown; isr?: unknown };
      if (part?.partition !== index || !isInt(part.leader, -1) || !isInt(part.leaderEpoch, 0) || !isInt(part.partitionEpoch, 0)
        || !isIds(part.replicas) || part.replicas.length === 0 || !isIds(part.isr)) {
        refuse(path, `has a malformed partition ${index} of topic ${topicName}: ${JSON.stringify(p)?.slice(0, 200)}`);
      }
      // Leaderless until this broker registers: a leader must be a registered, unfenced broker, and the
      // import commits before the registration. Once it is unfenced the controller elects the ISR member
      // (leaderEpoch + 1), as after a restart of a whole cluster.
      records.push({
        type: 'partition', topicId, partition: index, replicas: part.replicas, isr: part.isr,
        leader: NO_LEADER, leaderEpoch: part.leaderEpoch, partitionEpoch: part.partitionEpoch,
      });
    });
    for (const [name, value] of Object.entries(topic.configs as Record<string, unknown>)) {
      if (typeof value !== 'string') refuse(path, `has a non-string value for config ${name} of topic ${topic.name}`);
      records.push({ type: 'config', resourceType: 'topic', resourceName: topic.name, name, value });
    }
  }
  // Ids below the block end may have been handed out: the quorum's next block starts there (as a snapshot writes it).
  records.push({ type: 'producerIdsBlock', brokerId: -1, brokerEpoch: -1, firstProducerId: stored.producerIdBlockEnd, size: 0 });
  return { path, records, topicIds, producerIdBlockEnd: stored.producerIdBlockEnd };
}

/** Resolves once `controller` leads (a sole voter campaigns at once), or rejects after `timeoutMs`. */
async function whenActive(controller: QuorumController<MetadataImage>, timeoutMs: number): Promise<void> {
  if (controller.isActive()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`the controller did not become active within ${timeoutMs} ms; the local metadata was not imported (the next start tries again)`));
    }, timeoutMs);
    const unsubscribe = controller.onActiveChange((active) => {
      if (!active) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
    if (controller.isActive()) {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    }
  });
}

/**
 * Proposes the file's records to the one-voter quorum unless its log already holds them (an import
 * that committed before a crash); resolves once they are committed. Returns whether it proposed.
 */
export async function importLocalMetadata(args: {
  readonly controller: QuorumController<MetadataImage>;
  readonly legacy: LegacyLocalMetadata;
  readonly timeoutMs?: number;
}): Promise<boolean> {
  const { controller, legacy } = args;
  await whenActive(controller, args.timeoutMs ?? DEFAULT_LOCAL_METADATA_IMPORT_TIMEOUT_MS);
  const result = await controller.runCommand('importLocalMetadata', (image) => {
    const present = legacy.topicIds.filter((id) => image.topicsById.has(id));
    if (present.length === legacy.topicIds.length && image.nextProducerId >= legacy.producerIdBlockEnd) {
      return { batch: undefined, response: false }; // imported before a crash: the batch is one raft entry, all of it is there
    }
    if (present.length > 0 || image.topicsById.size > 0 || image.nextProducerId > legacy.producerIdBlockEnd) {
      refuse(legacy.path, `cannot be imported: the quorum's log already holds other metadata (${image.topicsById.size} topic(s), next producer id ${image.nextProducerId})`);
    }
    for (const r of legacy.records) {
      if (r.type === 'topic' && topicByName(image, r.name) !== undefined) refuse(legacy.path, `cannot be imported: topic ${r.name} exists in the quorum`);
    }
    try {
      applyRecords(image, legacy.records, image.offset + 1); // the same pure apply every node runs: an impossible state is refused here, not committed
    } catch (err) {
      refuse(legacy.path, `cannot be imported: ${(err as Error).message}`);
    }
    return { batch: encodeMetadataBatch(legacy.records), response: true };
  });
  return result.response;
}

/** Keeps the imported file under another name: never deleted, no longer read. */
export async function retireLegacyLocalMetadata(legacy: LegacyLocalMetadata): Promise<string> {
  const to = join(legacy.path, '..', LEGACY_METADATA_IMPORTED_FILE);
  await rename(legacy.path, to);
  return to;
}
