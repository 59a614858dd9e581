// The quorum shell on the real core, over real gRPC and file storage: a single-voter quorum, the
// command queue limit, metadata snapshots compacting the log, a lagging watcher caught up from a
// snapshot, and images converging (same hash) on every voter and watcher after a voter restarts.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { QuorumClient, tributary } from '@tributary/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  QuorumController, QuorumError, RAFT_DIR, fileGrpcQuorumIo, addQuorumService, applyRecords, controllerCommands, controllerPolicies, createQuorumHandlers, emptyImage,
  imageFromSnapshotData, imageHash, metadataStateMachine, recordFromWire, snapshotFromWire, topicByName,
  type MetadataImage, type QuorumControllerConfig,
} from '../../src/internal.js';
import { waitFor } from '../raft/grpc-helpers.js';

import pb = tributary.internal.v1;

const CLUSTER_ID = 'quorum-test';
const logger = pino({ level: 'silent' });

interface Voter {
  readonly id: number;
  readonly server: grpc.Server;
  readonly controller: QuorumController<MetadataImage>;
}

class Quorum {
  readonly voters = new Map<number, Voter>();
  private readonly clients: QuorumClient[] = [];
  constructor(readonly root: string, readonly ports: ReadonlyMap<number, number>, readonly config: Partial<QuorumControllerConfig>) {}

  static async start(size: number, config: Partial<QuorumControllerConfig> = {}): Promise<Quorum> {
    const root = await mkdtemp(join(tmpdir(), 'tributary-quorum-'));
    const ports = await freePorts(size);
    // The brokers these tests register are fakes with no listener: the liveness probe would fence them.
    const q = new Quorum(root, new Map(ports.map((p, i) => [i + 1, p])), { tickMs: 20, brokerLivenessProbeAfterMs: 0, ...config });
    await Promise.all([...q.ports.keys()].map((id) => q.startVoter(id)));
    return q;
  }

  async startVoter(id: number): Promise<Voter> {
    const server = new grpc.Server();
    const voters = new Map([...this.ports].map(([v, port]) => [v, `127.0.0.1:${port}`]));
    const controller = await QuorumController.start({
      nodeId: id, clusterId: CLUSTER_ID, logger, nowMs: Date.now, voters,
      io: fileGrpcQuorumIo({ nodeId: id, clusterId: CLUSTER_ID, voters, dataDir: join(this.root, `node-${id}`), fsync: false, server, logger }),
      machine: metadataStateMachine(CLUSTER_ID), policies: controllerPolicies(), config: this.config,
    });
    addQuorumService(server, { controller, commands: controllerCommands(), logger });
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${this.ports.get(id)!}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    const voter = { id, server, controller };
    this.voters.set(id, voter);
    return voter;
  }

  async stopVoter(id: number): Promise<void> {
    const v = this.voters.get(id)!;
    this.voters.delete(id);
    v.server.forceShutdown();
    await v.controller.close();
  }

  active(): Voter | undefined {
    return [...this.voters.values()].find((v) => v.controller.isActive());
  }

  async waitActive(): Promise<Voter> {
    await waitFor(() => this.active() !== undefined, 'an active controller');
    return this.active()!;
  }

  client(id: number): QuorumClient {
    const c = new QuorumClient(`127.0.0.1:${this.ports.get(id)!}`, grpc.credentials.createInsecure());
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all([...this.voters.keys()].map((id) => this.stopVoter(id)));
    await rm(this.root, { recursive: true, force: true });
  }
}

async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function unary<Req, Res>(client: QuorumClient, method: (req: Req, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, (err, res) => (err !== null ? reject(err) : resolve(res as Res)));
  });
}

/** Creates topics through Forward on the active voter; returns the offset they committed at. */
async function createTopics(q: Quorum, names: readonly string[]): Promise<number> {
  const active = await q.waitActive();
  const res = await unary(q.client(active.id), q.client(active.id).forward, {
    clusterId: CLUSTER_ID, brokerId: 1,
    createTopics: { topics: names.map((name) => ({ name, numPartitions: 1, replicationFactor: 1 })) },
  });
  expect(tributary.v1.ErrorCode[res.error?.code ?? 0]).toBe('NONE');
  for (const t of res.createTopics?.topics ?? []) expect(tributary.v1.ErrorCode[t.error?.code ?? 0]).toBe('NONE');
  return Number(res.metadataOffset);
}

async function registerBroker(q: Quorum, brokerId: number): Promise<number> {
  const active = await q.waitActive();
  const client = q.client(active.id);
  const res = await unary(client, client.registerBroker, {
    clusterId: CLUSTER_ID, brokerId, incarnationId: `inc-${brokerId}`, endpoint: { host: '127.0.0.1', port: 9000 + brokerId }, roles: ['broker'],
  });
  expect(tributary.v1.ErrorCode[res.error?.code ?? 0]).toBe('NONE');
  const brokerEpoch = Number(res.brokerEpoch);
  const hb = await unary(client, client.brokerHeartbeat, { clusterId: CLUSTER_ID, brokerId, brokerEpoch, metadataOffset: active.controller.metadataOffset + 1_000 });
  expect(tributary.v1.ErrorCode[hb.error?.code ?? 0]).toBe('NONE');
  return brokerEpoch;
}

/** A broker's view of the log through WatchMetadata: snapshot first when behind, then batches. */
class Watcher {
  image: MetadataImage = emptyImage(CLUSTER_ID);
  applied = 0;
  snapshots = 0;
  private readonly call: grpc.ClientReadableStream<pb.MetadataEvent>;
  constructor(client: QuorumClient, fromOffset: number) {
    this.call = client.watchMetadata({ clusterId: CLUSTER_ID, brokerId: 1, fromOffset });
    this.call.on('data', (e: pb.MetadataEvent) => {
      if (e.body === 'snapshot') {
        this.image = imageFromSnapshotData(snapshotFromWire(e.snapshot!));
        this.applied = this.image.offset;
        this.snapshots++;
      } else if (e.body === 'entry' && Number(e.entry!.offset) > this.applied) {
        this.image = applyRecords(this.image, (e.entry!.batch?.records ?? []).map((r) => recordFromWire(r)), Number(e.entry!.offset));
        this.applied = Number(e.entry!.offset);
      } else if (e.body === 'progress') {
        this.applied = Math.max(this.applied, Number(e.committedOffset));
      }
    });
    this.call.on('error', () => {});
  }
  close(): void {
    this.call.cancel();
  }
}

let quorum: Quorum | undefined;
afterEach(async () => {
  await quorum?.close();
  quorum = undefined;
});

describe('quorum controller on the metadata core', () => {
  it('runs as a single voter: active on its own, commands commit, the image survives a restart', async () => {
    quorum = await Quorum.start(1);
    const q = quorum;
    await q.waitActive();
    const epoch = await registerBroker(q, 1);
    await createTopics(q, ['solo']);
    const image = q.voters.get(1)!.controller.image;
    expect(image.brokers.get(1)).toMatchObject({ brokerEpoch: epoch, fenced: false });
    expect(topicByName(image, 'solo')?.partitions[0]).toMatchObject({ leader: 1, isr: [1] });
    const hash = imageHash(image);
    await q.stopVoter(1);
    const restarted = await q.startVoter(1);
    await q.waitActive();
    await waitFor(() => imageHash(restarted.controller.image) === hash, 'the restarted voter to rebuild its image');
  });

  it('refuses commands beyond commandQueueMax (REQUEST_TIMED_OUT, retriable)', async () => {
    quorum = await Quorum.start(1, { commandQueueMax: 3 });
    const v = await quorum.waitActive();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => v.controller.runCommand('noop', () => ({ batch: undefined, response: 1 }))));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as QuorumError);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(refused).toHaveLength(5);
    for (const err of refused) expect(err).toMatchObject({ code: 'REQUEST_TIMED_OUT', retriable: true });
    // The queue drains: the next command runs.
    await expect(v.controller.runCommand('noop', () => ({ batch: undefined, response: 2 }))).resolves.toMatchObject({ response: 2 });
  });

  it('does not decide a forwarded admin change after its caller\'s deadline (a retried CreateTopics must not resurrect a deleted topic)', async () => {
    quorum = await Quorum.start(1);
    const v = await quorum.waitActive();
    await registerBroker(quorum, 1);
    const handlers = createQuorumHandlers({ controller: v.controller, commands: controllerCommands(), logger });
    const forward = (request: pb.IForwardRequest, deadline: Date | number): Promise<pb.IForwardResponse> => new Promise((resolve, reject) => {
      const call = { request: pb.ForwardRequest.fromObject({ clusterId: CLUSTER_ID, brokerId: 1, ...request }), getDeadline: () => deadline };
      (handlers.forward as unknown as (c: typeof call, cb: (err: unknown, res?: pb.IForwardResponse) => void) => void)(call, (err, res) => (err ? reject(err) : resolve(res!)));
    });
    const late = await forward({ createTopics: { topics: [{ name: 'late', numPartitions: 1, replicationFactor: 1 }] } }, new Date(Date.now() - 1));
    expect(tributary.v1.ErrorCode[late.error?.code ?? 0]).toBe('REQUEST_TIMED_OUT');
    const inTime = await forward({ createTopics: { topics: [{ name: 'in-time', numPartitions: 1, replicationFactor: 1 }] } }, Date.now() + 10_000);
    expect(tributary.v1.ErrorCode[inTime.error?.code ?? 0]).toBe('NONE');
    expect(tributary.v1.ErrorCode[inTime.createTopics?.topics?.[0]?.error?.code ?? 0]).toBe('NONE');
    const noDeadline = await forward({ createTopics: { topics: [{ name: 'no-deadline', numPartitions: 1, replicationFactor: 1 }] } }, Infinity);
    expect(tributary.v1.ErrorCode[noDeadline.error?.code ?? 0]).toBe('NONE');
    await waitFor(() => topicByName(v.controller.image, 'no-deadline') !== undefined, 'the later topics to be applied');
    expect(topicByName(v.controller.image, 'in-time')).toBeDefined();
    expect(topicByName(v.controller.image, 'late')).toBeUndefined(); // commands run in order: it would be there by now
  });

  it('answers a repeated forwarded request id from memory: a delayed attempt does not re-create a topic deleted since', async () => {
    quorum = await Quorum.start(1);
    const v = await quorum.waitActive();
    await registerBroker(quorum, 1);
    const handlers = createQuorumHandlers({ controller: v.controller, commands: controllerCommands(), logger });
    const forward = (request: pb.IForwardRequest): Promise<pb.IForwardResponse> => new Promise((resolve, reject) => {
      const call = { request: pb.ForwardRequest.fromObject({ clusterId: CLUSTER_ID, brokerId: 1, ...request }), getDeadline: () => Infinity };
      (handlers.forward as unknown as (c: typeof call, cb: (err: unknown, res?: pb.IForwardResponse) => void) => void)(call, (err, res) => (err ? reject(err) : resolve(res!)));
    });
    const create = { createTopics: { topics: [{ name: 'once', numPartitions: 1, replicationFactor: 1 }] }, requestId: 'req-1/create-topic/once' };
    const first = await forward(create);
    expect(tributary.v1.ErrorCode[first.createTopics?.topics?.[0]?.error?.code ?? 0]).toBe('NONE');
    const deleted = await forward({ deleteTopics: { names: ['once'] }, requestId: 'req-2/delete-topic/once' });
    expect(tributary.v1.ErrorCode[deleted.deleteTopics?.topics?.[0]?.error?.code ?? 0]).toBe('NONE');
    const late = await forward(create); // the first attempt's answer, nothing applied
    expect(Number(late.metadataOffset)).toBe(Number(first.metadataOffset));
    const other = await forward({ createTopics: { topics: [{ name: 'marker', numPartitions: 1, replicationFactor: 1 }] }, requestId: 'req-3/create-topic/marker' });
    await waitFor(() => v.controller.image.offset >= Number(other.metadataOffset), 'the marker topic to be applied');
    expect(topicByName(v.controller.image, 'once')).toBeUndefined();
    // Without an id, the same request is applied again (the old behaviour, for clients that send none).
    await forward({ createTopics: { topics: [{ name: 'once', numPartitions: 1, replicationFactor: 1 }] } });
    await waitFor(() => topicByName(v.controller.image, 'once') !== undefined, 'the id-less create');
  });

  it('snapshots and compacts the log; a lagging watcher and a restarted voter catch up from the snapshot; every image converges', async () => {
    quorum = await Quorum.start(3, { snapshotIntervalRecords: 4, watchTailEntries: 3 });
    const q = quorum;
    await q.waitActive();
    await registerBroker(q, 1);
    for (let i = 0; i < 6; i++) await createTopics(q, [`t${i}a`, `t${i}b`]);
    // Every voter took a snapshot (RaftDriver.snapshot compacts the log behind it).
    const target = q.active()!.controller.metadataOffset;
    expect(target).toBeGreaterThanOrEqual(8); // registration, unfence, six batches of topics
    for (const id of q.voters.keys()) {
      await waitFor(() => q.voters.get(id)!.controller.metadataOffset >= target, `voter ${id} applies the topics`);
    }
    const snapshotsOf = async (id: number): Promise<string[]> => (await readdir(join(q.root, `node-${id}`, RAFT_DIR))).filter((f) => f.endsWith('.snap'));
    for (const id of q.voters.keys()) {
      const deadline = Date.now() + 5_000;
      while ((await snapshotsOf(id)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Snapshots every 4 batches (older ones are removed when the storage next opens).
      expect((await snapshotsOf(id)).length).toBeGreaterThanOrEqual(1);
    }

    // A watcher from offset 1 is further behind than the tail: it gets the snapshot, then batches.
    const follower = [...q.voters.keys()].find((id) => id !== q.active()!.id)!;
    const lagging = new Watcher(q.client(follower), 1);
    try {
      const activeHash = (): string => imageHash(q.active()!.controller.image);
      await waitFor(() => lagging.snapshots === 1 && imageHash(lagging.image) === activeHash(), 'the lagging watcher to catch up');

      // Kill a voter, keep writing, bring it back: it restores its snapshot and catches up (by snapshot
      // or log) and every voter's image, and the watcher's, has the same hash.
      await q.stopVoter(follower);
      lagging.close();
      for (let i = 0; i < 3; i++) await createTopics(q, [`after${i}`]);
      const back = await q.startVoter(follower);
      const watcher = new Watcher(q.client(follower), 1);
      try {
        await waitFor(() => back.controller.metadataOffset >= q.active()!.controller.metadataOffset, 'the restarted voter to catch up');
        await waitFor(() => {
          const hashes = new Set([...q.voters.values()].map((v) => imageHash(v.controller.image)));
          return hashes.size === 1 && hashes.has(imageHash(watcher.image));
        }, 'images to converge on every voter and the watcher');
        expect(topicByName(back.controller.image, 'after2')).toBeDefined();
        expect(watcher.snapshots).toBeGreaterThanOrEqual(1);
      } finally {
        watcher.close();
      }
    } finally {
      lagging.close();
    }
  });
});
