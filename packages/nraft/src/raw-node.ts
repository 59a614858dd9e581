// RawNode: the public, driver-facing API around the raft state machine (etcd-raft's RawNode).
//
// Driver contract, one Ready at a time:
//   while (node.hasReady()) {
//     const rd = node.ready();
//     1. persist rd.snapshot (if any), rd.entries (overwriting any conflicting tail), then
//        rd.hardState (if any) — durably — before anything else;
//     2. send rd.messages (EVERY message may depend on step 1: votes, acks and appends alike);
//     3. apply rd.snapshot and then rd.committedEntries in order; for a 'conf-change' entry call
//        node.applyConfChange(decodeConfChange(entry.data)) as part of applying it;
//        serve rd.readStates once the application has applied readState.index;
//     4. node.advance(rd).
//   }
// tick(), step(), propose() and friends may be called between ready() and advance(); ready() may
// not be called again before advance(), and hasReady() reports false in that window.
//
// The transport must also report what only it can know (as etcd-raft's does):
//   - reportUnreachable(id) when a message to `id` could not be sent (the leader falls back from
//     pipelining to probing that follower);
//   - reportSnapshot(id, ok) once a 'snap' message was delivered (ok) or failed (!ok). Without it a
//     follower whose snapshot ack was lost stays in the snapshot state, paused, forever.
// Lost appends and acks need no report: a heartbeat response from a follower whose in-flight window
// is full frees a slot, and the follower's rejection repairs the gap.
import { parseRaftConfig, type RaftConfigInput } from './config.js';
import { invariant } from './errors.js';
import { Raft, type RaftStatus } from './raft.js';
import type { ConfChange, ConfState, HardState, Message, NodeId, RaftStorage, Ready, SoftState } from './types.js';

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced, if any. */
  private inFlight: Ready | undefined = undefined;

  /** Validates the config (throws RaftConfigError) and loads state from storage. */
  constructor(config: RaftConfigInput, storage: RaftStorage) {
    this.raft = new Raft(parseRaftConfig(config), storage);
    this.prevSoftState = this.softState();
    this.prevHardState = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /** Advances logical time by one tick (elections, heartbeats, CheckQuorum, transfer timeout). */
  tick(): void {
    this.raft.tick();
  }

  /** Campaigns now (pre-vote first when enabled). */
  campaign(): void {
    this.raft.campaign();
  }

  /** Proposes a normal entry; returns the index it got. Throws ProposalDroppedError unless leader. */
  propose(data: Uint8Array): number {
    return this.raft.propose(data);
  }

  /** Proposes a membership change (applied later through applyConfChange). Throws ProposalDroppedError. */
  proposeConfChange(cc: ConfChange): number {
    return this.raft.proposeConfChange(cc);
  }

  /** Feeds a message from the network. Unknown, misaddressed or irrelevant messages are ignored. */
  step(m: Message): void {
    this.raft.step(m);
  }

  /** Asks the leader to hand over to `to` (forwarded when we are a follower). */
  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  /** Requests a linearizable read; the answer arrives as a ReadState carrying `ctx` (unique per request). */
  readIndex(ctx: Uint8Array): void {
    this.raft.readIndex(ctx);
  }

  /** Applies a committed conf change; returns the membership now in effect. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  hasReady(): boolean {
    if (this.inFlight !== undefined) return false;
    const r = this.raft;
    const ss = this.softState();
    if (ss.leader !== this.prevSoftState.leader || ss.role !== this.prevSoftState.role) return true;
    if (!hardStateEqual(r.hardState(), this.prevHardState)) return true;
    return (
      r.log.unstable.snapshot !== undefined ||
      r.log.unstable.entries.length > 0 ||
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.hasNextCommittedEntries()
    );
  }

  ready(): Ready {
    invariant(this.inFlight === undefined, 'ready() called again before advance()');
    const r = this.raft;
    const ss = this.softState();
    const hs = r.hardState();
    const softChanged = ss.leader !== this.prevSoftState.leader || ss.role !== this.prevSoftState.role;
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const snapshot = r.log.unstable.snapshot;
    const rd: Ready = {
      ...(softChanged ? { softState: ss } : {}),
      ...(hardChanged ? { hardState: hs } : {}),
      readStates: r.readStates,
      entries: r.log.unstableEntries(),
      ...(snapshot === undefined ? {} : { snapshot }),
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
    };
    r.msgs = [];
    r.readStates = [];
    this.prevSoftState = ss;
    this.prevHardState = hs;
    this.inFlight = rd;
    return rd;
  }

  /** The driver finished steps 1–3 for `rd`. */
  advance(rd: Ready): void {
    invariant(this.inFlight === rd, 'advance() with a Ready that is not the one in flight');
    this.inFlight = undefined;
    const lastEntry = rd.entries[rd.entries.length - 1];
    this.raft.onPersisted(
      lastEntry === undefined ? undefined : { index: lastEntry.index, term: lastEntry.term },
      rd.snapshot?.metadata.index,
    );
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > this.raft.log.applied) {
      this.raft.onApplied(rd.snapshot.metadata.index, []);
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) this.raft.onApplied(lastCommitted.index, rd.committedEntries);
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
