// Makes a fresh clone runnable: installs dependencies when missing or stale, then builds
// (proto generation + incremental `tsc -b`). Used by `npm start`, `npm test` and the other scripts.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}

function manifestHash() {
  const h = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json']) {
    if (existsSync(join(ROOT, f))) h.update(readFileSync(join(ROOT, f)));
  }
  return h.digest('hex');
}

export function ensureInstalled() {
  const stamp = join(ROOT, 'node_modules/.tributary-install');
  const want = manifestHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  console.error('tributary: installing dependencies (npm install)...');
  run(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(stamp, want);
}

export function ensureBuilt() {
  run(process.execPath, [join(ROOT, 'scripts/gen-proto.mjs')]);
  run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', join(ROOT, 'tsconfig.json')]);
}

export function ensureReady() {
  ensureInstalled();
  ensureBuilt();
}

if (process.argv[1] && statSync(process.argv[1]).isFile() && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureReady();
}
