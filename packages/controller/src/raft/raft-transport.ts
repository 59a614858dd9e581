// The port the raft driver sends and receives nraft messages through. Delivery is best effort:
// raft tolerates loss, duplication and reordering, so a transport drops rather than blocks or buffers
// without limit when a peer is slow or down.
import type { Message } from '@tributary/nraft';

export type RaftMessageHandler = (message: Message) => void;
/** Told about messages that were (or may have been) lost: the peer is down, its queue is full, or its stream broke. */
export type RaftDropHandler = (messages: readonly Message[]) => void;

export interface RaftTransport {
  /** Queues messages for their `to` nodes; never throws for an unreachable peer (the message is dropped). */
  send(messages: readonly Message[]): void;
  /** Sets the handler for messages addressed to this node (replaces any earlier one). */
  onMessage(handler: RaftMessageHandler): void;
  /**
   * Sets the handler told about dropped messages, so raft can react (a leader must hear that a
   * snapshot never arrived, or it waits for that follower forever). Called outside send().
   */
  onDropped(handler: RaftDropHandler): void;
  /** Stops sending and receiving. Idempotent. */
  close(): Promise<void>;
}

/**
 * In-process transport for tests: every node registered on the same network receives the others'
 * messages on a later macrotask (never re-entrantly, as over a socket). A node can be cut off.
 */
export class LoopbackRaftNetwork {
  private readonly handlers = new Map<number, RaftMessageHandler>();
  private readonly dropHandlers = new Map<number, RaftDropHandler>();
  private readonly isolated = new Set<number>();

  transport(nodeId: number): RaftTransport {
    const network = this;
    let closed = false;
    return {
      send(messages) {
        if (closed) return;
        const dropped: Message[] = [];
        for (const m of messages) {
          if (network.isolated.has(m.from) || network.isolated.has(m.to)) dropped.push(m);
          else setImmediate(() => network.handlers.get(m.to)?.(m));
        }
        if (dropped.length > 0) setImmediate(() => network.dropHandlers.get(nodeId)?.(dropped));
      },
      onMessage(handler) {
        network.handlers.set(nodeId, handler);
      },
      onDropped(handler) {
        network.dropHandlers.set(nodeId, handler);
      },
      async close() {
        closed = true;
        network.handlers.delete(nodeId);
        network.dropHandlers.delete(nodeId);
      },
    };
  }

  isolate(nodeId: number): void {
    this.isolated.add(nodeId);
  }

  heal(nodeId: number): void {
    this.isolated.delete(nodeId);
  }
}
