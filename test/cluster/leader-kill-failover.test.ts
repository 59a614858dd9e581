// A killed leader's partitions take acks=all writes again without waiting for its session to time out.
// Three in-process combined nodes (RF=3, min.insync.replicas=2) with every failover default — but
// broker.session.timeout.ms raised to a minute, so the session timeout cannot be what moves
// leadership within the deadline: the active controller probes the silent broker's listener
// (broker.liveness.probe.after.ms), finds the connection refused and fences it at once; a controller
// that becomes active probes every broker at once (the killed node was the active controller).
// A kill here closes the node without a controlled shutdown: its listener is gone, as after SIGKILL.
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import { startCluster, type InProcessCluster } from '@tributary/testing';
import { waitFor } from './helpers.js';

const TOPIC = 'orders';
const PARTITIONS = 3;
/** Far beyond the deadline: only the listener probe can fence the killed broker in time. */
const SESSION_TIMEOUT_MS = 60_000;
/** Generous for a loaded machine; a session-timeout failover could not make it. */
const DEADLINE_MS = 30_000;
/** Every other failover setting at its default (the harness's FAST_CLUSTER_CONFIGS sets a fast heartbeat). */
const CONFIGS = { 'broker.session.timeout.ms': String(SESSION_TIMEOUT_MS), 'broker.heartbeat.interval.ms': '500', 'broker.liveness.probe.after.ms': '1000' };

let cluster: InProcessCluster | undefined;
let producer: Producer | undefined;
afterEach(async () => {
  await producer?.close({ timeoutMs: 5000 });
  producer = undefined;
  await cluster?.stop();
  cluster = undefined;
});

async function setup(): Promise<InProcessCluster> {
  const c = await startCluster({ nodes: 3, configs: CONFIGS, electionTimeoutMs: 1000 });
  cluster = c;
  const admin = new Admin({ 'bootstrap.servers': c.bootstrapServers });
  try {
    await admin.createTopics([{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
  } finally {
    await admin.close();
  }
  producer = new Producer({ 'bootstrap.servers': c.bootstrapServers, acks: 'all', 'linger.ms': 0, 'delivery.timeout.ms': DEADLINE_MS, 'request.timeout.ms': 5000 });
  for (let p = 0; p < PARTITIONS; p++) await producer.send({ topic: TOPIC, partition: p, value: `before-${p}` });
  for (let p = 0; p < PARTITIONS; p++) {
    await waitFor(`${TOPIC}-${p} with a full ISR`, () => (c.node(1).metadata.partition(TOPIC, p)?.isr.length === 3 ? true : undefined), DEADLINE_MS);
  }
  return c;
}

/** Kills the leader of a partition it leads (chosen by `pick`), then writes to that partition with acks=all. */
async function killLeaderAndWrite(c: InProcessCluster, pick: (controllerId: number, leaders: readonly number[]) => number): Promise<void> {
  const controllerId = c.activeController()!;
  const observer = [1, 2, 3].find((id) => id !== controllerId)!;
  const leaders = Array.from({ length: PARTITIONS }, (_, p) => c.node(observer).metadata.partition(TOPIC, p)!.leader);
  const victim = pick(controllerId, leaders);
  const partition = leaders.indexOf(victim);
  expect(partition).toBeGreaterThanOrEqual(0);
  const epochBefore = c.node(observer).metadata.partition(TOPIC, partition)!.leaderEpoch;

  await c.kill(victim);
  const written = await producer!.send({ topic: TOPIC, partition, value: 'after-kill' });
  expect(written.partition).toBe(partition);

  const survivor = [1, 2, 3].find((id) => id !== victim)!;
  const now = await waitFor(`${TOPIC}-${partition} led by a survivor`, () => {
    const p = c.node(survivor).metadata.partition(TOPIC, partition);
    return p !== undefined && p.leader >= 0 && p.leader !== victim ? p : undefined;
  }, DEADLINE_MS);
  expect(now.leaderEpoch).toBeGreaterThan(epochBefore);
  expect(now.isr).not.toContain(victim);
  expect(c.node(survivor).metadata.brokers().find((b) => b.nodeId === victim)?.fenced).toBe(true);
}

describe('failover of a killed leader (listener probe, defaults)', () => {
  it('a killed broker that is not the controller: its partition takes acks=all writes again before its session could expire', async () => {
    const c = await setup();
    await killLeaderAndWrite(c, (controllerId, leaders) => leaders.find((l) => l !== controllerId)!);
  }, 90_000);

  it('a killed active controller that leads a partition: the new controller fences it at once', async () => {
    const c = await setup();
    await waitFor('the active controller leads a partition', () => {
      const id = c.activeController();
      return id !== undefined && [0, 1, 2].some((p) => c.node(id).metadata.partition(TOPIC, p)?.leader === id) ? true : undefined;
    }, DEADLINE_MS);
    await killLeaderAndWrite(c, (controllerId) => controllerId);
  }, 90_000);
});
