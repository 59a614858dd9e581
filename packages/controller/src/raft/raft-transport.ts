// The port the raft driver sends and receives nraft messages through. Delivery is best effort:
// raft tolerates loss, duplication and reordering, so a transport drops rather than blocks or buffers
// without limit when a peer is slow or down. What only the transport can know it reports back
// (RawNode's driver contract): messages it lost, and snapshots it handed over.
import type { Message, NodeId } from '@tributary/nraft';

export type RaftMessageHandler = (message: Message) => void;
/** Told about messages that were (or may have been) lost: the peer is down, its queue is full, or its stream broke. */
export type RaftDropHandler = (messages: readonly Message[]) => void;
/** Told that a 'snap' message to `to` was handed over to the peer's connection. */
export type RaftSnapshotSentHandler = (to: NodeId) => void;

export interface RaftTransport {
  /** Queues messages for their `to` nodes; never throws for an unreachable peer (the message is dropped). */
  send(messages: readonly Message[]): void;
  /** Sets the handler for messages addressed to this node (replaces any earlier one). */
  onMessage(handler: RaftMessageHandler): void;
  /**
   * Sets the handler told about dropped messages, so raft can react (reportUnreachable, and
   * reportSnapshot(to, false) for a lost snapshot). Never called from inside send().
   */
  onDropped(handler: RaftDropHandler): void;
  /**
   * Sets the handler told that a snapshot went out (reportSnapshot(to, true)): without it a leader
   * whose follower's snapshot ack was lost would wait for that follower forever. Reporting a
   * snapshot that then got lost is harmless (the leader probes and sends it again). Never called
   * from inside send().
   */
  onSnapshotSent(handler: RaftSnapshotSentHandler): void;
  /** Stops sending and receiving. Idempotent. */
  close(): Promise<void>;
}

/**
 * In-process transport for tests: every node registered on the same network receives the others'
 * messages on a later macrotask (never re-entrantly, as over a socket). A node can be cut off, in
 * both directions or only for what it sends.
 */
export class LoopbackRaftNetwork {
  private readonly handlers = new Map<number, RaftMessageHandler>();
  private readonly dropHandlers = new Map<number, RaftDropHandler>();
  private readonly snapshotHandlers = new Map<number, RaftSnapshotSentHandler>();
  private readonly isolated = new Set<number>();
  private readonly mutedOutbound = new Set<number>();

  transport(nodeId: number): RaftTransport {
    const network = this;
    let closed = false;
    return {
      send(messages) {
        if (closed) return;
        const dropped: Message[] = [];
        for (const m of messages) {
          if (network.isolated.has(m.from) || network.isolated.has(m.to) || network.mutedOutbound.has(m.from)) {
            dropped.push(m);
            continue;
          }
          setImmediate(() => network.handlers.get(m.to)?.(m));
          if (m.type === 'snap') setImmediate(() => network.snapshotHandlers.get(nodeId)?.(m.to));
        }
        if (dropped.length > 0) setImmediate(() => network.dropHandlers.get(nodeId)?.(dropped));
      },
      onMessage(handler) {
        network.handlers.set(nodeId, handler);
      },
      onDropped(handler) {
        network.dropHandlers.set(nodeId, handler);
      },
      onSnapshotSent(handler) {
        network.snapshotHandlers.set(nodeId, handler);
      },
      async close() {
        closed = true;
        network.handlers.delete(nodeId);
        network.dropHandlers.delete(nodeId);
        network.snapshotHandlers.delete(nodeId);
      },
    };
  }

  /** Drops everything `nodeId` sends or is sent. */
  isolate(nodeId: number): void {
    this.isolated.add(nodeId);
  }

  /** Drops only what `nodeId` sends (it still hears the others). */
  muteOutbound(nodeId: number): void {
    this.mutedOutbound.add(nodeId);
  }

  heal(nodeId: number): void {
    this.isolated.delete(nodeId);
    this.mutedOutbound.delete(nodeId);
  }
}
