// groups workload: consumers of one consumer group joining, leaving and crashing while they commit
// offsets. Each member is a child process (group-member-main.ts) whose ops stream into the history;
// a crash is SIGKILL (no LeaveGroup: the coordinator notices after session.timeout.ms), a leave is
// SIGTERM (commit, LeaveGroup). At the end the remaining members leave and the group's committed
// offsets are read once more (`offset-fetch` by process `groups-final`) for the checker.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GroupAdmin } from '@tributary/client';
import type { GroupMemberConfig, EmittedOp } from './group-member.js';
import type { HistoryRecorder } from './history.js';
import type { SeededRandom } from './seeded-random.js';
import { errorCode } from './workloads.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface GroupsWorkloadOptions {
  readonly bootstrapServers: string;
  readonly topic: string;
  readonly groupId: string;
  readonly history: HistoryRecorder;
  readonly random: SeededRandom;
  /** Members alive at once: [min, max]. */
  readonly membersMin: number;
  readonly membersMax: number;
  /** Pause between membership changes, ms: [min, max). */
  readonly churnMs: readonly [number, number];
  readonly sessionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly commitIntervalMs: number;
  readonly log?: (line: string) => void;
}

export const DEFAULT_GROUPS_WORKLOAD = {
  groupId: 'chaos-group',
  membersMin: 1,
  membersMax: 3,
  churnMs: [3_000, 8_000] as readonly [number, number],
  sessionTimeoutMs: 6_000,
  requestTimeoutMs: 3_000,
  commitIntervalMs: 500,
} as const;

/** How long a leaving member may take to commit and leave before it is killed, ms. */
const LEAVE_TIMEOUT_MS = 10_000;

/** The compiled member entry; tests that load sources still start the compiled file. */
function memberMainPath(): string {
  const here = fileURLToPath(new URL('./group-member-main.js', import.meta.url));
  return here.replace(/\/src\/chaos\//, '/dist/chaos/');
}

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Invokes without completion, by process, so a crash can complete them as `info`. */
  readonly pending: Map<string, EmittedOp>;
}

export class GroupsWorkload {
  private readonly members = new Map<string, Member>();
  private nextMember = 1;
  private running = false;
  private churnLoop: Promise<void> = Promise.resolve();
  private wakeChurn: (() => void) | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly options: GroupsWorkloadOptions) {
    this.log = options.log ?? (() => undefined);
  }

  /** Starts max(membersMin, 2) members (`initialMembers` if given) and, unless `churn` is false, the churn. */
  start(options: { readonly churn?: boolean; readonly initialMembers?: number } = {}): void {
    this.running = true;
    const initial = options.initialMembers ?? Math.max(this.options.membersMin, 2);
    for (let i = 0; i < initial; i++) this.join();
    if (options.churn !== false) this.churnLoop = this.churn();
  }

  /** Names of the members alive now. */
  memberNames(): string[] {
    return [...this.members.keys()];
  }

  /** Stops the churn, lets every member leave, then records the group's committed offsets. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeChurn?.();
    await this.churnLoop;
    await Promise.all([...this.members.keys()].map((name) => this.leave(name)));
    await this.recordFinalOffsets();
  }

  /**
   * Final phase, before `stop()`: waits until the group's committed offsets reach `endOffsets`
   * (partition → high watermark) with the members still consuming, and records `group-drain` ok —
   * or fail with the last committed offsets seen when `timeoutMs` passes first.
   */
  async drain(endOffsets: ReadonlyMap<number, number>, timeoutMs: number): Promise<boolean> {
    const { options } = this;
    const target = [...endOffsets].map(([partition, offset]) => ({ partition, offset }));
    options.history.record({ process: 'groups-drain', type: 'invoke', f: 'group-drain', value: target, node: null, topic: options.topic });
    const admin = new GroupAdmin({ 'bootstrap.servers': options.bootstrapServers, 'request.timeout.ms': options.requestTimeoutMs, 'default.api.timeout.ms': options.requestTimeoutMs * 2 });
    const deadline = Date.now() + timeoutMs;
    let committed = new Map<number, number>();
    try {
      while (Date.now() < deadline) {
        try {
          const offsets = await admin.fetchOffsets(options.groupId);
          committed = new Map(offsets.filter((o) => o.topic === options.topic).map((o) => [o.partition, o.offset]));
          if (target.every((t) => (committed.get(t.partition) ?? -1) >= t.offset)) {
            options.history.record({ process: 'groups-drain', type: 'ok', f: 'group-drain', value: target, node: null, topic: options.topic });
            return true;
          }
        } catch {
          // The coordinator may still be moving; ask again until the deadline.
        }
        await sleep(250);
      }
    } finally {
      await admin.close().catch(() => undefined);
    }
    const behind = target.map((t) => ({ ...t, committed: committed.get(t.partition) ?? null })).filter((t) => (t.committed ?? -1) < t.offset);
    options.history.record({ process: 'groups-drain', type: 'fail', f: 'group-drain', value: behind, node: null, topic: options.topic, error: 'timeout' });
    return false;
  }

  private async churn(): Promise<void> {
    const { random, membersMin, membersMax, churnMs, history } = this.options;
    while (this.running) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, random.int(churnMs[0], churnMs[1]));
        this.wakeChurn = () => { clearTimeout(timer); resolve(); };
      });
      if (!this.running) break;
      const alive = [...this.members.keys()];
      const actions: ('join' | 'leave' | 'crash')[] = [];
      if (alive.length < membersMax) actions.push('join');
      if (alive.length > membersMin) actions.push('leave', 'crash');
      if (actions.length === 0) continue;
      const action = random.pick(actions);
      if (action === 'join') {
        this.join();
        continue;
      }
      const name = random.pick(alive);
      history.record({ process: 'groups', type: 'info', f: action === 'leave' ? 'group-leave' : 'group-crash', value: name, node: null });
      if (action === 'leave') await this.leave(name);
      else await this.crash(name);
    }
  }

  /** Starts one more member process; returns its name (`g<n>`). */
  join(): string {
    const { options } = this;
    const name = `g${this.nextMember++}`;
    const config: GroupMemberConfig = {
      bootstrapServers: options.bootstrapServers, topic: options.topic, groupId: options.groupId, name,
      sessionTimeoutMs: options.sessionTimeoutMs, requestTimeoutMs: options.requestTimeoutMs, commitIntervalMs: options.commitIntervalMs,
      debugLog: process.env.TRIBUTARY_CHAOS_MEMBER_LOG === '1',
    };
    options.history.record({ process: 'groups', type: 'info', f: 'group-join', value: name, node: null });
    // The environment (grpc_proxy) is inherited: members dial through the proxy as the runner's clients do.
    const child = spawn(process.execPath, [memberMainPath(), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pending = new Map<string, EmittedOp>();
    const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
    lines.on('line', (line) => {
      let op: EmittedOp;
      try {
        op = JSON.parse(line) as EmittedOp;
      } catch {
        this.log(`groups: ${name} wrote a line that is not an op: ${line.slice(0, 200)}`);
        return;
      }
      if (op.type === 'invoke') pending.set(op.process, op);
      else pending.delete(op.process);
      options.history.record(op);
    });
    child.stderr?.on('data', (chunk: Buffer) => this.log(`groups: ${name}: ${chunk.toString('utf8').trim().slice(0, 4000)}`));
    // Every line is in once the process has exited and its stdout is closed (either may come first);
    // then what the member left open is completed as indeterminate.
    const exited = Promise.all([
      new Promise<void>((resolve) => child.once('exit', (code, signal) => {
        if (code !== 0 && signal !== 'SIGKILL') this.log(`groups: member ${name} exited with ${signal ?? `code ${code}`}`);
        resolve();
      })),
      new Promise<void>((resolve) => lines.once('close', () => resolve())),
    ]).then(() => {
      for (const op of pending.values()) options.history.record({ ...op, type: 'info', error: 'member exited' });
      pending.clear();
    });
    this.members.set(name, { name, child, exited, pending });
    return name;
  }

  private async leave(name: string): Promise<void> {
    const member = this.members.get(name);
    if (member === undefined) return;
    member.child.kill('SIGTERM');
    const timer = setTimeout(() => member.child.kill('SIGKILL'), LEAVE_TIMEOUT_MS);
    await member.exited;
    clearTimeout(timer);
    this.members.delete(name);
  }

  /** SIGKILLs every member left (a run that ends abnormally); returns at once. */
  kill(): void {
    this.running = false;
    this.wakeChurn?.();
    for (const member of this.members.values()) member.child.kill('SIGKILL');
  }

  /** SIGKILL of one member: no LeaveGroup, no last commit. */
  async crash(name: string): Promise<void> {
    const member = this.members.get(name);
    if (member === undefined) return;
    member.child.kill('SIGKILL');
    await member.exited;
    this.members.delete(name);
  }

  private async recordFinalOffsets(): Promise<void> {
    const { options } = this;
    const admin = new GroupAdmin({ 'bootstrap.servers': options.bootstrapServers, 'default.api.timeout.ms': 30_000 });
    options.history.record({ process: 'groups-final', type: 'invoke', f: 'offset-fetch', value: null, node: null, topic: options.topic });
    try {
      const offsets = await admin.fetchOffsets(options.groupId);
      const value = offsets.filter((o) => o.topic === options.topic).map((o) => ({ partition: o.partition, offset: o.offset < 0 ? null : o.offset }));
      options.history.record({ process: 'groups-final', type: 'ok', f: 'offset-fetch', value, node: null, topic: options.topic });
    } catch (error) {
      options.history.record({ process: 'groups-final', type: 'info', f: 'offset-fetch', value: null, node: null, topic: options.topic, error: errorCode(error) });
    } finally {
      await admin.close().catch(() => undefined);
    }
  }
}
