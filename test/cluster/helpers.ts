// Shared by the multi-process cluster tests: fast timeouts, polling with deadlines, and a canonical
// form of one node's Metadata answer (to compare what every node believes).
import type { tributary } from '@tributary/protocol';

export const ELECTION_TIMEOUT_MS = 500;
export const SESSION_TIMEOUT_MS = 2000;

/** `--set` configs: small timeouts so failover scenarios take seconds. */
export const FAST_CONFIGS: Readonly<Record<string, string>> = {
  'controller.quorum.election.timeout.ms': String(ELECTION_TIMEOUT_MS),
  'broker.session.timeout.ms': String(SESSION_TIMEOUT_MS),
  'broker.heartbeat.interval.ms': '200',
  'leader.imbalance.check.interval.seconds': '1',
  'controlled.shutdown.timeout.ms': '3000',
};

/** Polls `probe` until it returns a value (not undefined); throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const start = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err; // a node that is down or electing: try again until the deadline
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Brokers and partitions of a Metadata answer, sorted, as JSON: equal strings = same metadata. */
export function canonicalMetadata(md: tributary.v1.IMetadataResponse): string {
  const brokers = (md.brokers ?? [])
    .map((b) => ({ nodeId: b.nodeId ?? 0, host: b.host ?? '', port: b.port ?? 0, rack: b.rack ?? '' }))
    .sort((a, b) => a.nodeId - b.nodeId);
  const topics = (md.topics ?? [])
    .map((t) => ({
      name: t.name ?? '',
      topicId: t.topicId ?? '',
      error: t.error?.code ?? 0,
      partitions: (t.partitions ?? [])
        .map((p) => ({
          partition: p.partition ?? 0, leader: p.leaderId ?? -1, leaderEpoch: p.leaderEpoch ?? 0,
          replicas: [...(p.replicas ?? [])], isr: [...(p.isr ?? [])].sort((a, b) => a - b), offline: [...(p.offlineReplicas ?? [])].sort((a, b) => a - b),
        }))
        .sort((a, b) => a.partition - b.partition),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return JSON.stringify({ clusterId: md.clusterId ?? '', brokers, topics });
}
