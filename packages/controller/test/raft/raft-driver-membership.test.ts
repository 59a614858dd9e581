// ReadIndex and membership changes through the driver, on the in-process loopback network.
import { ProposalDroppedError, type ConfState, type Entry } from '@tributary/nraft';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftDriver } from '../../src/raft/raft-driver.js';
import { LoopbackRaftNetwork } from '../../src/raft/raft-transport.js';
import { waitFor } from './grpc-helpers.js';
import { SlowMemoryStorage } from './slow-memory-storage.js';

const drivers = new Map<number, RaftDriver>();
afterEach(async () => {
  for (const d of drivers.values()) await d.close();
  drivers.clear();
});

async function startNode(network: LoopbackRaftNetwork, id: number, confState: ConfState, applied: Map<number, number[]>): Promise<RaftDriver> {
  applied.set(id, []);
  const driver = await RaftDriver.start({
    nodeId: id,
    storage: new SlowMemoryStorage(id, [], confState),
    transport: network.transport(id),
    apply: (entries: readonly Entry[]) => {
      for (const e of entries) if (e.type === 'normal' && e.data.byteLength > 0) applied.get(id)!.push(e.data[0]!);
    },
    tickMs: 5,
    raft: { electionTicks: 10, heartbeatTicks: 2 },
  });
  drivers.set(id, driver);
  return driver;
}

async function leaderOf(): Promise<RaftDriver> {
  await waitFor(() => [...drivers.values()].filter((d) => d.isLeader()).length === 1, 'one leader');
  return [...drivers.values()].find((d) => d.isLeader())!;
}

describe('RaftDriver reads and membership', () => {
  it('serves ReadIndex on the leader and on a follower only once the read index is applied there', async () => {
    const network = new LoopbackRaftNetwork();
    const applied = new Map<number, number[]>();
    for (const id of [1, 2, 3]) await startNode(network, id, { voters: [1, 2, 3], learners: [] }, applied);
    const leader = await leaderOf();
    const follower = [...drivers.values()].find((d) => d !== leader)!;
    const { index } = await leader.propose(new Uint8Array([7]));
    // Whatever was committed before the read was asked for is visible once it resolves.
    const leaderRead = await leader.readIndex();
    expect(leaderRead).toBeGreaterThanOrEqual(index);
    // The follower may not have applied 7 yet when it asks; the read must wait until it has.
    const seen = await follower.readIndex().then((i) => ({ i, state: [...applied.get(follower.nodeId)!] }));
    expect(seen.i).toBeGreaterThanOrEqual(index);
    expect(seen.state).toContain(7);
  });

  it('adds a learner, promotes it to voter, then removes a node', async () => {
    const network = new LoopbackRaftNetwork();
    const applied = new Map<number, number[]>();
    for (const id of [1, 2, 3]) await startNode(network, id, { voters: [1, 2, 3], learners: [] }, applied);
    let leader = await leaderOf();
    await leader.propose(new Uint8Array([1]));

    // The boot membership is not in the log, so a joining node boots with the membership it joins;
    // its own addition reaches it through the log like everyone else's.
    const joiner = await startNode(network, 4, { voters: [1, 2, 3], learners: [] }, applied);
    await leader.proposeConfChange({ type: 'add-learner', nodeId: 4 });
    await leader.propose(new Uint8Array([2]));
    await waitFor(() => applied.get(4)!.join() === '1,2', 'the learner catches up');
    expect(joiner.status().confState).toEqual({ voters: [1, 2, 3], learners: [4] });

    await leader.proposeConfChange({ type: 'add-voter', nodeId: 4 });
    await waitFor(() => joiner.status().confState.voters.includes(4), 'the learner is promoted');
    expect(leader.status().confState.voters).toEqual(expect.arrayContaining([1, 2, 3, 4]));

    const removed = [...drivers.values()].find((d) => d !== leader && d !== joiner)!;
    await leader.proposeConfChange({ type: 'remove-node', nodeId: removed.nodeId });
    expect(leader.status().confState.voters).not.toContain(removed.nodeId);
    await removed.close();
    drivers.delete(removed.nodeId);
    leader = await leaderOf();
    await leader.propose(new Uint8Array([3]));
    await waitFor(() => applied.get(4)!.join() === '1,2,3', 'the promoted node applies new entries');
  });

  it('refuses a second conf change while one is pending', async () => {
    const network = new LoopbackRaftNetwork();
    const applied = new Map<number, number[]>();
    for (const id of [1, 2, 3]) await startNode(network, id, { voters: [1, 2, 3], learners: [] }, applied);
    const leader = await leaderOf();
    await leader.propose(new Uint8Array([1]));
    const first = leader.proposeConfChange({ type: 'add-learner', nodeId: 9 });
    await expect(leader.proposeConfChange({ type: 'add-learner', nodeId: 10 })).rejects.toBeInstanceOf(ProposalDroppedError);
    await first;
  });
});
