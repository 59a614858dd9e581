// Deploy validation (DESIGN.md §8, layer 5): deploy/docker-compose.yml and deploy/k8s/ parse (and
// `docker-compose config` accepts the compose file when docker-compose is installed), and every node
// they describe is configured in a way the real `tributary server` command and config loader accept,
// forming one cluster: the same voters everywhere, each voter a node of the deployment.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseNodeConfig, type NodeConfig } from '@tributary/broker';
import { run } from '@tributary/cli';
import { parseYamlDocuments, type YamlValue } from './mini-yaml.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'deploy/docker-compose.yml');
const K8S_DIR = join(ROOT, 'deploy/k8s');

type Obj = { [key: string]: YamlValue };
function obj(value: YamlValue | undefined, what: string): Obj {
  if (value === undefined || typeof value === 'string' || Array.isArray(value)) throw new Error(`${what}: expected a mapping`);
  return value;
}
function list(value: YamlValue | undefined, what: string): YamlValue[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a sequence`);
  return value;
}
function str(value: YamlValue | undefined, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string`);
  return value;
}

/**
 * Runs the real CLI `server` command up to the point where it would start the node (its signal is
 * already aborted), capturing the NodeConfig the broker's parser built from flags, --set and env.
 */
async function serverConfig(argv: readonly string[], env: Readonly<Record<string, string>>): Promise<NodeConfig> {
  let config: NodeConfig | undefined;
  const stderr = new PassThrough();
  let errors = '';
  stderr.on('data', (c: Buffer) => { errors += c.toString(); });
  const code = await run([...argv], {
    stdin: Readable.from([]), stdout: new PassThrough(), stderr, env, signal: AbortSignal.abort(),
  }, {
    loadNodeRuntime: async () => ({
      parseNodeConfig: (sources) => (config = parseNodeConfig(sources)),
      startNode: () => Promise.reject(new Error('the deploy test never starts a node')),
    }),
  });
  if (code !== 0 || config === undefined) throw new Error(`tributary ${argv.join(' ')} refused (exit ${code}): ${errors}`);
  return config;
}

function votersOf(config: NodeConfig): string {
  return config.controllerQuorumVoters.map((v) => `${v.nodeId}@${v.host}:${v.port}`).join(',');
}

describe('deploy/docker-compose.yml', () => {
  it('is accepted by docker-compose config (when installed)', () => {
    const which = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (which.error !== undefined || which.status !== 0) {
      console.log('docker-compose not on PATH: compose validated by the structural checks only');
      return;
    }
    // Throws (non-zero exit) with docker-compose's message when the file is invalid.
    execFileSync('docker-compose', ['-f', COMPOSE_FILE, 'config', '-q'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  });

  it('runs 3 combined-mode nodes that form one cluster the config loader accepts', async () => {
    const [doc] = parseYamlDocuments(readFileSync(COMPOSE_FILE, 'utf8'));
    const services = obj(obj(doc, 'compose').services, 'services');
    expect(Object.keys(services).sort()).toEqual(['tributary-1', 'tributary-2', 'tributary-3']);
    const configs: NodeConfig[] = [];
    const published = new Set<string>();
    for (const [name, raw] of Object.entries(services)) {
      const service = obj(raw, name);
      const command = list(service.command, `${name}.command`).map((c, i) => str(c, `${name}.command[${i}]`));
      const env = Object.fromEntries(Object.entries(obj(service.environment ?? {}, `${name}.environment`)).map(([k, v]) => [k, str(v, k)]));
      const config = await serverConfig(command, env);
      configs.push(config);
      expect(config.processRoles).toEqual(['broker', 'controller']);
      expect(config.dataDir).toBe('/var/lib/tributary');
      expect(list(service.volumes, `${name}.volumes`).map((v) => str(v, 'volume'))).toContain(`${name}:/var/lib/tributary`);
      // Other nodes reach it by service name and the port it listens on.
      const advertised = config.advertisedListen;
      expect(advertised, `${name} advertised.listen`).toEqual({ host: name, port: config.listen.port });
      for (const p of list(service.ports, `${name}.ports`)) published.add(str(p, 'port'));
    }
    const voters = votersOf(configs[0]!);
    for (const c of configs) {
      expect(votersOf(c)).toBe(voters);
      const self = c.controllerQuorumVoters.find((v) => v.nodeId === c.nodeId);
      expect(self, `node ${c.nodeId} is a voter`).toEqual({ nodeId: c.nodeId, host: `tributary-${c.nodeId}`, port: c.listen.port });
    }
    expect(configs.map((c) => c.nodeId).sort()).toEqual([1, 2, 3]);
    expect(new Set(configs.map((c) => c.listen.port)).size).toBe(3);
    for (const c of configs) expect(published).toContain(`${c.listen.port}:${c.listen.port}`);
  });
});

describe('deploy/k8s', () => {
  const docs = readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml')).sort()
    .flatMap((f) => parseYamlDocuments(readFileSync(join(K8S_DIR, f), 'utf8')).map((d) => obj(d, f)));
  const byKind = (kind: string, name: string): Obj => {
    const found = docs.find((d) => d.kind === kind && obj(d.metadata, 'metadata').name === name);
    if (found === undefined) throw new Error(`deploy/k8s has no ${kind} ${name}`);
    return found;
  };

  it('has a headless Service publishing not-ready pods and a 3-replica parallel StatefulSet on it', () => {
    for (const d of docs) {
      expect(typeof d.apiVersion).toBe('string');
      expect(typeof d.kind).toBe('string');
    }
    const headless = obj(byKind('Service', 'tributary-headless').spec, 'service spec');
    expect(headless.clusterIP).toBe('None');
    expect(headless.publishNotReadyAddresses).toBe('true');
    const sts = obj(byKind('StatefulSet', 'tributary').spec, 'statefulset spec');
    expect(sts.serviceName).toBe('tributary-headless');
    expect(sts.replicas).toBe('3');
    expect(sts.podManagementPolicy).toBe('Parallel');
    const labels = obj(obj(obj(sts.template, 'template').metadata, 'template metadata').labels, 'labels');
    expect(obj(obj(sts.selector, 'selector').matchLabels, 'matchLabels')).toEqual(labels);
    expect(obj(headless.selector, 'service selector')).toEqual(labels);
  });

  it('configures each pod (ordinal 0..2) as a node the CLI and config loader accept, with voters on stable DNS names', async () => {
    const sts = obj(byKind('StatefulSet', 'tributary').spec, 'statefulset spec');
    const replicas = Number(sts.replicas);
    const podSpec = obj(obj(sts.template, 'template').spec, 'pod spec');
    const [container] = list(podSpec.containers, 'containers').map((c) => obj(c, 'container'));
    const command = list(container!.command, 'command').map((c) => str(c, 'command'));
    expect(command[0]).toBe('sh');
    // The env the pod gets from its ConfigMap(s) (envFrom), and the entrypoint script mounted from one.
    const env: Record<string, string> = {};
    for (const ref of list(container!.envFrom ?? [], 'envFrom')) {
      const name = str(obj(obj(ref, 'envFrom').configMapRef, 'configMapRef').name, 'configMapRef.name');
      for (const [k, v] of Object.entries(obj(byKind('ConfigMap', name).data, `${name}.data`))) env[k] = str(v, k);
    }
    for (const k of Object.keys(env)) expect(k, 'envFrom keys must be valid env var names').toMatch(/^[A-Z_][A-Z0-9_]*$/);
    const mount = list(container!.volumeMounts, 'volumeMounts').map((m) => obj(m, 'mount')).find((m) => command[1]!.startsWith(`${str(m.mountPath, 'mountPath')}/`));
    expect(mount, 'the entrypoint script is mounted').toBeDefined();
    const volume = list(podSpec.volumes, 'volumes').map((v) => obj(v, 'volume')).find((v) => v.name === mount!.name);
    const scriptMap = str(obj(obj(volume, 'volume').configMap, 'volume.configMap').name, 'configMap.name');
    const script = str(obj(byKind('ConfigMap', scriptMap).data, 'data')['entrypoint.sh'], 'entrypoint.sh');

    // Run the real entrypoint with sh for each ordinal; the "tributary" it execs prints its argv.
    const dir = mkdtempSync(join(tmpdir(), 'trib-deploy-'));
    try {
      writeFileSync(join(dir, 'entrypoint.sh'), script);
      writeFileSync(join(dir, 'argv.mjs'), 'process.stdout.write(JSON.stringify(process.argv.slice(2)));\n');
      const configs: NodeConfig[] = [];
      for (let ordinal = 0; ordinal < replicas; ordinal++) {
        const pod = `tributary-${ordinal}`;
        const out = execFileSync('sh', [join(dir, 'entrypoint.sh')], {
          env: { PATH: process.env.PATH ?? '', POD_NAME: pod, TRIBUTARY_BIN: join(dir, 'argv.mjs') }, encoding: 'utf8',
        });
        const config = await serverConfig(JSON.parse(out) as string[], env);
        expect(config.nodeId).toBe(ordinal + 1);
        expect(config.advertisedListen).toEqual({ host: `${pod}.tributary-headless`, port: 9092 });
        expect(config.processRoles).toEqual(['broker', 'controller']);
        configs.push(config);
      }
      for (const c of configs) {
        const self = c.controllerQuorumVoters.find((v) => v.nodeId === c.nodeId);
        expect(self).toEqual({ nodeId: c.nodeId, host: `tributary-${c.nodeId - 1}.tributary-headless`, port: 9092 });
      }
      expect(configs[0]!.controllerQuorumVoters).toHaveLength(replicas);
      // A pod name without an ordinal is refused rather than guessed.
      const bad = spawnSync('sh', [join(dir, 'entrypoint.sh')], { env: { PATH: process.env.PATH ?? '', POD_NAME: 'tributary', TRIBUTARY_BIN: join(dir, 'argv.mjs') }, encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
