// The driver's Ready loop: nothing is sent while the Ready it belongs to is still being persisted,
// and apply happens only after send. Runs on MemoryStorage with a deliberately slow persist and the
// in-process LoopbackRaftNetwork, so the ordering is what is under test, not the disk.
import type { Entry, Message } from '@tributary/nraft';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftDriver } from '../../src/raft/raft-driver.js';
import { LoopbackRaftNetwork, type RaftTransport } from '../../src/raft/raft-transport.js';
import { waitFor } from './grpc-helpers.js';
import { SlowMemoryStorage, type StorageEvent as Event } from './slow-memory-storage.js';

function recording(node: number, inner: RaftTransport, events: Event[]): RaftTransport {
  return {
    send(messages: readonly Message[]) {
      events.push({ node, what: 'send' });
      inner.send(messages);
    },
    onMessage: (h) => inner.onMessage(h),
    onDropped: (h) => inner.onDropped(h),
    onSnapshotSent: (h) => inner.onSnapshotSent(h),
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

  it('bounds pending proposals and times them out (pendingProposalsMax, proposalTimeoutMs)', async () => {
    const network = new LoopbackRaftNetwork();
    for (const id of [1, 2, 3]) {
      drivers.push(await RaftDriver.start({
        nodeId: id, storage: new SlowMemoryStorage(id, []), transport: network.transport(id), apply: () => undefined,
        tickMs: 5, proposalTimeoutMs: 100, pendingProposalsMax: 2,
        // Without CheckQuorum a cut-off leader keeps leading: only the timeout can fail its proposals.
        raft: { electionTicks: 10, heartbeatTicks: 2, checkQuorum: false, preVote: true },
      }));
    }
    await waitFor(() => drivers.some((d) => d.isLeader()), 'a leader');
    const leader = drivers.find((d) => d.isLeader())!;
    network.isolate(leader.nodeId);
    const first = leader.propose(new Uint8Array([1])).catch((e: unknown) => e);
    const second = leader.propose(new Uint8Array([2])).catch((e: unknown) => e);
    await expect(leader.propose(new Uint8Array([3]))).rejects.toMatchObject({ reason: 'pending-limit', retriable: true });
    expect(await first).toMatchObject({ reason: 'timeout', outcomeUnknown: true });
    expect(await second).toMatchObject({ reason: 'timeout' });
  });

  it('validates its options once, naming every bad field', async () => {
    await expect(RaftDriver.start({
      nodeId: 0, storage: new SlowMemoryStorage(1, []), transport: new LoopbackRaftNetwork().transport(1), apply: () => undefined,
      tickMs: 0, proposalTimeoutMs: -5,
    })).rejects.toThrow(/tickMs must be a positive integer, got 0; proposalTimeoutMs must be a positive integer, got -5; nodeId/);
  });

  it('treats a storage failure as fatal: closes and fails pending proposals with the cause', async () => {
    const storage = new SlowMemoryStorage(1, [], { voters: [1], learners: [] });
    const driver = await RaftDriver.start({
      nodeId: 1, storage, transport: new LoopbackRaftNetwork().transport(1), apply: () => undefined, tickMs: 5,
      raft: { electionTicks: 10, heartbeatTicks: 2 },
    });
    drivers.push(driver);
    driver.campaign();
    await waitFor(() => driver.isLeader(), 'single-node leadership');
    expect((await driver.propose(new Uint8Array([1]))).index).toBeGreaterThan(0);
    storage.failNextPersist = true;
    const err = await driver.propose(new Uint8Array([2])).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'closed', cause: { message: 'disk on fire' } });
    await waitFor(() => driver.driverState === 'closed', 'driver closed');
    await expect(driver.snapshot(() => new Uint8Array())).rejects.toMatchObject({ code: 'RAFT_DRIVER_CLOSED' });
  });
});
