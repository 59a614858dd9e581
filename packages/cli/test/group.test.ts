// `group list|describe|seek|delete` and `consume -g` against a real node in this process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig, startNode } from '@tributary/broker';
import { Consumer, Producer } from '@tributary/client';
import { cli, jsonLines } from './harness.js';

let dataDir: string;
let node: Awaited<ReturnType<typeof startNode>>;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tributary-cli-group-'));
  node = await startNode(
    parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': dataDir }, env: {}, set: ['log.level=silent'] }),
    { groups: { 'offsets.topic.num.partitions': 2 } },
  );
  env = { TRIBUTARY_BROKERS: node.address };
});

afterAll(async () => {
  await node?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function produceValues(topic: string, values: readonly string[], timestamp: number): Promise<void> {
  const producer = new Producer({ 'bootstrap.servers': node.address, 'linger.ms': 0 });
  for (const v of values) await producer.send({ topic, partition: 0, value: Buffer.from(v), timestamp });
  await producer.close();
}

describe('group commands', () => {
  it('describe --format json has exactly the contract keys, with lag; list shows the group', async () => {
    expect((await cli(['topic', 'create', 'gd', '-p', '2', '-r', '1'], { env })).code).toBe(0);
    await produceValues('gd', ['a', 'b', 'c', 'd'], Date.now());
    const consumed = await cli(['consume', 'gd', '-g', 'GD', '-n', '3'], { env });
    expect(consumed.code).toBe(0);
    expect(jsonLines(consumed.stdout).map((r) => (r as { value: string }).value)).toEqual(['a', 'b', 'c']);

    const described = await cli(['group', 'describe', 'GD', '--format', 'json'], { env });
    expect(described.code).toBe(0);
    const json = JSON.parse(described.stdout) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['group', 'state', 'members', 'offsets']);
    expect(json.group).toBe('GD');
    expect(json.state).toBe('Empty');
    expect(json.members).toEqual([]);
    expect(json.offsets).toEqual([{ topic: 'gd', partition: 0, committed: 3, logEndOffset: 4, lag: 1 }]);

    // A live member shows up with its assignment.
    const member = new Consumer({ 'bootstrap.servers': node.address, 'group.id': 'GD', 'client.id': 'cli-test', 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 300 });
    member.subscribe(['gd']);
    const deadline = Date.now() + 15_000;
    while (member.assignment().length < 2 && Date.now() < deadline) await member.poll({ timeoutMs: 200 });
    const live = JSON.parse((await cli(['group', 'describe', 'GD', '--format', 'json'], { env })).stdout) as { state: string; members: { clientId: string; assignment: unknown[] }[] };
    expect(live.state).toBe('Stable');
    expect(live.members.map((m) => [m.clientId, m.assignment.length])).toEqual([['cli-test', 2]]);
    const text = await cli(['group', 'describe', 'GD'], { env });
    expect(text.stdout).toMatch(/CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+MEMBER/);
    expect(text.stdout).toMatch(/TOTAL LAG\s+1/);
    // Seek needs an Empty group.
    const refused = await cli(['group', 'seek', 'GD', '--to', 'start'], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Empty/);
    await member.close();

    const listed = await cli(['group', 'list', '--format', 'json'], { env });
    expect(JSON.parse(listed.stdout)).toContainEqual({ group: 'GD', state: 'Empty' });
    expect((await cli(['group', 'delete', 'GD'], { env })).code).toBe(0);
    expect((await cli(['group', 'describe', 'GD'], { env })).code).not.toBe(0);
  }, 60_000);

  it('seek --to @timestamp, then consume -g returns the records from that time on', async () => {
    expect((await cli(['topic', 'create', 'gs', '-p', '1', '-r', '1'], { env })).code).toBe(0);
    await produceValues('gs', ['old1', 'old2'], 1_000_000);
    await produceValues('gs', ['new1', 'new2'], 2_000_000);
    const all = await cli(['consume', 'gs', '-g', 'GS', '-n', '4'], { env });
    expect(jsonLines(all.stdout)).toHaveLength(4);
    const dry = await cli(['group', 'seek', 'GS', '--to', '@2000000', '--dry-run'], { env });
    expect(dry.stdout).toMatch(/gs\s+0\s+4\s+2/);
    const shifted = await cli(['group', 'seek', 'GS', '--shift-by', '-1'], { env });
    expect(shifted.code).toBe(0);
    expect(shifted.stdout).toMatch(/gs\s+0\s+4\s+3/);
    expect((await cli(['group', 'seek', 'GS', '--to', '@2000000'], { env })).code).toBe(0);
    const replay = await cli(['consume', 'gs', '-g', 'GS', '-n', '2'], { env });
    expect(jsonLines(replay.stdout).map((r) => (r as { value: string }).value)).toEqual(['new1', 'new2']);
  }, 60_000);
});
