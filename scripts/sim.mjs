#!/usr/bin/env node
// `npm run sim -- --seeds N [--from S] [--seed S] [--steps K] [--trace] [--reported-loss] [--loose-flow] [--hostile] [--fail-fast]`
// Runs the deterministic nraft simulator (packages/nraft/test/sim) over a range of seeds and prints
// progress, seeds/sec, total time and every failing seed with its one-line replay command.
// The simulator is compiled on the fly with its own tsconfig (a second or two, incremental), so this
// needs nothing beyond an `npm install`.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIM_DIR = join(ROOT, 'packages/nraft/test/sim');
const DEFAULT_STEPS = 300;
const PROGRESS_INTERVAL_MS = 2_000;
const FAILURES_SHOWN_MAX = 20;

function usage(message) {
  if (message) console.error(`sim: ${message}`);
  console.error('usage: npm run sim -- [--seeds N] [--from S] [--seed S] [--steps K] [--trace] [--reported-loss] [--loose-flow] [--hostile] [--fail-fast]');
  console.error('  --seeds N    how many seeds to run (default 1000)');
  console.error('  --from S     first seed of the range (default 1)');
  console.error('  --seed S     run exactly this one seed (replay)');
  console.error(`  --steps K    ticks of faults before the final heal (default ${DEFAULT_STEPS})`);
  console.error('  --trace      print every event of the run (use with --seed)');
  console.error('  --reported-loss  lost appends are reported to raft (reportUnreachable); default: silent, raft recovers alone');
  console.error('  --loose-flow     in-flight window always 256 (default: drawn from 1, 4 and 256 appends per follower)');
  console.error('  --driver-fault F  break the driver on purpose (forget-vote | send-before-persist), to see it caught');
  console.error('  --hostile    inject hostile peer messages (non-member with high terms, garbage indexes, commit past the log end)');
  console.error('  --fail-fast  stop at the first failing seed');
  process.exit(2);
}

function positiveInt(name, value, min) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      seeds: { type: 'string' },
      from: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      trace: { type: 'boolean', default: false },
      'reported-loss': { type: 'boolean', default: false },
      'loose-flow': { type: 'boolean', default: false },
      'driver-fault': { type: 'string' },
      'fail-fast': { type: 'boolean', default: false },
      hostile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  usage(err.message);
}
if (args.help) usage();
if (args.seed !== undefined && (args.seeds !== undefined || args.from !== undefined)) usage('--seed replays one seed; do not combine it with --seeds/--from');
const from = args.seed !== undefined ? positiveInt('seed', args.seed, 0) : positiveInt('from', args.from ?? '1', 0);
const count = args.seed !== undefined ? 1 : positiveInt('seeds', args.seeds ?? '1000', 1);
const chaosTicks = positiveInt('steps', args.steps ?? String(DEFAULT_STEPS), 1);
const DRIVER_FAULTS = ['forget-vote', 'send-before-persist'];
if (args['driver-fault'] !== undefined && !DRIVER_FAULTS.includes(args['driver-fault'])) usage(`--driver-fault must be one of ${DRIVER_FAULTS.join(', ')}`);

execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(SIM_DIR, 'tsconfig.json')], {
  cwd: ROOT,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const { runSimulation, SimulationFailure, replayCommand } = await import(pathToFileURL(join(SIM_DIR, 'dist/test/sim/simulator.js')).href);

const trace = args.trace ? (line) => console.log(line) : undefined;
const failures = [];
const startedMs = performance.now();
let lastProgressMs = startedMs;
let events = 0;
let done = 0;
console.error(`sim: seeds ${from}..${from + count - 1}, ${chaosTicks} ticks of faults each`);
for (let seed = from; seed < from + count; seed++) {
  try {
    const result = runSimulation({ seed, chaosTicks, trace, silentLoss: !args['reported-loss'], tightFlowControl: !args['loose-flow'], driverFault: args['driver-fault'], hostilePeers: args.hostile });
    events += result.events;
    if (count === 1) console.error(`sim: seed ${seed} ok: ${JSON.stringify(result)}`);
  } catch (err) {
    if (!(err instanceof SimulationFailure)) throw err;
    failures.push(err);
    console.error(`\nFAIL ${err.message}`);
    if (args['fail-fast']) break;
  }
  done++;
  const nowMs = performance.now();
  if (nowMs - lastProgressMs >= PROGRESS_INTERVAL_MS) {
    lastProgressMs = nowMs;
    const rate = done / ((nowMs - startedMs) / 1000);
    console.error(`sim: ${done}/${count} seeds, ${failures.length} failed, ${rate.toFixed(0)} seeds/s`);
  }
}
const totalS = (performance.now() - startedMs) / 1000;
console.log(`sim: ${done} seeds in ${totalS.toFixed(1)}s (${(done / totalS).toFixed(1)} seeds/s, ${events} events), ${failures.length} failed`);
if (failures.length > 0) {
  console.log(`failing seeds: ${failures.slice(0, FAILURES_SHOWN_MAX).map((f) => f.seed).join(' ')}${failures.length > FAILURES_SHOWN_MAX ? ' ...' : ''}`);
  console.log(`replay: ${replayCommand(failures[0].options)}`);
  process.exit(1);
}
