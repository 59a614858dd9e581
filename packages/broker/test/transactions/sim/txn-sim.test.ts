// The transaction simulation sweep: ≥ 1,000 seeds on every `npm test` (see txn-sim.ts for what each
// seed does and checks). A failure prints its seed and the command that replays it with a trace:
//   npm run sim:txn -- --seed <seed> --trace
// TXN_SIM_SEEDS=<n> runs more seeds (TXN_SIM_FIRST_SEED=<k> moves the window); TXN_SIM_SEED=<s> replays one.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TXN_SIM_OPTIONS, runTxnSim, type TxnSimResult } from './txn-sim.js';

const replaySeed = process.env['TXN_SIM_SEED'];
const seedCount = Number(process.env['TXN_SIM_SEEDS'] ?? 1000);
const firstSeed = Number(process.env['TXN_SIM_FIRST_SEED'] ?? 1);
const steps = Number(process.env['TXN_SIM_STEPS'] ?? DEFAULT_TXN_SIM_OPTIONS.steps);

function report(result: TxnSimResult): string {
  return `seed ${result.seed}: ${result.violation}\nreplay: npm run sim:txn -- --seed ${result.seed} --trace`;
}

describe('transaction simulation', () => {
  if (replaySeed !== undefined) {
    it(`replays seed ${replaySeed}`, () => {
      const result = runTxnSim({ ...DEFAULT_TXN_SIM_OPTIONS, steps, seed: Number(replaySeed), trace: process.env['TXN_SIM_TRACE'] === '1' });
      if (result.trace.length > 0) console.log(result.trace.join('\n'));
      const { trace: _trace, ...figures } = result;
      console.log(JSON.stringify(figures));
      expect(result.violation, report(result)).toBeUndefined();
    });
    return;
  }

  it(`atomic outcomes, committed transactions kept, zombies fenced, legal durable states (${seedCount} seeds)`, () => {
    const started = performance.now();
    const total = { committed: 0, aborted: 0, coordinatorFailovers: 0, leaderFailovers: 0, zombieAppendsRefused: 0, unverifiedRefused: 0, epochExhaustions: 0, timeouts: 0 };
    const failures: string[] = [];
    for (let seed = firstSeed; seed < firstSeed + seedCount; seed++) {
      const result = runTxnSim({ ...DEFAULT_TXN_SIM_OPTIONS, steps, seed });
      if (result.violation !== undefined) failures.push(report(result));
      for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += result[key];
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`txn sim: ${seedCount} seeds in ${seconds.toFixed(1)} s, ${failures.length} failed: ${JSON.stringify(total)}`);
    expect(failures.slice(0, 5).join('\n')).toBe('');
    // The sweep must exercise what it claims to check.
    expect(total.committed).toBeGreaterThan(seedCount);
    expect(total.aborted).toBeGreaterThan(0);
    expect(total.coordinatorFailovers).toBeGreaterThan(seedCount);
    expect(total.leaderFailovers).toBeGreaterThan(seedCount);
    expect(total.zombieAppendsRefused).toBeGreaterThan(0);
    expect(total.unverifiedRefused).toBeGreaterThan(0);
    expect(total.epochExhaustions).toBeGreaterThan(0);
    expect(total.timeouts).toBeGreaterThan(0);
  });
});
