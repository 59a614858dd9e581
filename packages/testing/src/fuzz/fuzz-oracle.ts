// What must hold however hostile the requests were: every node serves (Metadata answers, health says
// SERVING), no oracle partition is offline, a well-behaved client (our Producer, acks=all, idempotent)
// can still write every oracle partition, and every record it had acknowledged reads back exactly
// once at its acknowledged offset.
import * as grpc from '@grpc/grpc-js';
import { Producer } from '@tributary/client';
import { decodeRecordBatches, tributary } from '@tributary/protocol';
import { setTimeout as sleep } from 'node:timers/promises';

const pb = tributary.v1;
/** A node that does not answer Metadata and health for this long is not serving. */
export const NODE_SERVING_TIMEOUT_MS = 10_000;
/** How long a partition may be without a leader (an election) before it counts as offline. */
export const OFFLINE_GRACE_MS = 10_000;
/** Longest an oracle produce may take (the producer's delivery.timeout.ms). */
export const ORACLE_DELIVERY_TIMEOUT_MS = 15_000;
/** Records the background producer keeps in flight at most. */
const BACKGROUND_IN_FLIGHT_MAX = 8;
const FETCH_MAX_BYTES = 4 * 1024 * 1024;
const RPC_DEADLINE_MS = 3_000;
const RETRY_PAUSE_MS = 100;
/** Values of the well-behaved client's records start with this; nothing the fuzzer writes does. */
export const ORACLE_VALUE_PREFIX = 'oracle|';

export interface OracleFinding {
  readonly kind: 'node-not-serving' | 'offline-partition' | 'unwritable-partition' | 'lost-acked-record' | 'duplicate-record' | 'unreadable-partition';
  readonly detail: string;
}

export interface OraclePartition {
  readonly topic: string;
  readonly partition: number;
}

interface Acked {
  readonly offset: number;
  readonly value: string;
}

const identity = (b: Buffer): Buffer => b;

/** Unary call with raw bytes in and out: the oracle's probes, and the fuzzer's requests. */
export function rawUnary(client: grpc.Client, path: string, request: Buffer, deadlineMs: number): Promise<{ status: grpc.StatusObject | undefined; response: Buffer | undefined }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identity, identity, request, { deadline: Date.now() + deadlineMs }, (err, response) => {
      if (err !== null) resolve({ status: { code: err.code, details: err.details, metadata: err.metadata }, response: undefined });
      else resolve({ status: undefined, response });
    });
  });
}


export class FuzzOracle {
  private readonly acked = new Map<string, Acked[]>();
  /** Per partition: offsets below this were read back and matched on an earlier check. */
  private readonly verified = new Map<string, number>();
  private readonly seenValues = new Map<string, Map<string, number>>();
  private producer: Producer;
  private nextValue = 0;
  private inFlight = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Sends of the well-behaved producer that failed, by error code (not findings: not acknowledged). */
  readonly sendErrors = new Map<string, number>();
  producerRestarts = 0;

  constructor(private readonly args: {
    readonly bootstrapServers: string;
    readonly clients: ReadonlyMap<number, grpc.Client>;
    readonly partitions: readonly OraclePartition[];
    /** Pause between two background sends, ms (0: no background stream). */
    readonly backgroundIntervalMs: number;
  }) {
    this.producer = this.newProducer();
  }

  get ackedCount(): number {
    let n = 0;
    for (const list of this.acked.values()) n += list.length;
    return n;
  }

  private newProducer(): Producer {
    return new Producer({
      'bootstrap.servers': this.args.bootstrapServers, acks: 'all', 'enable.idempotence': true, 'linger.ms': 1,
      'request.timeout.ms': 3000, 'delivery.timeout.ms': ORACLE_DELIVERY_TIMEOUT_MS, 'retry.backoff.ms': 50, 'metadata.max.age.ms': 1000,
    });
  }

  /** Starts the interleaved background stream of well-behaved produces. */
  start(): void {
    if (this.args.backgroundIntervalMs <= 0) return;
    this.loop = (async () => {
      let i = 0;
      while (!this.stopped) {
        if (this.inFlight < BACKGROUND_IN_FLIGHT_MAX) {
          const p = this.args.partitions[i++ % this.args.partitions.length]!;
          void this.send(p).catch(() => undefined);
        }
        await sleep(this.args.backgroundIntervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.producer.close({ timeoutMs: 5000 }).catch(() => undefined);
  }

  /** One well-behaved send; resolves with the acknowledged offset or rejects with the producer's error. */
  private async send(p: OraclePartition): Promise<number> {
    const value = `${ORACLE_VALUE_PREFIX}${p.topic}|${p.partition}|${this.nextValue++}`;
    this.inFlight++;
    const producer = this.producer;
    try {
      const md = await producer.send({ topic: p.topic, partition: p.partition, value });
      const key = `${p.topic}/${p.partition}`;
      let list = this.acked.get(key);
      if (list === undefined) this.acked.set(key, list = []);
      list.push({ offset: md.offset, value });
      return md.offset;
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name;
      this.sendErrors.set(code, (this.sendErrors.get(code) ?? 0) + 1);
      // A producer that was fenced or lost its sequence state cannot go on: a fresh one (a new producer id).
      if (!((err as { retriable?: boolean }).retriable ?? false) && producer === this.producer && !this.stopped) {
        this.producerRestarts++;
        this.producer = this.newProducer();
        void producer.close({ timeoutMs: 1000 }).catch(() => undefined);
      }
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  /** Metadata and health answer on every node (retrying for NODE_SERVING_TIMEOUT_MS). */
  async checkServing(): Promise<OracleFinding[]> {
    const findings: OracleFinding[] = [];
    await Promise.all([...this.args.clients].map(async ([nodeId, client]) => {
      const deadline = Date.now() + NODE_SERVING_TIMEOUT_MS;
      let last = '';
      for (;;) {
        const md = await rawUnary(client, '/tributary.v1.Broker/Metadata', Buffer.from(pb.MetadataRequest.encode({}).finish()), RPC_DEADLINE_MS);
        const health = await rawUnary(client, '/grpc.health.v1.Health/Check', Buffer.alloc(0), RPC_DEADLINE_MS);
        // HealthCheckResponse{status: SERVING} is the two bytes 08 01.
        if (md.status === undefined && health.status === undefined && health.response?.equals(Buffer.from([8, 1])) === true) return;
        last = md.status?.details ?? health.status?.details ?? `health ${health.response?.toString('hex')}`;
        if (Date.now() > deadline) break;
        await sleep(RETRY_PAUSE_MS);
      }
      findings.push({ kind: 'node-not-serving', detail: `node ${nodeId}: ${last}` });
    }));
    return findings;
  }

  /** Leaders of the oracle partitions as every node sees them; -1 for none after OFFLINE_GRACE_MS. */
  private async leaders(): Promise<{ leaders: Map<string, number>; findings: OracleFinding[] }> {
    const deadline = Date.now() + OFFLINE_GRACE_MS;
    const topics = [...new Set(this.args.partitions.map((p) => p.topic))];
    for (;;) {
      const leaders = new Map<string, number>();
      const missing: string[] = [];
      for (const [nodeId, client] of this.args.clients) {
        const { response } = await rawUnary(client, '/tributary.v1.Broker/Metadata', Buffer.from(pb.MetadataRequest.encode({ topics }).finish()), RPC_DEADLINE_MS);
        const md = response === undefined ? undefined : pb.MetadataResponse.decode(response);
        for (const p of this.args.partitions) {
          const key = `${p.topic}/${p.partition}`;
          const leader = md?.topics?.find((t) => t.name === p.topic)?.partitions?.find((x) => x.partition === p.partition)?.leaderId ?? -1;
          if (leader < 0) missing.push(`${key} on node ${nodeId}`);
          else leaders.set(key, leader);
        }
      }
      if (missing.length === 0) return { leaders, findings: [] };
      if (Date.now() > deadline) return { leaders, findings: missing.map((m) => ({ kind: 'offline-partition' as const, detail: `no leader for ${m} after ${OFFLINE_GRACE_MS} ms` })) };
      await sleep(RETRY_PAUSE_MS);
    }
  }

  /**
   * The full check: serving, offline, writable (one awaited well-behaved send per partition), and the
   * read-back of acknowledged records. `full` re-reads every partition from offset 0.
   */
  async check(options: { readonly full: boolean }): Promise<OracleFinding[]> {
    const findings = await this.checkServing();
    if (findings.length > 0) return findings;
    const { leaders, findings: offline } = await this.leaders();
    findings.push(...offline);
    const sends = await Promise.allSettled(this.args.partitions.map((p) => this.send(p)));
    sends.forEach((s, i) => {
      if (s.status === 'rejected') {
        const p = this.args.partitions[i]!;
        findings.push({ kind: 'unwritable-partition', detail: `${p.topic}/${p.partition}: ${(s.reason as { code?: string }).code ?? ''} ${(s.reason as Error).message}` });
      }
    });
    if (options.full) {
      this.verified.clear();
      this.seenValues.clear();
    }
    for (const p of this.args.partitions) {
      const key = `${p.topic}/${p.partition}`;
      const leader = leaders.get(key);
      if (leader === undefined) continue;
      findings.push(...await this.readBack(p, leader));
    }
    return findings;
  }

  /** Reads [verified, last acked offset] of one partition from its leader and matches the acknowledged records. */
  private async readBack(p: OraclePartition, leader: number): Promise<OracleFinding[]> {
    const key = `${p.topic}/${p.partition}`;
    const acked = [...(this.acked.get(key) ?? [])].sort((a, b) => a.offset - b.offset);
    const from = this.verified.get(key) ?? 0;
    const pending = acked.filter((a) => a.offset >= from);
    if (pending.length === 0) return [];
    const until = pending[pending.length - 1]!.offset + 1;
    const client = this.args.clients.get(leader);
    if (client === undefined) return [{ kind: 'unreadable-partition', detail: `${key}: leader ${leader} is no cluster node` }];
    const found = new Map<number, string>();
    let seen = this.seenValues.get(key);
    if (seen === undefined) this.seenValues.set(key, seen = new Map());
    const findings: OracleFinding[] = [];
    let offset = from;
    const deadline = Date.now() + OFFLINE_GRACE_MS;
    while (offset < until) {
      const request = pb.FetchRequest.encode({
        maxWaitMs: 0, minBytes: 0, maxBytes: FETCH_MAX_BYTES, format: pb.RecordFormat.BATCH,
        topics: [{ topic: p.topic, partitions: [{ partition: p.partition, fetchOffset: offset, partitionMaxBytes: FETCH_MAX_BYTES, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      }).finish();
      const { status, response } = await rawUnary(client, '/tributary.v1.Broker/Fetch', Buffer.from(request), RPC_DEADLINE_MS);
      const part = response === undefined ? undefined : pb.FetchResponse.decode(response).topics?.[0]?.partitions?.[0];
      const code = part?.error?.code ?? 0;
      if (status !== undefined || part === undefined || code !== 0) {
        const why = status?.details ?? pb.ErrorCode[code] ?? 'no partition in the answer';
        if (code === pb.ErrorCode.OFFSET_OUT_OF_RANGE) return [{ kind: 'lost-acked-record', detail: `${key}: offset ${offset} is out of range (log start ${String(part?.logStartOffset)}, high watermark ${String(part?.highWatermark)}) with acknowledged records there` }];
        if (Date.now() > deadline) return [{ kind: 'unreadable-partition', detail: `${key} at ${offset}: ${why}` }];
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      const hw = Number(part.highWatermark);
      if (hw < until) {
        // A new leader's high watermark may lag for a moment; one that stays below an acknowledged offset lost it.
        if (Date.now() > deadline) return [{ kind: 'lost-acked-record', detail: `${key}: high watermark ${hw} stays below acknowledged offset ${until - 1}` }];
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      let batches;
      try {
        batches = decodeRecordBatches(part.recordBatch ?? new Uint8Array(0));
      } catch (err) {
        return [{ kind: 'unreadable-partition', detail: `${key}: batches fetched at ${offset} do not decode: ${(err as Error).message}` }];
      }
      let next = offset;
      for (const batch of batches) {
        if (batch.control) { next = Math.max(next, batch.lastOffset + 1); continue; }
        for (const r of batch.records) {
          if (r.offset < offset || r.offset >= until) continue;
          const value = r.value?.toString('latin1') ?? '';
          if (value.startsWith(ORACLE_VALUE_PREFIX)) {
            found.set(r.offset, value);
            const earlier = seen.get(value);
            if (earlier !== undefined && earlier !== r.offset) findings.push({ kind: 'duplicate-record', detail: `${key}: ${value} at offsets ${earlier} and ${r.offset}` });
            seen.set(value, r.offset);
          }
        }
        next = Math.max(next, batch.lastOffset + 1);
      }
      if (next <= offset) return [...findings, { kind: 'unreadable-partition', detail: `${key}: fetch at ${offset} below high watermark ${hw} returned nothing` }];
      offset = next;
    }
    for (const a of pending) {
      const value = found.get(a.offset);
      if (value !== a.value) findings.push({ kind: 'lost-acked-record', detail: `${key}: acknowledged ${a.value} at offset ${a.offset}, found ${value === undefined ? 'nothing of ours' : value}` });
    }
    this.verified.set(key, until);
    return findings;
  }
}
