#!/usr/bin/env node
// `npm run bench:raft`: a 3-node nraft group in one process over loopback gRPC, each node on
// FileRaftStorage in a temp directory. Proposes N entries of ~100 bytes on the leader with a bounded
// number in flight and reports committed proposals/s and commit latency (propose -> committed and
// applied on the leader), with fsync on and off.
//
//   npm run bench:raft -- [--entries 20000] [--inflight 256] [--bytes 100] [--fsync on|off|both]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureReady } from './ensure.mjs';

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '20000' },
    inflight: { type: 'string', default: '256' },
    bytes: { type: 'string', default: '100' },
    fsync: { type: 'string', default: 'both' },
    warmup: { type: 'string', default: '1000' },
  },
});
const ENTRIES = Number(args.entries);
const INFLIGHT_MAX = Number(args.inflight);
const PAYLOAD_BYTES = Number(args.bytes);
const WARMUP = Number(args.warmup);
const MODES = args.fsync === 'both' ? [true, false] : [args.fsync === 'on'];
for (const [name, v] of Object.entries({ entries: ENTRIES, inflight: INFLIGHT_MAX, bytes: PAYLOAD_BYTES, warmup: WARMUP })) {
  if (!Number.isSafeInteger(v) || v < 0 || (name !== 'warmup' && v === 0)) throw new RangeError(`--${name} must be a positive integer`);
}

ensureReady();
const grpc = await import('@grpc/grpc-js');
const { ProposalDroppedError } = await import('@tributary/nraft');
const { FileRaftStorage } = await import('@tributary/nraft/adapters');
const { RaftDriver, GrpcRaftTransport, addRaftService } = await import('@tributary/controller');

const IDS = [1, 2, 3];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function bind(server) {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

async function startGroup(fsync) {
  const root = mkdtempSync(join(tmpdir(), 'tributary-bench-raft-'));
  const nodes = [];
  for (const id of IDS) {
    const storage = await FileRaftStorage.open({ dir: join(root, `node-${id}`), fsync, confState: { voters: IDS, learners: [] } });
    const transport = new GrpcRaftTransport({ nodeId: id, clusterId: 'bench' });
    const server = new grpc.Server();
    addRaftService(server, transport);
    const port = await bind(server);
    let applied = 0;
    const driver = await RaftDriver.start({
      nodeId: id, storage, transport, tickMs: 50,
      raft: { electionTicks: 20, heartbeatTicks: 2 },
      apply: (entries) => { applied += entries.length; },
    });
    nodes.push({ id, port, transport, server, driver, applied: () => applied });
  }
  const book = new Map(nodes.map((n) => [n.id, `127.0.0.1:${n.port}`]));
  for (const n of nodes) n.transport.setPeers(book);
  nodes[0].driver.campaign();
  return { root, nodes };
}

async function leaderOf(group) {
  for (let waited = 0; waited < 10_000; waited += 10) {
    const leader = group.nodes.find((n) => n.driver.isLeader());
    if (leader) return leader;
    await sleep(10);
  }
  throw new Error('no leader within 10 s');
}

async function proposeAll(group, count, latenciesMs) {
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  let issued = 0;
  let retries = 0;
  const worker = async () => {
    while (issued < count) {
      issued++;
      for (;;) {
        const leader = await leaderOf(group);
        const t0 = process.hrtime.bigint();
        try {
          await leader.driver.propose(payload);
          latenciesMs?.push(Number(process.hrtime.bigint() - t0) / 1e6);
          break;
        } catch (err) {
          if (!(err instanceof ProposalDroppedError) && !err?.retriable) throw err;
          retries++;
          await sleep(1);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(INFLIGHT_MAX, count) }, worker));
  return retries;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(fsync) {
  const group = await startGroup(fsync);
  try {
    await leaderOf(group);
    if (WARMUP > 0) await proposeAll(group, WARMUP);
    const latencies = [];
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const retries = await proposeAll(group, ENTRIES, latencies);
    const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    latencies.sort((a, b) => a - b);
    for (const n of group.nodes) {
      const st = n.driver.stats();
      console.error(`  node ${n.id}${n.driver.isLeader() ? ' (leader)' : ''}: ${st.readies} readies, ` +
        `${(st.entriesPersisted / Math.max(1, st.readies)).toFixed(1)} entries and ${(st.messagesSent / Math.max(1, st.readies)).toFixed(1)} messages per ready, ${(st.messagesReceived / Math.max(1, st.readies)).toFixed(1)} received per ready, ` +
        `persist ${(st.persistMs / Math.max(1, st.readies)).toFixed(2)} ms/ready`);
    }
    return {
      fsync: fsync ? 'on' : 'off',
      proposals: ENTRIES,
      inflight: INFLIGHT_MAX,
      payloadBytes: PAYLOAD_BYTES,
      proposalsPerSec: Math.round(ENTRIES / elapsedS),
      p50Ms: Number(percentile(latencies, 50).toFixed(2)),
      p99Ms: Number(percentile(latencies, 99).toFixed(2)),
      maxMs: Number(latencies[latencies.length - 1].toFixed(2)),
      retries,
      elapsedS: Number(elapsedS.toFixed(2)),
      // The whole 3-node group runs on one thread: CPU per proposal is the figure that does not depend
      // on what else the machine is doing.
      cpuUsPerProposal: Math.round((cpuS * 1e6) / ENTRIES),
    };
  } finally {
    for (const n of group.nodes) {
      await n.driver.close();
      n.server.forceShutdown();
    }
    rmSync(group.root, { recursive: true, force: true });
  }
}

const results = [];
for (const fsync of MODES) {
  const r = await run(fsync);
  results.push(r);
  console.error(`fsync ${r.fsync}: ${r.proposalsPerSec} committed proposals/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (${r.proposals} x ${r.payloadBytes} B, ${r.inflight} in flight)`);
}
console.table(results);
