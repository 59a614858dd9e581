// Snapshot catch-up through the driver: a follower cut off while the others snapshot and compact is
// brought back by InstallSnapshot (restore), then by the log. Runs on the in-process loopback network,
// whose drops reach the leader like the gRPC transport's do.
import { type Entry } from '@tributary/nraft';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftDriver } from '../../src/raft/raft-driver.js';
import { LoopbackRaftNetwork, type RaftTransport } from '../../src/raft/raft-transport.js';
import { waitFor } from './grpc-helpers.js';
import { SlowMemoryStorage } from './slow-memory-storage.js';

const drivers: RaftDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

describe('RaftDriver snapshots and leadership transfer', () => {
  it('catches a lagging follower up with a snapshot after the others compacted', async () => {
    const network = new LoopbackRaftNetwork();
    const state = new Map<number, number[]>(); // the application: the payload bytes applied, in order
    const restores = new Map<number, number>();
    for (const id of [1, 2, 3]) {
      state.set(id, []);
      restores.set(id, 0);
      drivers.push(await RaftDriver.start({
        nodeId: id,
        storage: new SlowMemoryStorage(id, []),
        transport: network.transport(id),
        apply: (entries: readonly Entry[]) => {
          for (const e of entries) if (e.type === 'normal' && e.data.byteLength > 0) state.get(id)!.push(e.data[0]!);
        },
        restore: (snap) => {
          restores.set(id, restores.get(id)! + 1);
          state.set(id, [...snap.data]);
        },
        tickMs: 5,
        raft: { electionTicks: 10, heartbeatTicks: 2 },
      }));
    }
    await waitFor(() => drivers.some((d) => d.isLeader()), 'a leader');
    const leader = drivers.find((d) => d.isLeader())!;
    const lagging = drivers.find((d) => d !== leader)!;
    const other = drivers.find((d) => d !== leader && d !== lagging)!;
    for (let i = 1; i <= 10; i++) await leader.propose(new Uint8Array([i]));

    network.isolate(lagging.nodeId);
    for (let i = 11; i <= 40; i++) await leader.propose(new Uint8Array([i]));
    await waitFor(() => state.get(other.nodeId)!.length === 40, 'the other follower applies 40');
    for (const d of [leader, other]) {
      const snap = await d.snapshot(() => Uint8Array.from(state.get(d.nodeId)!), { keepEntries: 0 });
      expect(d.status().firstIndex).toBe(snap.metadata.index + 1);
    }

    network.heal(lagging.nodeId);
    await leader.propose(new Uint8Array([41]));
    await waitFor(() => state.get(lagging.nodeId)!.length === 41, 'the lagging follower catches up');
    expect(restores.get(lagging.nodeId)).toBeGreaterThanOrEqual(1);
    expect(state.get(lagging.nodeId)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
  });

  it('recovers when the follower\'s snapshot ack is lost (the transport reports the snapshot as sent)', async () => {
    const network = new LoopbackRaftNetwork();
    const state = new Map<number, number[]>();
    const restores = new Map<number, number>();
    /** Nodes that go mute from the moment they receive a snapshot: what they send is lost. */
    const muteOnSnapshot = new Set<number>();
    const muted = new Set<number>();
    for (const id of [1, 2, 3]) {
      state.set(id, []);
      restores.set(id, 0);
      const inner = network.transport(id);
      const transport: RaftTransport = {
        send: (messages) => { if (!muted.has(id)) inner.send(messages); },
        onMessage: (h) => inner.onMessage((m) => {
          if (m.type === 'snap' && muteOnSnapshot.has(id)) muted.add(id);
          h(m);
        }),
        onDropped: (h) => inner.onDropped(h),
        onSnapshotSent: (h) => inner.onSnapshotSent(h),
        close: () => inner.close(),
      };
      drivers.push(await RaftDriver.start({
        nodeId: id,
        storage: new SlowMemoryStorage(id, []),
        transport,
        apply: (entries: readonly Entry[]) => {
          for (const e of entries) if (e.type === 'normal' && e.data.byteLength > 0) state.get(id)!.push(e.data[0]!);
        },
        restore: (snap) => {
          restores.set(id, restores.get(id)! + 1);
          state.set(id, [...snap.data]);
        },
        tickMs: 5,
        raft: { electionTicks: 10, heartbeatTicks: 2 },
      }));
    }
    await waitFor(() => drivers.some((d) => d.isLeader()), 'a leader');
    const leader = drivers.find((d) => d.isLeader())!;
    const lagging = drivers.find((d) => d !== leader)!;
    const other = drivers.find((d) => d !== leader && d !== lagging)!;
    network.isolate(lagging.nodeId);
    for (let i = 1; i <= 20; i++) await leader.propose(new Uint8Array([i]));
    await waitFor(() => state.get(other.nodeId)!.length === 20, 'the other follower applies 20');
    for (const d of [leader, other]) await d.snapshot(() => Uint8Array.from(state.get(d.nodeId)!), { keepEntries: 0 });

    // The lagging node gets the snapshot and installs it, but its ack (and all it says) is lost.
    muteOnSnapshot.add(lagging.nodeId);
    network.heal(lagging.nodeId);
    await waitFor(() => restores.get(lagging.nodeId)! >= 1, 'the snapshot is installed');
    expect(muted.has(lagging.nodeId)).toBe(true);
    await new Promise((r) => setTimeout(r, 100)); // 20 ticks of lost acks and heartbeat responses
    muteOnSnapshot.clear();
    muted.clear();
    for (let i = 21; i <= 25; i++) await leader.propose(new Uint8Array([i]));
    await waitFor(() => state.get(lagging.nodeId)!.length === 25, 'the lagging follower gets entries after the snapshot');
  });

  it('keeps running when the application fails to capture a snapshot, and skips a snapshot with nothing new', async () => {
    const network = new LoopbackRaftNetwork();
    for (const id of [1, 2, 3]) {
      drivers.push(await RaftDriver.start({
        nodeId: id, storage: new SlowMemoryStorage(id, []), transport: network.transport(id), apply: () => undefined,
        tickMs: 5, raft: { electionTicks: 10, heartbeatTicks: 2 },
      }));
    }
    await waitFor(() => drivers.some((d) => d.isLeader()), 'a leader');
    const leader = drivers.find((d) => d.isLeader())!;
    await leader.propose(new Uint8Array([1]));
    await expect(leader.snapshot(() => { throw new Error('cannot serialize'); })).rejects.toThrow('cannot serialize');
    const first = await leader.snapshot(() => new Uint8Array([1]));
    const second = await leader.snapshot(() => new Uint8Array([2]));
    expect(second).toBe(first);
    expect((await leader.propose(new Uint8Array([2]))).index).toBeGreaterThan(first.metadata.index);
    expect(leader.driverState).toBe('running');
  });

  it('transfers leadership on request', async () => {
    const network = new LoopbackRaftNetwork();
    for (const id of [1, 2, 3]) {
      drivers.push(await RaftDriver.start({
        nodeId: id, storage: new SlowMemoryStorage(id, []), transport: network.transport(id), apply: () => undefined,
        tickMs: 5, raft: { electionTicks: 10, heartbeatTicks: 2 },
      }));
    }
    await waitFor(() => drivers.some((d) => d.isLeader()), 'a leader');
    const leader = drivers.find((d) => d.isLeader())!;
    await leader.propose(new Uint8Array([1]));
    const target = drivers.find((d) => d !== leader)!;
    leader.transferLeadership(target.nodeId);
    await waitFor(() => target.isLeader() && !leader.isLeader(), 'the target leads');
  });
});
