// Real network faults for chaos nodes (root, Linux): each node runs in its own network namespace with
// a veth pair to the root namespace, and node-to-node traffic is routed through the root namespace,
// where one iptables chain of the run's drops what a fault cuts. The runner's clients stay in the root
// namespace, so client ↔ node links are cut by the same chain (it is jumped to from INPUT and OUTPUT as
// well as FORWARD). Unlike the proxy, the kernel drops the packets: TCP sees silence, retransmits and
// times out exactly as it would on a real network, with no user-space hop in between.
//
// Addressing (subnet index s per run, node id i): node i is 10.s.i.2 inside netns `trib<s>n<i>`; the
// root end of its veth is 10.s.i.1 (`tb<s>n<i>`). Endpoint names are the proxy's (`n<i>`, `client`),
// so a PartitionPlan applies to either backend. Loss uses the iptables `statistic` match (random
// drops per packet); latency needs `tc netem`, which this machine's kernel lacks, so `slow` stays a
// proxy-only fault.
import { execFileSync } from 'node:child_process';
import { CLIENT_ENDPOINT } from './endpoints.js';

/** Why the netns backend cannot run here, or undefined when it can. */
export function netnsUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespaces and iptables need root';
  for (const tool of ['ip', 'iptables']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (apt-get install ${tool === 'ip' ? 'iproute2' : 'iptables'})`;
    }
  }
  // Root in a container may still lack CAP_NET_ADMIN / CAP_SYS_ADMIN: try what a run does.
  const probe = `tribprobe${process.pid}`;
  try {
    execFileSync('iptables', ['-w', '-S', 'OUTPUT'], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
  } catch (error) {
    return `iptables or ip netns is not permitted here (${(error as Error).message.split('\n')[0]})`;
  } finally {
    try { execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' }); } catch { /* was not created */ }
  }
  return undefined;
}

/** The hooks the run's chain is jumped to from. */
const HOOKS = ['FORWARD', 'INPUT', 'OUTPUT'] as const;

export interface NetnsNetworkOptions {
  readonly nodeIds: readonly number[];
  /** Second octet of the run's addresses, 1-254; default from the process id (runs in parallel differ). */
  readonly subnet?: number;
}

export class NetnsNetwork {
  readonly subnet: number;
  private readonly chain: string;
  private closed = false;
  private savedForwarding: string | undefined;

  private constructor(readonly nodeIds: readonly number[], subnet: number) {
    this.subnet = subnet;
    this.chain = `TRIB${subnet}`;
  }

  /** Creates every namespace, veth pair and route, and the run's (empty) iptables chain. */
  static create(options: NetnsNetworkOptions): NetnsNetwork {
    const reason = netnsUnsupportedReason();
    if (reason !== undefined) throw new Error(`netns network: ${reason}`);
    const subnet = options.subnet ?? 100 + (process.pid % 150);
    if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) throw new RangeError(`subnet must be 1-254, got ${subnet}`);
    for (const id of options.nodeIds) if (!Number.isInteger(id) || id < 1 || id > 254) throw new RangeError(`node id ${id} cannot be a host octet`);
    const net = new NetnsNetwork(options.nodeIds, subnet);
    net.removeLeftovers();
    try {
      net.savedForwarding = run('sysctl', ['-n', 'net.ipv4.ip_forward']).trim();
      run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
      for (const id of options.nodeIds) net.addNode(id);
      run('iptables', ['-w', '-N', net.chain]);
      net.resetChain();
      for (const hook of HOOKS) run('iptables', ['-w', '-I', hook, '1', '-j', net.chain]);
    } catch (error) {
      net.close();
      throw error;
    }
    return net;
  }

  namespaceOf(nodeId: number): string {
    return `trib${this.subnet}n${nodeId}`;
  }

  /** The node's address inside its namespace (what it listens on and advertises). */
  hostOf(nodeId: number): string {
    return `10.${this.subnet}.${nodeId}.2`;
  }

  /** The command prefix that runs a program inside the node's namespace (exec: same pid, so signals reach it). */
  commandPrefix(nodeId: number): string[] {
    return ['ip', 'netns', 'exec', this.namespaceOf(nodeId)];
  }

  /** Drops every packet of the directed links [from, to] (endpoints `n<i>` or `client`). */
  blockAll(links: readonly (readonly [string, string])[]): void {
    for (const [from, to] of links) this.insertDrop(from, to, []);
  }

  /** Drops each packet of `nodeId`'s links with probability `probability` (both directions, every peer). */
  dropRandomly(nodeId: number, probability: number): void {
    if (!(probability > 0 && probability < 1)) throw new RangeError(`probability must be in (0, 1), got ${probability}`);
    const self = `n${nodeId}`;
    const peers = [CLIENT_ENDPOINT, ...this.nodeIds.filter((id) => id !== nodeId).map((id) => `n${id}`)];
    const match = ['-m', 'statistic', '--mode', 'random', '--probability', probability.toFixed(4)];
    for (const peer of peers) {
      this.insertDrop(self, peer, match);
      this.insertDrop(peer, self, match);
    }
  }

  /** Every link open again. */
  heal(): void {
    if (this.closed) return;
    this.resetChain();
  }

  /** Removes the chain, the namespaces and their veths, and restores ip_forward; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeLeftovers();
    if (this.savedForwarding !== undefined) tryRun('sysctl', ['-q', '-w', `net.ipv4.ip_forward=${this.savedForwarding}`]);
  }

  private addNode(id: number): void {
    const ns = this.namespaceOf(id);
    const rootEnd = `tb${this.subnet}n${id}`;
    const nsEnd = `tb${this.subnet}n${id}p`;
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', rootEnd, 'type', 'veth', 'peer', 'name', nsEnd]);
    run('ip', ['link', 'set', nsEnd, 'netns', ns]);
    run('ip', ['addr', 'add', `10.${this.subnet}.${id}.1/24`, 'dev', rootEnd]);
    run('ip', ['link', 'set', rootEnd, 'up']);
    const inNs = (args: string[]): string => run('ip', ['netns', 'exec', ns, 'ip', ...args]);
    inNs(['addr', 'add', `${this.hostOf(id)}/24`, 'dev', nsEnd]);
    inNs(['link', 'set', nsEnd, 'up']);
    inNs(['link', 'set', 'lo', 'up']);
    inNs(['route', 'add', 'default', 'via', `10.${this.subnet}.${id}.1`]);
  }

  /** Source/destination address of an endpoint on the link to `peer` (the client uses the root veth ends). */
  private addressesOf(from: string, to: string): { src: string; dst: string } {
    const octet = (endpoint: string): number => {
      const match = /^n(\d+)$/.exec(endpoint);
      if (match === null || !this.nodeIds.includes(Number(match[1]))) throw new Error(`netns network: unknown endpoint ${endpoint}`);
      return Number(match[1]);
    };
    if (from === CLIENT_ENDPOINT && to === CLIENT_ENDPOINT) throw new Error('netns network: client to client is not a link');
    if (from === CLIENT_ENDPOINT) return { src: `10.${this.subnet}.${octet(to)}.1`, dst: this.hostOf(octet(to)) };
    if (to === CLIENT_ENDPOINT) return { src: this.hostOf(octet(from)), dst: `10.${this.subnet}.${octet(from)}.1` };
    return { src: this.hostOf(octet(from)), dst: this.hostOf(octet(to)) };
  }

  private insertDrop(from: string, to: string, match: readonly string[]): void {
    const { src, dst } = this.addressesOf(from, to);
    run('iptables', ['-w', '-I', this.chain, '1', '-s', src, '-d', dst, ...match, '-j', 'DROP']);
  }

  /** Flushes the chain and leaves one rule: the run's own traffic is accepted whatever FORWARD's policy. */
  private resetChain(): void {
    run('iptables', ['-w', '-F', this.chain]);
    run('iptables', ['-w', '-A', this.chain, '-s', `10.${this.subnet}.0.0/16`, '-d', `10.${this.subnet}.0.0/16`, '-j', 'ACCEPT']);
  }

  /** Best effort: what a run with the same subnet left behind (this one, or one that crashed). */
  private removeLeftovers(): void {
    for (const hook of HOOKS) while (tryRun('iptables', ['-w', '-D', hook, '-j', this.chain])) { /* every jump */ }
    tryRun('iptables', ['-w', '-F', this.chain]);
    tryRun('iptables', ['-w', '-X', this.chain]);
    for (const id of this.nodeIds) {
      tryRun('ip', ['link', 'del', `tb${this.subnet}n${id}`]);
      tryRun('ip', ['netns', 'del', this.namespaceOf(id)]);
    }
  }
}

function run(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`netns network: ${cmd} ${args.join(' ')} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
}

function tryRun(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
