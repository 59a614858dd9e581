// The decisions the Quorum service asks of the pure controller core, one per request kind. Each is a
// pure function of the image and the request returning the records to commit (an encoded
// MetadataBatch, or undefined) and the answer. Requests and answers of the admin commands are the
// wire messages themselves (they are forwarded verbatim); the broker-facing ones are small domain types.
import { tributary } from '@tributary/protocol';
import type { CommandDecision } from './quorum-controller.js';

import v1 = tributary.v1;

/** An expected refusal: a wire code name, and for codes the enum lacks, Kafka's name in `reason`. */
export interface CommandRefusal {
  readonly error: { readonly code: keyof typeof v1.ErrorCode; readonly message: string; readonly reason?: string };
}

export interface BrokerRegistration {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly host: string;
  readonly port: number;
  readonly rack: string | undefined;
  readonly roles: readonly string[];
  /** The previous run ended in a clean shutdown (false after a crash or on a fresh data directory). */
  readonly cleanShutdown: boolean;
}

export interface BrokerHeartbeat {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly metadataOffset: number;
  readonly wantShutDown: boolean;
  /** Log ends of the broker's replicas of recovering partitions. */
  readonly recoveringReplicas: readonly RecoveringReplicaReport[];
  /** The broker's hosted replicas whose log failed or could not open in this run. */
  readonly offlineReplicas: readonly { readonly topicId: string; readonly partition: number }[];
}

export interface RecoveringReplicaReport {
  readonly topicId: string;
  readonly partition: number;
  readonly partitionEpoch: number;
  readonly lastEpoch: number;
  readonly logEndOffset: number;
}

export interface HeartbeatAnswer {
  readonly isFenced: boolean;
  readonly isCaughtUp: boolean;
  readonly shouldShutDown: boolean;
}

export interface AlterPartitionCommand {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
  /** KIP-903: the broker epoch each new ISR member fetched with, when the leader sends them. */
  readonly newIsrBrokerEpochs: readonly { readonly brokerId: number; readonly brokerEpoch: number }[] | undefined;
}

export interface PartitionStateAnswer {
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
  readonly replicas: readonly number[];
}

export interface ProducerIdsAnswer {
  readonly firstProducerId: number;
  readonly size: number;
}

/** Context the shell passes in (time stays out of the core; randomness is the adapter's). */
export interface CommandContext {
  readonly nowMs: number;
}

/** A registration's answer: `brokerEpoch` undefined = the offset its records commit at (the shell fills it in). */
export interface RegistrationAnswer {
  readonly ok: true;
  readonly brokerEpoch: number | undefined;
}

export interface ControllerCommands<Image> {
  registerBroker(image: Image, request: BrokerRegistration, ctx: CommandContext): CommandDecision<CommandRefusal | RegistrationAnswer>;
  brokerHeartbeat(image: Image, request: BrokerHeartbeat, ctx: CommandContext): CommandDecision<CommandRefusal | HeartbeatAnswer>;
  alterPartition(image: Image, request: AlterPartitionCommand, ctx: CommandContext): CommandDecision<CommandRefusal | PartitionStateAnswer>;
  allocateProducerIds(image: Image, request: { readonly brokerId: number; readonly brokerEpoch: number }, ctx: CommandContext): CommandDecision<CommandRefusal | ProducerIdsAnswer>;
  createTopics(image: Image, request: v1.ICreateTopicsRequest, ctx: CommandContext): CommandDecision<v1.ICreateTopicsResponse>;
  deleteTopics(image: Image, request: v1.IDeleteTopicsRequest, ctx: CommandContext): CommandDecision<v1.IDeleteTopicsResponse>;
  alterConfigs(image: Image, request: v1.IAlterConfigsRequest, ctx: CommandContext): CommandDecision<v1.IAlterConfigsResponse>;
  createPartitions(image: Image, request: v1.ICreatePartitionsRequest, ctx: CommandContext): CommandDecision<v1.ICreatePartitionsResponse>;
}

export function isRefusal(x: unknown): x is CommandRefusal {
  return typeof x === 'object' && x !== null && 'error' in x && typeof (x as CommandRefusal).error?.code === 'string';
}
