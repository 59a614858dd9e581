// One partition replica hosted by this node: its log, leader epoch, ISR and high watermark. On one
// node the ISR is [self] and HW = LEO after each append; computeHighWatermark already takes the
// followers' LEOs so replication (issue 5) only has to feed them in.
import type { Logger } from 'pino';
import { ApiError, assert } from './errors.js';
import { computeHighWatermark } from './high-watermark.js';
import type { PartitionInfo } from './metadata-view.js';
import type { LogAppendInfo, PartitionLogPort } from './partition-log.js';
import type { TopicConfig } from './topic-config.js';

/** The client did not say which epoch it believes current. */
export const NO_LEADER_EPOCH = -1;

export class Partition {
  private info: PartitionInfo;
  private config: TopicConfig;
  /** Follower replica id → last known log end offset (filled by follower fetches later). */
  private readonly followerLogEndOffsets = new Map<number, number>();

  constructor(
    private readonly args: {
      readonly nodeId: number;
      readonly info: PartitionInfo;
      readonly config: TopicConfig;
      readonly log: PartitionLogPort;
      readonly logger: Logger;
      /** Called whenever the high watermark moves, so parked fetches and produces re-check. */
      readonly onHighWatermarkChange: () => void;
    },
  ) {
    this.info = args.info;
    this.config = args.config;
  }

  get topic(): string {
    return this.info.topic;
  }

  get partition(): number {
    return this.info.partition;
  }

  get leaderEpoch(): number {
    return this.info.leaderEpoch;
  }

  get partitionEpoch(): number {
    return this.info.partitionEpoch;
  }

  /** The partition state this replica acts on. */
  get partitionInfo(): PartitionInfo {
    return this.info;
  }

  get inSyncReplicas(): readonly number[] {
    return this.info.isr;
  }

  get topicConfig(): TopicConfig {
    return this.config;
  }

  get log(): PartitionLogPort {
    return this.args.log;
  }

  get isLeader(): boolean {
    return this.info.leader === this.args.nodeId;
  }

  get logStartOffset(): number {
    return this.args.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.args.log.logEndOffset;
  }

  get highWatermark(): number {
    return this.args.log.highWatermark;
  }

  /** New leader/ISR/epoch from metadata. Epochs never go back. */
  updateInfo(info: PartitionInfo): void {
    assert(info.leaderEpoch >= this.info.leaderEpoch, `${this.topic}-${this.partition}: leader epoch went back from ${this.info.leaderEpoch} to ${info.leaderEpoch}`);
    this.info = info;
    this.maybeAdvanceHighWatermark();
  }

  updateConfig(config: TopicConfig): void {
    this.config = config;
    this.args.log.updateConfig(config);
  }

  /**
   * Checks the epoch a client believes current (KIP-320): older than ours → FENCED_LEADER_EPOCH (the
   * client's metadata is stale), newer → UNKNOWN_LEADER_EPOCH (ours is stale), and that we lead.
   */
  checkLeader(currentLeaderEpoch: number): void {
    if (currentLeaderEpoch !== NO_LEADER_EPOCH) {
      if (currentLeaderEpoch < this.leaderEpoch) {
        throw new ApiError('FENCED_LEADER_EPOCH', `${this.topic}-${this.partition}: leader epoch ${currentLeaderEpoch} is older than the current ${this.leaderEpoch}`);
      }
      if (currentLeaderEpoch > this.leaderEpoch) {
        throw new ApiError('UNKNOWN_LEADER_EPOCH', `${this.topic}-${this.partition}: leader epoch ${currentLeaderEpoch} is newer than the current ${this.leaderEpoch}`);
      }
    }
    if (!this.isLeader) {
      throw new ApiError('NOT_LEADER_OR_FOLLOWER', `node ${this.args.nodeId} is not the leader of ${this.topic}-${this.partition} (leader ${this.info.leader})`);
    }
  }

  /**
   * Appends validated batches as leader. With acks=all the ISR must hold min.insync.replicas before
   * the append (after it, the producer waits for the high watermark instead).
   */
  async appendAsLeader(batches: Buffer, options: { readonly requiredAcks: number; readonly nowMs: number }): Promise<LogAppendInfo> {
    if (options.requiredAcks === -1 && this.info.isr.length < this.config.minInsyncReplicas) {
      throw new ApiError('NOT_ENOUGH_REPLICAS', `${this.topic}-${this.partition}: ${this.info.isr.length} in-sync replica(s), min.insync.replicas is ${this.config.minInsyncReplicas}`);
    }
    const logAppendTimeMs = this.config.messageTimestampType === 'LogAppendTime' ? options.nowMs : undefined;
    const leoBefore = this.logEndOffset;
    const result = await this.args.log.appendAsLeader(batches, this.leaderEpoch, logAppendTimeMs === undefined ? {} : { logAppendTimeMs });
    assert(result.baseOffset >= leoBefore && result.lastOffset >= result.baseOffset, `${this.topic}-${this.partition}: append returned offsets [${result.baseOffset}, ${result.lastOffset}] with LEO ${leoBefore}`);
    this.maybeAdvanceHighWatermark();
    return result;
  }

  /** Follower progress (replication, later): record its LEO and re-evaluate the HW. */
  updateFollowerLogEndOffset(replicaId: number, logEndOffset: number): void {
    this.followerLogEndOffsets.set(replicaId, logEndOffset);
    this.maybeAdvanceHighWatermark();
  }

  private maybeAdvanceHighWatermark(): void {
    if (!this.isLeader) return;
    const current = this.highWatermark;
    const next = computeHighWatermark({
      leaderId: this.args.nodeId,
      leaderLogEndOffset: this.logEndOffset,
      followerLogEndOffsets: this.followerLogEndOffsets,
      isr: this.info.isr,
      currentHighWatermark: current,
    });
    if (next === current) return;
    assert(next > current && next <= this.logEndOffset, `${this.topic}-${this.partition}: high watermark ${current} -> ${next} with LEO ${this.logEndOffset}`);
    this.args.log.updateHighWatermark(next);
    this.args.onHighWatermarkChange();
  }
}
