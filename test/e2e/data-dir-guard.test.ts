// Operator mistakes with real processes (`tributary server`): a second node on a live node's data
// directory exits at once naming the directory and the holder; a SIGKILLed node's lock does not stop
// its restart; a quorum member restarted without --voters exits non-zero saying what differs and how
// to fix it. After every refused start the data on disk is compared byte for byte with before.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer } from '@tributary/client';
import { NodeProcess, TRIBUTARY_BIN, freePort } from '@tributary/testing';

/** Every file under `dir` whose path passes `keep` (relative path → sha256). */
async function snapshot(dir: string, keep: (rel: string) => boolean = () => true): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const rel = path.slice(dir.length + 1);
    if (!keep(rel)) continue;
    out[rel] = entry.isDirectory() ? 'dir' : createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

/** Runs `tributary server ...` to its exit (it must exit by itself within `timeoutMs`). */
async function runServer(args: readonly string[], timeoutMs = 20_000): Promise<{ code: number | null; stderr: string; elapsedMs: number }> {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [TRIBUTARY_BIN, 'server', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr, elapsedMs: Date.now() - startedAt };
}

async function createTopic(bootstrap: string, topic: string, replicationFactor = 1): Promise<void> {
  const admin = new Admin({ 'bootstrap.servers': bootstrap });
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await admin.createTopics([{ topic, numPartitions: 1, replicationFactor }]);
        return;
      } catch (err) {
        // A quorum broker is unfenced a heartbeat after it answers: until then placement finds no broker.
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.close();
  }
}

async function produce(bootstrap: string, topic: string, count: number): Promise<void> {
  const producer = new Producer({ 'bootstrap.servers': bootstrap, acks: 'all', 'delivery.timeout.ms': 40_000 });
  try {
    await Promise.all(Array.from({ length: count }, (_, i) => producer.send({ topic, partition: 0, key: null, value: `v${i}` })));
  } finally {
    await producer.close();
  }
}

async function readAll(bootstrap: string, topic: string, expected: number): Promise<string[]> {
  const consumer = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest' });
  consumer.assign([{ topic, partition: 0 }]);
  const values: string[] = [];
  try {
    const deadline = Date.now() + 20_000;
    while (values.length < expected && Date.now() < deadline) {
      for (const r of await consumer.poll({ timeoutMs: 500 })) values.push(Buffer.from(r.value ?? []).toString());
    }
  } finally {
    await consumer.close();
  }
  return values;
}

const expectedValues = (count: number): string[] => Array.from({ length: count }, (_, i) => `v${i}`);

describe('data directory guards with real processes', () => {
  let root: string;
  const nodes: NodeProcess[] = [];

  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a second process on a live node\'s directory exits at once; a SIGKILL releases the lock', async () => {
    root = mkdtempSync(join(tmpdir(), 'trib-guard-'));
    const dataDir = join(root, 'node-1');
    const node = new NodeProcess({ nodeId: 1, dataDir, listen: `127.0.0.1:${await freePort()}` });
    nodes.push(node);
    await node.start();
    await createTopic(node.address, 'guarded');
    await produce(node.address, 'guarded', 20);
    // The live node may rewrite its checkpoints; its segments and identity do not change without produces.
    const durable = (rel: string): boolean => rel.endsWith('.log') || rel === 'meta.properties' || rel.startsWith('.lock');
    const before = await snapshot(dataDir, durable);

    const second = await runServer(['--node-id', '1', '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`data directory ${realpathSync(dataDir)} is in use by node 1 (pid ${node.pid}`);
    console.log(`second process refused in ${second.elapsedMs} ms (spawn included)`);
    expect(await snapshot(dataDir, durable)).toEqual(before);
    expect(await readAll(node.address, 'guarded', 20)).toEqual(expectedValues(20));

    // A crash leaves the lock behind; the next start takes it over by itself.
    await node.kill();
    expect(await readdir(dataDir)).toContain('.lock');
    await node.start();
    expect(await readAll(node.address, 'guarded', 20)).toEqual(expectedValues(20));
  }, 90_000);

  it('a quorum member restarted without --voters exits non-zero, says how to fix it, and loses nothing', async () => {
    root = mkdtempSync(join(tmpdir(), 'trib-guard-'));
    const dataDir = join(root, 'node-1');
    // Two voters: a quorum of one voter on itself is what a node without --voters is (that start is accepted).
    const [port, port2] = [await freePort(), await freePort()];
    const voters = `1@127.0.0.1:${port},2@127.0.0.1:${port2}`;
    const node = new NodeProcess({ nodeId: 1, dataDir, listen: `127.0.0.1:${port}`, voters });
    const node2 = new NodeProcess({ nodeId: 2, dataDir: join(root, 'node-2'), listen: `127.0.0.1:${port2}`, voters });
    nodes.push(node, node2);
    await Promise.all([node.start(), node2.start()]);
    await createTopic(node.address, 'quorum-kept', 2); // a replica on each node: node 1's directory holds it
    await produce(node.address, 'quorum-kept', 10);
    await Promise.all([node.stop(), node2.stop()]);
    const before = await snapshot(dataDir);
    expect(Object.keys(before)).toContain('quorum-kept-0');

    const alone = await runServer(['--node-id', '1', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain('error: INVALID_CONFIG: invalid configuration:');
    expect(alone.stderr).toContain(`controller.quorum.voters: ${dataDir} belongs to a member of the controller quorum ${voters}`);
    expect(alone.stderr).toContain(`restart with --voters ${voters} --roles broker,controller as before, or move ${dataDir} away`);
    expect(await snapshot(dataDir)).toEqual(before);

    await Promise.all([node.start(), node2.start()]);
    expect(await readAll(node.address, 'quorum-kept', 10)).toEqual(expectedValues(10));
  }, 90_000);
});
