// A controller voter whose Raft driver keeps failing restarts it with backoff, at most
// raftDriverRestartsMax times in a row, then stays down and says so.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { QuorumController, controllerPolicies, fileGrpcQuorumIo, metadataStateMachine, type RaftDriverStorage } from '../../src/internal.js';
import { waitFor } from '../raft/grpc-helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Every persist fails: a disk that has gone bad for good. */
function failingStorage(inner: RaftDriverStorage, counter: { persists: number }): RaftDriverStorage {
  return {
    initialState: () => inner.initialState(),
    entries: (lo, hi, maxBytes) => inner.entries(lo, hi, maxBytes),
    term: (i) => inner.term(i),
    firstIndex: () => inner.firstIndex(),
    lastIndex: () => inner.lastIndex(),
    snapshot: () => inner.snapshot(),
    persist: async () => {
      counter.persists++;
      throw new Error('injected storage fault: EIO');
    },
    createSnapshot: (index, confState, data) => inner.createSnapshot(index, confState, data),
    compact: (index) => inner.compact(index),
    close: () => inner.close(),
  };
}

describe('Raft driver restarts', () => {
  it('restarts a failed driver with backoff and gives up after raftDriverRestartsMax failures in a row', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tributary-restart-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const counter = { persists: 0 };
    const server = new grpc.Server();
    const logger = pino({ level: 'silent' });
    const voters = new Map([[1, `127.0.0.1:${port}`]]);
    const controller = await QuorumController.start({
      nodeId: 1, clusterId: 'restart-test', logger, nowMs: Date.now,
      voters, machine: metadataStateMachine('restart-test'), policies: controllerPolicies(),
      io: fileGrpcQuorumIo({
        nodeId: 1, clusterId: 'restart-test', voters, dataDir: root, fsync: false, server, logger,
        wrapRaftStorage: (inner) => failingStorage(inner, counter),
      }),
      config: { tickMs: 10, raftDriverRestartBackoffMinMs: 10, raftDriverRestartBackoffMaxMs: 40, raftDriverRestartsMax: 3 },
    });
    cleanups.push(async () => {
      await controller.close();
      server.forceShutdown();
    });
    // The single voter campaigns, its persist fails, the driver stops; three restarts fail the same way.
    // Once it has given up no restart is scheduled, so no fifth run can come later.
    await waitFor(() => controller.status().driverGivenUp, 'the supervisor to give up');
    expect(counter.persists).toBe(4);
    expect(controller.status()).toMatchObject({ driverRunning: false, driverRestarts: 3, driverGivenUp: true, leaderId: -1, active: false });
  });
});
