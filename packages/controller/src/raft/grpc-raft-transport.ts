// RaftTransport over gRPC: one long-lived client-streaming `Raft.Send` call per peer carries this
// node's messages to it (answers come back on the peer's own stream to us, as in etcd-raft). The
// messages of one send() for the same peer travel in one envelope, so the peer steps them together
// and answers them in one Ready instead of one Ready per message. A peer
// that is down costs nothing but dropped messages: the link backs off, then reconnects on the next
// send. Every envelope carries the cluster id; a server rejects streams from another cluster.
import * as grpc from '@grpc/grpc-js';
import type { Logger, Message, NodeId } from '@tributary/nraft';
import { flowControlChannelOptions, RaftClient, RaftService, tributary, type RaftHandlers } from '@tributary/protocol';
import { decodeRaftMessage, encodeRaftMessage } from './raft-message-codec.js';
import type { RaftDropHandler, RaftMessageHandler, RaftSnapshotSentHandler, RaftTransport } from './raft-transport.js';

import pb = tributary.internal.v1;

/** First reconnect delay after a stream to a peer fails; doubles per failure up to the max. */
export const DEFAULT_RECONNECT_BACKOFF_MIN_MS = 50;
export const DEFAULT_RECONNECT_BACKOFF_MAX_MS = 2_000;
/** Envelopes buffered on one peer's stream (not yet taken by the socket); more are dropped. */
export const DEFAULT_PEER_QUEUE_ENVELOPES_MAX = 1_024;
/** Raft messages in one envelope; a longer batch for one peer is split. */
export const DEFAULT_ENVELOPE_MESSAGES_MAX = 256;
/** Largest gRPC message either side accepts (an append or snapshot message). */
export const DEFAULT_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

export interface GrpcRaftTransportOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** Peer id → "host:port". May also be set later with setPeers (ports are often known only after bind). */
  readonly peers?: ReadonlyMap<NodeId, string>;
  readonly logger?: Logger;
  readonly reconnectBackoffMinMs?: number;
  readonly reconnectBackoffMaxMs?: number;
  readonly peerQueueEnvelopesMax?: number;
  readonly envelopeMessagesMax?: number;
  readonly messageBytesMax?: number;
  readonly credentials?: grpc.ChannelCredentials;
}

interface TransportConfig {
  readonly reconnectBackoffMinMs: number;
  readonly reconnectBackoffMaxMs: number;
  readonly peerQueueEnvelopesMax: number;
  readonly envelopeMessagesMax: number;
  readonly messageBytesMax: number;
}

function parseConfig(o: GrpcRaftTransportOptions): TransportConfig {
  const config: TransportConfig = {
    reconnectBackoffMinMs: o.reconnectBackoffMinMs ?? DEFAULT_RECONNECT_BACKOFF_MIN_MS,
    reconnectBackoffMaxMs: o.reconnectBackoffMaxMs ?? DEFAULT_RECONNECT_BACKOFF_MAX_MS,
    peerQueueEnvelopesMax: o.peerQueueEnvelopesMax ?? DEFAULT_PEER_QUEUE_ENVELOPES_MAX,
    envelopeMessagesMax: o.envelopeMessagesMax ?? DEFAULT_ENVELOPE_MESSAGES_MAX,
    messageBytesMax: o.messageBytesMax ?? DEFAULT_MESSAGE_BYTES_MAX,
  };
  const problems: string[] = [];
  if (!Number.isSafeInteger(o.nodeId) || o.nodeId <= 0) problems.push(`nodeId must be a positive integer, got ${o.nodeId}`);
  if (typeof o.clusterId !== 'string' || o.clusterId.length === 0) problems.push('clusterId must be a non-empty string');
  for (const [field, v] of Object.entries(config)) {
    if (!Number.isSafeInteger(v) || v <= 0) problems.push(`${field} must be a positive integer, got ${String(v)}`);
  }
  if (config.reconnectBackoffMinMs > config.reconnectBackoffMaxMs) problems.push('reconnectBackoffMinMs must be <= reconnectBackoffMaxMs');
  if (problems.length > 0) throw new RangeError(`invalid GrpcRaftTransport options: ${problems.join('; ')}`);
  return config;
}

const NOOP_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** What the server side needs from the local node. */
export interface RaftServiceHandler {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly logger: Logger;
  /**
   * Whether `id` is a peer this node knows (a voter of the quorum). Messages claiming any other
   * sender are dropped here, before raft sees them. Without it every sender is passed on.
   */
  knowsPeer?(id: NodeId): boolean;
  /** Called for every valid message addressed to this node. */
  deliver(message: Message): void;
}

/** Why the server drops an inbound message before raft sees it. */
type InboundRefusal = 'decode' | 'misaddressed' | 'unknown-peer' | 'sender-mismatch';


/**
 * Registers the Raft service on a server the caller owns (and binds, starts and shuts down).
 * One handler per server.
 */
export function addRaftService(server: grpc.Server, handler: RaftServiceHandler): void {
  const impl: RaftHandlers = {
    send(call, callback) {
      let received = 0;
      let rejected = false;
      // One stream speaks for one node: the sender of its first message. Peers are not authenticated
      // yet (a later security issue), but a stream cannot speak for several nodes, nor for a node
      // outside the quorum.
      let streamFrom: NodeId | undefined;
      const refusals = new Map<InboundRefusal, number>();
      const refuse = (reason: InboundRefusal, detail: object): void => {
        const n = (refusals.get(reason) ?? 0) + 1;
        refusals.set(reason, n);
        // One line per reason per stream (then every 1000th): a hostile stream cannot flood the log.
        if (n === 1 || n % 1000 === 0) handler.logger.warn({ peer: call.getPeer(), reason, refused: n, ...detail }, 'raft message dropped');
      };
      // Headers right away tell the sender the stream is up (it resets its backoff on them).
      call.sendMetadata(new grpc.Metadata());
      call.on('data', (env: pb.RaftEnvelope) => {
        if (rejected) return;
        if (env.clusterId !== handler.clusterId) {
          rejected = true;
          handler.logger.warn({ peer: call.getPeer(), clusterId: env.clusterId, expected: handler.clusterId }, 'raft stream from another cluster rejected');
          callback({ code: grpc.status.FAILED_PRECONDITION, details: `cluster id ${env.clusterId} is not ${handler.clusterId}` });
          return;
        }
        const wire = env.message === null || env.message === undefined ? env.messages : [env.message, ...env.messages];
        for (const w of wire) {
          let message: Message;
          try {
            message = decodeRaftMessage(w);
          } catch (err) {
            refuse('decode', { err });
            continue;
          }
          if (message.to !== handler.nodeId) {
            refuse('misaddressed', { to: message.to, from: message.from });
            continue;
          }
          if (handler.knowsPeer !== undefined && !handler.knowsPeer(message.from)) {
            refuse('unknown-peer', { from: message.from });
            continue;
          }
          streamFrom ??= message.from;
          if (message.from !== streamFrom) {
            refuse('sender-mismatch', { from: message.from, streamFrom });
            continue;
          }
          received++;
          handler.deliver(message);
        }
      });
      call.on('end', () => {
        if (!rejected) callback(null, { received });
      });
      call.on('error', (err) => handler.logger.debug({ err, peer: call.getPeer() }, 'raft inbound stream failed'));
    },
  };
  server.addService(RaftService, impl);
}

type LinkState = 'idle' | 'streaming' | 'backoff' | 'closed';

/** Snapshot messages remembered per stream, to report them lost if the stream breaks. */
const SNAPSHOTS_IN_FLIGHT_MAX = 8;

/** The outbound half towards one peer. */
class PeerLink {
  private state: LinkState = 'idle';
  private call: grpc.ClientWritableStream<pb.IRaftEnvelope> | undefined;
  /** Snapshot messages written on the current stream: lost with it if it fails. */
  private snapshotsInFlight: Message[] = [];
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly client: RaftClient;
  dropped = 0;

  constructor(
    readonly peerId: NodeId,
    readonly address: string,
    private readonly config: TransportConfig,
    credentials: grpc.ChannelCredentials,
    private readonly logger: Logger,
    private readonly reportDropped: (messages: readonly Message[]) => void,
    private readonly reportSnapshotSent: () => void,
  ) {
    this.backoffMs = config.reconnectBackoffMinMs;
    this.client = new RaftClient(address, credentials, {
      'grpc.initial_reconnect_backoff_ms': config.reconnectBackoffMinMs,
      'grpc.max_reconnect_backoff_ms': config.reconnectBackoffMaxMs,
      'grpc.max_send_message_length': config.messageBytesMax,
      'grpc.max_receive_message_length': config.messageBytesMax,
      // Raft retries by itself (and a lost message is harmless): skip grpc-js's per-message retry buffering.
      'grpc.enable_retries': 0,
      ...flowControlChannelOptions(),
    });
  }

  /** Sends one envelope carrying `messages`, or drops it (peer down, queue full) and reports that. */
  send(env: pb.IRaftEnvelope, messages: readonly Message[]): void {
    if (this.state === 'closed') return;
    if (this.state === 'idle') this.open();
    const call = this.call;
    if (this.state === 'backoff' || call === undefined || call.writableLength >= this.config.peerQueueEnvelopesMax) {
      this.dropped += messages.length;
      this.reportDropped(messages);
      return;
    }
    const snapshots = messages.filter((m) => m.type === 'snap');
    if (snapshots.length === 0) {
      call.write(env);
      return;
    }
    this.snapshotsInFlight = [...this.snapshotsInFlight, ...snapshots].slice(-SNAPSHOTS_IN_FLIGHT_MAX);
    // The callback fires once the envelope is handed to the connection: as close to "delivered" as a
    // one-way stream gets (a loss after that is reported when the stream breaks).
    call.write(env, () => {
      if (call === this.call) this.reportSnapshotSent();
    });
  }

  close(): void {
    if (this.state === 'closed') return;
    this.transition('closed');
    clearTimeout(this.timer);
    this.call?.end();
    this.call = undefined;
    this.client.close();
  }

  private open(): void {
    const call = this.client.send((err) => this.ended(call, err));
    call.on('metadata', () => {
      this.backoffMs = this.config.reconnectBackoffMinMs;
    });
    this.call = call;
    this.snapshotsInFlight = [];
    this.transition('streaming');
  }

  private ended(call: grpc.ClientWritableStream<pb.IRaftEnvelope>, err: grpc.ServiceError | null): void {
    if (call !== this.call || this.state === 'closed') return;
    this.call = undefined;
    // Whether they arrived is unknown; saying "lost" only makes the leader probe and resend.
    if (this.snapshotsInFlight.length > 0) this.reportDropped(this.snapshotsInFlight);
    this.snapshotsInFlight = [];
    if (err === null) {
      this.transition('idle'); // the peer ended the stream cleanly; reopen on the next send
      return;
    }
    this.logger.debug({ peer: this.peerId, code: err.code, details: err.details, backoffMs: this.backoffMs }, 'raft stream to peer failed');
    this.transition('backoff');
    this.timer = setTimeout(() => {
      if (this.state === 'backoff') this.transition('idle');
    }, this.backoffMs);
    this.timer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, this.config.reconnectBackoffMaxMs);
  }

  private transition(to: LinkState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    const level = to === 'backoff' || from === 'backoff' ? 'info' : 'debug';
    this.logger[level]({ peer: this.peerId, address: this.address, from, to, dropped: this.dropped }, `raft peer link ${from} -> ${to}`);
  }
}

export class GrpcRaftTransport implements RaftTransport, RaftServiceHandler {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly logger: Logger;
  private readonly config: TransportConfig;
  private readonly credentials: grpc.ChannelCredentials;
  private readonly links = new Map<NodeId, PeerLink>();
  private handler: RaftMessageHandler | undefined;
  private dropHandler: RaftDropHandler | undefined;
  private snapshotSentHandler: RaftSnapshotSentHandler | undefined;
  private closed = false;

  constructor(options: GrpcRaftTransportOptions) {
    this.config = parseConfig(options);
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.logger = options.logger ?? NOOP_LOGGER;
    this.credentials = options.credentials ?? grpc.credentials.createInsecure();
    if (options.peers !== undefined) this.setPeers(options.peers);
  }

  /** Replaces the peer set; links to removed or moved peers are closed. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    if (this.closed) return;
    for (const [id, link] of this.links) {
      if (peers.get(id) !== link.address) {
        link.close();
        this.links.delete(id);
      }
    }
    for (const [id, address] of peers) {
      if (id === this.nodeId || this.links.has(id)) continue;
      this.links.set(id, new PeerLink(id, address, this.config, this.credentials, this.logger, (dropped) => {
        // Never re-enter the caller of send(): report on a later turn.
        setImmediate(() => this.dropHandler?.(dropped));
      }, () => {
        setImmediate(() => this.snapshotSentHandler?.(id));
      }));
    }
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      if (m.to === this.nodeId) {
        setImmediate(() => this.deliver(m));
        continue;
      }
      let batch = byPeer.get(m.to);
      if (batch === undefined) byPeer.set(m.to, (batch = []));
      batch.push(m);
    }
    for (const [to, batch] of byPeer) {
      const link = this.links.get(to);
      if (link === undefined) {
        this.logger.debug({ to, messages: batch.length }, 'raft messages to unknown peer dropped');
        setImmediate(() => this.dropHandler?.(batch));
        continue;
      }
      for (let k = 0; k < batch.length; k += this.config.envelopeMessagesMax) {
        const part = batch.slice(k, k + this.config.envelopeMessagesMax);
        link.send({ clusterId: this.clusterId, messages: part.map(encodeRaftMessage) }, part);
      }
    }
  }

  onMessage(handler: RaftMessageHandler): void {
    this.handler = handler;
  }

  onDropped(handler: RaftDropHandler): void {
    this.dropHandler = handler;
  }

  onSnapshotSent(handler: RaftSnapshotSentHandler): void {
    this.snapshotSentHandler = handler;
  }

  /** The quorum's voters other than this node: the only senders whose messages raft gets. */
  knowsPeer(id: NodeId): boolean {
    return this.links.has(id);
  }

  deliver(message: Message): void {
    if (this.closed) return;
    this.handler?.(message);
  }

  /** Messages dropped per peer since start (peer down, backing off or queue full). */
  droppedMessages(): ReadonlyMap<NodeId, number> {
    return new Map([...this.links].map(([id, link]) => [id, link.dropped]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.dropHandler = undefined;
    this.snapshotSentHandler = undefined;
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
