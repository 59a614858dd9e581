// The one place the simulator touches nraft's API: everything else codes against these narrow types.
import { decodeConfChange, encodeConfChange } from '../../src/conf-change-codec.js';
import { ProposalDroppedError } from '../../src/errors.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import type { RaftStatus } from '../../src/raft.js';
import { RawNode } from '../../src/raw-node.js';
import type { ConfChange, ConfState, Message, Random, Ready } from '../../src/types.js';

export type SimStatus = RaftStatus;

export interface SimRaft {
  tick(): void;
  campaign(): void;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  step(m: Message): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(rd: Ready): void;
  applyConfChange(cc: ConfChange): ConfState;
  status(): SimStatus;
  transferLeadership(to: number): void;
  readIndex(ctx: Uint8Array): void;
  reportSnapshot(to: number, ok: boolean): void;
  reportUnreachable(to: number): void;
}

/** The driver's view of a node's disk: nraft's MemoryStorage (it survives a simulated crash). */
export type SimStorage = MemoryStorage;

export interface SimRaftOptions {
  readonly id: number;
  readonly storage: SimStorage;
  readonly random: Random;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  /** What the application has applied: the index of the snapshot it restored from its disk. */
  readonly applied: number;
}

export function newStorage(): SimStorage {
  return new MemoryStorage();
}

export function newRaft(opts: SimRaftOptions): SimRaft {
  const { storage, ...config } = opts;
  // maxInflightBytes 0: only the message-count window applies (it must otherwise be >= maxSizePerMsgBytes).
  return new RawNode({ ...config, maxInflightBytes: 0, preVote: true, checkQuorum: true }, storage);
}

export { decodeConfChange, encodeConfChange };

/** nraft's typed refusal (not leader, transfer in progress, conf change pending, ...): expected, retriable. */
export function isExpectedRefusal(err: unknown): boolean {
  return err instanceof ProposalDroppedError;
}
