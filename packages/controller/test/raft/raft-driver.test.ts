// Three raft drivers in one process over loopback gRPC, each on FileRaftStorage in its own temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { ProposalDroppedError, type Entry } from '@tributary/nraft';
import { FileRaftStorage } from '@tributary/nraft/adapters';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcRaftTransport } from '../../src/raft/grpc-raft-transport.js';
import { RaftDriver } from '../../src/raft/raft-driver.js';
import { RaftProposalError } from '../../src/raft/raft-driver-errors.js';
import { startRaftServer, stopServer, waitFor } from './grpc-helpers.js';

const IDS = [1, 2, 3];
const text = new TextEncoder();
const untext = new TextDecoder();

interface TestNode {
  id: number;
  dir: string;
  port: number;
  driver: RaftDriver;
  transport: GrpcRaftTransport;
  server: grpc.Server;
  /** Payloads of the normal, non-empty entries this node applied, in order. */
  applied: string[];
  appliedIndexes: number[];
  restores: number;
}

class TestCluster {
  readonly nodes = new Map<number, TestNode>();
  readonly ports = new Map<number, number>();
  private readonly root = mkdtempSync(join(tmpdir(), 'tributary-raft-driver-'));

  async start(id: number): Promise<TestNode> {
    const dir = join(this.root, `node-${id}`);
    const storage = await FileRaftStorage.open({ dir, fsync: false, confState: { voters: IDS, learners: [] } });
    const transport = new GrpcRaftTransport({ nodeId: id, clusterId: 'driver-test', reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 200 });
    const { server, address } = await startRaftServer(transport, this.ports.get(id) ?? 0);
    const port = Number(address.split(':')[1]);
    this.ports.set(id, port);
    // Assigned before the driver starts: restore() may run during start.
    const node = { restores: 0 } as TestNode;
    const applied: string[] = [];
    const appliedIndexes: number[] = [];
    const driver = await RaftDriver.start({
      nodeId: id,
      storage,
      transport,
      apply: (entries: readonly Entry[]) => {
        for (const e of entries) {
          appliedIndexes.push(e.index);
          if (e.type === 'normal' && e.data.byteLength > 0) applied.push(untext.decode(e.data));
        }
      },
      // The application state is the list of payloads; a snapshot carries it as JSON.
      restore: (snap) => {
        applied.splice(0, applied.length, ...(JSON.parse(untext.decode(snap.data)) as string[]));
        appliedIndexes.splice(0, appliedIndexes.length);
        node.restores++;
      },
      tickMs: 20,
      raft: { electionTicks: 10, heartbeatTicks: 2 },
    });
    Object.assign(node, { id, dir, port, driver, transport, server, applied, appliedIndexes });
    this.nodes.set(id, node);
    this.connect();
    return node;
  }

  /** Tells every live transport where the others listen (ports are known only after bind). */
  private connect(): void {
    const book = new Map([...this.ports].map(([id, port]) => [id, `127.0.0.1:${port}`]));
    for (const n of this.nodes.values()) n.transport.setPeers(book);
  }

  async stop(id: number): Promise<void> {
    const n = this.nodes.get(id)!;
    this.nodes.delete(id);
    await n.driver.close();
    stopServer(n.server);
  }

  async leader(): Promise<TestNode> {
    let found: TestNode | undefined;
    await waitFor(() => {
      const leaders = [...this.nodes.values()].filter((n) => n.driver.isLeader());
      found = leaders.length === 1 ? leaders[0] : undefined;
      return found !== undefined;
    }, 'a single leader');
    return found!;
  }

  /** Proposes on whichever node leads, retrying while leadership moves. */
  async propose(payload: string): Promise<{ index: number; term: number }> {
    for (let attempt = 0; ; attempt++) {
      const leader = await this.leader();
      try {
        return await leader.driver.propose(text.encode(payload));
      } catch (err) {
        const retriable = err instanceof ProposalDroppedError || (err instanceof RaftProposalError && err.reason !== 'overwritten');
        if (!retriable || attempt > 20) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
    rmSync(this.root, { recursive: true, force: true });
  }
}

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('RaftDriver over gRPC with FileRaftStorage', () => {
  it('elects a leader, commits on all, fails over, and a restarted node catches up', async () => {
    cluster = new TestCluster();
    for (const id of IDS) await cluster.start(id);

    const first = await cluster.leader();
    const committed: { index: number; term: number }[] = [];
    for (let i = 0; i < 20; i++) committed.push(await cluster.propose(`a${i}`));
    expect(committed.map((c) => c.index)).toEqual([...committed.map((c) => c.index)].sort((x, y) => x - y));
    const expectedA = Array.from({ length: 20 }, (_, i) => `a${i}`);
    await waitFor(() => [...cluster!.nodes.values()].every((n) => n.applied.length === 20), 'all nodes apply 20 entries');
    for (const n of cluster.nodes.values()) expect(n.applied).toEqual(expectedA);

    // Kill the leader: the other two elect a new one in a higher term and keep committing.
    await cluster.stop(first.id);
    const second = await cluster.leader();
    expect(second.id).not.toBe(first.id);
    const b = await Promise.all(Array.from({ length: 10 }, (_, i) => cluster!.propose(`b${i}`)));
    expect(b.every((c) => c.term > committed[0]!.term)).toBe(true);
    await waitFor(() => [...cluster!.nodes.values()].every((n) => n.applied.length === 30), 'survivors apply 30 entries');

    // Restart the old leader from its directory: it replays its log and catches up.
    const back = await cluster.start(first.id);
    await waitFor(() => back.applied.length === 30, 'restarted node catches up');
    const reference = cluster.nodes.get(second.id)!;
    expect(back.applied).toEqual(reference.applied);
    expect(back.appliedIndexes).toEqual(reference.appliedIndexes.slice(0, back.appliedIndexes.length));
    await cluster.propose('c0');
    await waitFor(() => [...cluster!.nodes.values()].every((n) => n.applied.at(-1) === 'c0'), 'all apply after the restart');
  });

  it('brings a follower back with a snapshot after the others compacted, and restores it on restart', async () => {
    cluster = new TestCluster();
    for (const id of IDS) await cluster.start(id);
    for (let i = 0; i < 5; i++) await cluster.propose(`a${i}`);
    const leader = await cluster.leader();
    const lagging = [...cluster.nodes.values()].find((n) => n.id !== leader.id)!;
    await cluster.stop(lagging.id);
    for (let i = 0; i < 30; i++) await cluster.propose(`b${i}`);
    await waitFor(() => [...cluster!.nodes.values()].every((n) => n.applied.length === 35), 'survivors apply 35');
    for (const n of cluster.nodes.values()) {
      await n.driver.snapshot(() => text.encode(JSON.stringify(n.applied)), { keepEntries: 0 });
    }

    const back = await cluster.start(lagging.id);
    await waitFor(() => back.applied.length === 35, 'the lagging node catches up');
    expect(back.restores).toBe(1);
    await cluster.propose('c0');
    await waitFor(() => back.applied.at(-1) === 'c0', 'the lagging node applies new entries');
    const reference = [...cluster.nodes.values()].find((n) => n.id !== lagging.id)!;
    expect(back.applied).toEqual(reference.applied);

    // Restarting it again restores the snapshot it stored, then replays the entries after it.
    await cluster.stop(lagging.id);
    const again = await cluster.start(lagging.id);
    expect(again.restores).toBe(1);
    await waitFor(() => again.applied.length === reference.applied.length, 'replay after the snapshot');
    expect(again.applied).toEqual(reference.applied);
  });

  it('fails proposals on a follower and after close', async () => {
    cluster = new TestCluster();
    for (const id of IDS) await cluster.start(id);
    const leader = await cluster.leader();
    const follower = [...cluster.nodes.values()].find((n) => n.id !== leader.id)!;
    await expect(follower.driver.propose(text.encode('x'))).rejects.toBeInstanceOf(ProposalDroppedError);
    await cluster.stop(leader.id);
    await expect(leader.driver.propose(text.encode('y'))).rejects.toMatchObject({ reason: 'closed' });
    await leader.driver.close(); // idempotent
  });
});
