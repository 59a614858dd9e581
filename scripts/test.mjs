#!/usr/bin/env node
// `npm test`: install + build if needed, run every vitest suite, and end with the plain line
// `N passed, N failed`. Extra arguments go to vitest (e.g. `npm test -- packages/storage`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureReady, ROOT } from './ensure.mjs';

ensureReady();
const outDir = join(ROOT, '.test-results');
mkdirSync(outDir, { recursive: true });
const jsonFile = join(outDir, 'vitest.json');
rmSync(jsonFile, { force: true });
const result = spawnSync(process.execPath, [
  join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run',
  '--config', join(ROOT, 'scripts/vitest.config.mjs'),
  '--reporter=default', '--reporter=json', `--outputFile.json=${jsonFile}`,
  ...process.argv.slice(2),
], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, TRIBUTARY_LOG_LEVEL: process.env.TRIBUTARY_LOG_LEVEL ?? 'silent' } });

let passed = 0, failed = 0;
try {
  const report = JSON.parse(readFileSync(jsonFile, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
  if (!report.success && failed === 0) failed = 1; // a suite failed to load
} catch {
  failed = Math.max(failed, 1);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(result.status === 0 && failed === 0 ? 0 : 1);
