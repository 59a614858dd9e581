// The txn workload's short chaos smoke, part of `npm test` (issue 12): a real 3-node cluster
// (separate processes) and 3 consume-transform-produce member processes copying an input topic to an
// output topic in transactions, under seed 3's faults: a node killed, a node the workload depends on
// (a transaction or group coordinator, or an output leader) killed for 3 s, then a member paused for 6.7 s — past its 6 s session, so it wakes as a zombie whose
// partitions moved (the targets are found at run time; the families and times are the seed's). Then
// heal, drain and check the whole history: every input exactly once in the committed
// output, no aborted read, no partial transaction, no lost commit, offsets committed with outputs.
// Longer runs: `npm run chaos -- --workload txn --time 600 --nemesis kill,pause,partition,kill-all`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChaos, DEFAULT_CHAOS_OPTIONS } from '@tributary/testing';

process.env.GRPC_VERBOSITY ??= 'NONE';
const outDir = mkdtempSync(join(tmpdir(), 'trib-txn-smoke-'));
let keep = false;

afterAll(() => {
  if (!keep) rmSync(outDir, { recursive: true, force: true });
});

describe('txn chaos smoke (combined3)', () => {
  it('kills of a node and a coordinator, a zombie member: every input exactly once, no aborted or partial transaction visible', async () => {
    const result = await runChaos({
      ...DEFAULT_CHAOS_OPTIONS, outDir, topology: 'combined3', timeS: 20, seed: 3, nemesis: ['kill', 'pause'], workloads: ['txn'],
    });
    keep = !result.check.valid; // leave the run directory (report, logs) behind when it fails
    console.log(result.summary);
    const txn = result.check.counts.txn;
    expect(result.check.violations.slice(0, 10), result.summary).toEqual([]);
    expect(txn.committed, result.summary).toBeGreaterThan(20);
    expect(txn.abortedDeliberate, result.summary).toBeGreaterThan(0);
    expect(txn.outputsCommitted, result.summary).toBe(txn.inputs);
  }, 150_000);
});
