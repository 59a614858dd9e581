import * as grpc from '@grpc/grpc-js';
import type { Message } from '@tributary/nraft';
import { RaftClient, tributary } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcRaftTransport } from '../../src/raft/grpc-raft-transport.js';
import { encodeRaftMessage } from '../../src/raft/raft-message-codec.js';
import { recordingLogger, startRaftServer, stopServer, waitFor } from './grpc-helpers.js';

function heartbeat(from: number, to: number, term: number): Message {
  return { type: 'heartbeat', from, to, term, logTerm: 0, index: 0, entries: [], commit: term, reject: false, rejectHint: 0, context: new Uint8Array() };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(id: number, clusterId = 'c1', port = 0, envelopeMessagesMax?: number) {
  const logger = recordingLogger();
  const transport = new GrpcRaftTransport({
    nodeId: id, clusterId, logger, reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 100,
    ...(envelopeMessagesMax === undefined ? {} : { envelopeMessagesMax }),
  });
  // The quorum is nodes 1..3: a transport takes messages only from peers it knows (addresses are
  // placeholders until a test connects two nodes with setPeers).
  transport.setPeers(new Map([1, 2, 3].filter((p) => p !== id).map((p) => [p, '127.0.0.1:1'])));
  const received: Message[] = [];
  transport.onMessage((m) => received.push(m));
  const { server, address } = await startRaftServer(transport, port);
  cleanups.push(() => transport.close(), () => stopServer(server));
  return { transport, received, server, address, logger };
}

describe('GrpcRaftTransport', () => {
  it('carries messages both ways over loopback, in order per peer', async () => {
    const a = await node(1);
    const b = await node(2);
    a.transport.setPeers(new Map([[2, b.address]]));
    b.transport.setPeers(new Map([[1, a.address]]));
    a.transport.send([1, 2, 3].map((t) => heartbeat(1, 2, t)));
    b.transport.send([heartbeat(2, 1, 9)]);
    await waitFor(() => a.received.length === 1 && b.received.length === 3, 'delivery');
    expect(b.received.map((m) => m.term)).toEqual([1, 2, 3]);
    expect(a.received[0]).toEqual(heartbeat(2, 1, 9));
  });

  it('splits a long batch for one peer into envelopes of envelopeMessagesMax, keeping order', async () => {
    const a = await node(1, 'c1', 0, 2);
    const b = await node(2);
    a.transport.setPeers(new Map([[2, b.address]]));
    a.transport.send([1, 2, 3, 4, 5].map((t) => heartbeat(1, 2, t)));
    await waitFor(() => b.received.length === 5, 'delivery of the split batch');
    expect(b.received.map((m) => m.term)).toEqual([1, 2, 3, 4, 5]);
  });

  it('drops messages beyond peerQueueEnvelopesMax instead of buffering them', async () => {
    const transport = new GrpcRaftTransport({ nodeId: 1, clusterId: 'c1', peerQueueEnvelopesMax: 1, peers: new Map([[2, '127.0.0.1:1']]) });
    cleanups.push(() => transport.close());
    for (let t = 1; t <= 5; t++) transport.send([heartbeat(1, 2, t)]);
    // The stream cannot connect, so writes pile up: only the first envelope is queued.
    expect(transport.droppedMessages().get(2)).toBe(4);
  });

  it('rejects and logs a stream from another cluster', async () => {
    const a = await node(1, 'other-cluster');
    const b = await node(2, 'c1');
    a.transport.setPeers(new Map([[2, b.address]]));
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => b.logger.lines.some((l) => l.msg.includes('another cluster')), 'rejection log');
    expect(b.received).toEqual([]);
  });

  it('drops messages while a peer is down and reconnects when it returns', async () => {
    const a = await node(1);
    let b = await node(2);
    a.transport.setPeers(new Map([[2, b.address]]));
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => b.received.length === 1, 'first delivery');

    stopServer(b.server);
    await b.transport.close();
    // Keep sending while the peer is down: nothing blocks, messages are dropped.
    const port = Number(b.address.split(':')[1]);
    for (let i = 0; i < 20; i++) {
      a.transport.send([heartbeat(1, 2, 2)]);
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(() => (a.transport.droppedMessages().get(2) ?? 0) > 0, 'drops while down');

    b = await node(2, 'c1', port);
    await waitFor(() => {
      a.transport.send([heartbeat(1, 2, 3)]);
      return b.received.some((m) => m.term === 3);
    }, 'delivery after the peer restarted');
  });

  it('reports snapshots handed to a peer, and messages dropped while a peer is unreachable', async () => {
    const a = await node(1);
    const b = await node(2);
    a.transport.setPeers(new Map([[2, b.address], [3, '127.0.0.1:1']]));
    const sent: number[] = [];
    const dropped: Message[] = [];
    a.transport.onSnapshotSent((to) => sent.push(to));
    a.transport.onDropped((ms) => dropped.push(...ms));
    const snap: Message = {
      ...heartbeat(1, 2, 4), type: 'snap',
      snapshot: { metadata: { index: 10, term: 4, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array([1, 2, 3]) },
    };
    a.transport.send([snap]);
    await waitFor(() => sent.length === 1 && b.received.length === 1, 'snapshot delivered and reported');
    expect(sent).toEqual([2]);
    expect(b.received[0]).toEqual(snap);
    // Node 3 listens nowhere: its stream fails, then sends during backoff are dropped and reported.
    await waitFor(() => {
      a.transport.send([heartbeat(1, 3, 5)]);
      return dropped.length > 0;
    }, 'a drop report');
    expect(dropped.every((m) => m.to === 3)).toBe(true);
  });

  it('validates its options once, naming every bad field', () => {
    expect(() => new GrpcRaftTransport({ nodeId: -1, clusterId: '', reconnectBackoffMinMs: 500, reconnectBackoffMaxMs: 100, envelopeMessagesMax: 0 }))
      .toThrow(/nodeId .*; clusterId .*; envelopeMessagesMax must be a positive integer, got 0; reconnectBackoffMinMs must be <= reconnectBackoffMaxMs/);
  });

  it('drops messages from senders outside the quorum, messages a stream sends in another node\'s name, and undecodable ones', async () => {
    const b = await node(2);
    const client = new RaftClient(b.address, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const call = client.send(() => {});
    const wire = (m: Message) => encodeRaftMessage(m);
    call.write({
      clusterId: 'c1',
      messages: [
        wire(heartbeat(9, 2, 100)),                                 // not a voter: dropped
        wire(heartbeat(1, 2, 6)),                                   // pins the stream to node 1
        wire(heartbeat(3, 2, 100)),                                 // a voter, but this stream speaks for 1
        { ...wire(heartbeat(1, 2, 7)), type: 999 as tributary.internal.v1.RaftMessageType },                  // undecodable type
        { ...wire(heartbeat(1, 2, 7)), term: { low: 0, high: 0x40_0000, unsigned: true } as unknown as number }, // beyond 2^53
        wire(heartbeat(1, 2, 5)),                                   // the only valid one
      ],
    } satisfies tributary.internal.v1.IRaftEnvelope);
    call.end();
    await waitFor(() => b.received.length === 2, 'the valid messages');
    expect(b.received).toEqual([heartbeat(1, 2, 6), heartbeat(1, 2, 5)]);
    const reasons = b.logger.lines.filter((l) => l.msg === 'raft message dropped').map((l) => (l.obj as { reason: string }).reason);
    expect(reasons.sort()).toEqual(['decode', 'sender-mismatch', 'unknown-peer']);
  });

  it('pins a stream to the sender of its first message', async () => {
    const b = await node(2);
    const client = new RaftClient(b.address, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const call = client.send(() => {});
    call.write({ clusterId: 'c1', messages: [encodeRaftMessage(heartbeat(3, 2, 4)), encodeRaftMessage(heartbeat(1, 2, 4)), encodeRaftMessage(heartbeat(3, 2, 5))] });
    call.end();
    await waitFor(() => b.received.length === 2, 'the messages of the first sender');
    expect(b.received.map((m) => [m.from, m.term])).toEqual([[3, 4], [3, 5]]);
  });

  it('delivers messages addressed to itself locally and drops ones for unknown peers', async () => {
    const a = await node(1);
    a.transport.send([heartbeat(1, 1, 5), heartbeat(1, 7, 5)]);
    await waitFor(() => a.received.length === 1, 'local delivery');
    expect(a.received[0]!.to).toBe(1);
  });
});
