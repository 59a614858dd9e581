// ListOffsets against partition leaders, shared by Admin.listOffsets and the consumer's resets,
// seekToBeginning/End and offsetsForTimes. Requests are grouped by leader; leadership errors refresh
// metadata and retry until the deadline.
import { tributary } from '@tributary/protocol';
import type { Cluster } from './cluster.js';
import { errorFromWire, LeaderNotAvailableError, needsMetadataRefresh } from './errors.js';
import type { IsolationLevel } from './config.js';
import { withRetries } from './retry.js';

export type OffsetSpec = 'earliest' | 'latest' | 'max-timestamp' | { readonly timestamp: number };

export interface ListOffsetsRequest {
  readonly topic: string;
  readonly partition: number;
  readonly spec: OffsetSpec;
}

export interface ListedOffset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when no record matches a timestamp spec. */
  readonly offset: number;
  /** The matched record's timestamp (timestamp specs), else -1. */
  readonly timestamp: number;
  readonly leaderEpoch: number;
}

function wireSpec(spec: OffsetSpec): { spec: tributary.v1.OffsetSpec; timestampMs: number } {
  if (spec === 'earliest') return { spec: tributary.v1.OffsetSpec.EARLIEST, timestampMs: 0 };
  if (spec === 'latest') return { spec: tributary.v1.OffsetSpec.LATEST, timestampMs: 0 };
  if (spec === 'max-timestamp') return { spec: tributary.v1.OffsetSpec.MAX_TIMESTAMP, timestampMs: 0 };
  return { spec: tributary.v1.OffsetSpec.TIMESTAMP, timestampMs: spec.timestamp };
}

/** One attempt: every request goes to its partition's current leader. */
async function listOnce(cluster: Cluster, requests: readonly ListOffsetsRequest[], isolationLevel: IsolationLevel, maxWaitMs: number): Promise<ListedOffset[]> {
  const byAddress = new Map<string, ListOffsetsRequest[]>();
  for (const r of requests) {
    await cluster.topicInfo(r.topic, maxWaitMs);
    const p = cluster.metadata.partition(r.topic, r.partition);
    if (p === undefined) throw errorFromWire(tributary.v1.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, '', { topic: r.topic, partition: r.partition });
    const address = p.leaderId < 0 ? undefined : cluster.addressOf(p.leaderId);
    if (address === undefined) throw new LeaderNotAvailableError(r.topic, r.partition);
    let list = byAddress.get(address);
    if (list === undefined) byAddress.set(address, (list = []));
    list.push(r);
  }
  const results = await Promise.all([...byAddress].map(async ([address, reqs]) => {
    const topics = new Map<string, tributary.v1.IListOffsetsPartition[]>();
    for (const r of reqs) {
      let parts = topics.get(r.topic);
      if (parts === undefined) topics.set(r.topic, (parts = []));
      parts.push({ partition: r.partition, ...wireSpec(r.spec), currentLeaderEpoch: cluster.metadata.partition(r.topic, r.partition)?.leaderEpoch ?? -1 });
    }
    const response = await cluster.callBroker<tributary.v1.IListOffsetsRequest, tributary.v1.ListOffsetsResponse>(address, 'listOffsets', {
      isolationLevel: isolationLevel === 'read_committed' ? tributary.v1.IsolationLevel.READ_COMMITTED : tributary.v1.IsolationLevel.READ_UNCOMMITTED,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    });
    const out: ListedOffset[] = [];
    for (const t of response.topics) {
      const topic = t.topic ?? '';
      for (const p of t.partitions ?? []) {
        const code = p.error?.code ?? 0;
        if (code !== 0) throw errorFromWire(code, p.error?.message ?? '', { topic, partition: p.partition ?? 0, context: 'ListOffsets' });
        out.push({ topic, partition: p.partition ?? 0, offset: Number(p.offset ?? -1), timestamp: Number(p.timestampMs ?? -1), leaderEpoch: p.leaderEpoch ?? -1 });
      }
    }
    return out;
  }));
  // A partition may be asked about more than once (different specs): answers come in request order.
  const found = new Map<string, ListedOffset[]>();
  for (const r of results.flat()) {
    const key = `${r.topic}\u0000${r.partition}`;
    found.set(key, [...(found.get(key) ?? []), r]);
  }
  return requests.map((r) => {
    const f = found.get(`${r.topic}\u0000${r.partition}`)?.shift();
    if (f === undefined) throw errorFromWire(tributary.v1.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no ListOffsets result', { topic: r.topic, partition: r.partition });
    return f;
  });
}

/** Lists offsets, retrying retriable errors (refreshing metadata after leadership errors) until `timeoutMs`. */
export function listOffsets(cluster: Cluster, requests: readonly ListOffsetsRequest[], options: { isolationLevel: IsolationLevel; timeoutMs: number }): Promise<ListedOffset[]> {
  if (requests.length === 0) return Promise.resolve([]);
  const deadlineMs = Date.now() + options.timeoutMs;
  return withRetries({
    op: () => listOnce(cluster, requests, options.isolationLevel, Math.max(0, deadlineMs - Date.now())),
    policy: { retries: Number.MAX_SAFE_INTEGER, retryBackoffMs: cluster.config.retryBackoffMs, retryBackoffMaxMs: cluster.config.retryBackoffMaxMs },
    deadlineMs,
    isClosed: () => cluster.isClosed,
    onRetriableError: async (error) => {
      if (needsMetadataRefresh(error)) {
        cluster.requestRefresh();
        await cluster.refresh().catch(() => undefined);
      }
    },
  });
}
