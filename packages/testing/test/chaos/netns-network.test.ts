// The netns backend of the chaos harness against the real kernel: two namespaces, a TCP server in
// one, a client in the other and one in the root namespace (the runner's side). Blocking a directed
// link drops its packets; heal opens it again; close leaves no namespace, veth or iptables chain.
// Needs root, iproute2 and iptables (.ci/run installs iptables); elsewhere it is skipped, with the
// reason printed, because the proxy backend — tested in fault-proxy.test.ts — is the portable one.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { NetnsNetwork, netnsUnsupportedReason } from '@tributary/testing';

const unsupported = netnsUnsupportedReason();
if (unsupported !== undefined) console.log(`netns network tests skipped: ${unsupported}`);

const PORT = 7401;
let net: NetnsNetwork | undefined;
let server: ChildProcess | undefined;
afterEach(() => {
  server?.kill('SIGKILL');
  net?.close();
  net = undefined;
});

/** Connects to host:PORT from inside `prefix` (a netns exec prefix, or none = root namespace); true when it got the greeting. */
function canReach(prefix: readonly string[], host: string): boolean {
  const script = `const s=require('net').connect(${PORT},'${host}');s.setTimeout(700,()=>process.exit(2));s.on('data',()=>process.exit(0));s.on('error',()=>process.exit(3));`;
  try {
    execFileSync(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length > 0 ? [process.execPath] : []), '-e', script], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(unsupported !== undefined)('NetnsNetwork (root: network namespaces + iptables)', () => {
  it('cuts and heals node-to-node and client-to-node links with iptables, and cleans up after itself', async () => {
    net = NetnsNetwork.create({ nodeIds: [1, 2], subnet: 251 });
    const host2 = net.hostOf(2);
    server = spawn('ip', [...net.commandPrefix(2).slice(1), process.execPath, '-e',
      `require('net').createServer((c)=>{c.end('hi')}).listen(${PORT},'${host2}',()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => server!.stdout!.once('data', () => resolve()));

    expect(canReach(net.commandPrefix(1), host2)).toBe(true);
    expect(canReach([], host2)).toBe(true);
    net.blockAll([['n1', 'n2']]);
    expect(canReach(net.commandPrefix(1), host2)).toBe(false);
    expect(canReach([], host2)).toBe(true); // the client's link is another link
    net.heal();
    expect(canReach(net.commandPrefix(1), host2)).toBe(true);
    net.blockAll([['client', 'n2']]);
    expect(canReach([], host2)).toBe(false);
    expect(canReach(net.commandPrefix(1), host2)).toBe(true);
    net.heal();
    expect(() => net!.blockAll([['n1', 'n9']])).toThrow(/unknown endpoint n9/);
    expect(() => net!.dropRandomly(1, 1.5)).toThrow(RangeError);

    server.kill('SIGKILL');
    net.close();
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toMatch(/trib251n/);
    expect(execFileSync('iptables', ['-w', '-S']).toString()).not.toMatch(/TRIB251/);
  }, 30_000);
});
