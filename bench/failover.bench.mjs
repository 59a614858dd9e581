#!/usr/bin/env node
// `npm run bench:failover`: how long a SIGKILLed leader's partitions stay unwritable, in three parts.
// Three combined node processes on loopback (packages/testing startProcessCluster), one topic RF=3
// min.insync.replicas=2, a steady acks=all idempotent producer keeping --in-flight records outstanding
// on every partition, and a side client polling Metadata from every live node every --poll-ms. Then
// --kills times: SIGKILL the node leading the most partitions, measure, restart it, wait for a full ISR.
// Once at the end (unless --no-kill-all): SIGKILL every node, restart them all, measure.
//
// Per partition the killed node led (one sample each), from the poller's and the producer's clocks:
//   detection   kill → the first node (the active controller applies first) shows a new leader
//               (the broker's session expired, the controller fenced it and moved leadership in one batch)
//   election    → the new leader's own metadata shows it leading (the batch replicated and applied there)
//   client      → the producer's first acks=all success on that partition (error, metadata refresh, backoff)
//   total       kill → first success
// Each as p50 / p99 / max. Also: false fences (a live broker missing from the unfenced brokers while no
// node was down) and, after kill-all, per partition kill → first success and initTransactions time.
// Asserts nothing.
//
//   npm run bench:failover [-- --kills 10 --partitions 6 --in-flight 5 --poll-ms 10 --no-kill-all
//                             --set broker.session.timeout.ms=3000 --producer-property retry.backoff.ms=50]
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureReady } from '../scripts/ensure.mjs';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '6' },
    'in-flight': { type: 'string', default: '5' },
    'poll-ms': { type: 'string', default: '10' },
    'record-size': { type: 'string', default: '1024' },
    'no-kill-all': { type: 'boolean', default: false },
    /** Node config for every node, key=value (repeatable). */
    set: { type: 'string', multiple: true, default: [] },
    'producer-property': { type: 'string', short: 'X', multiple: true, default: [] },
    /** Keep the cluster's data dir and node logs here. */
    'data-dir': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});
if (!values['no-build']) ensureReady();

const grpc = await import('@grpc/grpc-js');
const { BrokerClient } = await import('@tributary/protocol');
const { Admin, Producer } = await import('@tributary/client');
const { startProcessCluster } = await import('@tributary/testing');

const kills = Number(values.kills);
const partitions = Number(values.partitions);
const inFlight = Number(values['in-flight']);
const pollMs = Number(values['poll-ms']);
const TOPIC = 'failover';
const keyValue = (s) => { const i = s.indexOf('='); if (i < 0) throw new Error(`expected key=value, got ${s}`); return [s.slice(0, i), s.slice(i + 1)]; };
const nodeConfigs = Object.fromEntries(values.set.map(keyValue));
const producerProps = Object.fromEntries(values['producer-property'].map(keyValue).map(([k, v]) => [k, /^\d+$/.test(v) ? Number(v) : v]));

const now = () => performance.timeOrigin + performance.now();
const pct = (xs, p) => { if (xs.length === 0) return NaN; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const fmt = (xs) => (xs.length === 0 ? 'n/a' : `p50 ${pct(xs, 50).toFixed(0)} ms  p99 ${pct(xs, 99).toFixed(0)} ms  max ${Math.max(...xs).toFixed(0)} ms  (n=${xs.length})`);

console.log(`failover bench: 3 combined nodes, ${partitions} partitions RF=3 min.insync.replicas=2, acks=all, ${inFlight} records in flight per partition, ${kills} leader kills${values['no-kill-all'] ? '' : ' + 1 kill-all'}`);
if (Object.keys(nodeConfigs).length > 0) console.log(`node configs: ${JSON.stringify(nodeConfigs)}`);
if (Object.keys(producerProps).length > 0) console.log(`producer: ${JSON.stringify(producerProps)}`);

const cluster = await startProcessCluster({ nodes: 3, configs: nodeConfigs, ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }) });
const ids = cluster.nodes.map((n) => n.nodeId);

// ---- the metadata poller: the latest view per node, and the first time each fact was seen ----
const channelOptions = { 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 100 };
const metaClients = new Map(ids.map((id) => [id, new BrokerClient(cluster.node(id).address, grpc.credentials.createInsecure(), channelOptions)]));
/** nodeId → { atMs, controllerId, unfenced: Set, leaders: Map<partition, {leader, epoch, isr}> } */
const views = new Map();
const listeners = new Set();
let polling = true;
function metadataOf(id) {
  return new Promise((resolve) => {
    metaClients.get(id).metadata({ topics: [TOPIC] }, { deadline: Date.now() + 500 }, (err, res) => resolve(err === null ? res : undefined));
  });
}
async function pollLoop(id) {
  while (polling) {
    const started = now();
    const res = cluster.node(id).state === 'running' ? await metadataOf(id) : undefined;
    if (res !== undefined) {
      const leaders = new Map();
      for (const p of res.topics.find((t) => t.name === TOPIC)?.partitions ?? []) leaders.set(p.partition, { leader: p.leaderId, epoch: p.leaderEpoch, isr: p.isr });
      const view = { atMs: now(), controllerId: res.controllerId, unfenced: new Set(res.brokers.map((b) => b.nodeId)), leaders };
      views.set(id, view);
      for (const l of listeners) l(id, view);
    } else {
      views.delete(id);
    }
    const rest = pollMs - (now() - started);
    if (rest > 0) await sleep(rest);
  }
}
const pollers = ids.map((id) => pollLoop(id));

// ---- the producer: `inFlight` records outstanding per partition, each success stamped ----
const admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers });
await admin.createTopics([{ topic: TOPIC, numPartitions: partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
await admin.close();
const producer = new Producer({
  'bootstrap.servers': cluster.bootstrapServers, acks: 'all', 'enable.idempotence': true, 'linger.ms': 0,
  'max.in.flight.requests.per.connection': 5, 'delivery.timeout.ms': 120_000, ...producerProps,
});
const value = Buffer.alloc(Number(values['record-size']), 'x');
/** partition → success times (ms), appended in order. */
const acks = new Map(Array.from({ length: partitions }, (_, p) => [p, []]));
let producing = true;
let sendErrors = 0;
async function produceLoop(partition) {
  while (producing) {
    try {
      await producer.send({ topic: TOPIC, partition, value });
      acks.get(partition).push(now());
    } catch (err) {
      sendErrors++;
      if (sendErrors <= 5) console.log(`send to partition ${partition} failed: ${err.code ?? ''} ${err.message}`);
      await sleep(50);
    }
  }
}
const producers = [];
for (let p = 0; p < partitions; p++) for (let i = 0; i < inFlight; i++) producers.push(produceLoop(p));

/** Resolves with the time `probe(view of node, nodeId)` first holds on any node in `nodeIds` (checked on every poll). */
function firstSeen(nodeIds, probe, timeoutMs) {
  return new Promise((resolve) => {
    const check = (id, view) => {
      if (!nodeIds.includes(id) || !probe(view, id)) return;
      listeners.delete(check); clearTimeout(timer); resolve(view.atMs);
    };
    const timer = setTimeout(() => { listeners.delete(check); resolve(undefined); }, timeoutMs);
    listeners.add(check);
  });
}
async function firstAckAfter(partition, afterMs, timeoutMs) {
  const deadline = now() + timeoutMs;
  for (;;) {
    const t = acks.get(partition).find((x) => x > afterMs);
    if (t !== undefined) return t;
    if (now() > deadline) return undefined;
    await sleep(2);
  }
}
async function waitHealthy(timeoutMs) {
  // every node's own view, so a lagging node's stale image is not taken for a fence later
  const healthy = (v) => v.unfenced.size === 3 && v.leaders.size === partitions && [...v.leaders.values()].every((l) => l.leader >= 0 && l.isr.length === 3);
  for (const id of ids) {
    const t = await firstSeen([id], healthy, timeoutMs);
    if (t === undefined) throw new Error(`node ${id} does not see a healthy cluster (3 unfenced brokers, full ISR) after ${timeoutMs} ms`);
  }
  // every node agrees and writes flow on every partition
  const since = now();
  for (let p = 0; p < partitions; p++) if (await firstAckAfter(p, since, timeoutMs) === undefined) throw new Error(`no write on partition ${p} after ${timeoutMs} ms`);
}

// False fences: while every node runs, a broker missing from a node's unfenced brokers (after it had been seen).
let allUp = false;
let falseFences = 0;
const seenFenced = new Set();
listeners.add((id, view) => {
  if (!allUp) { seenFenced.clear(); return; }
  for (const b of ids) {
    if (!view.unfenced.has(b) && !seenFenced.has(b)) { seenFenced.add(b); falseFences++; console.log(`FALSE FENCE? node ${id} sees broker ${b} fenced while every node runs`); }
  }
});

const samples = { detection: [], election: [], client: [], total: [] };
let controllerKills = 0;
try {
  await waitHealthy(30_000);
  for (let k = 0; k < kills; k++) {
    // the node leading the most partitions, by the newest view
    const view = [...views.values()].sort((a, b) => b.atMs - a.atMs)[0];
    const counts = new Map(ids.map((id) => [id, 0]));
    for (const l of view.leaders.values()) counts.set(l.leader, (counts.get(l.leader) ?? 0) + 1);
    const victim = ids.reduce((a, b) => (counts.get(b) > counts.get(a) ? b : a));
    const led = [...view.leaders].filter(([, l]) => l.leader === victim).map(([p, l]) => ({ p, epoch: l.epoch }));
    const wasController = view.controllerId === victim;
    if (wasController) controllerKills++;
    const survivors = ids.filter((id) => id !== victim);
    allUp = false;
    const killedMs = now();
    await cluster.node(victim).kill();
    // Acks that resolve before the process is gone were answered by the victim itself.
    const exitedMs = now();
    const perPartition = await Promise.all(led.map(async ({ p, epoch }) => {
      const moved = (v) => { const l = v.leaders.get(p); return l !== undefined && l.leader >= 0 && l.leader !== victim && l.epoch > epoch; };
      const [detected, elected, acked] = await Promise.all([
        firstSeen(survivors, moved, 60_000),
        firstSeen(survivors, (v, id) => moved(v) && v.leaders.get(p).leader === id, 60_000),
        firstAckAfter(p, exitedMs, 60_000),
      ]);
      return { p, detected, elected, acked };
    }));
    for (const { detected, elected, acked } of perPartition) {
      if (detected !== undefined) samples.detection.push(detected - killedMs);
      if (detected !== undefined && elected !== undefined) samples.election.push(Math.max(0, elected - detected));
      if (elected !== undefined && acked !== undefined) samples.client.push(Math.max(0, acked - elected));
      if (acked !== undefined) samples.total.push(acked - killedMs);
    }
    const worst = Math.max(...perPartition.map((x) => (x.acked ?? Infinity) - killedMs));
    console.log(`kill ${k + 1}/${kills}: node ${victim}${wasController ? ' (active controller)' : ''} led ${led.length} partitions; unwritable for ${perPartition.map((x) => (x.acked === undefined ? 'never' : (x.acked - killedMs).toFixed(0))).join(', ')} ms (detection ${perPartition.map((x) => (x.detected === undefined ? '?' : (x.detected - killedMs).toFixed(0))).join(', ')} ms)`);
    if (!Number.isFinite(worst)) console.log('  some partition never recovered within 60 s');
    await cluster.node(victim).start();
    await waitHealthy(60_000);
    allUp = true;
    await sleep(1000); // steady load with every node up (false-fence window)
  }

  const all = { detection: samples.detection, election: samples.election, client: samples.client, total: samples.total };
  console.log(`\n== leader kill (SIGKILL), ${kills} kills (${controllerKills} of the active controller), per partition the victim led`);
  for (const [name, xs] of Object.entries(all)) console.log(`${name.padEnd(10)} ${fmt(xs)}`);
  console.log(`false fences while every node ran: ${falseFences}; failed sends: ${sendErrors}`);

  if (!values['no-kill-all']) {
    allUp = false;
    console.log('\n== kill-all: SIGKILL every node, restart them all');
    const killedMs = now();
    await Promise.all(cluster.nodes.map((n) => n.kill()));
    const restarting = Promise.all(cluster.nodes.map((n) => n.start(60_000))).then(() => now() - killedMs);
    const txnInit = (async () => {
      await sleep(50);
      const txn = new Producer({ 'bootstrap.servers': cluster.bootstrapServers, 'transactional.id': 'failover-bench-txn', acks: 'all', ...producerProps });
      try {
        await txn.initTransactions();
        return now() - killedMs;
      } catch (err) {
        return `failed after ${(now() - killedMs).toFixed(0)} ms: ${err.code ?? ''} ${err.message}`;
      } finally {
        await txn.close().catch(() => undefined);
      }
    })();
    const firsts = await Promise.all(Array.from({ length: partitions }, (_, p) => firstAckAfter(p, killedMs, 120_000)));
    const readyMs = await restarting;
    const recovery = firsts.filter((t) => t !== undefined).map((t) => t - killedMs);
    console.log(`every process answering Metadata again ${readyMs.toFixed(0)} ms after the kill (restarted at once)`);
    console.log(`first acks=all write per partition after the kill: ${fmt(recovery)}${recovery.length < partitions ? `; ${partitions - recovery.length} never within 120 s` : ''}`);
    const t = await txnInit;
    console.log(`initTransactions (started 50 ms after the kill): ${typeof t === 'number' ? `${t.toFixed(0)} ms` : t}`);
  }
} finally {
  producing = false;
  polling = false;
  await Promise.race([Promise.allSettled(producers), sleep(5000)]);
  await producer.close().catch(() => undefined);
  await Promise.allSettled(pollers);
  for (const c of metaClients.values()) c.close();
  await cluster.stop();
}
