// Calls to a group's coordinator (tributary.v1.Groups): finds it with FindCoordinator on any broker,
// retries coordinator errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
// lost connections) by finding it again after a backoff, until `deadlineMs`.
import * as grpc from '@grpc/grpc-js';
import { GroupsClient, tributary } from '@tributary/protocol';
import type { Cluster } from './cluster.js';
import { ClientClosedError, ConnectionError, RequestTimeoutError, TributaryClientError, errorFromWire } from './errors.js';
import { backoffMs } from './retry.js';
import { unary } from './rpc.js';
import { errorName } from './wire-errors.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Codes after which the coordinator must be looked up again. */
const COORDINATOR_CODES = new Set(['NOT_COORDINATOR', 'COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE']);

type GroupsMethod = keyof GroupsClient & ('findCoordinator' | 'txnOffsetCommit' | 'joinGroup' | 'syncGroup' | 'heartbeat' | 'leaveGroup' | 'offsetCommit' | 'offsetFetch' | 'listGroups' | 'describeGroups' | 'deleteGroups');

export class GroupRpc {
  private readonly clients = new Map<string, GroupsClient>();
  private coordinatorAddress: string | undefined;

  constructor(private readonly cluster: Cluster, readonly groupId: string) {}

  private client(address: string): GroupsClient {
    let c = this.clients.get(address);
    if (c === undefined) {
      c = new GroupsClient(address, grpc.credentials.createInsecure(), { channelOverride: this.cluster.connection(address).channel });
      this.clients.set(address, c);
    }
    return c;
  }

  /** One call on `address`, no retries. */
  callAt<Res>(address: string, name: GroupsMethod, request: object, timeoutMs: number): Promise<Res> {
    const client = this.client(address);
    return unary<object, Res>({ client, method: client[name] as never, request, timeoutMs, address, name });
  }

  private async findCoordinator(timeoutMs: number): Promise<string> {
    const response = await this.cluster.onAnyBroker((address) =>
      this.callAt<tributary.v1.FindCoordinatorResponse>(address, 'findCoordinator', { groupId: this.groupId }, timeoutMs));
    const code = response.error?.code ?? 0;
    if (code !== 0) throw errorFromWire(code, response.error?.message ?? '', { context: `find coordinator of ${this.groupId}` });
    return `${response.host}:${response.port}`;
  }

  forgetCoordinator(): void {
    this.coordinatorAddress = undefined;
  }

  /**
   * Calls `name` on the coordinator; answers whose top-level error is a coordinator error are retried.
   * `errorOf` extracts that error code (0 = none) from a response.
   */
  async call<Res>(name: GroupsMethod, request: object, options: { deadlineMs: number; requestTimeoutMs: number; errorOf: (r: Res) => number; isClosed: () => boolean }): Promise<Res> {
    for (let attempt = 1; ; attempt++) {
      if (options.isClosed()) throw new ClientClosedError('consumer');
      try {
        this.coordinatorAddress ??= await this.findCoordinator(options.requestTimeoutMs);
        const response = await this.callAt<Res>(this.coordinatorAddress, name, request, options.requestTimeoutMs);
        const code = options.errorOf(response);
        if (code === 0 || !COORDINATOR_CODES.has(errorName(code))) return response;
        this.coordinatorAddress = undefined;
        if (Date.now() >= options.deadlineMs) throw errorFromWire(code, `${name}: coordinator of ${this.groupId} not available`);
      } catch (error) {
        const retriable = error instanceof ConnectionError || (error instanceof TributaryClientError && (error.retriable || COORDINATOR_CODES.has(error.code)));
        if (!retriable || error instanceof ClientClosedError) throw error;
        this.coordinatorAddress = undefined;
        if (Date.now() >= options.deadlineMs) throw error instanceof RequestTimeoutError ? error : new RequestTimeoutError(`${name} for group ${this.groupId} did not succeed in time`, error);
      }
      await sleep(backoffMs(this.cluster.config, attempt, Math.random()));
    }
  }
}
