#!/usr/bin/env node
// grpc-js on loopback, unary calls carrying `--size-kib` in one direction (up: client → server, as Produce;
// down: server → client, as Fetch), `--in-flight` at once: MB/s and CPU-seconds per MB of this process
// (client and server together), with HTTP/2's default 64 KiB window or with the window Tributary sets
// (packages/protocol/src/http2-window.ts). Run both back to back, several times: the machine is shared.
//
//   node bench/grpc-window.bench.mjs [--window both|default|tuned] [--dir up|down] [--size-kib 1024] [--in-flight 4] [--calls 300] [--rounds 3]
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES, flowControlChannelOptions, flowControlServer } from '../packages/protocol/dist/index.js';

const { values } = parseArgs({
  options: {
    window: { type: 'string', default: 'both' }, dir: { type: 'string', default: 'up' }, 'size-kib': { type: 'string', default: '1024' },
    'in-flight': { type: 'string', default: '4' }, calls: { type: 'string', default: '300' }, rounds: { type: 'string', default: '3' },
  },
});
const identity = (b) => b;
const method = (path) => ({ path, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity });
const service = { up: method('/bench.B/Up'), down: method('/bench.B/Down') };
const payload = Buffer.alloc(Number(values['size-kib']) * 1024, 1);
const small = Buffer.alloc(16, 2);

async function run(tuned) {
  const limits = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };
  const server = new grpc.Server(limits);
  if (tuned) flowControlServer(server);
  server.addService(service, { up: (_call, cb) => cb(null, small), down: (_call, cb) => cb(null, payload) });
  const port = await new Promise((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const Client = grpc.makeGenericClientConstructor(service, 'B');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { ...limits, ...(tuned ? flowControlChannelOptions() : {}) });
  const dir = values.dir;
  const call = () => new Promise((res, rej) => client[dir](dir === 'up' ? payload : small, (e, r) => (e ? rej(e) : res(r))));
  for (let i = 0; i < 10; i++) await call();
  const calls = Number(values.calls);
  let started = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: Number(values['in-flight']) }, async () => { while (started++ < calls) await call(); }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const mb = (calls * payload.length) / 1e6;
  console.log(`${(tuned ? `window ${DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES}` : 'window 65535').padEnd(15)} ${dir.padEnd(4)} ${(mb / seconds).toFixed(1).padStart(7)} MB/s  ${((cpu.user + cpu.system) / 1e6 / mb).toFixed(5)} CPU-s/MB`);
  client.close();
  server.forceShutdown();
}

for (let r = 0; r < Number(values.rounds); r++) {
  if (values.window !== 'tuned') await run(false);
  if (values.window !== 'default') await run(true);
}
