// A quorum of one voter (every node started without --voters is one) campaigns as soon as its driver
// starts: it has nobody to wait for, so a randomized election timeout would only delay the first leader.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { QuorumController, controllerPolicies, fileGrpcQuorumIo, metadataStateMachine } from '../../src/internal.js';
import { waitFor } from '../raft/grpc-helpers.js';

describe('a sole voter', () => {
  it('leads at once, long before its election timeout (10 ticks of 1 s here)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tributary-sole-voter-'));
    const server = new grpc.Server();
    const startedMs = Date.now();
    const logger = pino({ level: 'silent' });
    // Never dialled: a sole voter sends to nobody.
    const voters = new Map([[1, '127.0.0.1:1']]);
    const controller = await QuorumController.start({
      nodeId: 1, clusterId: 'sole-voter-test', logger, nowMs: Date.now,
      voters, machine: metadataStateMachine('sole-voter-test'), policies: controllerPolicies(),
      io: fileGrpcQuorumIo({ nodeId: 1, clusterId: 'sole-voter-test', voters, dataDir: root, fsync: false, server, logger }),
      config: { tickMs: 1000, electionTicks: 10, heartbeatTicks: 1 },
    });
    try {
      // Waiting out the election timeout would take 10..20 s; the deadline leaves a loaded machine 5 s.
      await waitFor(() => controller.isActive(), 'the sole voter to lead', 5000);
      expect(Date.now() - startedMs).toBeLessThan(5000);
      expect(controller.status()).toMatchObject({ leaderId: 1, term: 1, active: true });
    } finally {
      await controller.close();
      server.forceShutdown();
      await rm(root, { recursive: true, force: true });
    }
  });
});
