// `server` against a stand-in node runtime: flag mapping, config errors, graceful stop on signal.
import { describe, expect, it } from 'vitest';
import { cli } from './harness.js';
import type { NodeRuntime } from '../src/commands/server.js';

class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function runtime(log: string[]): NodeRuntime {
  return {
    parseNodeConfig: (sources) => {
      log.push(JSON.stringify(sources));
      const setKeys = sources.set.map((pair) => pair.split('=')[0]);
      if (setKeys.includes('no.such.key')) throw new ConfigError('invalid configuration:\n  no.such.key: unknown config key');
      return { nodeId: Number(sources.flags['node.id'] ?? sources.env['TRIBUTARY_NODE_ID']) };
    },
    startNode: async () => ({
      address: '127.0.0.1:40000',
      httpAddress: '127.0.0.1:40001',
      close: async () => {
        log.push('closed');
      },
    }),
  };
}

describe('server', () => {
  it('maps flags to config keys, passes env and --set, prints the address, closes on abort', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    const pending = cli(
      ['server', '--node-id', '3', '--listen', '127.0.0.1:0', '--data-dir', '/tmp/x', '--roles', 'broker,controller', '--voters', '3@h:1', '--http', '127.0.0.1:0', '--set', 'num.partitions=3', '--set', 'min.insync.replicas=1'],
      { env: { TRIBUTARY_LOG_LEVEL: 'warn' }, signal: controller.signal, deps: { loadNodeRuntime: async () => runtime(log) } },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    const result = await pending;
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('tributary: node 3 listening on 127.0.0.1:40000 (http 127.0.0.1:40001)\n');
    expect(JSON.parse(log[0] ?? '')).toEqual({
      flags: { 'node.id': '3', listen: '127.0.0.1:0', 'data.dir': '/tmp/x', 'process.roles': 'broker,controller', 'controller.quorum.voters': '3@h:1', 'http.listen': '127.0.0.1:0' },
      env: { TRIBUTARY_LOG_LEVEL: 'warn' },
      set: ['num.partitions=3', 'min.insync.replicas=1'],
    });
    expect(log[1]).toBe('closed');
  });

  it('exits non-zero naming a bad config key', async () => {
    const result = await cli(['server', '--node-id', '1', '--set', 'no.such.key=1'], { deps: { loadNodeRuntime: async () => runtime([]) } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: INVALID_CONFIG: invalid configuration:\n {2}no\.such\.key: unknown config key\n$/);
  });
});
