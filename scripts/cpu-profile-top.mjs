#!/usr/bin/env node
// `node scripts/cpu-profile-top.mjs FILE.cpuprofile [--top N]`: where a `node --cpu-prof` profile spent
// its time — self time per function (and per category: our packages, node_modules by package, node
// internals, GC, idle), as shares of the sampled time. Used to show what bounds `npm run bench:cluster`.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length !== 1) {
  console.error('usage: node scripts/cpu-profile-top.mjs FILE.cpuprofile [--top N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const category = (url, name) => {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'gc';
  if (name === '(program)') return 'program (native, unattributed)';
  if (url === '') return 'native / builtins';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `dep ${pkg[1]}`;
  const ours = /packages\/([^/]+)\//.exec(url);
  if (ours) return `@tributary/${ours[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  return 'other';
};
const fnTotals = new Map();
const catTotals = new Map();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  const { functionName, url, lineNumber } = n.callFrame;
  const name = functionName || '(anonymous)';
  const where = url === '' ? '' : `${url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  const key = `${name} ${where}`.trim();
  fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
  const cat = category(url, name);
  catTotals.set(cat, (catTotals.get(cat) ?? 0) + us);
}
const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
console.log(`${positionals[0]}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('by category:');
for (const [k, v] of [...catTotals].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(v)}  ${k}`);
console.log(`top ${values.top} functions by self time:`);
for (const [k, v] of [...fnTotals].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`  ${pct(v)}  ${k}`);
