#!/usr/bin/env node
// `npm run fuzz -- [--runs N] [--seed S] [--path P] [--rpcs Broker.Produce,Admin.*] [--generators typed,batch-count,...]
//   [--requests-per-run K] [--oracle-every R] [--no-shrink] [--impersonate] [--list]`
// Fuzzes every RPC of an in-process 3-node cluster (packages/testing/src/fuzz) and prints the seed first,
// each finding with its shrunk requests and replay command, and the figures at the end. Exits 0 when
// nothing was found, 1 on findings, 2 on bad arguments.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from './ensure.mjs';

function usage(message) {
  if (message) console.error(`fuzz: ${message}`);
  console.error(`usage: npm run fuzz -- [--runs N] [--seed S] [--path P] [--rpcs LIST] [--generators LIST]
                     [--requests-per-run K] [--oracle-every R] [--no-shrink] [--impersonate] [--list]
  --runs N             property runs (default 1000); each sends 1..K requests concurrently
  --seed S             first fast-check seed (default: random, printed); chunk i uses S + i
  --path P             replay one counterexample (with the --seed of its chunk, as a finding prints it)
  --rpcs LIST          Service.Method or Service.* names, comma-separated (default: every RPC; --list shows them)
  --generators LIST    request generators, comma-separated (default: all; --list shows them)
  --requests-per-run K most requests in one run (default 6)
  --oracle-every R     full oracle check every R runs (default 50); a cheap serving check runs after every run
  --no-shrink          report a failing run as it is
  --impersonate        let peer-identity fields name real members (shows only that authentication is missing)`);
  process.exit(2);
}

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
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  usage(err.message);
}
if (args.help) usage();
ensureReady();
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
console.log(fuzz.formatFuzzReport(report));
process.exit(report.findings.length === 0 ? 0 : 1);
