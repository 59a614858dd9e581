// Pending ReadIndex requests on a leader (Raft thesis §6.4). Each request remembers the commit index
// when it arrived; it becomes safe once a quorum acknowledged a heartbeat sent after it (proving we
// were still leader then). Requests are released in arrival order: confirming a later request also
// confirms every earlier one, since its heartbeat round started later.
import type { NodeId } from './types.js';

export interface ReadRequest {
  /** Commit index at the time the request arrived: the read may be served once this is applied. */
  readonly index: number;
  /** Who asked: this node (a local read) or a follower that forwarded it. */
  readonly from: NodeId;
  readonly ctx: Uint8Array;
}

interface PendingRead {
  readonly req: ReadRequest;
  readonly acks: Set<NodeId>;
}

export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += b.toString(16).padStart(2, '0');
  return s;
}

export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  size(): number {
    return this.queue.length;
  }

  /** Returns false for a duplicate ctx (already pending; it will be answered once). */
  add(req: ReadRequest): boolean {
    const key = ctxKey(req.ctx);
    if (this.pending.has(key)) return false;
    this.pending.set(key, { req, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records an ack for ctx; returns the set of acknowledgers (undefined if unknown). */
  recvAck(from: NodeId, ctx: Uint8Array): ReadonlySet<NodeId> | undefined {
    const p = this.pending.get(ctxKey(ctx));
    if (p === undefined) return undefined;
    p.acks.add(from);
    return p.acks;
  }

  /** Removes and returns every request up to and including ctx, oldest first. */
  advance(ctx: Uint8Array): ReadRequest[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadRequest[] = [];
    for (const k of done) {
      const p = this.pending.get(k);
      if (p !== undefined) out.push(p.req);
      this.pending.delete(k);
    }
    return out;
  }

  /** ctx of the newest pending request, carried by heartbeats so their acks confirm it. */
  lastPendingCtx(): Uint8Array | undefined {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? undefined : this.pending.get(k)?.req.ctx;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
