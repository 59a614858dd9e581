// The replication layer's AlterPartitionClient over the Quorum service: one request to the active
// controller (re-routed on NOT_CONTROLLER by the channel), resolved with the committed partition state
// or the refusal, within the caller's timeout. Never rejects.
import { tributary } from '@tributary/protocol';
import {
  resultWithin, type AlterPartitionCallOptions, type AlterPartitionClient, type AlterPartitionErrorCode, type AlterPartitionRequest, type AlterPartitionResult,
} from '../replication/alter-partition-client.js';
import { ApiError } from '../errors.js';
import type { ControllerChannel } from './controller-channel.js';

const KNOWN_REASONS: ReadonlySet<string> = new Set<AlterPartitionErrorCode>([
  'INVALID_UPDATE_VERSION', 'FENCED_LEADER_EPOCH', 'INELIGIBLE_REPLICA', 'STALE_BROKER_EPOCH',
  'UNKNOWN_TOPIC_OR_PARTITION', 'NOT_CONTROLLER', 'REQUEST_TIMED_OUT', 'NETWORK_EXCEPTION',
]);

export interface GrpcAlterPartitionClientOptions {
  readonly channel: ControllerChannel;
  /** Waits until this broker's metadata image has applied `offset` (so callers see what committed). */
  readonly awaitMetadataOffset?: (offset: number) => Promise<void>;
}

export class GrpcAlterPartitionClient implements AlterPartitionClient {
  constructor(private readonly options: GrpcAlterPartitionClientOptions) {}

  /** The call and the wait for this broker's metadata to apply the change share options.timeoutMs. */
  alterPartition(request: AlterPartitionRequest, options: AlterPartitionCallOptions): Promise<AlterPartitionResult> {
    return resultWithin(this.send(request), options.timeoutMs);
  }

  private async send(request: AlterPartitionRequest): Promise<AlterPartitionResult> {
    const { channel } = this.options;
    let res: tributary.internal.v1.AlterPartitionResponse;
    try {
      res = await channel.call('alterPartition', {
        clusterId: channel.clusterId, brokerId: request.leaderId, brokerEpoch: request.leaderBrokerEpoch,
        topic: request.topic, topicId: request.topicId, partition: request.partition,
        leaderEpoch: request.leaderEpoch, partitionEpoch: request.partitionEpoch, newIsr: [...request.newIsr],
        newIsrBrokerEpochs: (request.newIsrBrokerEpochs ?? []).map((e) => ({ brokerId: e.brokerId, brokerEpoch: e.brokerEpoch })),
      });
    } catch (err) {
      const code = err instanceof ApiError && err.code === 'REQUEST_TIMED_OUT' ? 'REQUEST_TIMED_OUT' : 'NETWORK_EXCEPTION';
      return { ok: false, error: code, message: (err as Error).message };
    }
    const code = res.error?.code ?? tributary.v1.ErrorCode.NONE;
    if (code !== tributary.v1.ErrorCode.NONE) {
      const name = res.reason !== '' ? res.reason : String(tributary.v1.ErrorCode[code]);
      const error = (KNOWN_REASONS.has(name) ? name : 'INVALID_UPDATE_VERSION') as AlterPartitionErrorCode;
      return { ok: false, error, message: res.error?.message ?? name };
    }
    const state = res.state ?? {};
    await this.options.awaitMetadataOffset?.(Number(res.metadataOffset));
    return {
      ok: true,
      partition: {
        topic: request.topic, topicId: request.topicId, partition: request.partition,
        leader: state.leader ?? -1, leaderEpoch: state.leaderEpoch ?? 0, partitionEpoch: state.partitionEpoch ?? 0,
        isr: [...(state.isr ?? [])], replicas: [...(state.replicas ?? [])],
      },
    };
  }
}
