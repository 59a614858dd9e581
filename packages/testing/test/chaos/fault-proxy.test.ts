// FaultProxy on loopback against a tiny echo server: forwarding, HTTP CONNECT, blackholes that hold
// bytes until heal, one-way blocks, latency, resets. Plus the pure fault planning.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy, SeededRandom, planPartition, planSchedule, splitHostPort } from '@tributary/testing';

/** Echo server that prefixes every chunk with '>' (so we know bytes went the whole way). */
async function echoServer(): Promise<{ server: Server; address: string }> {
  const server = createServer((s) => s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('>'), d]))).on('error', () => undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, address: `127.0.0.1:${port}` };
}

function dial(address: string): Promise<Socket> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Collects what a socket receives; `next(ms)` resolves with the text received within ms. */
function collector(socket: Socket): { text: () => string; waitFor: (text: string, ms: number) => Promise<boolean>; closed: Promise<string> } {
  let received = '';
  socket.on('data', (d: Buffer) => { received += d.toString(); });
  const closed = new Promise<string>((resolve) => {
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    socket.on('close', () => resolve('close'));
  });
  return {
    text: () => received,
    waitFor: async (text, ms) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (received.includes(text)) return true;
        await new Promise((r) => setTimeout(r, 5));
      }
      return received.includes(text);
    },
    closed,
  };
}

describe('FaultProxy', () => {
  let echo: { server: Server; address: string };
  let proxy: FaultProxy;

  beforeEach(async () => {
    echo = await echoServer();
    proxy = new FaultProxy({ random: new SeededRandom(7) });
    proxy.registerEndpoint('n1', echo.address);
  });

  afterEach(async () => {
    await proxy.close();
    await new Promise<void>((r) => echo.server.close(() => r()));
  });

  it('forwards both ways, and a partition holds bytes until heal (nothing lost, order kept)', async () => {
    const socket = await dial(await proxy.listenForward('client', 'n1'));
    const got = collector(socket);
    socket.write('a');
    expect(await got.waitFor('>a', 1000)).toBe(true);
    proxy.partition('client', 'n1');
    socket.write('b');
    socket.write('c');
    expect(await got.waitFor('>b', 150)).toBe(false);
    proxy.heal();
    expect(await got.waitFor('>bc', 1000) || await got.waitFor('>c', 1000)).toBe(true);
    expect(got.text().replace(/>/g, '')).toBe('abc');
    socket.destroy();
  });

  it('blocks one way only: replies held while requests still arrive', async () => {
    const socket = await dial(await proxy.listenForward('client', 'n1'));
    const got = collector(socket);
    proxy.block('n1', 'client');
    socket.write('x');
    expect(await got.waitFor('>x', 150)).toBe(false);
    expect(proxy.blockedLinks()).toEqual([['n1', 'client']]);
    proxy.heal();
    expect(await got.waitFor('>x', 1000)).toBe(true);
    socket.destroy();
  });

  it('tunnels HTTP CONNECT to registered endpoints and holds new connections on a blocked link', async () => {
    const listener = await proxy.listenConnect('client');
    proxy.partition('client', 'n1');
    const socket = await dial(listener);
    const got = collector(socket);
    socket.write(`CONNECT ${echo.address} HTTP/1.1\r\nHost: ${echo.address}\r\n\r\n`);
    expect(await got.waitFor('200', 150)).toBe(false);
    proxy.heal();
    expect(await got.waitFor('HTTP/1.1 200', 1000)).toBe(true);
    socket.write('hi');
    expect(await got.waitFor('>hi', 1000)).toBe(true);
    expect(proxy.connectionCount).toBe(1);
    socket.destroy();
  });

  it('answers 502 when the target refuses (a dead node)', async () => {
    const listener = await proxy.listenConnect('client');
    const socket = await dial(listener);
    const got = collector(socket);
    socket.write('CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n');
    expect(await got.waitFor('502', 2000)).toBe(true);
    socket.destroy();
  });

  it('delays by the link latency', async () => {
    const socket = await dial(await proxy.listenForward('client', 'n1'));
    const got = collector(socket);
    proxy.setRules('client', 'n1', { latencyMs: 120 });
    const started = Date.now();
    socket.write('slow');
    expect(await got.waitFor('>slow', 2000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    expect(() => proxy.setRules('client', 'n1', { resetProbability: 2 })).toThrow(RangeError);
    socket.destroy();
  });

  it('resets connections on demand and at random', async () => {
    const listener = await proxy.listenForward('client', 'n1');
    const first = await dial(listener);
    const firstGot = collector(first);
    first.write('1');
    await firstGot.waitFor('>1', 1000);
    expect(proxy.resetConnections({ to: 'n1' })).toBe(1);
    expect(await firstGot.closed).toBe('ECONNRESET');

    proxy.setRules('client', 'n1', { resetProbability: 1 });
    const second = await dial(listener);
    const secondGot = collector(second);
    second.write('2');
    expect(await secondGot.closed).toBe('ECONNRESET');
    expect(secondGot.text()).toBe('');
  });

  it('bounds what it holds: the reading side is paused at holdBytesMax', async () => {
    await proxy.close();
    proxy = new FaultProxy({ random: new SeededRandom(1), holdBytesMax: 64 * 1024 });
    proxy.registerEndpoint('n1', echo.address);
    const socket = await dial(await proxy.listenForward('client', 'n1'));
    const got = collector(socket);
    socket.write('warm');
    await got.waitFor('>warm', 1000);
    proxy.block('client', 'n1');
    const chunk = Buffer.alloc(16 * 1024, 'z');
    let accepted = 0;
    // The client's kernel buffers fill once the proxy stops reading; write() then reports backpressure.
    while (socket.write(chunk) && accepted < 1000) accepted += 1;
    expect(accepted).toBeLessThan(1000);
    proxy.heal();
    socket.destroy();
  });
});

describe('fault planning', () => {
  it('cuts the right links for each partition shape', () => {
    const random = new SeededRandom(3);
    const isolate = planPartition('isolate-leader', [1, 2, 3], random, 2);
    expect(isolate?.links).toEqual([['n2', 'n1'], ['n1', 'n2'], ['n2', 'n3'], ['n3', 'n2']]);
    const split = planPartition('majority-minority', [1, 2, 3, 4, 5], random);
    expect(split?.targets).toHaveLength(2);
    expect(split?.links).toHaveLength(2 * 3 * 2);
    const bridge = planPartition('bridge', [1, 2, 3], random);
    expect(bridge?.links).toHaveLength(2);
    const [[a, b]] = bridge!.links as [[string, string]];
    expect(a).not.toBe(b);
    expect(planPartition('client-leader', [1], random, 1)?.links).toEqual([['client', 'n1'], ['n1', 'client']]);
    expect(planPartition('isolate-one', [1], random)).toBeUndefined();
    expect(planPartition('bridge', [1, 2], random)).toBeUndefined();
    expect(planPartition('client-leader', [1, 2, 3], random, undefined)).toBeUndefined();
  });

  it('plans the same schedule from the same seed, within the fault phase', () => {
    const plan = (seed: number) => planSchedule({ random: new SeededRandom(seed), families: ['kill', 'pause', 'partition'], timeMs: 120_000, mode: 'random' });
    expect(plan(9)).toEqual(plan(9));
    expect(plan(9)).not.toEqual(plan(10));
    for (const f of plan(9)) {
      expect(f.atMs).toBeLessThan(120_000);
      if (f.family === 'kill') expect(f.durationMs).toBeLessThanOrEqual(10_000);
    }
    expect(planSchedule({ random: new SeededRandom(1), families: ['pause'], timeMs: 90_000, mode: 'single' })).toEqual([{ atMs: 30_000, family: 'pause', durationMs: 30_000 }]);
  });
});
