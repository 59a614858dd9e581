// The nemesis with application processes (the txn workload's members): over many seeds, kills and
// pauses reach the application as well as the nodes; kill on a workload target hits the node the
// workload named (a transaction coordinator); kill-all takes every node and every application
// process down and its heal brings all back; the final heal continues and restarts the application.
// The cluster is a stand-in that records signals (nothing here needs real processes); the member's
// pure helpers (output spread, offsets to commit, where to rewind) are checked at the end.
import { describe, expect, it } from 'vitest';
import {
  HistoryRecorder, Nemesis, SeededRandom, firstOffsets, nextOffsets, outputPartitionOf,
  type AppProcesses, type ChaosCluster, type NemesisTarget,
} from '@tributary/testing';

interface FakeNode { nodeId: number; process: { state: 'running' | 'stopped' | 'paused'; kill(): Promise<void>; start(): Promise<void>; signal(s: string): void } }

function fakeCluster(): { cluster: ChaosCluster; nodes: FakeNode[] } {
  const nodes: FakeNode[] = [1, 2, 3].map((nodeId) => {
    const process: FakeNode['process'] = {
      state: 'running',
      kill: async () => { process.state = 'stopped'; },
      start: async () => { process.state = 'running'; },
      signal: (s: string) => { process.state = s === 'SIGSTOP' ? 'paused' : 'running'; },
    };
    return { nodeId, process };
  });
  const cluster = {
    nodes, nodeIds: [1, 2, 3], netns: undefined,
    node: (id: number) => nodes.find((n) => n.nodeId === id) as FakeNode,
    runningIds: (ids: readonly number[] = [1, 2, 3]) => ids.filter((id) => nodes.find((n) => n.nodeId === id)?.process.state === 'running'),
    get downNodeIds() { return nodes.filter((n) => n.process.state === 'stopped').map((n) => n.nodeId); },
    leaderOf: async () => 1,
    activeController: async () => 2,
    links: { blockAll: () => undefined, heal: () => undefined },
  };
  return { cluster: cluster as unknown as ChaosCluster, nodes };
}

class FakeApps implements AppProcesses {
  readonly state = new Map<string, 'running' | 'killed' | 'paused'>([['x1.1', 'running'], ['x2.1', 'running']]);
  healed = 0;
  constructor(private readonly target: NemesisTarget) {}
  names(): string[] { return [...this.state].filter(([, s]) => s === 'running').map(([n]) => n); }
  async kill(name: string): Promise<() => Promise<void>> {
    this.state.set(name, 'killed');
    return async () => { this.state.set(name, 'running'); };
  }
  pause(name: string): () => Promise<void> {
    this.state.set(name, 'paused');
    return async () => { this.state.set(name, 'running'); };
  }
  async killAll(): Promise<() => Promise<void>> {
    const restarts = await Promise.all(this.names().map((n) => this.kill(n)));
    return async () => { for (const r of restarts) await r(); };
  }
  async healAll(): Promise<void> {
    this.healed += 1;
    for (const name of this.state.keys()) this.state.set(name, 'running');
  }
  async targets(): Promise<NemesisTarget[]> { return [this.target]; }
}

const TARGET: NemesisTarget = { nodeId: 3, why: 'transaction coordinator 3 of chaos-txn-1' };

function setup(seed: number): { nemesis: Nemesis; apps: FakeApps; nodes: FakeNode[]; history: HistoryRecorder } {
  const { cluster, nodes } = fakeCluster();
  const apps = new FakeApps(TARGET);
  const history = new HistoryRecorder();
  const nemesis = new Nemesis({ cluster, history, random: new SeededRandom(seed), topic: 'q', partitions: 2, apps });
  return { nemesis, apps, nodes, history };
}

describe('nemesis with application processes', () => {
  it('kill reaches application processes and the workload targets; every heal restores', async () => {
    const details: string[] = [];
    for (let seed = 1; seed <= 60; seed++) {
      const { nemesis, apps, nodes } = setup(seed);
      const fault = await nemesis.inject('kill', 0);
      expect(fault).toBeDefined();
      details.push(fault?.detail ?? '');
      await fault?.heal();
      expect(nodes.every((n) => n.process.state === 'running')).toBe(true);
      expect(apps.names()).toEqual(['x1.1', 'x2.1']);
    }
    expect(details.some((d) => d.startsWith('SIGKILL application process x'))).toBe(true);
    expect(details.some((d) => d.includes(TARGET.why))).toBe(true);
    expect(details.some((d) => d.includes('active controller 2'))).toBe(true);
  });

  it('pause stops an application process sometimes, a node otherwise; the heal continues it', async () => {
    const details: string[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const { nemesis, apps, nodes } = setup(seed);
      const fault = await nemesis.inject('pause', 0);
      details.push(fault?.detail ?? '');
      if (fault?.detail.includes('application') === true) expect(apps.names()).toHaveLength(1);
      await fault?.heal();
      expect(apps.names()).toHaveLength(2);
      expect(nodes.every((n) => n.process.state === 'running')).toBe(true);
    }
    expect(details.some((d) => d.startsWith('SIGSTOP application process'))).toBe(true);
    expect(details.some((d) => d.startsWith('SIGSTOP node'))).toBe(true);
  });

  it('kill-all takes every node and application process down; its heal brings them back', async () => {
    const { nemesis, apps, nodes, history } = setup(7);
    const fault = await nemesis.inject('kill-all', 0);
    expect(nodes.every((n) => n.process.state === 'stopped')).toBe(true);
    expect(apps.names()).toEqual([]);
    expect(fault?.detail).toContain('every application process');
    await fault?.heal();
    expect(nodes.every((n) => n.process.state === 'running')).toBe(true);
    expect(apps.names()).toEqual(['x1.1', 'x2.1']);
    expect(history.ops.map((op) => op.f)).toEqual(['fault-start', 'fault-end']);
  });

  it('the final heal continues and restarts the application', async () => {
    const { nemesis, apps } = setup(3);
    apps.pause('x1.1');
    await apps.kill('x2.1');
    await nemesis.healAll();
    expect(apps.healed).toBe(1);
    expect(apps.names()).toEqual(['x1.1', 'x2.1']);
  });
});

describe('txn member helpers', () => {
  it('spreads one transaction over every output partition', () => {
    expect([0, 1, 2, 3, 4].map((k) => outputPartitionOf(2, k, 3))).toEqual([2, 0, 1, 2, 0]);
  });
  it('commits the next offset per input partition and rewinds to the first', () => {
    const records = [{ partition: 1, offset: 7 }, { partition: 0, offset: 3 }, { partition: 1, offset: 8 }, { partition: 0, offset: 4 }];
    expect(nextOffsets(records)).toEqual([{ partition: 0, offset: 5 }, { partition: 1, offset: 9 }]);
    expect([...firstOffsets(records)].sort()).toEqual([[0, 3], [1, 7]]);
  });
});
