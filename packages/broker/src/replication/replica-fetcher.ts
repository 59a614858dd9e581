// The follower side of replication (I/O shell): one long-polling fetch session per leader broker,
// carrying every partition this node follows on that leader. Each response is applied through the
// Partition (append, HW, leader-epoch truncation); errors back off; a partition leaves its session
// when its leader changes (the ReplicaManager reassigns it).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { errorCodeOf } from '../errors.js';
import type { Partition } from '../partition.js';
import type { ReplicationConfig } from './replication-config.js';
import type { LeaderEndpoint, ReplicaFetchTransport } from './replica-fetch-transport.js';

interface Session {
  readonly leader: LeaderEndpoint;
  readonly partitions: Map<string, Partition>;
  readonly abort: AbortController;
  /** Partition key → no fetch before this time (after a partition-level error). */
  readonly backoffUntilMs: Map<string, number>;
  done: Promise<void>;
}

export interface ReplicaFetcherOptions {
  readonly nodeId: number;
  readonly clusterId: () => string;
  readonly brokerEpoch: () => number;
  readonly transport: ReplicaFetchTransport;
  readonly config: ReplicationConfig;
  readonly nowMs: () => number;
  readonly logger: Logger;
}

const key = (p: Partition): string => `${p.topic}-${p.partition}`;

/** Waits out a backoff; an abort (the session ends) cuts it short and the fetch loop then stops. */
function backoff(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal, ref: false }).catch(() => undefined);
}

export class ReplicaFetcherManager {
  private readonly sessions = new Map<number, Session>();
  private closed = false;

  constructor(private readonly options: ReplicaFetcherOptions) {}

  /** Follow `partition` from `leader` (moving it out of any other session). */
  async assign(partition: Partition, leader: LeaderEndpoint): Promise<void> {
    await this.remove(partition);
    if (this.closed) return;
    let session = this.sessions.get(leader.nodeId);
    if (session !== undefined && (session.leader.host !== leader.host || session.leader.port !== leader.port)) {
      await this.stopSession(session);
      session = undefined;
    }
    if (session === undefined) {
      session = { leader, partitions: new Map([[key(partition), partition]]), abort: new AbortController(), backoffUntilMs: new Map(), done: Promise.resolve() };
      this.sessions.set(leader.nodeId, session);
      // The loop runs while the session has partitions, so it starts with this one in it.
      session.done = this.run(session);
      return;
    }
    if (session.partitions.size >= this.options.config.fetchSessionPartitionsMax) {
      this.options.logger.error({ leader: leader.nodeId }, 'fetch session full; partition not replicated');
      return;
    }
    session.partitions.set(key(partition), partition);
  }

  /** Stops following `partition`; resolves once no response for it is being applied. */
  async remove(partition: Partition): Promise<void> {
    for (const session of this.sessions.values()) {
      if (session.partitions.delete(key(partition)) && session.partitions.size === 0) await this.stopSession(session);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.values()].map((s) => this.stopSession(s)));
    this.options.transport.close();
  }

  private async stopSession(session: Session): Promise<void> {
    if (this.sessions.get(session.leader.nodeId) === session) this.sessions.delete(session.leader.nodeId);
    session.abort.abort();
    await session.done;
  }

  private async run(session: Session): Promise<void> {
    const { config, logger } = this.options;
    const signal = session.abort.signal;
    while (!signal.aborted && session.partitions.size > 0) {
      const nowMs = this.options.nowMs();
      const fetching: { partition: Partition; generation: number; fetchOffset: number }[] = [];
      const requests = [];
      for (const [k, partition] of session.partitions) {
        if ((session.backoffUntilMs.get(k) ?? 0) > nowMs) continue;
        const state = partition.followerFetchState();
        if (state === undefined) continue;
        fetching.push({ partition, generation: state.generation, fetchOffset: state.fetchOffset });
        requests.push({ topic: partition.topic, partition: partition.partition, fetchOffset: state.fetchOffset, lastFetchedEpoch: state.lastFetchedEpoch, currentLeaderEpoch: state.currentLeaderEpoch, logStartOffset: state.logStartOffset });
      }
      if (requests.length === 0) {
        await backoff(config.replicaFetchBackoffMs, signal);
        continue;
      }
      try {
        const response = await this.options.transport.fetch(session.leader, {
          replicaId: this.options.nodeId, brokerEpoch: this.options.brokerEpoch(), clusterId: this.options.clusterId(),
          maxWaitMs: config.replicaFetchWaitMaxMs, minBytes: config.replicaFetchMinBytes, maxBytes: config.replicaFetchResponseMaxBytes,
          partitionMaxBytes: config.replicaFetchMaxBytes, partitions: requests,
        }, signal);
        if (response.error !== undefined) throw new Error(`${response.error.code}: ${response.error.message}`);
        for (const [i, p] of response.partitions.entries()) {
          const sent = fetching[i];
          if (sent === undefined || sent.partition.topic !== p.topic || sent.partition.partition !== p.partition) continue;
          const { partition, generation } = sent;
          // Dropped from the session (leader moved) or the log changed meanwhile: the answer is stale.
          if (session.partitions.get(key(partition)) !== partition || partition.logEndOffset !== sent.fetchOffset) continue;
          try {
            if (p.error !== undefined) {
              if (p.error.code === 'OFFSET_OUT_OF_RANGE' && sent.fetchOffset < p.logStartOffset) await partition.resetToLeaderStart(generation, p.logStartOffset);
              else {
                logger.debug({ topic: p.topic, partition: p.partition, error: p.error }, 'replica fetch error');
                session.backoffUntilMs.set(key(partition), this.options.nowMs() + config.replicaFetchBackoffMs);
              }
            } else if (p.divergingEpoch !== undefined) {
              await partition.truncateToDivergence(generation, p.divergingEpoch, p.logStartOffset);
            } else {
              await partition.appendFetched(generation, p.records, p.highWatermark);
            }
          } catch (err) {
            logger.warn({ err, topic: p.topic, partition: p.partition, code: errorCodeOf(err) }, 'applying a replica fetch failed');
            session.backoffUntilMs.set(key(partition), this.options.nowMs() + config.replicaFetchBackoffMs);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        logger.warn({ err: (err as Error).message, leader: session.leader.nodeId }, 'replica fetch failed; backing off');
        await backoff(config.replicaFetchBackoffMs, signal);
      }
    }
  }
}
