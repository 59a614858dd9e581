// The RPC fuzzer's short fixed-seed run (issue 10): every RPC of an in-process 3-node cluster gets
// random, well-typed-but-extreme and mutated requests (and Produce gets valid and mutated record
// batches) while a well-behaved idempotent acks=all producer writes in between. After every run each
// node must still serve; every ORACLE_EVERY_RUNS runs and at the end no oracle partition may be
// offline or unwritable and every acknowledged record must read back exactly once at its offset.
// No handler may throw (INTERNAL/UNKNOWN, UNKNOWN_SERVER_ERROR) and no node may log an error.
// Longer runs: `npm run fuzz -- --runs N --seed S` (scripts/fuzz.mjs).
import { describe, expect, it } from 'vitest';
import { GENERATOR_NAMES, formatFuzzReport, runRpcFuzz } from '@tributary/testing/internal';

const SEED = 20_251_010;
const RUNS = 150;
const ORACLE_EVERY_RUNS = 25;

describe('RPC fuzzer (fixed seed)', () => {
  it(`${RUNS} runs over every RPC: no crash, handler error, lost acknowledged record or offline partition`, async () => {
    const report = await runRpcFuzz({ runs: RUNS, seed: SEED, generators: [...GENERATOR_NAMES], oracleEveryRuns: ORACLE_EVERY_RUNS, shrink: false });
    const summary = formatFuzzReport(report);
    console.log(summary);
    expect(report.findings.map((f) => `${f.kind}: ${f.detail}\n  ${f.requests}\n  replay: ${f.replay}`)).toEqual([]);
    expect(report.runs).toBe(RUNS);
    // The run did reach the cluster: requests of every kind, and acknowledged records that were checked.
    expect(Object.keys(report.requests).length).toBeGreaterThanOrEqual(30);
    expect(report.acknowledged).toBeGreaterThan(0);
    expect(report.oracleChecks).toBeGreaterThanOrEqual(RUNS / ORACLE_EVERY_RUNS);
  }, 120_000);
});
