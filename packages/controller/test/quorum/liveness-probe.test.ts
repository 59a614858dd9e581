// The active controller's liveness probe (broker.liveness.probe.after.ms): a broker silent for the probe
// delay whose listener refuses a connection is fenced at once, long before its session times out; one
// whose listener accepts (a stalled but running process) is left to the session timeout; a refusal that
// a heartbeat contradicts (it arrived while the probe ran) fences nobody. A single-voter quorum over real
// gRPC and file storage; the probe port is scripted per test, the real TCP probe is tested on its own.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { QuorumClient, tributary } from '@tributary/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  QuorumController, addQuorumService, controllerCommands, controllerPolicies, emptyImage, expiredBrokers, fileGrpcQuorumIo, metadataStateMachine,
  parseQuorumControllerConfig, probeListener, DEFAULT_BROKER_LIVENESS_PROBE_AFTER_MS, type ListenerProbeResult, type MetadataImage, type QuorumIo,
} from '../../src/internal.js';
import { waitFor } from '../raft/grpc-helpers.js';

const CLUSTER_ID = 'probe-test';
const logger = pino({ level: 'silent' });
const BROKER_ID = 7;
const BROKER_PORT = 9007;

type Probe = (endpoint: { host: string; port: number }) => Promise<ListenerProbeResult>;

interface Voter {
  readonly root: string;
  readonly server: grpc.Server;
  readonly controller: QuorumController<MetadataImage>;
  readonly client: QuorumClient;
  readonly probes: { host: string; port: number }[];
}

let voter: Voter | undefined;
afterEach(async () => {
  if (voter === undefined) return;
  voter.client.close();
  voter.server.forceShutdown();
  await voter.controller.close();
  await rm(voter.root, { recursive: true, force: true });
  voter = undefined;
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** A single voter whose probe port is `probe`; a 60 s session, so only the probe can fence within a test. */
async function startVoter(probe: Probe): Promise<Voter> {
  const root = await mkdtemp(join(tmpdir(), 'tributary-probe-'));
  const port = await freePort();
  const server = new grpc.Server();
  const voters = new Map([[1, `127.0.0.1:${port}`]]);
  const probes: { host: string; port: number }[] = [];
  const real = fileGrpcQuorumIo({ nodeId: 1, clusterId: CLUSTER_ID, voters, dataDir: root, fsync: false, server, logger });
  const io: QuorumIo = { ...real, probeBrokerListener: (endpoint) => { probes.push({ ...endpoint }); return probe(endpoint); } };
  const controller = await QuorumController.start({
    nodeId: 1, clusterId: CLUSTER_ID, logger, nowMs: Date.now, voters, io,
    machine: metadataStateMachine(CLUSTER_ID), policies: controllerPolicies(),
    config: { tickMs: 20, brokerSessionTimeoutMs: 60_000, brokerLivenessProbeAfterMs: 200 },
  });
  addQuorumService(server, { controller, commands: controllerCommands(), logger });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  const client = new QuorumClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  voter = { root, server, controller, client, probes };
  await waitFor(() => controller.isActive(), 'the voter to become active');
  return voter;
}

function unary<Req, Res>(client: QuorumClient, method: (req: Req, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, (err, res) => (err !== null ? reject(err) : resolve(res as Res)));
  });
}

/** Registers broker 7 and heartbeats it until it is unfenced; returns its epoch. */
async function registerUnfenced(v: Voter): Promise<number> {
  const res = await unary(v.client, v.client.registerBroker, {
    clusterId: CLUSTER_ID, brokerId: BROKER_ID, incarnationId: 'inc-7', endpoint: { host: '127.0.0.1', port: BROKER_PORT }, roles: ['broker'],
  });
  expect(tributary.v1.ErrorCode[res.error?.code ?? 0]).toBe('NONE');
  const brokerEpoch = Number(res.brokerEpoch);
  await heartbeat(v, brokerEpoch);
  await waitFor(() => v.controller.image.brokers.get(BROKER_ID)?.fenced === false, 'broker 7 unfenced');
  return brokerEpoch;
}

async function heartbeat(v: Voter, brokerEpoch: number): Promise<void> {
  const hb = await unary(v.client, v.client.brokerHeartbeat, { clusterId: CLUSTER_ID, brokerId: BROKER_ID, brokerEpoch, metadataOffset: v.controller.metadataOffset + 1_000 });
  expect(tributary.v1.ErrorCode[hb.error?.code ?? 0]).toBe('NONE');
}

describe('broker liveness probe on the active controller', () => {
  it('fences a silent broker whose listener refuses a connection, long before its session times out', async () => {
    const v = await startVoter(async () => 'refused');
    await registerUnfenced(v);
    const silentSince = Date.now();
    await waitFor(() => v.controller.image.brokers.get(BROKER_ID)?.fenced === true, 'broker 7 fenced by the probe', 20_000);
    expect(Date.now() - silentSince).toBeLessThan(60_000); // the session timeout could not have done it
    expect(v.probes.at(-1)).toEqual({ host: '127.0.0.1', port: BROKER_PORT }); // its registered endpoint
  });

  it('leaves a silent broker whose listener accepts (a stalled process) to its session timeout', async () => {
    const v = await startVoter(async () => 'accepted');
    await registerUnfenced(v);
    await waitFor(() => v.probes.length >= 3, 'three probes of the silent broker', 20_000);
    expect(v.controller.image.brokers.get(BROKER_ID)?.fenced).toBe(false);
  });

  it('does not fence on a refusal when a heartbeat arrived while the probe ran', async () => {
    let epoch = -1;
    let calls = 0;
    const v = await startVoter(async () => {
      if (epoch < 0) return 'accepted'; // not registered yet
      calls++;
      if (calls > 1) return 'accepted';
      await heartbeat(voter!, epoch); // the broker is alive after all: the refusal is stale
      return 'refused';
    });
    epoch = await registerUnfenced(v);
    await waitFor(() => calls >= 3, 'the contradicted probe and two more', 20_000);
    expect(v.controller.image.brokers.get(BROKER_ID)?.fenced).toBe(false);
  });
});

describe('probeListener (TCP)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => (server === undefined ? r(undefined) : server.close(r)));
    server = undefined;
  });

  it('says refused for a closed port and accepted for a listening one', async () => {
    const closed = await freePort();
    expect(await probeListener({ host: '127.0.0.1', port: closed }, 2000)).toBe('refused');
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    expect(await probeListener({ host: '127.0.0.1', port }, 2000)).toBe('accepted');
  });

  it('says accepted for a stopped process (SIGSTOP: a stall, not a death) and refused once it is killed', async () => {
    const child = spawn(process.execPath, ['-e', "const s = require('node:net').createServer(); s.listen(0, '127.0.0.1', () => console.log(s.address().port));"], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once('exit', () => reject(new Error('listener process exited')));
      });
      child.kill('SIGSTOP');
      expect(await probeListener({ host: '127.0.0.1', port }, 2000)).toBe('accepted');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      expect(await probeListener({ host: '127.0.0.1', port }, 2000)).toBe('refused');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('says unknown, not refused, when the host does not answer or does not resolve', async () => {
    expect(await probeListener({ host: 'no-such-host.invalid', port: 9092 }, 2000)).toBe('unknown');
  });
});

describe('broker liveness probe config and the core', () => {
  it('defaults to 1000 ms; 0 turns it off; it must stay below the session timeout', () => {
    expect(DEFAULT_BROKER_LIVENESS_PROBE_AFTER_MS).toBe(0);
    expect(parseQuorumControllerConfig().brokerLivenessProbeAfterMs).toBe(0);
    expect(parseQuorumControllerConfig({ brokerLivenessProbeAfterMs: 0 }).brokerLivenessProbeAfterMs).toBe(0);
    expect(() => parseQuorumControllerConfig({ brokerLivenessProbeAfterMs: 9000, brokerSessionTimeoutMs: 9000 })).toThrow(/brokerLivenessProbeAfterMs \(9000\) must be < brokerSessionTimeoutMs \(9000\)/);
    expect(() => parseQuorumControllerConfig({ brokerLivenessProbeAfterMs: -1 })).toThrow(/brokerLivenessProbeAfterMs must be a non-negative integer/);
    expect(() => parseQuorumControllerConfig({ brokerLivenessProbeAfterMs: 1.5 })).toThrow(/brokerLivenessProbeAfterMs must be a non-negative integer/);
  });

  it('expiredBrokers: a gone broker expires at once, a fenced one is not listed again', () => {
    const image = emptyImage(CLUSTER_ID);
    const broker = (id: number, fenced: boolean) => ({
      brokerId: id, incarnationId: `i${id}`, brokerEpoch: id, endpoint: { host: 'h', port: id }, rack: undefined, roles: ['broker'], fenced,
      inControlledShutdown: false,
    });
    const withBrokers = { ...image, brokers: new Map([[1, broker(1, false)], [2, broker(2, false)], [3, broker(3, true)]]) } as unknown as MetadataImage;
    const fresh = new Map([[1, 1000], [2, 1000], [3, 1000]]);
    expect(expiredBrokers(withBrokers, { lastHeartbeatMs: fresh, nowMs: 1001, sessionTimeoutMs: 9000 })).toEqual([]);
    expect(expiredBrokers(withBrokers, { lastHeartbeatMs: fresh, nowMs: 1001, sessionTimeoutMs: 9000, goneBrokers: new Set([2, 3]) })).toEqual([2]);
  });
});
