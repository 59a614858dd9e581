import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envVarName, parseNodeConfig, startNode } from '../src/index.js';
import { controllerConfig, ensureMetaProperties, groupCoordinatorConfig, logMaintenanceConfig, quorumControllerConfig, replicationConfig } from '../src/internal.js';
import { silentLogger } from './helpers.js';

const base = { 'node.id': 1, 'data.dir': '/tmp/x' };

function issuesOf(fn: () => unknown): { key: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseNodeConfig', () => {
  it('applies defaults', () => {
    const config = parseNodeConfig({ flags: base });
    expect(config).toMatchObject({
      nodeId: 1, listen: { host: '127.0.0.1', port: 9092 }, processRoles: ['broker', 'controller'], controllerQuorumVoters: [],
      numPartitions: 1, defaultReplicationFactor: 1, minInsyncReplicas: 1, messageMaxBytes: 1048576,
      socketRequestMaxBytes: 4 * 1048576 + 65536, autoCreateTopicsEnable: false, logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes defaults < env < --set < flags', () => {
    const env = { TRIBUTARY_MIN_INSYNC_REPLICAS: '2', TRIBUTARY_DEFAULT_REPLICATION_FACTOR: '3', TRIBUTARY_NUM_PARTITIONS: '4', TRIBUTARY_LOG_LEVEL: 'debug', TRIBUTARY_BROKERS: 'ignored' };
    const fromEnv = parseNodeConfig({ flags: base, env });
    expect([fromEnv.minInsyncReplicas, fromEnv.numPartitions, fromEnv.logLevel]).toEqual([2, 4, 'debug']);
    const fromSet = parseNodeConfig({ flags: base, env, set: ['num.partitions=6', 'log.level=warn'] });
    expect([fromSet.minInsyncReplicas, fromSet.numPartitions, fromSet.logLevel]).toEqual([2, 6, 'warn']);
    const fromFlags = parseNodeConfig({ flags: { ...base, 'num.partitions': 8 }, env, set: ['num.partitions=6'] });
    expect(fromFlags.numPartitions).toBe(8);
    expect(envVarName('min.insync.replicas')).toBe('TRIBUTARY_MIN_INSYNC_REPLICAS');
  });

  it('names every bad key at once', () => {
    const issues = issuesOf(() => parseNodeConfig({
      flags: { listen: 'nohost', 'process.roles': 'broker,janitor' },
      env: { TRIBUTARY_NUM_PARTITIONS: 'many' },
      set: ['no.such.key=1', 'message.max.bytes=12', 'missing-equals'],
    }));
    expect(issues.map((i) => i.key).sort()).toEqual(
      ['data.dir', 'listen', 'message.max.bytes', 'missing-equals', 'no.such.key', 'node.id', 'num.partitions', 'process.roles'],
    );
    expect(issues.find((i) => i.key === 'num.partitions')?.message).toContain('"many"');
  });

  it('parses and validates controller.quorum.voters', () => {
    const config = parseNodeConfig({ flags: { ...base, 'controller.quorum.voters': '1@a:9093,2@b:9093,3@[::1]:9093' } });
    expect(config.controllerQuorumVoters).toEqual([{ nodeId: 1, host: 'a', port: 9093 }, { nodeId: 2, host: 'b', port: 9093 }, { nodeId: 3, host: '::1', port: 9093 }]);
    expect(issuesOf(() => parseNodeConfig({ flags: { ...base, 'controller.quorum.voters': '1@a:9093,1@b:9093' } }))[0]?.key).toBe('controller.quorum.voters');
    expect(issuesOf(() => parseNodeConfig({ flags: { ...base, 'controller.quorum.voters': '1-a:9093' } }))[0]?.key).toBe('controller.quorum.voters');
  });

  it('bounds http2.flow.control.window.bytes by HTTP/2\'s window range, default 4 MiB', () => {
    expect(parseNodeConfig({ flags: base }).http2FlowControlWindowBytes).toBe(4 * 1024 * 1024);
    expect(parseNodeConfig({ flags: base, set: ['http2.flow.control.window.bytes=65535'] }).http2FlowControlWindowBytes).toBe(65_535);
    for (const bad of ['65534', String(2 ** 31)]) {
      expect(issuesOf(() => parseNodeConfig({ flags: base, set: [`http2.flow.control.window.bytes=${bad}`] })).map((i) => i.key)).toEqual(['http2.flow.control.window.bytes']);
    }
  });

  it('checks cross-field rules', () => {
    const keys = (set: string[]) => issuesOf(() => parseNodeConfig({ flags: base, set })).map((i) => i.key);
    expect(keys(['controller.quorum.voters=2@a:1,3@b:1'])).toEqual(['node.id, controller.quorum.voters, process.roles']);
    expect(keys(['message.max.bytes=2000000', 'socket.request.max.bytes=2000000'])).toEqual(['socket.request.max.bytes, message.max.bytes']);
    expect(keys(['min.insync.replicas=2'])).toEqual(['min.insync.replicas, default.replication.factor']);
    expect(keys(['auto.create.topics.enable=true'])).toEqual(['auto.create.topics.enable']);
    // socket.request.max.bytes follows message.max.bytes when not set.
    expect(parseNodeConfig({ flags: base, set: ['message.max.bytes=2097152'] }).socketRequestMaxBytes).toBe(4 * 2097152 + 65536);
    expect(keys(['group.min.session.timeout.ms=5000', 'group.max.session.timeout.ms=4000'])).toEqual(['group.min.session.timeout.ms, group.max.session.timeout.ms']);
    expect(keys(['replica.fetch.max.bytes=2097152', 'replica.fetch.response.max.bytes=1048576'])).toEqual(['replica.fetch.max.bytes, replica.fetch.response.max.bytes']);
  });

  it('owns the keys of every component: bad ones across groups, replication, the cleaner and the controller are one ConfigError', () => {
    const issues = issuesOf(() => parseNodeConfig({
      flags: base,
      set: [
        'offsets.topic.num.partitions=0', // group coordinator
        'group.min.session.timeout.ms=soon', // group coordinator
        'replica.fetch.max.bytes=-1', // replication
        'log.cleaner.backoff.ms=1', // log maintenance
        'num.partitions=20000', // controller: above its partitions-per-topic limit (10000)
      ],
    }));
    expect(issues.map((i) => i.key).sort()).toEqual([
      'group.min.session.timeout.ms', 'log.cleaner.backoff.ms', 'num.partitions', 'offsets.topic.num.partitions', 'replica.fetch.max.bytes',
    ]);
  });

  it('replica.fetch.stream.*: on by default with a 32 MiB bytes-in-flight limit; a limit under 1 KiB or a non-boolean switch is refused', () => {
    const defaults = parseNodeConfig({ flags: base, set: [] });
    expect(defaults.replicaFetchStreamEnable).toBe(true);
    expect(defaults.replicaFetchStreamMaxBytesInFlight).toBe(32 * 1024 * 1024);
    expect(replicationConfig(parseNodeConfig({ flags: base, set: ['replica.fetch.stream.enable=false'] })).replicaFetchStreamEnable).toBe(false);
    const issues = issuesOf(() => parseNodeConfig({ flags: base, set: ['replica.fetch.stream.max.bytes.in.flight=100', 'replica.fetch.stream.enable=maybe'] }));
    expect(issues.map((i) => i.key).sort()).toEqual(['replica.fetch.stream.enable', 'replica.fetch.stream.max.bytes.in.flight']);
  });

  it('derives each component config from the node config', () => {
    const config = parseNodeConfig({
      flags: base,
      set: ['offsets.retention.minutes=2', 'group.max.session.timeout.ms=60000', 'replica.fetch.min.bytes=10', 'log.cleaner.enable=false', 'controller.quorum.election.timeout.ms=500', 'num.partitions=3'],
    });
    expect(groupCoordinatorConfig(config)).toMatchObject({ offsetsRetentionMs: 120_000, groupMaxSessionTimeoutMs: 60_000, offsetsTopicNumPartitions: 50 });
    expect(replicationConfig(config)).toMatchObject({ replicaFetchMinBytes: 10, replicaLagTimeMaxMs: 30_000 });
    expect(logMaintenanceConfig(config)).toEqual({ retentionCheckIntervalMs: 300_000, cleanerEnable: false, cleanerBackoffMs: 15_000 });
    expect(quorumControllerConfig(config)).toMatchObject({ tickMs: 50, electionTicks: 10 });
    expect(controllerConfig(config)).toMatchObject({ defaultNumPartitions: 3 });
  });
});

describe('startNode options.groups', () => {
  it('goes through the node config parser: every bad key in one ConfigError, before anything starts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tributary-groups-opt-'));
    try {
      const config = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': dataDir, listen: '127.0.0.1:0' } });
      const err = await startNode(config, {
        logger: silentLogger,
        groups: { 'offsets.topic.num.partitions': 0, 'offsets.retention.minutes': 'x', 'no.such.key': 1 },
      }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.key).sort()).toEqual(['no.such.key', 'offsets.retention.minutes', 'offsets.topic.num.partitions']);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('meta.properties', () => {
  const alone = { processRoles: ['broker', 'controller'] as const, controllerQuorumVoters: [] };
  const self = (nodeId: number) => ({ selfVoter: { nodeId, host: '127.0.0.1', port: 9092 } });
  it('stores node.id and cluster.id on first start and refuses a mismatch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-meta-'));
    try {
      const first = await ensureMetaProperties({ dataDir: dir, nodeId: 3, clusterId: undefined, ...alone, ...self(3) });
      expect(first.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(await ensureMetaProperties({ dataDir: dir, nodeId: 3, clusterId: undefined, ...alone, ...self(3) })).toEqual(first);
      const wrongNode = await ensureMetaProperties({ dataDir: dir, nodeId: 4, clusterId: undefined, ...alone, ...self(4) }).catch((e: unknown) => e);
      expect(wrongNode).toBeInstanceOf(ConfigError);
      expect((wrongNode as ConfigError).issues.map((i) => i.key)).toEqual(['node.id']);
      const wrongCluster = await ensureMetaProperties({ dataDir: dir, nodeId: 3, clusterId: 'other', ...alone, ...self(3) }).catch((e: unknown) => e);
      expect((wrongCluster as ConfigError).issues.map((i) => i.key)).toEqual(['cluster.id']);

      // startNode refuses too.
      const config = parseNodeConfig({ flags: { 'node.id': 9, listen: '127.0.0.1:0', 'data.dir': dir } });
      await expect(startNode(config, { logger: silentLogger })).rejects.toThrow(/node\.id: is 9 but .* belongs to node 3/);
      await writeFile(join(dir, 'meta.properties'), 'garbage\n');
      await expect(ensureMetaProperties({ dataDir: dir, nodeId: 3, clusterId: undefined, ...alone, ...self(3) })).rejects.toBeInstanceOf(ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('broker.liveness.probe.after.ms', () => {
  const keys = (set: string[]) => issuesOf(() => parseNodeConfig({ flags: base, set })).map((i) => i.key);

  it('defaults to 1000 ms (two heartbeat intervals) and reaches the quorum controller', () => {
    const config = parseNodeConfig({ flags: base });
    expect(config.brokerLivenessProbeAfterMs).toBe(0);
    expect(quorumControllerConfig(config)).toMatchObject({ brokerLivenessProbeAfterMs: 0, brokerSessionTimeoutMs: 9000 });
    expect(quorumControllerConfig(parseNodeConfig({ flags: base, set: ['broker.liveness.probe.after.ms=0'] }))).toMatchObject({ brokerLivenessProbeAfterMs: 0 });
  });

  it('must be below broker.session.timeout.ms (or 0 = off), and within its range', () => {
    expect(keys(['broker.liveness.probe.after.ms=9000'])).toEqual(['broker.liveness.probe.after.ms, broker.session.timeout.ms']);
    expect(keys(['broker.session.timeout.ms=800', 'broker.heartbeat.interval.ms=100', 'broker.liveness.probe.after.ms=1000'])).toEqual(['broker.liveness.probe.after.ms, broker.session.timeout.ms']);
    expect(parseNodeConfig({ flags: base, set: ['broker.session.timeout.ms=800', 'broker.heartbeat.interval.ms=100', 'broker.liveness.probe.after.ms=0'] }).brokerLivenessProbeAfterMs).toBe(0);
    expect(parseNodeConfig({ flags: base, set: ['broker.liveness.probe.after.ms=8999'] }).brokerLivenessProbeAfterMs).toBe(8999);
    expect(keys(['broker.liveness.probe.after.ms=-1'])).toEqual(['broker.liveness.probe.after.ms']);
    expect(keys(['broker.liveness.probe.after.ms=600001'])).toEqual(['broker.liveness.probe.after.ms']);
  });
});
