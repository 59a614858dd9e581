// The chaos suite's short smoke, part of `npm test` (issue 6): a real 3-node cluster (separate
// processes, RF=3, min.insync.replicas=2, acks=all, idempotence on) under a seeded mix of kills, a
// pause and a partition, then heal, drain and check the whole history — the queue workload's
// records and the groups workload's consumer-group members (processes that join, leave, crash and
// commit; committed offsets checked by group-checker.ts). Longer runs: `npm run chaos`
// and `npx vitest run --config test/chaos/vitest.config.mjs`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChaos, DEFAULT_CHAOS_OPTIONS } from '@tributary/testing';

process.env.GRPC_VERBOSITY ??= 'NONE';
const outDir = mkdtempSync(join(tmpdir(), 'trib-chaos-smoke-'));
let keep = false;

afterAll(() => {
  if (!keep) rmSync(outDir, { recursive: true, force: true });
});

describe('chaos smoke (combined3)', () => {
  it('kill, pause and partition: nothing acknowledged is lost, duplicated or misplaced; group offsets never go back', async () => {
    const result = await runChaos({
      ...DEFAULT_CHAOS_OPTIONS, outDir, topology: 'combined3', timeS: 45, seed: 3,
      nemesis: ['kill', 'pause', 'partition'], workloads: ['queue', 'groups'],
    });
    keep = !result.check.valid; // leave the run directory (report, logs) behind when it fails
    console.log(result.summary);
    expect(result.check.violations.slice(0, 10), result.summary).toEqual([]);
    expect(result.check.counts.sendsOk, result.summary).toBeGreaterThan(100);
    expect(result.check.counts.groups.commitsOk, result.summary).toBeGreaterThan(0);
    expect(result.check.counts.groups.groupReads, result.summary).toBeGreaterThan(100);
  }, 180_000);
});
