// The replication simulation sweep: ≥ 1,000 seeds on every `npm test`. A failure prints its seed and
// the command that replays it with a trace:
//   SIM_SEED=<seed> npx vitest run --config scripts/vitest.config.mjs packages/broker/test/replication/sim
// SIM_SEEDS=<n> runs more seeds (SIM_FIRST_SEED=<k> moves the window).
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIM_OPTIONS, runReplicationSim, type SimResult } from './replication-sim.js';

const replaySeed = process.env['SIM_SEED'];
const seedCount = Number(process.env['SIM_SEEDS'] ?? 1000);
const firstSeed = Number(process.env['SIM_FIRST_SEED'] ?? 1);

function report(result: SimResult): string {
  return `seed ${result.seed}: ${result.violation}\nreplay: SIM_SEED=${result.seed} npx vitest run --config scripts/vitest.config.mjs packages/broker/test/replication/sim`;
}

describe('replication simulation', () => {
  if (replaySeed !== undefined) {
    it(`replays seed ${replaySeed}`, () => {
      const result = runReplicationSim({ ...DEFAULT_SIM_OPTIONS, seed: Number(replaySeed), trace: true });
      console.log(result.trace.join('\n'));
      expect(result.violation, report(result)).toBeUndefined();
    });
    return;
  }

  it(`keeps every acks=all record, one leader per epoch, monotonic HW, no divergence below the HW (${seedCount} seeds)`, () => {
    const started = performance.now();
    let acked = 0;
    let leaderChanges = 0;
    let uncleanRestarts = 0;
    let isrChanges = 0;
    let recoveries = 0;
    let lostWithEveryCopy = 0;
    for (let seed = firstSeed; seed < firstSeed + seedCount; seed++) {
      const result = runReplicationSim({ ...DEFAULT_SIM_OPTIONS, seed });
      if (result.violation !== undefined) expect.fail(report(result));
      acked += result.acked;
      leaderChanges += result.leaderChanges;
      uncleanRestarts += result.uncleanRestarts;
      isrChanges += result.isrChanges;
      recoveries += result.recoveries;
      lostWithEveryCopy += result.lostWithEveryCopy;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`replication sim: ${seedCount} seeds in ${seconds.toFixed(1)} s (${Math.round(seedCount / seconds)} seeds/s); ${acked} acks, ${leaderChanges} leader changes, ${isrChanges} ISR changes, ${uncleanRestarts} unclean restarts, ${recoveries} recovery elections, ${lostWithEveryCopy} acked records lost with every copy (crashes of every holder)`);
    // The sweep must exercise the faults it claims to.
    expect(acked).toBeGreaterThan(seedCount * 10);
    expect(leaderChanges).toBeGreaterThan(seedCount);
    expect(isrChanges).toBeGreaterThan(seedCount);
    expect(uncleanRestarts).toBeGreaterThan(seedCount / 2);
    expect(recoveries).toBeGreaterThan(0);
  }, Math.max(30_000, seedCount * 25));

  it('finds acknowledged-record loss when an uncleanly restarted last ISR member may lead again (KIP-966)', () => {
    let found: SimResult | undefined;
    for (let seed = 1; seed <= 3000 && found === undefined; seed++) {
      const result = runReplicationSim({ ...DEFAULT_SIM_OPTIONS, seed, protectUncleanRestart: false });
      if (result.violation !== undefined) found = result;
    }
    expect(found?.violation).toMatch(/acknowledged/);
  });
});
