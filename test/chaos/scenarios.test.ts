// Chaos scenarios on real node processes (issue 6). Each runs the same pipeline as `npm run chaos`
// and fails on any checker violation, printing the summary with the replay command.
//   single     — today's pipeline smoke (kill + pause on one node)
//   combined3  — needs the controller quorum (issue 4) and replication (issue 5); the netns case
//                needs root, iproute2 and iptables (skipped elsewhere: the proxy cases are portable)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChaos, netnsUnsupportedReason, DEFAULT_CHAOS_OPTIONS, type ChaosOptions } from '@tributary/testing';

process.env.GRPC_VERBOSITY ??= 'NONE';
const outDir = process.env.CHAOS_OUT ?? mkdtempSync(join(tmpdir(), 'trib-chaos-'));

async function expectClean(options: Partial<ChaosOptions>): Promise<void> {
  const result = await runChaos({ ...DEFAULT_CHAOS_OPTIONS, outDir, ...options });
  expect(result.check.violations.slice(0, 10), result.summary).toEqual([]);
  expect(result.check.counts.sendsOk, result.summary).toBeGreaterThan(0);
}

describe('chaos: single node', () => {
  it('kill and pause: nothing acknowledged is lost, duplicated or misplaced', () =>
    expectClean({ topology: 'single', timeS: 30, seed: 1, nemesis: ['kill', 'pause'] }));
});

describe('chaos: combined3 (3 nodes, RF 3, min ISR 2)', () => {
  for (const family of ['kill', 'pause', 'partition'] as const) {
    it(`single-fault scenario: steady → ${family} → heal → recover`, () =>
      expectClean({ topology: 'combined3', timeS: 45, seed: 11, nemesis: [family], schedule: 'single' }));
  }
  it('groups workload: members join, leave and crash through kills, pauses and partitions; committed offsets checked', () =>
    expectClean({ topology: 'combined3', timeS: 90, seed: 12, nemesis: ['kill', 'pause', 'partition'], workloads: ['queue', 'groups'] }));
  it.skipIf(netnsUnsupportedReason() !== undefined)('network namespaces + iptables: partitions and packet loss cut by the kernel', () =>
    expectClean({ topology: 'combined3', timeS: 60, seed: 5, nemesis: ['partition', 'lossy', 'kill'], workloads: ['queue', 'groups'], network: 'netns' }));
  it('seeded random mix of kill, pause, partition, slow, lossy', () =>
    expectClean({ topology: 'combined3', timeS: 120, seed: 7, nemesis: ['kill', 'pause', 'partition', 'slow', 'lossy'], workloads: ['queue', 'admin'] }));
});
