#!/usr/bin/env node
// `npm start`: install and build what is missing, then run a local broker with its data in ./data.
// Ctrl-C stops it cleanly. Options: --port P (default 9092), --http-port P (default 9644), --data DIR.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureReady, ROOT } from './ensure.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9092' },
    'http-port': { type: 'string', default: '9644' },
    data: { type: 'string', default: join(ROOT, 'data') },
  },
});

ensureReady();
const dataDir = resolve(values.data, 'node-1');
mkdirSync(dataDir, { recursive: true });
const listen = `127.0.0.1:${values.port}`;
const http = `127.0.0.1:${values['http-port']}`;
const cli = join(ROOT, 'packages/cli/bin/tributary.js');

const child = spawn(process.execPath, [cli, 'server', '--node-id', '1', '--listen', listen, '--data-dir', dataDir, '--http', http], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, TRIBUTARY_LOG_LEVEL: process.env.TRIBUTARY_LOG_LEVEL ?? 'info' },
});

console.log(`
Tributary: one local broker, node 1
  gRPC      ${listen}
  HTTP      http://${http}/metrics  /healthz  /readyz
  data      ${dataDir}

Try it (in another terminal, from this directory):
  npx tributary topic create demo -p 3
  seq 1 10000 | npx tributary produce demo
  npx tributary consume demo -o start -n 10000 --exit-at-end
  npx tributary topic describe demo
  npx tributary perf produce demo --num-records 100000 --record-size 1024

Ctrl-C stops the broker.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    child.kill('SIGTERM');
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
