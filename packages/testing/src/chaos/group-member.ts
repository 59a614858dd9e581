// One member of the groups workload, run as its own process (group-member-main.ts) so that a crash
// is a real SIGKILL: no LeaveGroup, no last commit, connections dropped by the kernel.
//
// The member subscribes to the topic with `group.id`, commits explicitly (auto commit off) what it
// has read, and reports every step as a history op on stdout, one JSON object a line (without
// `time`: the parent stamps ops as they arrive, in order). Conventions, which group-checker.ts uses:
// - Each span of ownership of a partition reads as its own process `<member>:p<partition>:a<k>`
//   (k counts the member's assignments), so per-process read checks hold within a span while a
//   partition that comes back later may be read again from its committed offset.
// - `group-assign` (ok, per partition, process = the span): value = the committed offset the member
//   fetched right after the assignment (null = none committed; undefined fetch = unknown).
// - `group-commit` invoke/ok/fail/info: value = [{ partition, offset }] (offset = next to read).
// - `offset-fetch` invoke/ok/info: value = [{ partition, offset | null }].
import { Consumer, type ConsumerRecord, type Logger } from '@tributary/client';
import type { HistoryOp } from './history.js';
import { errorCode } from './workloads.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface GroupMemberConfig {
  readonly bootstrapServers: string;
  readonly topic: string;
  readonly groupId: string;
  /** Process name of the member, `g<n>`. */
  readonly name: string;
  readonly sessionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Commit what was read at most this often, ms. */
  readonly commitIntervalMs: number;
  /** The consumer's own log (debug and up) on stderr, which the workload passes to the run's log. */
  readonly debugLog?: boolean;
}

function stderrLogger(name: string): Logger {
  const write = (level: string) => (obj: object, msg?: string): void => {
    const err = (obj as { err?: unknown }).err;
    process.stderr.write(`${new Date().toISOString()} ${level} ${name} ${msg ?? ''} ${JSON.stringify({ ...obj, err: err instanceof Error ? err.message : err })}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export type EmittedOp = Omit<HistoryOp, 'time'>;

/**
 * Commit errors that prove the commit was refused: the coordinator judged this member and said no.
 * Coordinator errors (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, ...) are not among them: the client
 * retries those, and an earlier attempt whose answer was lost may have been applied — indeterminate.
 */
export const DEFINITE_COMMIT_FAILURES: ReadonlySet<string> = new Set([
  'REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'ILLEGAL_STATE',
  'GROUP_AUTHORIZATION_FAILED',
]);

export const spanName = (member: string, partition: number, assignment: number): string => `${member}:p${partition}:a${assignment}`;

/** Runs until `stopping()` turns true, then commits, leaves the group and closes. */
export async function runGroupMember(config: GroupMemberConfig, emit: (op: EmittedOp) => void, stopping: () => boolean): Promise<void> {
  const { topic, name } = config;
  const consumer = new Consumer({
    'bootstrap.servers': config.bootstrapServers,
    'client.id': name,
    'group.id': config.groupId,
    'enable.auto.commit': false,
    'auto.offset.reset': 'earliest',
    'session.timeout.ms': config.sessionTimeoutMs,
    'heartbeat.interval.ms': Math.max(100, Math.floor(config.sessionTimeoutMs / 4)),
    'request.timeout.ms': config.requestTimeoutMs,
    'fetch.max.wait.ms': 200,
    'metadata.max.age.ms': 5_000,
    'retry.backoff.ms': 50,
    'retry.backoff.max.ms': 500,
  }, config.debugLog === true ? { logger: stderrLogger(name) } : {});
  let assignments = 0;
  /** partition → the span reading it and the next offset it will read (null until its first read). */
  const owned = new Map<number, { span: string; next: number | null }>();

  const fetchCommitted = async (partitions: readonly number[]): Promise<Map<number, number | null> | undefined> => {
    emit({ process: name, type: 'invoke', f: 'offset-fetch', value: partitions, node: null, topic });
    try {
      const found = await consumer.committed(partitions.map((partition) => ({ topic, partition })));
      const value = found.map((c) => ({ partition: c.partition, offset: c.offset }));
      emit({ process: name, type: 'ok', f: 'offset-fetch', value, node: null, topic });
      return new Map(value.map((c) => [c.partition, c.offset]));
    } catch (error) {
      emit({ process: name, type: 'info', f: 'offset-fetch', value: partitions, node: null, topic, error: errorCode(error) });
      return undefined;
    }
  };

  const commit = async (partitions: readonly number[]): Promise<void> => {
    const offsets = partitions.flatMap((partition) => {
      const next = owned.get(partition)?.next;
      return next === null || next === undefined ? [] : [{ partition, offset: next }];
    });
    if (offsets.length === 0) return;
    emit({ process: name, type: 'invoke', f: 'group-commit', value: offsets, node: null, topic });
    try {
      await consumer.commit(offsets.map((o) => ({ topic, partition: o.partition, offset: o.offset })));
      emit({ process: name, type: 'ok', f: 'group-commit', value: offsets, node: null, topic });
    } catch (error) {
      const code = errorCode(error);
      emit({ process: name, type: DEFINITE_COMMIT_FAILURES.has(code) ? 'fail' : 'info', f: 'group-commit', value: offsets, node: null, topic, error: code });
    }
  };

  consumer.subscribe([topic], {
    onPartitionsRevoked: async (tps) => {
      const partitions = tps.map((tp) => tp.partition);
      await commit(partitions);
      for (const p of partitions) owned.delete(p);
      emit({ process: name, type: 'ok', f: 'group-revoke', value: partitions, node: null, topic });
    },
    onPartitionsLost: (tps) => {
      const partitions = tps.map((tp) => tp.partition);
      for (const p of partitions) owned.delete(p);
      emit({ process: name, type: 'info', f: 'group-lost', value: partitions, node: null, topic });
    },
    onPartitionsAssigned: async (tps) => {
      assignments += 1;
      const partitions = tps.map((tp) => tp.partition);
      const committed = await fetchCommitted(partitions);
      for (const partition of partitions) {
        const span = spanName(name, partition, assignments);
        owned.set(partition, { span, next: null });
        const value = committed === undefined ? { known: false, committed: null } : { known: true, committed: committed.get(partition) ?? null };
        emit({ process: span, type: 'ok', f: 'group-assign', value, node: null, topic, partition });
      }
    },
  });

  let lastCommitMs = Date.now();
  try {
    while (!stopping()) {
      let records: ConsumerRecord[];
      try {
        records = await consumer.poll({ timeoutMs: 250 });
      } catch (error) {
        emit({ process: name, type: 'info', f: 'poll-error', value: null, node: null, error: errorCode(error) });
        await sleep(100);
        continue;
      }
      for (const r of records) {
        const span = owned.get(r.partition);
        if (span === undefined) continue; // fetched before a revocation: not this member's any more
        const value = r.value === null ? null : r.value.toString('utf8');
        emit({ process: span.span, type: 'ok', f: 'read', value, node: null, topic: r.topic, partition: r.partition, offset: r.offset });
        span.next = r.offset + 1;
      }
      if (Date.now() - lastCommitMs >= config.commitIntervalMs) {
        lastCommitMs = Date.now();
        await commit([...owned.keys()]);
      }
    }
    await commit([...owned.keys()]);
  } finally {
    await consumer.close({ leaveGroup: true }).catch(() => undefined);
  }
}
