// The QuorumController over injected ports only: in-memory Raft storage and the loopback network, no disk,
// no gRPC. Its command queue runs on the active voter, and a cut-off leader's commands fail over to the
// voter that takes over — the seam a controller simulation builds on.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LoopbackRaftNetwork, QuorumController, controllerPolicies, metadataStateMachine, type MetadataImage, type QuorumIo,
} from '../../src/internal.js';
import { SlowMemoryStorage, type StorageEvent } from '../raft/slow-memory-storage.js';
import { waitFor } from '../raft/grpc-helpers.js';

const CLUSTER_ID = 'in-memory-quorum';
const logger = pino({ level: 'silent' });
const IDS = [1, 2, 3];
let voters: QuorumController<MetadataImage>[] = [];

afterEach(async () => {
  await Promise.all(voters.map((v) => v.close()));
  voters = [];
});

describe('QuorumController over injected storage and transport', () => {
  it('elects an active controller, runs commands on it, and fails over when it is cut off', async () => {
    const network = new LoopbackRaftNetwork();
    const events: StorageEvent[] = [];
    voters = await Promise.all(IDS.map((id) => {
      // Durable across driver restarts: the same storage is handed to every driver of this voter.
      const storage = new SlowMemoryStorage(id, events);
      const io: QuorumIo = { openRaftStorage: async () => storage, openRaftTransport: () => network.transport(id) };
      return QuorumController.start({
        nodeId: id, clusterId: CLUSTER_ID, logger, nowMs: Date.now, io,
        voters: new Map(IDS.map((v) => [v, `voter-${v}:0`])),
        machine: metadataStateMachine(CLUSTER_ID), policies: controllerPolicies(), config: { tickMs: 10 },
      });
    }));
    const active = async (among: readonly QuorumController<MetadataImage>[]): Promise<QuorumController<MetadataImage>> => {
      await waitFor(() => among.some((v) => v.isActive()), 'an active controller');
      return among.find((v) => v.isActive())!;
    };
    const first = await active(voters);
    await expect(first.runCommand('noop', () => ({ batch: undefined, response: 'done' }))).resolves.toMatchObject({ response: 'done' });
    expect(events.some((e) => e.what === 'persist-end')).toBe(true);

    network.isolate(first.nodeId);
    const second = await active(voters.filter((v) => v !== first));
    expect(second.nodeId).not.toBe(first.nodeId);
    await expect(second.runCommand('noop', () => ({ batch: undefined, response: 'again' }))).resolves.toMatchObject({ response: 'again' });
  });
});
