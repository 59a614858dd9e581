import { describe, expect, it } from 'vitest';
import { runControllerSim } from './controller-sim.js';

const SEEDS = Number(process.env.CONTROLLER_SIM_SEEDS ?? 500);
const FIRST_SEED = Number(process.env.CONTROLLER_SIM_FIRST_SEED ?? 1);
const STEPS = Number(process.env.CONTROLLER_SIM_STEPS ?? 120);

describe('controller simulation', () => {
  it(`keeps every invariant over ${SEEDS} seeds x ${STEPS} steps`, () => {
    const totals = { leaderChanges: 0, uncleanElections: 0, offlineObserved: 0, casRejections: 0, isrChanges: 0, fences: 0, restarts: 0, recoveries: 0 };
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const s = runControllerSim({ seed, steps: STEPS });
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += s[k];
    }
    // The sweep must actually exercise the interesting paths, or it proves nothing.
    expect(totals.leaderChanges).toBeGreaterThan(SEEDS);
    expect(totals.uncleanElections).toBeGreaterThan(0);
    expect(totals.offlineObserved).toBeGreaterThan(0);
    expect(totals.casRejections).toBeGreaterThan(0);
    expect(totals.isrChanges).toBeGreaterThan(0);
    expect(totals.fences).toBeGreaterThan(0);
    expect(totals.recoveries).toBeGreaterThan(0);
    console.log(`controller sim: ${SEEDS} seeds x ${STEPS} steps`, totals);
  }, 120_000);
});
