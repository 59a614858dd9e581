// The broker's line to the active controller: one Quorum client per voter, calls routed to the voter
// believed to lead, re-routed on NOT_CONTROLLER (to the hint, or the next voter when none is known)
// and on transport failures, until the request's deadline. Retrying is safe for every Quorum request
// the broker sends: heartbeats and registrations are idempotent per incarnation, AlterPartition is a
// compare-and-set, and a repeated admin command fails cleanly (TOPIC_ALREADY_EXISTS, ...).
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { flowControlChannelOptions, QuorumClient, tributary } from '@tributary/protocol';
import { ApiError } from '../errors.js';
import type { QuorumVoter } from '../node-config.js';
import { setTimeout as sleep } from 'node:timers/promises';

import pb = tributary.internal.v1;

/** Pause before trying another voter when no leader is known (an election is running). */
export const DEFAULT_CONTROLLER_RETRY_BACKOFF_MS = 50;
/** One attempt against one voter may take at most this long before the next voter is tried. */
export const DEFAULT_CONTROLLER_ATTEMPT_TIMEOUT_MS = 3_000;
/** Largest metadata message a voter sends a broker (a snapshot of a big cluster). */
export const DEFAULT_QUORUM_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

/** The unary Quorum methods and their request/response types. */
export interface QuorumMethods {
  registerBroker: [pb.IRegisterBrokerRequest, pb.RegisterBrokerResponse];
  brokerHeartbeat: [pb.IBrokerHeartbeatRequest, pb.BrokerHeartbeatResponse];
  alterPartition: [pb.IAlterPartitionRequest, pb.AlterPartitionResponse];
  allocateProducerIds: [pb.IAllocateProducerIdsRequest, pb.AllocateProducerIdsResponse];
  forward: [pb.IForwardRequest, pb.ForwardResponse];
}
export type QuorumMethod = keyof QuorumMethods;

interface QuorumReply {
  readonly error?: tributary.v1.IError | null;
  readonly controller?: pb.IControllerHint | null;
}

export interface ControllerChannelOptions {
  readonly clusterId: string;
  readonly brokerId: number;
  readonly voters: readonly QuorumVoter[];
  /** Default deadline of one call, all retries included. */
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs?: number;
  readonly attemptTimeoutMs?: number;
  /** HTTP/2 receive window of the channels to the voters, bytes (default DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES). */
  readonly http2FlowControlWindowBytes?: number;
  readonly logger: Logger;
}

export class ControllerChannel {
  private readonly clients = new Map<number, QuorumClient>();
  private readonly voterIds: readonly number[];
  private leaderHint = -1;
  private nextVoter = 0;
  private closed = false;
  private readonly retryBackoffMs: number;
  private readonly attemptTimeoutMs: number;

  constructor(private readonly options: ControllerChannelOptions) {
    if (options.voters.length === 0) throw new RangeError('ControllerChannel needs at least one voter');
    this.voterIds = options.voters.map((v) => v.nodeId);
    this.retryBackoffMs = options.retryBackoffMs ?? DEFAULT_CONTROLLER_RETRY_BACKOFF_MS;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_CONTROLLER_ATTEMPT_TIMEOUT_MS;
    for (const v of options.voters) {
      this.clients.set(v.nodeId, new QuorumClient(`${v.host}:${v.port}`, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': DEFAULT_QUORUM_MESSAGE_BYTES_MAX,
        'grpc.initial_reconnect_backoff_ms': 50,
        'grpc.max_reconnect_backoff_ms': 1_000,
        'grpc.enable_retries': 0,
        ...flowControlChannelOptions(options.http2FlowControlWindowBytes),
      }));
    }
  }

  get clusterId(): string {
    return this.options.clusterId;
  }

  /** The voter last known to lead (-1 = unknown). */
  get knownLeader(): number {
    return this.leaderHint;
  }

  /** The client for one voter (WatchMetadata streams pick their voter themselves). */
  client(voterId: number): QuorumClient {
    const client = this.clients.get(voterId);
    if (client === undefined) throw new RangeError(`${voterId} is not a controller voter`);
    return client;
  }

  get voters(): readonly number[] {
    return this.voterIds;
  }

  /** Learns the leader from any response or stream event. */
  noteLeader(hint: pb.IControllerHint | null | undefined): void {
    const id = hint?.leaderId ?? -1;
    if (id >= 0 && this.clients.has(id)) this.leaderHint = id;
  }

  /**
   * Calls `method` on the active controller. Resolves with the first response that is not
   * NOT_CONTROLLER (its `error` may still be set); rejects with ApiError REQUEST_TIMED_OUT when no
   * controller answered in time.
   */
  async call<M extends QuorumMethod>(method: M, request: QuorumMethods[M][0], options: { timeoutMs?: number } = {}): Promise<QuorumMethods[M][1]> {
    const deadline = Date.now() + (options.timeoutMs ?? this.options.requestTimeoutMs);
    let attempts = 0;
    let lastProblem = 'no attempt made';
    while (!this.closed) {
      const target = this.leaderHint >= 0 ? this.leaderHint : this.voterIds[this.nextVoter++ % this.voterIds.length]!;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      attempts++;
      try {
        const reply = await this.invoke(method, target, request, Math.min(remainingMs, this.attemptTimeoutMs));
        const r = reply as QuorumReply;
        if (r.error?.code !== tributary.v1.ErrorCode.NOT_CONTROLLER) {
          this.leaderHint = target;
          return reply;
        }
        const hinted = r.controller?.leaderId ?? -1;
        lastProblem = `voter ${target}: NOT_CONTROLLER (leader ${hinted})`;
        if (hinted >= 0 && hinted !== target && this.clients.has(hinted)) {
          this.leaderHint = hinted;
          continue; // a fresh hint: go there at once
        }
        this.leaderHint = -1;
      } catch (err) {
        lastProblem = `voter ${target}: ${(err as Error).message}`;
        this.leaderHint = -1;
      }
      await sleep(Math.min(this.retryBackoffMs, Math.max(0, deadline - Date.now())));
    }
    if (this.closed) throw new ApiError('NETWORK_EXCEPTION', `controller channel closed during ${method}`);
    throw new ApiError('REQUEST_TIMED_OUT', `no active controller answered ${method} within the deadline after ${attempts} attempt(s); last: ${lastProblem}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.clients.values()) client.close();
  }

  private invoke<M extends QuorumMethod>(method: M, voterId: number, request: QuorumMethods[M][0], timeoutMs: number): Promise<QuorumMethods[M][1]> {
    const client = this.client(voterId) as unknown as Record<M, (req: QuorumMethods[M][0], opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: QuorumMethods[M][1]) => void) => void>;
    return new Promise((resolve, reject) => {
      client[method].call(client, request, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err !== null || res === undefined) reject(err ?? new Error('empty response'));
        else resolve(res);
      });
    });
  }
}
