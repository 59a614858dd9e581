#!/usr/bin/env node
// `npm run chaos -- --time 120 --seed N --nemesis kill,pause,partition,... [--topology single|combined3|split3+3]
//   [--workload queue,admin,groups,txn] [--schedule random|single] [--partitions P] [--rate R] [--out DIR]`
// Builds if needed, runs one chaos run (packages/testing/src/chaos/runner.ts) on real node processes,
// prints the summary and writes .chaos/<timestamp>-<seed>/ (history.jsonl, results.json, report.html,
// logs/). Exits 0 when the checker found no violation, 1 when it did, 2 on bad arguments.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureReady, ROOT } from './ensure.mjs';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(`usage: npm run chaos -- [--time S] [--seed N] [--nemesis kill,pause,partition,slow,lossy,rolling-restart,kill-all,disk-full,power-loss|none]
                       [--topology single|combined3|split3+3] [--workload queue,admin,groups,txn] [--schedule random|single]
                       [--partitions P] [--rate SENDS_PER_S] [--recovery-bound-ms MS] [--network proxy|netns] [--out DIR]`);
  process.exit(0);
}
ensureReady();
process.env.TRIBUTARY_LOG_LEVEL ??= 'warn';
// grpc-js prints every failed (re)connect through the proxy while a node is down; the history has them.
process.env.GRPC_VERBOSITY ??= 'NONE';
const { parseChaosArgs, runChaos } = await import(pathToFileURL(join(ROOT, 'packages/testing/dist/index.js')).href);
let options;
try {
  options = parseChaosArgs(argv);
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
if (!argv.some((a) => a === '--out' || a.startsWith('--out='))) options = { ...options, outDir: join(ROOT, '.chaos') };
const result = await runChaos(options);
process.exit(result.check.valid ? 0 : 1);
