// The nemesis: decides (seeded) and injects faults into a ChaosCluster, logging each as a
// fault-start / fault-end pair in the history. Planning is pure (planSchedule, planPartition);
// injection is the thin shell that signals processes, flips proxy rules and fills disks.
import type { ChaosCluster } from './chaos-cluster.js';
import { CLIENT_ENDPOINT, endpointOf } from './endpoints.js';
import { fillDisk, freeDisk, simulatePowerLoss, diskFullUnsupportedReason } from './disk-faults.js';
import type { FaultKind, HistoryRecorder } from './history.js';
import type { SeededRandom } from './seeded-random.js';

/** Fault families selectable with `--nemesis`. */
export const NEMESIS_FAMILIES = [
  'kill', 'pause', 'partition', 'slow', 'lossy', 'rolling-restart', 'kill-all', 'disk-full', 'power-loss',
] as const satisfies readonly FaultKind[];
export type NemesisFamily = (typeof NEMESIS_FAMILIES)[number];

export type PartitionShape = 'isolate-one' | 'isolate-leader' | 'majority-minority' | 'bridge' | 'client-leader';
export const PARTITION_SHAPES: readonly PartitionShape[] = ['isolate-one', 'isolate-leader', 'majority-minority', 'bridge', 'client-leader'];

export type KillTarget = 'node' | 'leader' | 'controller' | 'workload-target' | 'app';

export interface ScheduledFault {
  /** When to inject, ms since the workload started. */
  readonly atMs: number;
  readonly family: NemesisFamily;
  /** How long the fault lasts before its heal (kill: the restart delay). */
  readonly durationMs: number;
}

export type ScheduleMode = 'random' | 'single';

export interface ScheduleOptions {
  readonly random: SeededRandom;
  readonly families: readonly NemesisFamily[];
  /** Length of the fault phase, ms (the final heal and check come after it). */
  readonly timeMs: number;
  readonly mode: ScheduleMode;
  /** Quiet time between faults, ms: [min, max). */
  readonly quietMs?: readonly [number, number];
  /** Fault duration, ms: [min, max); kills restart after 0–10 s as the issue asks. */
  readonly faultMs?: readonly [number, number];
}

export const DEFAULT_QUIET_MS: readonly [number, number] = [2_000, 6_000];
export const DEFAULT_FAULT_MS: readonly [number, number] = [1_000, 10_000];

/**
 * Pure: the faults of a run. `random`: alternating quiet and fault windows with families drawn
 * uniformly. `single`: one fault of the (first) family — steady for a third of the time, the fault
 * for a third, then heal and recover for the last third.
 */
export function planSchedule(options: ScheduleOptions): ScheduledFault[] {
  if (options.families.length === 0) return [];
  if (options.mode === 'single') {
    const third = Math.floor(options.timeMs / 3);
    return [{ atMs: third, family: options.families[0] as NemesisFamily, durationMs: third }];
  }
  const [quietMin, quietMax] = options.quietMs ?? DEFAULT_QUIET_MS;
  const [faultMin, faultMax] = options.faultMs ?? DEFAULT_FAULT_MS;
  const faults: ScheduledFault[] = [];
  let t = options.random.int(quietMin, quietMax);
  while (t < options.timeMs) {
    const family = options.random.pick(options.families);
    const durationMs = family === 'kill' || family === 'power-loss' ? options.random.int(0, 10_001) : options.random.int(faultMin, faultMax);
    faults.push({ atMs: t, family, durationMs: Math.min(durationMs, Math.max(0, options.timeMs - t)) });
    t += durationMs + options.random.int(quietMin, quietMax);
  }
  return faults;
}

export interface PartitionPlan {
  /** Directed links to block. */
  readonly links: readonly (readonly [string, string])[];
  readonly targets: readonly number[];
  readonly detail: string;
}

/**
 * Pure: the links a partition shape cuts. Node endpoints are `n<id>`; the runner's clients are
 * `client`. Node-to-node shapes leave the clients connected to every node (a client can still
 * talk to an isolated leader: the interesting case); `client-leader` cuts only client ↔ leader.
 * Undefined when the shape needs more nodes than there are (or a leader that is not known).
 */
export function planPartition(shape: PartitionShape, nodeIds: readonly number[], random: SeededRandom, leader?: number): PartitionPlan | undefined {
  const both = (a: readonly number[], b: readonly number[]): [string, string][] => {
    const links: [string, string][] = [];
    for (const x of a) for (const y of b) links.push([endpointOf(x), endpointOf(y)], [endpointOf(y), endpointOf(x)]);
    return links;
  };
  const shuffled = random.shuffle(nodeIds);
  switch (shape) {
    case 'isolate-one':
    case 'isolate-leader': {
      if (nodeIds.length < 2) return undefined;
      const lone = shape === 'isolate-leader' ? leader : shuffled[0];
      if (lone === undefined) return undefined;
      const rest = nodeIds.filter((id) => id !== lone);
      return { links: both([lone], rest), targets: [lone], detail: `${shape}: ${lone} | ${rest.join(' ')}` };
    }
    case 'majority-minority': {
      if (nodeIds.length < 2) return undefined;
      const minority = shuffled.slice(0, Math.floor(nodeIds.length / 2));
      const majority = shuffled.slice(minority.length);
      return { links: both(minority, majority), targets: minority, detail: `minority ${minority.join(' ')} | majority ${majority.join(' ')}` };
    }
    case 'bridge': {
      if (nodeIds.length < 3) return undefined;
      // [left..., bridge, right...]: the bridge sees both sides, the sides do not see each other.
      const bridge = shuffled[0] as number;
      const others = shuffled.slice(1);
      const left = others.slice(0, Math.floor(others.length / 2));
      const right = others.slice(left.length);
      return { links: both(left, right), targets: [...left, ...right], detail: `bridge ${left.join(' ')} <-> ${bridge} <-> ${right.join(' ')}` };
    }
    case 'client-leader': {
      if (leader === undefined) return undefined;
      return {
        links: [[CLIENT_ENDPOINT, endpointOf(leader)], [endpointOf(leader), CLIENT_ENDPOINT]],
        targets: [leader],
        detail: `client <-/-> leader ${leader}`,
      };
    }
  }
}

export interface ActiveFault {
  readonly id: number;
  readonly fault: FaultKind;
  readonly targets: readonly number[];
  readonly detail: string;
  /** Undoes the fault; idempotent. */
  readonly heal: () => Promise<void>;
}

/** A node worth a fault for a workload (a coordinator, a leader), and why. */
export interface NemesisTarget {
  readonly nodeId: number;
  readonly why: string;
}

/**
 * The application processes of a workload (the txn workload's members), which the nemesis may kill
 * and pause too, and the nodes that workload depends on. Each fault returns its heal.
 */
export interface AppProcesses {
  /** Names of the processes running now (not paused, not killed). */
  names(): string[];
  /** SIGKILL; the heal starts the process's slot again. */
  kill(name: string): Promise<() => Promise<void>>;
  /** SIGSTOP; the heal continues it. */
  pause(name: string): () => Promise<void>;
  killAll(): Promise<() => Promise<void>>;
  /** Final heal: everything paused continued, everything killed started. */
  healAll(): Promise<void>;
  /** Nodes the workload depends on most (coordinators, leaders); may be empty. */
  targets(): Promise<NemesisTarget[]>;
}

export interface NemesisOptions {
  readonly cluster: ChaosCluster;
  readonly history: HistoryRecorder;
  readonly random: SeededRandom;
  /** Topic whose partition leaders are the "leader" targets. */
  readonly topic: string;
  readonly partitions: number;
  /** Application processes to kill and pause as well, with their favourite targets (the txn workload). */
  readonly apps?: AppProcesses;
  readonly log?: (line: string) => void;
}

/** Injects one fault at a time (plus the final healAll). */
export class Nemesis {
  private nextId = 1;
  private readonly log: (line: string) => void;
  readonly skipped = new Map<string, string>();

  constructor(private readonly options: NemesisOptions) {
    this.log = options.log ?? (() => undefined);
  }

  /** Injects a fault of `family`; undefined (and a remembered reason) when it cannot run here. */
  async inject(family: NemesisFamily, durationMs: number): Promise<ActiveFault | undefined> {
    const { cluster, random } = this.options;
    switch (family) {
      case 'kill':
      case 'power-loss': {
        const apps = this.options.apps;
        const kinds: KillTarget[] = ['node', 'leader', 'controller', ...(apps === undefined ? [] : ['workload-target', 'app'] as const)];
        const kind = family === 'kill' ? random.pick<KillTarget>(kinds) : 'node';
        if (kind === 'app' && apps !== undefined) {
          const names = apps.names();
          if (names.length > 0) {
            const name = random.pick(names);
            const restart = await apps.kill(name);
            return this.started(family, [], `SIGKILL application process ${name}, restart after ${durationMs} ms`, restart);
          }
        }
        const target = await this.pickKillTarget(kind === 'app' ? 'node' : kind);
        if (target === undefined) return this.skip(family, 'no running node to kill');
        const node = cluster.node(target.nodeId);
        await node.process.kill();
        let detail = `SIGKILL ${target.why}, restart after ${durationMs} ms`;
        if (family === 'power-loss') {
          const cut = simulatePowerLoss(node.dataDir, random);
          detail += `; truncated ${cut.length} file(s), ${cut.reduce((sum, c) => sum + c.bytesCut, 0)} bytes`;
        }
        return this.started(family, [target.nodeId], detail, async () => {
          if (node.process.state === 'stopped') await this.startNode(target.nodeId);
        });
      }
      case 'pause': {
        // With application processes, a third of the pauses stop one of them: a zombie that wakes up
        // after its session expired and the group moved on.
        const apps = this.options.apps;
        if (apps !== undefined && random.int(0, 3) === 0) {
          const names = apps.names();
          if (names.length > 0) {
            const name = random.pick(names);
            const resume = apps.pause(name);
            return this.started(family, [], `SIGSTOP application process ${name} for ${durationMs} ms`, resume);
          }
        }
        const running = cluster.runningIds();
        if (running.length === 0) return this.skip(family, 'no running node to pause');
        const target = random.pick(running);
        cluster.node(target).process.signal('SIGSTOP');
        return this.started(family, [target], `SIGSTOP node ${target} for ${durationMs} ms`, async () => {
          const p = cluster.node(target).process;
          if (p.state === 'paused') p.signal('SIGCONT');
        });
      }
      case 'partition': {
        const shape = random.pick(PARTITION_SHAPES);
        const leader = await this.pickLeader();
        const plan = planPartition(shape, cluster.nodeIds, random, leader);
        if (plan === undefined) return this.skip(`partition:${shape}`, `needs more nodes or a known leader (${cluster.nodeIds.length} node(s))`);
        cluster.links.blockAll(plan.links);
        return this.started(family, plan.targets, `${plan.detail}${cluster.netns === undefined ? '' : ' (iptables)'}`, async () => cluster.links.heal());
      }
      case 'slow':
      case 'lossy': {
        if (cluster.netns !== undefined && family === 'slow') return this.skip(family, 'latency needs the proxy network (tc netem is not available)');
        const target = random.pick(cluster.nodeIds);
        if (cluster.netns !== undefined) {
          // No tc netem here: latency exists only in the proxy; loss is real packet drops.
          const probability = 0.01 + random.next() * 0.09;
          cluster.netns.dropRandomly(target, probability);
          return this.started(family, [target], `links of node ${target}: ${(probability * 100).toFixed(1)} % of packets dropped (iptables)`, async () => cluster.links.heal());
        }
        const peers = [CLIENT_ENDPOINT, ...cluster.nodeIds.filter((id) => id !== target).map(endpointOf)];
        const latencyMs = random.int(20, 300);
        const jitterMs = random.int(0, 100);
        const resetProbability = family === 'lossy' ? 0.002 + random.next() * 0.02 : 0;
        for (const peer of peers) {
          for (const [from, to] of [[peer, endpointOf(target)], [endpointOf(target), peer]] as const) {
            cluster.proxy.setRules(from, to, family === 'slow' ? { latencyMs, jitterMs } : { resetProbability, latencyMs: Math.floor(latencyMs / 4) });
          }
        }
        if (family === 'lossy') cluster.proxy.resetConnections({ to: endpointOf(target) });
        const detail = family === 'slow'
          ? `links of node ${target}: ${latencyMs} ms + jitter ${jitterMs} ms`
          : `links of node ${target}: reset probability ${resetProbability.toFixed(3)} per chunk`;
        return this.started(family, [target], detail, async () => cluster.proxy.heal());
      }
      case 'rolling-restart': {
        const started = this.started(family, cluster.nodeIds, 'SIGTERM + start, one node at a time', async () => undefined);
        for (const id of cluster.nodeIds) {
          await cluster.node(id).process.stop();
          await this.startNode(id);
        }
        return started;
      }
      case 'kill-all': {
        const [, restartApps] = await Promise.all([Promise.all(cluster.nodes.map((n) => n.process.kill())), this.options.apps?.killAll()]);
        const apps = restartApps === undefined ? '' : ' and every application process';
        return this.started(family, cluster.nodeIds, `SIGKILL every node${apps}, restart after ${durationMs} ms`, async () => {
          await Promise.all(cluster.nodeIds.filter((id) => cluster.node(id).process.state === 'stopped').map((id) => this.startNode(id)));
          await restartApps?.();
        });
      }
      case 'disk-full': {
        const reason = diskFullUnsupportedReason();
        const candidates = cluster.nodes.filter((n) => n.tmpfs);
        if (reason !== undefined || candidates.length === 0) return this.skip(family, reason ?? 'node data is not on tmpfs (run with tmpfs volumes)');
        const node = random.pick(candidates);
        const bytes = fillDisk(node.volumeDir);
        return this.started(family, [node.nodeId], `filled node ${node.nodeId}'s volume (${bytes} bytes of ballast)`, async () => freeDisk(node.volumeDir));
      }
    }
  }

  /** The final heal: every proxy rule off, paused nodes continued, disks freed, dead nodes restarted. */
  async healAll(): Promise<void> {
    const { cluster } = this.options;
    cluster.links.heal(); // the proxy, or the iptables chain under netns (then the proxy carries nothing)
    for (const n of cluster.nodes) {
      freeDisk(n.volumeDir);
      if (n.process.state === 'paused') n.process.signal('SIGCONT');
    }
    await Promise.all(cluster.downNodeIds.map((id) => this.startNode(id)));
    await this.options.apps?.healAll();
  }

  /**
   * A partition leader for the leader-shaped partitions: of the nemesis topic, or — with application
   * processes, half the time — one of the nodes their workload depends on (a coordinator, a leader).
   */
  private async pickLeader(): Promise<number | undefined> {
    const { cluster, random, apps } = this.options;
    if (apps !== undefined && random.int(0, 2) === 0) {
      const running = cluster.runningIds();
      const targets = (await apps.targets()).filter((t) => running.includes(t.nodeId));
      if (targets.length > 0) return random.pick(targets).nodeId;
    }
    return cluster.leaderOf(this.options.topic, random.int(0, this.options.partitions));
  }

  private async pickKillTarget(kind: KillTarget): Promise<{ nodeId: number; why: string } | undefined> {
    const { cluster, random } = this.options;
    const running = cluster.runningIds();
    if (running.length === 0) return undefined;
    if (kind === 'leader') {
      const partition = random.int(0, this.options.partitions);
      const leader = await cluster.leaderOf(this.options.topic, partition);
      if (leader !== undefined && running.includes(leader)) return { nodeId: leader, why: `leader ${leader} of ${this.options.topic}/${partition}` };
    }
    if (kind === 'workload-target' && this.options.apps !== undefined) {
      const targets = (await this.options.apps.targets()).filter((t) => running.includes(t.nodeId));
      if (targets.length > 0) return random.pick(targets);
    }
    if (kind === 'controller') {
      const controller = await cluster.activeController();
      if (controller !== undefined && running.includes(controller)) return { nodeId: controller, why: `active controller ${controller}` };
    }
    const nodeId = random.pick(running);
    return { nodeId, why: `node ${nodeId}` };
  }

  private async startNode(nodeId: number): Promise<void> {
    try {
      await this.options.cluster.node(nodeId).process.start();
    } catch (error) {
      // A node that cannot start is itself a finding; the final phase retries and the probes report it.
      this.log(`nemesis: node ${nodeId} did not start: ${(error as Error).message}`);
    }
  }

  private skip(what: string, reason: string): undefined {
    if (!this.skipped.has(what)) this.log(`nemesis: skipping ${what}: ${reason}`);
    this.skipped.set(what, reason);
    return undefined;
  }

  private started(fault: FaultKind, targets: readonly number[], detail: string, heal: () => Promise<void>): ActiveFault {
    const id = this.nextId++;
    const { history } = this.options;
    history.record({ process: 'nemesis', type: 'info', f: 'fault-start', value: { id, fault, targets, detail }, node: targets.length === 1 ? (targets[0] as number) : null });
    this.log(`nemesis: +${fault} #${id} ${detail}`);
    let healed: Promise<void> | undefined;
    return {
      id, fault, targets, detail,
      heal: () => {
        healed ??= (async () => {
          await heal();
          history.record({ process: 'nemesis', type: 'info', f: 'fault-end', value: { id, fault, targets, detail }, node: targets.length === 1 ? (targets[0] as number) : null });
          this.log(`nemesis: -${fault} #${id}`);
        })();
        return healed;
      },
    };
  }
}
