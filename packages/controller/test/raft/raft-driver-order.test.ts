// The driver's Ready loop: nothing is sent while the Ready it belongs to is still being persisted,
// and apply happens only after send. Runs on MemoryStorage with a deliberately slow persist and the
// in-process LoopbackRaftNetwork, so the ordering is what is under test, not the disk.
import { MemoryStorage, type Entry, type Message } from '@tributary/nraft';
import type { PersistableReady } from '@tributary/nraft/adapters';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftDriver, type RaftDriverStorage } from '../../src/raft/raft-driver.js';
import { LoopbackRaftNetwork, type RaftTransport } from '../../src/raft/raft-transport.js';
import { waitFor } from './grpc-helpers.js';

const VOTERS = { voters: [1, 2, 3], learners: [] };

/** What happened, in order, across all nodes. */
type Event = { node: number; what: 'persist-start' | 'persist-end' | 'send' | 'apply'; entries?: number };

class SlowMemoryStorage extends MemoryStorage implements RaftDriverStorage {
  constructor(private readonly node: number, private readonly events: Event[]) {
    super({ confState: VOTERS });
  }

  async persist(rd: PersistableReady): Promise<void> {
    this.events.push({ node: this.node, what: 'persist-start', entries: rd.entries.length });
    await new Promise((r) => setTimeout(r, 2)); // an fsync's worth of delay
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > 0) this.applySnapshot(rd.snapshot);
    this.append(rd.entries);
    if (rd.hardState !== undefined) this.setHardState(rd.hardState);
    this.events.push({ node: this.node, what: 'persist-end' });
  }

  async close(): Promise<void> {}
}

function recording(node: number, inner: RaftTransport, events: Event[]): RaftTransport {
  return {
    send(messages: readonly Message[]) {
      events.push({ node, what: 'send' });
      inner.send(messages);
    },
    onMessage: (h) => inner.onMessage(h),
    close: () => inner.close(),
  };
}

const drivers: RaftDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

describe('RaftDriver Ready loop', () => {
  it('persists, then sends, then applies, for every Ready on every node', async () => {
    const events: Event[] = [];
    const network = new LoopbackRaftNetwork();
    const applied = new Map<number, number[]>();
    for (const id of [1, 2, 3]) {
      applied.set(id, []);
      drivers.push(await RaftDriver.start({
        nodeId: id,
        storage: new SlowMemoryStorage(id, events),
        transport: recording(id, network.transport(id), events),
        apply: (entries: readonly Entry[]) => {
          events.push({ node: id, what: 'apply' });
          applied.get(id)!.push(...entries.filter((e) => e.data.byteLength > 0).map((e) => e.index));
        },
        tickMs: 5,
        raft: { electionTicks: 10, heartbeatTicks: 2 },
      }));
    }
    await waitFor(() => drivers.some((d) => d.isLeader()), 'a leader');
    const leader = drivers.find((d) => d.isLeader())!;
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => leader.propose(new Uint8Array([i + 1]))));
    await waitFor(() => [...applied.values()].every((a) => a.length === 30), 'all apply 30 entries');
    expect([...applied.values()].every((a) => a.join() === results.map((r) => r.index).join())).toBe(true);

    for (const id of [1, 2, 3]) {
      const mine = events.filter((e) => e.node === id);
      let persisting = false;
      let sawSendOrApply = 0;
      for (const e of mine) {
        if (e.what === 'persist-start') {
          expect(persisting).toBe(false); // one Ready at a time
          persisting = true;
        } else if (e.what === 'persist-end') {
          persisting = false;
        } else {
          // Sends and applies never overlap the persistence of a Ready.
          expect(persisting).toBe(false);
          sawSendOrApply++;
        }
      }
      expect(sawSendOrApply).toBeGreaterThan(0);
    }
  });

  it('a leader cut off from its peers fails its proposals instead of hanging', async () => {
    const network = new LoopbackRaftNetwork();
    for (const id of [1, 2, 3]) {
      drivers.push(await RaftDriver.start({
        nodeId: id,
        storage: new SlowMemoryStorage(id, []),
        transport: network.transport(id),
        apply: () => undefined,
        tickMs: 5,
        proposalTimeoutMs: 2_000,
        raft: { electionTicks: 10, heartbeatTicks: 2 },
      }));
    }
    await waitFor(() => drivers.some((d) => d.isLeader()), 'a leader');
    const leader = drivers.find((d) => d.isLeader())!;
    network.isolate(leader.nodeId);
    // CheckQuorum makes it step down (leadership-lost); the timeout is the backstop.
    const err = await leader.propose(new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RAFT_PROPOSAL_FAILED', outcomeUnknown: true });
    expect(['leadership-lost', 'timeout']).toContain((err as { reason: string }).reason);
  });
});
