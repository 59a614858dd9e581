#!/usr/bin/env node
// `npm run sim:txn -- [--seeds N] [--from S] [--seed S [--trace]] [--steps K]`
// Runs the transaction simulator (packages/broker/test/transactions/sim: the real coordinator core
// against a model of partition leaders, with coordinator and leader failovers, zombies, timeouts and
// epoch exhaustion) over a range of seeds, through vitest (which compiles the TypeScript on the fly).
// A failing seed prints the command that replays it with a trace.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function usage(message) {
  if (message) console.error(`sim:txn: ${message}`);
  console.error('usage: npm run sim:txn -- [--seeds N] [--from S] [--seed S [--trace]] [--steps K]');
  console.error('  --seeds N   how many seeds to run (default 1000)');
  console.error('  --from S    first seed of the range (default 1)');
  console.error('  --seed S    run exactly this one seed (replay); --trace prints every event');
  console.error('  --steps K   steps of faults and client operations per seed before the heal (default 400)');
  process.exit(2);
}

function positiveInt(name, value, min) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return String(n);
}

let args;
try {
  args = parseArgs({
    options: {
      seeds: { type: 'string' }, from: { type: 'string' }, seed: { type: 'string' }, steps: { type: 'string' },
      trace: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  usage(err.message);
}
if (args.help) usage();
if (args.seed !== undefined && (args.seeds !== undefined || args.from !== undefined)) usage('--seed replays one seed; do not combine it with --seeds/--from');
if (args.trace && args.seed === undefined) usage('--trace needs --seed');

const env = { ...process.env };
if (args.seed !== undefined) env.TXN_SIM_SEED = positiveInt('seed', args.seed, 0);
if (args.seeds !== undefined) env.TXN_SIM_SEEDS = positiveInt('seeds', args.seeds, 1);
if (args.from !== undefined) env.TXN_SIM_FIRST_SEED = positiveInt('from', args.from, 0);
if (args.steps !== undefined) env.TXN_SIM_STEPS = positiveInt('steps', args.steps, 1);
if (args.trace) env.TXN_SIM_TRACE = '1';
const result = spawnSync(process.execPath, [
  join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', join(ROOT, 'scripts/vitest.config.mjs'),
  '--testTimeout', '0', 'packages/broker/test/transactions/sim/',
], { cwd: ROOT, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
