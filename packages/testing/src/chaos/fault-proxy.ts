// FaultProxy: an in-process TCP proxy that sits on every link of a chaos cluster and injects network
// faults per directed link (from → to): blackholes, one-way blocks, latency with seeded jitter, a
// bandwidth cap, connection resets (RST) now or at random.
//
// How traffic gets here. Every gRPC channel in Tributary is grpc-js, which honours the `grpc_proxy`
// environment variable by opening each connection with an HTTP CONNECT through that proxy. So each
// process (node i, or the chaos runner's clients) gets its own CONNECT listener ("viewer" i), and
// the proxy learns the link from the listener (who dials) and the CONNECT target (whom: a registered
// node address). Node configs stay untouched: listen = advertised address, voters are the real
// addresses; only the environment differs. Plain forwarding listeners (`listenForward(from, to)`)
// cover anything that is not gRPC or does not read `grpc_proxy`.
//
// Fault model. A proxied connection has an initiator and a target; bytes flow both ways, and each
// direction (from → to) obeys the rules of that directed link at the moment a chunk is forwarded:
// - blocked: chunks are held (TCP would retransmit) and the reading side is paused once the hold
//   reaches `holdBytesMax`, so memory stays bounded; they flow again after heal. New connections on
//   a link blocked either way wait (a SYN or its SYN-ACK is lost) until both ways are open or the
//   client gives up.
// - latency/jitter/bandwidth: each chunk gets a due time; order within a direction is kept.
// - resetProbability: each forwarded chunk may reset the whole connection (RST both sides).
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { SeededRandom } from './seeded-random.js';

export const DEFAULT_HOLD_BYTES_MAX = 256 * 1024;
/** Longest CONNECT request header we accept, bytes. */
const CONNECT_HEADER_BYTES_MAX = 8 * 1024;

export interface LinkRules {
  readonly blocked: boolean;
  readonly latencyMs: number;
  readonly jitterMs: number;
  /** Bytes per second this direction may carry; undefined = unlimited. */
  readonly bandwidthBytesPerSecondMax: number | undefined;
  /** Probability in [0, 1] that forwarding one chunk resets the connection. */
  readonly resetProbability: number;
}

export const OPEN_LINK: LinkRules = Object.freeze({
  blocked: false, latencyMs: 0, jitterMs: 0, bandwidthBytesPerSecondMax: undefined, resetProbability: 0,
});

export interface FaultProxyOptions {
  readonly random: SeededRandom;
  /** Host the proxy listeners bind; default 127.0.0.1. */
  readonly host?: string;
  readonly holdBytesMax?: number;
  /** Wall clock, ms; injectable for tests. */
  readonly nowMs?: () => number;
}

export interface LinkFilter {
  readonly from?: string;
  readonly to?: string;
}

export class FaultProxy {
  private readonly host: string;
  private readonly holdBytesMax: number;
  private readonly nowMs: () => number;
  private readonly servers: Server[] = [];
  /** `host:port` → endpoint name, for CONNECT targets. */
  private readonly endpointByAddress = new Map<string, string>();
  private readonly addressByEndpoint = new Map<string, string>();
  private readonly rules = new Map<string, LinkRules>();
  private readonly connections = new Set<ProxiedConnection>();
  private readonly pendingDials = new Set<PendingDial>();
  private closed = false;

  constructor(private readonly options: FaultProxyOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.holdBytesMax = options.holdBytesMax ?? DEFAULT_HOLD_BYTES_MAX;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Names the process listening at `address` (host:port), so CONNECTs to it map to a link. */
  registerEndpoint(name: string, address: string): void {
    this.endpointByAddress.set(address, name);
    this.addressByEndpoint.set(name, address);
  }

  /** An HTTP CONNECT proxy for connections dialled by `viewer`; returns its `host:port`. */
  listenConnect(viewer: string): Promise<string> {
    return this.listen((socket) => this.acceptConnect(viewer, socket));
  }

  /** A plain TCP forwarder for the link from → to (to must be registered); returns its `host:port`. */
  listenForward(from: string, to: string): Promise<string> {
    return this.listen((socket) => {
      const address = this.addressByEndpoint.get(to);
      if (address === undefined) {
        socket.destroy();
        return;
      }
      this.dial({
        from, to, address, client: socket, head: Buffer.alloc(0),
        onConnected: () => undefined, onRefused: () => socket.destroy(),
      });
    });
  }

  rulesOf(from: string, to: string): LinkRules {
    return this.rules.get(linkKey(from, to)) ?? OPEN_LINK;
  }

  /** Changes the rules of the directed link from → to and applies them to live connections at once. */
  setRules(from: string, to: string, change: Partial<LinkRules>): void {
    const next = { ...this.rulesOf(from, to), ...change };
    assertRules(next);
    this.rules.set(linkKey(from, to), next);
    this.onRulesChanged();
  }

  /** One-way block: bytes from → to are held; to → from still flow. */
  block(from: string, to: string): void {
    this.setRules(from, to, { blocked: true });
  }

  /** Blackholes both directions between a and b. */
  partition(a: string, b: string): void {
    this.block(a, b);
    this.block(b, a);
  }

  /** Blocks every directed pair in `links` (the output of a partition plan). */
  blockAll(links: readonly (readonly [string, string])[]): void {
    for (const [from, to] of links) this.rules.set(linkKey(from, to), { ...this.rulesOf(from, to), blocked: true });
    this.onRulesChanged();
  }

  /** Clears every rule (blocks, latency, bandwidth, resets): all links open. */
  heal(): void {
    this.rules.clear();
    this.onRulesChanged();
  }

  /** Directed links currently blocked, as [from, to] pairs. */
  blockedLinks(): [string, string][] {
    return [...this.rules.entries()].filter(([, r]) => r.blocked).map(([key]) => splitLinkKey(key));
  }

  /** RSTs every live connection matching the filter (by its initiator and target); returns how many. */
  resetConnections(filter: LinkFilter = {}): number {
    let count = 0;
    for (const connection of [...this.connections]) {
      if (filter.from !== undefined && connection.initiator !== filter.from && connection.target !== filter.from) continue;
      if (filter.to !== undefined && connection.target !== filter.to && connection.initiator !== filter.to) continue;
      connection.reset();
      count += 1;
    }
    return count;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const dial of this.pendingDials) dial.client.destroy();
    this.pendingDials.clear();
    for (const connection of this.connections) connection.reset();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  private listen(onSocket: (socket: Socket) => void): Promise<string> {
    if (this.closed) return Promise.reject(new Error('fault proxy is closed'));
    const server = createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => undefined);
      onSocket(socket);
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.host, () => {
        const address = server.address();
        if (address === null || typeof address === 'string') return reject(new Error('fault proxy: no port'));
        resolve(`${this.host}:${address.port}`);
      });
    });
  }

  private acceptConnect(viewer: string, client: Socket): void {
    let header = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      header = Buffer.concat([header, chunk]);
      const end = header.indexOf('\r\n\r\n');
      if (end < 0) {
        if (header.length > CONNECT_HEADER_BYTES_MAX) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      const requestLine = header.subarray(0, header.indexOf('\r\n')).toString('latin1');
      const match = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(requestLine);
      if (match === null || match[1] === undefined) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
        return;
      }
      const address = match[1];
      const to = this.endpointByAddress.get(address) ?? address;
      this.dial({
        from: viewer, to, address, client, head: header.subarray(end + 4),
        onConnected: () => client.write('HTTP/1.1 200 Connection established\r\n\r\n'),
        onRefused: () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'),
      });
    };
    client.on('data', onData);
  }

  private dial(dial: PendingDial): void {
    if (this.closed) {
      dial.client.destroy();
      return;
    }
    if (this.rulesOf(dial.from, dial.to).blocked || this.rulesOf(dial.to, dial.from).blocked) {
      // The handshake cannot complete while either direction is down; retried on every rule change.
      this.pendingDials.add(dial);
      dial.client.once('close', () => this.pendingDials.delete(dial));
      return;
    }
    const { host, port } = splitHostPort(dial.address);
    const server = connect({ host, port, noDelay: true });
    server.on('error', () => undefined);
    // Refused or dropped before it connected (the node is down).
    const onEarlyClose = (): void => dial.onRefused();
    server.once('close', onEarlyClose);
    server.once('connect', () => {
      server.off('close', onEarlyClose);
      dial.onConnected();
      const connection = new ProxiedConnection({
        proxy: this, initiator: dial.from, target: dial.to, client: dial.client, server,
        random: this.options.random, holdBytesMax: this.holdBytesMax, nowMs: this.nowMs,
      });
      this.connections.add(connection);
      connection.onClose(() => this.connections.delete(connection));
      if (dial.head.length > 0) connection.upstreamChunk(dial.head);
      dial.client.resume();
    });
    dial.client.once('close', () => server.destroy());
  }

  private onRulesChanged(): void {
    for (const dial of [...this.pendingDials]) {
      if (!this.rulesOf(dial.from, dial.to).blocked && !this.rulesOf(dial.to, dial.from).blocked) {
        this.pendingDials.delete(dial);
        this.dial(dial);
      }
    }
    for (const connection of this.connections) connection.pump();
  }
}

interface PendingDial {
  readonly from: string;
  readonly to: string;
  readonly address: string;
  readonly client: Socket;
  /** Bytes the client sent after the CONNECT header (belong to the tunnel). */
  readonly head: Buffer;
  readonly onConnected: () => void;
  readonly onRefused: () => void;
}

interface Chunk {
  readonly bytes: Buffer;
  readonly dueMs: number;
}

/** One direction of a connection: source socket → destination socket, under the rules of from → to. */
class Pipe {
  private readonly queue: Chunk[] = [];
  private queuedBytes = 0;
  private lastDueMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private destinationBlocked = false;

  constructor(
    private readonly connection: ProxiedConnection,
    readonly from: string,
    readonly to: string,
    private readonly source: Socket,
    private readonly destination: Socket,
  ) {
    source.on('data', (bytes: Buffer) => this.push(bytes));
    destination.on('drain', () => {
      this.destinationBlocked = false;
      this.pump();
    });
  }

  push(bytes: Buffer): void {
    const rules = this.connection.rulesOf(this.from, this.to);
    const now = this.connection.nowMs();
    let dueMs = now + rules.latencyMs + (rules.jitterMs > 0 ? this.connection.random.next() * rules.jitterMs : 0);
    if (rules.bandwidthBytesPerSecondMax !== undefined) {
      dueMs = Math.max(dueMs, this.lastDueMs + (bytes.length * 1000) / rules.bandwidthBytesPerSecondMax);
    }
    dueMs = Math.max(dueMs, this.lastDueMs);
    this.lastDueMs = dueMs;
    this.queue.push({ bytes, dueMs });
    this.queuedBytes += bytes.length;
    if (this.queuedBytes >= this.connection.holdBytesMax) this.source.pause();
    this.pump();
  }

  pump(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const rules = this.connection.rulesOf(this.from, this.to);
    while (this.queue.length > 0 && !rules.blocked && !this.destinationBlocked && !this.connection.isClosed) {
      const chunk = this.queue[0] as Chunk;
      const waitMs = chunk.dueMs - this.connection.nowMs();
      if (waitMs > 0) {
        this.timer = setTimeout(() => this.pump(), waitMs);
        this.timer.unref();
        return;
      }
      this.queue.shift();
      this.queuedBytes -= chunk.bytes.length;
      if (this.connection.random.chance(rules.resetProbability)) {
        this.connection.reset();
        return;
      }
      if (!this.destination.write(chunk.bytes)) this.destinationBlocked = true;
    }
    if (this.queuedBytes < this.connection.holdBytesMax / 2 && !this.destinationBlocked) this.source.resume();
    else this.source.pause();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

interface ProxiedConnectionOptions {
  readonly proxy: FaultProxy;
  readonly initiator: string;
  readonly target: string;
  readonly client: Socket;
  readonly server: Socket;
  readonly random: SeededRandom;
  readonly holdBytesMax: number;
  readonly nowMs: () => number;
}

class ProxiedConnection {
  readonly initiator: string;
  readonly target: string;
  readonly random: SeededRandom;
  readonly holdBytesMax: number;
  readonly nowMs: () => number;
  private readonly upstream: Pipe;
  private readonly downstream: Pipe;
  private closedValue = false;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(private readonly options: ProxiedConnectionOptions) {
    this.initiator = options.initiator;
    this.target = options.target;
    this.random = options.random;
    this.holdBytesMax = options.holdBytesMax;
    this.nowMs = options.nowMs;
    this.upstream = new Pipe(this, options.initiator, options.target, options.client, options.server);
    this.downstream = new Pipe(this, options.target, options.initiator, options.server, options.client);
    // A FIN is forwarded only once the data queued before it is gone; held data keeps the other side open.
    for (const socket of [options.client, options.server]) {
      socket.on('close', () => this.close());
    }
  }

  get isClosed(): boolean {
    return this.closedValue;
  }

  rulesOf(from: string, to: string): LinkRules {
    return this.options.proxy.rulesOf(from, to);
  }

  upstreamChunk(bytes: Buffer): void {
    this.upstream.push(bytes);
  }

  pump(): void {
    this.upstream.pump();
    this.downstream.pump();
  }

  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }

  /** RST both sides (as a middlebox dropping the connection would). */
  reset(): void {
    if (this.closedValue) return;
    for (const socket of [this.options.client, this.options.server]) {
      if (!socket.destroyed) socket.resetAndDestroy();
    }
    this.close();
  }

  private close(): void {
    if (this.closedValue) return;
    this.closedValue = true;
    this.upstream.stop();
    this.downstream.stop();
    this.options.client.destroy();
    this.options.server.destroy();
    for (const handler of this.closeHandlers.splice(0)) handler();
  }
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

function splitLinkKey(key: string): [string, string] {
  const [from, to] = key.split('\u0000');
  return [from ?? '', to ?? ''];
}

export function splitHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) throw new RangeError(`not host:port: ${address}`);
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}

function assertRules(rules: LinkRules): void {
  if (!(rules.latencyMs >= 0) || !(rules.jitterMs >= 0)) throw new RangeError('latencyMs and jitterMs must be >= 0');
  if (!(rules.resetProbability >= 0 && rules.resetProbability <= 1)) throw new RangeError('resetProbability must be in [0, 1]');
  if (rules.bandwidthBytesPerSecondMax !== undefined && !(rules.bandwidthBytesPerSecondMax > 0)) {
    throw new RangeError('bandwidthBytesPerSecondMax must be > 0');
  }
}
