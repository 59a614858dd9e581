// AlterConfigs (Kafka's IncrementalAlterConfigs: SET / DELETE per key) for topics and brokers. A broker
// resource named '' is the cluster-wide default (stored as a 'cluster' config). Configs that enable
// unclean leader election elect the offline partitions they concern in the same batch.
import type { MetadataImage } from '../metadata/metadata-image.js';
import { brokerConfig, topicConfig } from '../metadata/metadata-image.js';
import type { ConfigResourceType, MetadataRecord } from '../metadata/metadata-records.js';
import type { ControllerContext } from './controller-config.js';
import { type ControllerError, type ControllerResult, controllerError } from './controller-result.js';
import { applyRecords } from '../metadata/metadata-apply.js';
import { UNCLEAN_LEADER_ELECTION_ENABLE, reelect } from './cluster-elections.js';

export interface AlterConfigOp {
  readonly name: string;
  /** Ignored for DELETE. */
  readonly value: string;
  readonly op: 'SET' | 'DELETE';
}

export interface AlterConfigsResource {
  readonly type: 'topic' | 'broker';
  /** Topic name; broker id as a decimal string, or '' for the cluster-wide default. */
  readonly name: string;
  readonly ops: readonly AlterConfigOp[];
}

export interface AlterConfigsRequest {
  readonly resources: readonly AlterConfigsResource[];
  readonly validateOnly: boolean;
}

export type AlterConfigsResult =
  | { readonly ok: true; readonly type: 'topic' | 'broker'; readonly name: string }
  | { readonly ok: false; readonly type: 'topic' | 'broker'; readonly name: string; readonly error: ControllerError };

export interface AlterConfigsResponse {
  readonly results: readonly AlterConfigsResult[];
}

const CONFIG_NAME_CHARS_MAX = 249;

export function alterConfigs(image: MetadataImage, req: AlterConfigsRequest, ctx: ControllerContext): ControllerResult<AlterConfigsResponse> {
  const records: MetadataRecord[] = [];
  const results: AlterConfigsResult[] = [];
  for (const res of req.resources) {
    const outcome = alterOne(image, res, ctx);
    if ('error' in outcome) {
      results.push({ ok: false, type: res.type, name: res.name, error: outcome.error });
      continue;
    }
    results.push({ ok: true, type: res.type, name: res.name });
    if (!req.validateOnly) records.push(...outcome.records);
  }
  if (records.length === 0) return { records, response: { results } };
  // Enabling unclean election (on a topic or cluster-wide) elects offline partitions at once, as
  // Kafka's periodic unclean election would: the elections are decided on the image with the new
  // configs, and follow the config records in the batch.
  const after = applyRecords(image, records, image.offset);
  records.push(...reelect(after, { leaving: new Set(), joining: new Set(), election: 'keep', select: (_t, p) => p.leader < 0 }, ctx.config));
  return { records, response: { results } };
}

function alterOne(image: MetadataImage, res: AlterConfigsResource, ctx: ControllerContext): { readonly records: MetadataRecord[] } | { readonly error: ControllerError } {
  const names = new Set<string>();
  for (const op of res.ops) {
    if (names.has(op.name)) return { error: controllerError('INVALID_REQUEST', `config ${op.name} appears more than once`) };
    names.add(op.name);
    if (op.name.length === 0 || op.name.length > CONFIG_NAME_CHARS_MAX) return { error: controllerError('INVALID_CONFIG', `config name must be 1..${CONFIG_NAME_CHARS_MAX} characters`) };
    if (op.op === 'SET' && op.value.length > ctx.config.configValueCharsMax) {
      return { error: controllerError('INVALID_CONFIG', `value of ${op.name} is longer than ${ctx.config.configValueCharsMax} characters`) };
    }
  }
  let resourceType: ConfigResourceType;
  let current: ReadonlyMap<string, string>;
  const resourceName = res.name;
  if (res.type === 'topic') {
    if (!image.topicIdsByName.has(res.name)) return { error: controllerError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${res.name} does not exist`) };
    resourceType = 'topic';
    current = topicConfig(image, res.name);
  } else if (res.name === '') {
    resourceType = 'cluster';
    current = image.clusterConfigs;
  } else {
    if (!/^(0|[1-9]\d{0,9})$/.test(res.name) || Number(res.name) > 0x7fff_ffff) return { error: controllerError('INVALID_REQUEST', `broker resource name ${JSON.stringify(res.name)} is not a broker id`) };
    resourceType = 'broker';
    current = brokerConfig(image, Number(res.name));
  }
  const next = new Map(current);
  for (const op of res.ops) {
    if (op.op === 'DELETE') next.delete(op.name);
    else next.set(op.name, op.value);
  }
  let normalized: ReadonlyMap<string, string> = next;
  if (resourceType === 'topic') {
    const v = ctx.config.validateTopicConfigs(Object.fromEntries(next));
    if (!v.ok) return { error: controllerError('INVALID_CONFIG', v.message) };
    normalized = new Map(Object.entries(v.configs));
  } else {
    const unclean = next.get(UNCLEAN_LEADER_ELECTION_ENABLE);
    if (unclean !== undefined && !/^(true|false)$/i.test(unclean.trim())) {
      return { error: controllerError('INVALID_CONFIG', `invalid value ${JSON.stringify(unclean)} for ${UNCLEAN_LEADER_ELECTION_ENABLE}: expected true or false`) };
    }
  }
  const records: MetadataRecord[] = [];
  for (const name of [...new Set([...current.keys(), ...normalized.keys()])].sort()) {
    const before = current.get(name);
    const after = normalized.get(name);
    if (before !== after) records.push({ type: 'config', resourceType, resourceName, name, value: after });
  }
  return { records };
}
