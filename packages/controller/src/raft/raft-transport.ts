// The port the raft driver sends and receives nraft messages through. Delivery is best effort:
// raft tolerates loss, duplication and reordering, so a transport drops rather than blocks or buffers
// without limit when a peer is slow or down.
import type { Message } from '@tributary/nraft';

export type RaftMessageHandler = (message: Message) => void;

export interface RaftTransport {
  /** Queues messages for their `to` nodes; never throws for an unreachable peer (the message is dropped). */
  send(messages: readonly Message[]): void;
  /** Sets the handler for messages addressed to this node (replaces any earlier one). */
  onMessage(handler: RaftMessageHandler): void;
  /** Stops sending and receiving. Idempotent. */
  close(): Promise<void>;
}

/**
 * In-process transport for tests: every node registered on the same network receives the others'
 * messages on a later macrotask (never re-entrantly, as over a socket). A node can be cut off.
 */
export class LoopbackRaftNetwork {
  private readonly handlers = new Map<number, RaftMessageHandler>();
  private readonly isolated = new Set<number>();

  transport(nodeId: number): RaftTransport {
    const network = this;
    let closed = false;
    return {
      send(messages) {
        if (closed) return;
        for (const m of messages) {
          if (network.isolated.has(m.from) || network.isolated.has(m.to)) continue;
          setImmediate(() => network.handlers.get(m.to)?.(m));
        }
      },
      onMessage(handler) {
        network.handlers.set(nodeId, handler);
      },
      async close() {
        closed = true;
        network.handlers.delete(nodeId);
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
