// No Raft message from outside can stop a controller voter or move its term: a quorum of three real
// voters over gRPC gets forged messages on the Raft service (a non-member with term+100; the leader's
// own name with a commit index past the end of the follower's log, which used to trip an invariant
// and stop the driver for good; garbage indexes).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Message } from '@tributary/nraft';
import { RaftClient, tributary } from '@tributary/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { QuorumController, controllerCommands, controllerPolicies, fileGrpcQuorumIo, metadataStateMachine, type MetadataImage } from '../../src/internal.js';
import { encodeRaftMessage } from '../../src/raft/raft-message-codec.js';
import { waitFor } from '../raft/grpc-helpers.js';

const CLUSTER_ID = 'hostile-test';
const logger = pino({ level: 'silent' });

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function startQuorum(): Promise<{ voters: Map<number, QuorumController<MetadataImage>>; address: (id: number) => string }> {
  const root = await mkdtemp(join(tmpdir(), 'tributary-hostile-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const ports = await freePorts(3);
  const address = (id: number): string => `127.0.0.1:${ports[id - 1]!}`;
  const voters = new Map<number, QuorumController<MetadataImage>>();
  await Promise.all([1, 2, 3].map(async (id) => {
    const server = new grpc.Server();
    const voterAddresses = new Map([1, 2, 3].map((v) => [v, address(v)]));
    const controller = await QuorumController.start({
      nodeId: id, clusterId: CLUSTER_ID, logger, nowMs: Date.now,
      voters: voterAddresses,
      io: fileGrpcQuorumIo({ nodeId: id, clusterId: CLUSTER_ID, voters: voterAddresses, dataDir: join(root, `node-${id}`), fsync: false, server, logger }),
      machine: metadataStateMachine(CLUSTER_ID), policies: controllerPolicies(),
      config: { tickMs: 20 },
    });
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(address(id), grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    voters.set(id, controller);
    cleanups.push(async () => {
      await controller.close();
      server.forceShutdown();
    });
  }));
  return { voters, address };
}

function heartbeat(from: number, to: number, term: number, commit: number): Message {
  return { type: 'heartbeat', from, to, term, logTerm: 0, index: 0, entries: [], commit, reject: false, rejectHint: 0, context: new Uint8Array() };
}

/** Writes `messages` on a fresh Raft stream to `address`, as any process on the network could. */
async function forge(address: string, messages: readonly (Message | tributary.internal.v1.IRaftMessage)[]): Promise<void> {
  const client = new RaftClient(address, grpc.credentials.createInsecure());
  await new Promise<void>((resolve) => {
    const call = client.send(() => resolve());
    call.write({ clusterId: CLUSTER_ID, messages: messages.map((m) => ('entries' in m && Array.isArray(m.entries) && typeof m.type === 'string' ? encodeRaftMessage(m as Message) : m as tributary.internal.v1.IRaftMessage)) });
    call.end();
  });
  client.close();
}

describe('unreachable voters', () => {
  it('the leader names a voter it has not heard from for two election timeouts in its hint', async () => {
    const { voters } = await startQuorum();
    await waitFor(() => [...voters.values()].some((c) => c.isActive()), 'an active controller');
    const leader = [...voters.values()].find((c) => c.isActive())!;
    expect(leader.hint().unreachableVoters).toEqual([]);
    const victim = [...voters.values()].find((c) => c !== leader)!;
    await victim.close();
    await waitFor(() => (leader.hint().unreachableVoters ?? []).includes(victim.nodeId), 'the stopped voter to be reported');
    expect(leader.hint().unreachableVoters).toEqual([victim.nodeId]);
    expect(leader.isActive()).toBe(true);
  });
});

describe('hostile Raft messages', () => {
  it('cannot stop a voter nor move its term', async () => {
    const { voters, address } = await startQuorum();
    await waitFor(() => [...voters.values()].some((c) => c.isActive()), 'an active controller');
    const leader = [...voters.values()].find((c) => c.isActive())!;
    const follower = [...voters.values()].find((c) => c !== leader)!;
    await waitFor(() => follower.status().leaderId === leader.nodeId, 'the follower to know its leader');
    const term = follower.status().term;

    // One message from a node outside the quorum with term+100 (it used to cost an election).
    await forge(address(follower.nodeId), [heartbeat(9, follower.nodeId, term + 100, 0)]);
    await forge(address(leader.nodeId), [{ ...heartbeat(9, leader.nodeId, term + 100, 0), type: 'vote' }]);
    // In the leader's name, with its real term: a commit index far past the end of the follower's
    // log (it used to stop the follower's driver for good), and appends with garbage indexes.
    await forge(address(follower.nodeId), [
      heartbeat(leader.nodeId, follower.nodeId, term, 1_000_000),
      { ...heartbeat(leader.nodeId, follower.nodeId, term, 0), type: 'app', index: 5, entries: [{ term, index: 9, type: 'normal', data: new Uint8Array() }] },
      { ...heartbeat(leader.nodeId, follower.nodeId, term, 0), type: 'app', index: 5, logTerm: term + 7 },
    ]);
    // Another member acknowledging an index far past the leader's log.
    const other = [...voters.values()].find((c) => c !== leader && c !== follower)!;
    await forge(address(leader.nodeId), [{ ...heartbeat(other.nodeId, leader.nodeId, term, 0), type: 'app-resp', index: 1_000_000 }]);

    await waitFor(() => follower.status().refusedRaftMessages + leader.status().refusedRaftMessages >= 3, 'the forged appends and ack to be refused (the non-member never reaches raft)');
    // Every forged message has been stepped (each forge ended after the voter read its stream). An entry
    // proposed now and applied by every voter went through each driver's loop after them: a driver they
    // stopped would not apply it (or, restarted, would count a restart), a term they moved would show.
    const commands = controllerCommands();
    const barrier = await leader.runCommand('barrier', (image) => commands.registerBroker(image, {
      brokerId: 1, incarnationId: 'barrier', host: '127.0.0.1', port: 9001, rack: undefined, roles: ['broker'], cleanShutdown: false,
    }, { nowMs: Date.now() }));
    await waitFor(() => [...voters.values()].every((c) => c.status().appliedOffset >= barrier.offset), `every voter to apply offset ${barrier.offset}`);
    for (const c of voters.values()) {
      expect(c.status()).toMatchObject({ term, leaderId: leader.nodeId, driverRunning: true, driverRestarts: 0 });
    }
    expect(leader.isActive()).toBe(true);
  });
});
