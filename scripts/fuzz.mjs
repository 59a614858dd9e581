#!/usr/bin/env node
// `npm run fuzz -- [--runs N] [--seed S] [--path P] [--rpcs Broker.Produce,Admin.*] [--generators typed,batch-count,...]
//   [--requests-per-run K] [--oracle-every R] [--no-shrink] [--impersonate] [--jobs J] [--list]`
// Fuzzes every RPC of an in-process 3-node cluster (packages/testing/src/fuzz) and prints the seed first,
// each finding with its shrunk requests and replay command, and the figures at the end. Exits 0 when
// nothing was found, 1 on findings, 2 on bad arguments. With --jobs J the runs are split over J worker
// processes, each with its own cluster and seed (worker j: S + j * JOB_SEED_STRIDE), and their reports
// are summed; every line a worker prints carries its `[job j]` prefix and its own replay command.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from './ensure.mjs';

function usage(message) {
  if (message) console.error(`fuzz: ${message}`);
  console.error(`usage: npm run fuzz -- [--runs N] [--seed S] [--path P] [--rpcs LIST] [--generators LIST]
                     [--requests-per-run K] [--oracle-every R] [--no-shrink] [--impersonate] [--jobs J] [--list]
  --runs N             property runs (default 1000); each sends 1..K requests concurrently
  --seed S             first fast-check seed (default: random, printed); chunk i uses S + i
  --path P             replay one counterexample (with the --seed of its chunk, as a finding prints it)
  --rpcs LIST          Service.Method or Service.* names, comma-separated (default: every RPC; --list shows them)
  --generators LIST    request generators, comma-separated (default: all; --list shows them)
  --requests-per-run K most requests in one run (default 6)
  --oracle-every R     full oracle check every R runs (default 50); a cheap serving check runs after every run
  --no-shrink          report a failing run as it is
  --impersonate        let peer-identity fields name real members (shows only that authentication is missing)
  --jobs J             split the runs over J worker processes, each with its own cluster (default 1, at most ${JOBS_MAX})`);
  process.exit(2);
}

/** Worker j fuzzes with seed S + j * JOB_SEED_STRIDE: its chunk seeds (S + j * stride + i) never meet another's. */
const JOB_SEED_STRIDE = 1_000_003;
const JOBS_MAX = 16;

function integer(name, value, min) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      runs: { type: 'string' }, seed: { type: 'string' }, path: { type: 'string' }, rpcs: { type: 'string' }, generators: { type: 'string' },
      'requests-per-run': { type: 'string' }, 'oracle-every': { type: 'string' },
      'no-shrink': { type: 'boolean', default: false }, trace: { type: 'boolean', default: false }, impersonate: { type: 'boolean', default: false }, list: { type: 'boolean', default: false },
      jobs: { type: 'string' }, 'report-file': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  usage(err.message);
}
if (args.help) usage();
// Workers of --jobs skip it: their parent built once (J concurrent tsc -b runs would race on dist/).
if (process.env.TRIBUTARY_FUZZ_WORKER !== '1') ensureReady();
process.env.GRPC_VERBOSITY ??= 'NONE';
const fuzz = await import(pathToFileURL(join(ROOT, 'packages/testing/dist/internal.js')).href);
if (args.list) {
  console.log(`RPCs:\n  ${fuzz.loadRpcCatalog().map((r) => `${r.name} (${r.kind})`).join('\n  ')}`);
  console.log(`generators:\n  ${fuzz.GENERATOR_NAMES.map((g) => `${g}`).join('\n  ')}`);
  process.exit(0);
}
const runs = integer('runs', args.runs ?? '1000', 1);
const seed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : integer('seed', args.seed, 0);
let generators = args.generators === undefined ? [...fuzz.GENERATOR_NAMES] : args.generators.split(',').filter(Boolean);
for (const g of generators) if (!fuzz.GENERATOR_NAMES.includes(g)) usage(`unknown generator ${g} (--list shows them)`);
const rpcs = args.rpcs === undefined ? undefined : args.rpcs.split(',').filter(Boolean);

const jobs = args.jobs === undefined ? 1 : integer('jobs', args.jobs, 1);
if (jobs > JOBS_MAX) usage(`--jobs must be at most ${JOBS_MAX}, got ${jobs}`);
if (jobs > 1) {
  if (args.path !== undefined) usage('--path replays one counterexample: use it without --jobs');
  process.exit(await runJobs(jobs));
}

console.log(`fuzz: seed ${seed} (replay: npm run fuzz -- --seed ${seed} --runs ${runs}${args.rpcs ? ` --rpcs ${args.rpcs}` : ''}${args.generators ? ` --generators ${generators.join(',')}` : ''})`);
let report;
try {
  report = await fuzz.runRpcFuzz({
    runs, seed, rpcs, generators,
    ...(args.path === undefined ? {} : { path: args.path }),
    ...(args['requests-per-run'] === undefined ? {} : { requestsPerRunMax: integer('requests-per-run', args['requests-per-run'], 1) }),
    ...(args['oracle-every'] === undefined ? {} : { oracleEveryRuns: integer('oracle-every', args['oracle-every'], 1) }),
    shrink: !args['no-shrink'], impersonate: args.impersonate, trace: args.trace,
    print: (line) => console.log(line),
  });
} catch (err) {
  if (err instanceof RangeError) usage(err.message);
  throw err;
}
if (args['report-file'] !== undefined) writeFileSync(args['report-file'], JSON.stringify(report));
console.log(fuzz.formatFuzzReport(report));
process.exit(report.findings.length === 0 ? 0 : 1);

/** Runs `jobs` workers of this script over shares of the runs, prints their summed report; the exit code. */
async function runJobs(jobs) {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-fuzz-'));
  const passOn = process.argv.slice(2).filter((a, i, all) => !['--jobs', '--runs', '--seed'].includes(a) && !['--jobs', '--runs', '--seed'].includes(all[i - 1]) && !a.startsWith('--jobs=') && !a.startsWith('--runs=') && !a.startsWith('--seed='));
  console.log(`fuzz: ${runs} runs over ${jobs} jobs, seed ${seed} (worker j uses ${seed} + j * ${JOB_SEED_STRIDE}; each prints its own replay command)`);
  const exits = await Promise.all(Array.from({ length: jobs }, (_, j) => new Promise((resolve) => {
    const share = Math.floor(runs / jobs) + (j < runs % jobs ? 1 : 0);
    const child = spawn(process.execPath, [
      process.argv[1], ...passOn, '--runs', String(share), '--seed', String(seed + j * JOB_SEED_STRIDE), '--report-file', join(dir, `job-${j}.json`),
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRIBUTARY_FUZZ_WORKER: '1' } });
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream.on('data', (chunk) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop();
        for (const line of lines) console.log(`[job ${j}] ${line}`);
      });
      stream.on('end', () => { if (pending !== '') console.log(`[job ${j}] ${pending}`); });
    }
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  })));
  const reports = [];
  for (let j = 0; j < jobs; j++) {
    try {
      reports.push(JSON.parse(readFileSync(join(dir, `job-${j}.json`), 'utf8')));
    } catch {
      console.log(`fuzz: job ${j} left no report (exit ${exits[j]}): counted as a crash`);
      reports.push({ ...emptyReport(), crashes: 1 });
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const merged = mergeReports(seed, reports);
  console.log(`--- all ${jobs} jobs ---`);
  console.log(fuzz.formatFuzzReport(merged));
  return merged.findings.length === 0 && merged.crashes === 0 && exits.every((c) => c === 0) ? 0 : 1;
}

function emptyReport() {
  return {
    seed, runs: 0, requests: {}, statuses: {}, errorCodes: {}, warnings: {}, deserializerInternal: {}, findings: [],
    crashes: 0, handlerErrors: 0, lostAcknowledged: 0, offlinePartitions: 0, acknowledged: 0, oracleChecks: 0, clusterStarts: 0, wallMs: 0,
  };
}

/** Sums counts and count maps; the wall time is the longest worker's (they ran side by side). */
function mergeReports(firstSeed, reports) {
  const merged = emptyReport();
  merged.seed = firstSeed;
  for (const r of reports) {
    for (const key of ['runs', 'crashes', 'handlerErrors', 'lostAcknowledged', 'offlinePartitions', 'acknowledged', 'oracleChecks', 'clusterStarts']) merged[key] += r[key];
    for (const key of ['requests', 'statuses', 'errorCodes', 'warnings', 'deserializerInternal']) {
      for (const [k, v] of Object.entries(r[key])) merged[key][k] = (merged[key][k] ?? 0) + v;
    }
    merged.findings.push(...r.findings);
    merged.wallMs = Math.max(merged.wallMs, r.wallMs);
  }
  return merged;
}
