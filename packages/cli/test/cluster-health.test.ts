// `cluster health` tells the truth: it never says healthy while the cluster cannot serve (no
// registered, unfenced broker yet; no active controller), and a node whose Raft driver stopped is
// unhealthy everywhere it reports (/readyz, tributary_raft_driver_running, cluster health) until the
// restarted driver runs again. Real nodes on loopback; the storage fault is injected through the
// node's test seam around the metadata log.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin } from '@tributary/client';
import { parseNodeConfig, startNode, type StartNodeOptions, type TributaryNode } from '@tributary/broker';
import { cli } from './harness.js';
import { computeClusterHealth } from '../src/format/views.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A combined node that is the single voter of its own controller quorum (what `tributary server --voters 1@...` runs). */
async function oneNode(options: StartNodeOptions = {}): Promise<TributaryNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-health-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const node = await startNode(parseNodeConfig({
    flags: {
      'node.id': 1, listen: `127.0.0.1:${port}`, 'data.dir': dataDir, 'http.listen': '127.0.0.1:0',
      'controller.quorum.voters': `1@127.0.0.1:${port}`,
    },
    env: {}, set: ['log.level=silent', 'controller.quorum.election.timeout.ms=300'],
  }), options);
  cleanups.push(() => node.close({ controlledShutdown: false }));
  return node;
}

async function health(node: TributaryNode): Promise<{ code: number; report: { healthy: boolean; unhealthyReasons: string[] } }> {
  const r = await cli(['cluster', 'health', '--format', 'json', '--exit-code'], { env: { TRIBUTARY_BROKERS: node.address } });
  return { code: r.code, report: JSON.parse(r.stdout) as { healthy: boolean; unhealthyReasons: string[] } };
}

async function readyz(node: TributaryNode): Promise<number> {
  return (await fetch(`http://${node.httpAddress!}/readyz`)).status;
}

async function metric(node: TributaryNode, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${node.httpAddress!}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cluster health', () => {
  it('is unhealthy while no broker is registered and unfenced (a pure rule)', () => {
    // A controller is known, but the only node has not registered as a broker yet: nothing can be placed.
    const h = computeClusterHealth({ clusterId: 'c', controller: { leaderId: 1, term: 1 }, nodes: [{ id: 1, roles: ['controller'], address: 'h:1', fenced: false }] }, []);
    expect(h).toMatchObject({ healthy: false, unhealthyReasons: ['no_available_brokers'], availableBrokers: [] });
    const down = computeClusterHealth({
      clusterId: 'c', controller: { leaderId: 1, term: 1 }, unreachableControllerVoters: [3],
      nodes: [1, 2, 3].map((id) => ({ id, roles: ['broker', 'controller'], address: `h:${id}`, fenced: false })),
    }, []);
    expect(down).toMatchObject({ healthy: false, unhealthyReasons: ['unreachable_controller_voters'], unreachableControllerVoters: [3] });
  });

  it('never says healthy on a starting 1-node cluster while CreateTopics with RF=1 would fail', async () => {
    const node = await oneNode();
    const admin = new Admin({ 'bootstrap.servers': node.address, 'request.timeout.ms': 5_000, 'default.api.timeout.ms': 10_000 });
    cleanups.push(() => admin.close());
    let answers = 0;
    for (;;) {
      const h = await health(node);
      answers++;
      if (!h.report.healthy) {
        expect(h.code).toBe(1);
        continue;
      }
      // Healthy now: a topic with RF=1 must be placeable at once (validate-only asks the controller).
      const [created] = await admin.createTopics([{ topic: 'probe', numPartitions: 1, replicationFactor: 1 }], { validateOnly: true });
      expect(created?.topic).toBe('probe');
      break;
    }
    expect(answers).toBeGreaterThan(1); // it was unhealthy at first
  });

  it('reports a stopped Raft driver (readyz, metric, cluster health) and recovers once it is restarted', async () => {
    const fault = { on: false, hits: 0 };
    const node = await oneNode({
      wrapRaftStorage: (inner) => ({
        initialState: () => inner.initialState(),
        entries: (lo, hi, maxBytes) => inner.entries(lo, hi, maxBytes),
        term: (i) => inner.term(i),
        firstIndex: () => inner.firstIndex(),
        lastIndex: () => inner.lastIndex(),
        snapshot: () => inner.snapshot(),
        persist: async (ready) => {
          if (fault.on) {
            fault.hits++;
            throw new Error('injected storage fault: EIO');
          }
          await inner.persist(ready);
        },
        createSnapshot: (index, confState, data) => inner.createSnapshot(index, confState, data),
        compact: (index) => inner.compact(index),
        close: () => inner.close(),
      }),
    });
    const admin = new Admin({ 'bootstrap.servers': node.address, 'request.timeout.ms': 5_000, 'default.api.timeout.ms': 30_000 });
    cleanups.push(() => admin.close());
    await waitFor(async () => (await health(node)).code === 0, 'a healthy cluster');
    expect(await readyz(node)).toBe(200);
    expect(await metric(node, 'tributary_raft_driver_running')).toBe(1);

    fault.on = true;
    // The proposal's persist fails and stops the driver; the client retries until it is back.
    const creating = admin.createTopics([{ topic: 'after-fault', numPartitions: 1, replicationFactor: 1 }]);
    await waitFor(async () => fault.hits > 0 && node.cluster?.controller?.status().driverRunning === false, 'the driver to stop');
    // Each restart fails again while the fault lasts: every report must say so at some point.
    await waitFor(async () => (await readyz(node)) === 503, '/readyz 503');
    await waitFor(async () => (await metric(node, 'tributary_raft_driver_running')) === 0, 'tributary_raft_driver_running 0');
    await waitFor(async () => {
      const h = await health(node);
      return h.code === 1 && h.report.unhealthyReasons.includes('no_active_controller');
    }, 'cluster health to fail');

    fault.on = false;
    await waitFor(async () => node.cluster?.controller?.status().driverRunning === true && (await readyz(node)) === 200, 'a restarted driver');
    await waitFor(async () => (await health(node)).code === 0, 'cluster health to recover');
    expect(await metric(node, 'tributary_raft_driver_running')).toBe(1);
    expect(await metric(node, 'tributary_raft_driver_restarts_total')).toBeGreaterThanOrEqual(1);
    const [created] = await creating;
    expect(created?.topic).toBe('after-fault');
    expect((await admin.describeCluster()).controller.leaderId).toBe(1);
  });
});
