// A 3-node NATS JetStream cluster for `npm run bench:cluster -- --peer nats`: three `nats-server`
// processes on loopback (Debian package `nats-server`), file store under a temp dir, and the bench's
// streams created with num_replicas 3. Used only by the bench; nothing here is part of Tributary.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Path of nats-server, or undefined with the reason it cannot be used. */
export function findNatsServer() {
  // Debian installs it to /usr/sbin, which a non-root PATH may lack.
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const path = which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim()
    : existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : '';
  if (path === '') {
    return { reason: 'nats-server is not installed (Debian: apt-get install nats-server)' };
  }
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) return { reason: `${path} --version failed: ${version.stderr.trim()}` };
  return { path, version: version.stdout.trim() };
}

/**
 * Starts the three servers and waits until JetStream accepts a replicated stream. `ports` = 6 free ports
 * (3 client, 3 route). Returns { servers (client URLs, comma-separated), pids, stop() }.
 */
export async function startNatsCluster({ natsServer, dir, ports, streams, readyTimeoutMs = 30_000 }) {
  const clientPorts = ports.slice(0, 3);
  const routePorts = ports.slice(3, 6);
  const children = clientPorts.map((port, i) => {
    const nodeDir = join(dir, `nats-${i + 1}`);
    mkdirSync(nodeDir, { recursive: true });
    const conf = join(nodeDir, 'server.conf');
    writeFileSync(conf, [
      `server_name: n${i + 1}`,
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: "${join(nodeDir, 'store')}" }`,
      'cluster {',
      '  name: bench',
      `  listen: 127.0.0.1:${routePorts[i]}`,
      `  routes: [${routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
      '}',
      '',
    ].join('\n'));
    const log = openSync(join(nodeDir, 'server.log'), 'w');
    return spawn(natsServer, ['-c', conf], { stdio: ['ignore', log, log] });
  });
  const servers = clientPorts.map((p) => `127.0.0.1:${p}`).join(',');
  const stop = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', r)))));
  };
  try {
    const nats = await import('nats');
    const deadline = Date.now() + readyTimeoutMs;
    const nc = await connectWithRetry(nats, servers, deadline);
    try {
      for (const name of streams) {
        // The JetStream meta leader is elected after the routes connect; retry until it answers.
        for (;;) {
          try {
            const jsm = await nc.jetstreamManager();
            await jsm.streams.add({ name, subjects: [name], num_replicas: 3, storage: nats.StorageType.File });
            break;
          } catch (err) {
            if (Date.now() > deadline) throw new Error(`nats: stream ${name} not created within ${readyTimeoutMs} ms: ${err.message}`);
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      }
    } finally {
      await nc.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { servers, pids: children.map((c) => c.pid), stop };
}

async function connectWithRetry(nats, servers, deadline) {
  for (;;) {
    try {
      return await nats.connect({ servers: servers.split(','), timeout: 1000 });
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`nats: no server answered at ${servers}: ${err.message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
