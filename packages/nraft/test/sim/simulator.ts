// The deterministic simulator: one seed drives cluster size, fault rates, the network, crashes, disk
// latency, partitions, membership changes, client writes, reads, snapshots and leadership transfers for
// `chaosTicks` ticks, then heals everything and requires progress within a bound. Every node runs the
// driver contract of Ready (persist -> send -> apply -> advance), and the InvariantChecker sees every
// durable write, every application and every node's status after every event. Pure: no I/O, no clock,
// no Math.random; the same seed always replays the same run.
import type { ConfChange, ConfState, Entry, Message, MessageType, NodeId, Ready, StateRole } from '../../src/types.js';
import { InvariantChecker, InvariantViolation, entryKey } from './checker.js';
import { EventQueue } from './event-queue.js';
import { BENIGN_FAULTS, Network, type NetworkFaults } from './network.js';
import { decodeConfChange, isExpectedRefusal, newRaft, newStorage, type SimRaft, type SimStatus, type SimStorage } from './port.js';
import { SimRandom } from './random.js';

export interface SimOptions {
  readonly seed: number;
  /** Length of the fault phase, in ticks (of tickMs virtual milliseconds). */
  readonly chaosTicks: number;
  /** Receives one line per event when set (the `--trace` flag). */
  readonly trace?: (line: string) => void;
  /**
   * Deliberately break the driver contract, to prove the checker notices (tests only):
   *  'send-before-persist'  messages leave before their entries/hard state are durable;
   *  'forget-vote'          the vote is never made durable, so a restarted node can vote twice in a term.
   */
  readonly driverFault?: DriverFault;
  /**
   * When false (the default) the transport behaves like a connection-oriented one: every append it
   * fails to deliver is reported through reportUnreachable. When true, appends vanish silently (a
   * datagram network), so raft must recover from loss on its own.
   */
  readonly silentLoss?: boolean;
  /** Also draw tiny in-flight windows (1 or 4 appends per follower), not just the default 256. */
  readonly tightFlowControl?: boolean;
  /**
   * Inject hostile messages during the fault phase (the `--hostile` flag): a non-member with a far
   * higher term, malformed messages in a member's name (garbage indexes, entries that do not follow
   * their prevLogIndex or go back in term), and leader heartbeats whose commit is past the follower's
   * log end. Each must be refused or clamped: a non-member's message never changes a node's term,
   * a malformed one changes nothing, and every invariant still holds. Drawn from their own random
   * stream, so the rest of a seed's run is unchanged up to the first injection.
   */
  readonly hostilePeers?: boolean;
}

export type DriverFault = 'send-before-persist' | 'forget-vote';

export interface SimResult {
  readonly seed: number;
  readonly nodeCount: number;
  readonly events: number;
  readonly virtualMs: number;
  readonly committedIndex: number;
  readonly leaderTerms: number;
  readonly crashes: number;
  readonly confChanges: number;
  readonly snapshots: number;
  /** Hostile messages stepped into nodes (with hostilePeers). */
  readonly hostileInjected: number;
  /** Ticks from the final heal until a fresh write was applied on every voter. */
  readonly healTicks: number;
}

/** A run that broke an invariant (or threw): carries the seed and the command that replays it. */
export class SimulationFailure extends Error {
  readonly seed: number;
  constructor(
    readonly options: SimOptions,
    readonly atMs: number,
    override readonly cause: unknown,
  ) {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`seed ${options.seed} failed at ${atMs}ms: ${what}\n  replay: ${replayCommand(options)}`);
    this.name = 'SimulationFailure';
    this.seed = options.seed;
  }
}

/** The one-line command that replays a run exactly (with its trace). */
export function replayCommand(o: SimOptions): string {
  let cmd = `npm run sim -- --seed ${o.seed} --steps ${o.chaosTicks}`;
  if (o.silentLoss === false) cmd += ' --reported-loss';
  if (o.tightFlowControl === false) cmd += ' --loose-flow';
  if (o.driverFault !== undefined) cmd += ` --driver-fault ${o.driverFault}`;
  if (o.hostilePeers === true) cmd += ' --hostile';
  return `${cmd} --trace`;
}

export const TICK_MS = 10;
export const ELECTION_TICKS = 10;
export const HEARTBEAT_TICKS = 1;
/** After the final heal, a fresh write must be applied on every voter within this many ticks. */
export const LIVENESS_BOUND_TICKS = 30 * ELECTION_TICKS;
/** A guard against a run that never ends (e.g. a message storm): far above any healthy run. */
const EVENTS_MAX_PER_TICK = 2_000;
const BOOTSTRAP = { index: 1, term: 1 } as const;
/** Spare node ids beyond the initial voters, for adding learners. */
const SPARE_NODES = 2;
const VOTERS_MIN = 3;
const PROBE_PREFIX = 'live-';
/** The id hostile messages come from: never a member (the network supports ids up to 1023). */
const OUTSIDER_ID = 1000;
const HOSTILE_TYPES: readonly MessageType[] = ['app', 'app-resp', 'vote', 'vote-resp', 'pre-vote', 'pre-vote-resp', 'heartbeat', 'heartbeat-resp', 'snap', 'timeout-now'];

/** Per-seed intensities: some seeds are calm, some are storms, most are in between. */
interface Profile {
  readonly nodeCount: number;
  /** Flow control: tiny messages and windows split appends, which is where counting bugs show. */
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly faults: NetworkFaults;
  /** Probabilities per chaos round (one round per tick). */
  readonly proposeRate: number;
  readonly crashRate: number;
  readonly crashInReadyRate: number;
  readonly partitionRate: number;
  readonly confChangeRate: number;
  readonly transferRate: number;
  readonly snapshotRate: number;
  readonly readRate: number;
  readonly campaignRate: number;
  readonly diskStallRate: number;
}

function chooseProfile(rng: SimRandom, tightFlowControl: boolean): Profile {
  const delayMaxMs = rng.pick([2, 5, 15, 40]);
  return {
    nodeCount: rng.chance(0.5) ? 3 : 5,
    maxSizePerMsgBytes: rng.pick([1, 8, 1024 * 1024]),
    maxInflightMsgs: tightFlowControl ? rng.pick([1, 4, 256]) : 256,
    faults: {
      lossRate: rng.pick([0, 0.01, 0.05, 0.2]),
      duplicateRate: rng.pick([0, 0.02, 0.1]),
      delayMinMs: 1,
      delayMaxMs,
      longDelayRate: rng.pick([0, 0.01, 0.05]),
      longDelayMaxMs: delayMaxMs + 300,
    },
    proposeRate: rng.pick([0.1, 0.3, 0.8]),
    crashRate: rng.pick([0, 0.005, 0.02, 0.05]),
    crashInReadyRate: rng.pick([0, 0.002, 0.01]),
    partitionRate: rng.pick([0, 0.01, 0.03]),
    confChangeRate: rng.pick([0, 0.02, 0.05]),
    transferRate: rng.pick([0, 0.005, 0.02]),
    snapshotRate: rng.pick([0, 0.02, 0.1]),
    readRate: rng.pick([0, 0.05]),
    campaignRate: rng.pick([0, 0.005]),
    diskStallRate: rng.pick([0, 0.02]),
  };
}

type SimEvent =
  | { readonly kind: 'tick'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'ready'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'deliver'; readonly message: Message; readonly senderIncarnation: number; readonly lost: boolean }
  | { readonly kind: 'restart'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'heal-network'; readonly generation: number }
  | { readonly kind: 'chaos' }
  | { readonly kind: 'heal-all' }
  | { readonly kind: 'probe' };

interface SimNode {
  readonly id: NodeId;
  readonly rng: SimRandom;
  readonly tickPeriodMs: number;
  /** The node's disk; undefined until the node first starts. Survives crashes. */
  storage: SimStorage | undefined;
  raw: SimRaft | undefined;
  incarnation: number;
  readyScheduled: boolean;
  /** Removed from the committed configuration: stays down until added again. */
  decommissioned: boolean;
  /** Membership as this node applied it (what its snapshots record). */
  confState: ConfState;
  appliedProbe: boolean;
  /** The node's role, term and commit as of its last Ready (what the checker observes). */
  role: StateRole;
  term: number;
  commit: number;
}

type Membership = 'voter' | 'learner';

const EMPTY_CONF: ConfState = { voters: [], learners: [] };
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Application snapshot payload: the applied index and the checker's digest of the applied sequence. */
function encodeAppState(index: number, digest: number): Uint8Array {
  return textEncoder.encode(`${index}:${digest}`);
}

function decodeAppState(data: Uint8Array): { index: number; digest: number } {
  if (data.length === 0) return { index: 0, digest: 0 };
  const [index, digest] = textDecoder.decode(data).split(':').map(Number);
  return { index: index ?? 0, digest: digest ?? 0 };
}

export function runSimulation(opts: SimOptions): SimResult {
  const sim = new Simulation(opts);
  try {
    return sim.run();
  } catch (err) {
    throw new SimulationFailure(opts, sim.nowMs, err);
  }
}

class Simulation {
  nowMs = 0;
  private readonly rng: SimRandom;
  private readonly profile: Profile;
  private readonly network: Network;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly checker = new InvariantChecker(BOOTSTRAP);
  private readonly nodes = new Map<NodeId, SimNode>();
  /** The committed configuration, as first applied anywhere. */
  private readonly members = new Map<NodeId, Membership>();
  private readonly trace: ((line: string) => void) | undefined;
  private readonly chaosEndMs: number;
  private phase: 'chaos' | 'heal' | 'done' = 'chaos';
  private healStartMs = 0;
  private networkGeneration = 0;
  private confChangeBusyUntilMs = 0;
  private proposalSeq = 0;
  private readSeq = 0;
  private probeSeq = 0;
  private lastProbeMs = -Infinity;
  private events = 0;
  private crashes = 0;
  private confChanges = 0;
  private snapshots = 0;
  private readonly leaderTerms = new Set<number>();
  /** Own stream for hostile injections, so turning them on does not reshuffle the rest of the run. */
  private readonly hostileRng: SimRandom | undefined;
  private readonly hostileRate: number;
  private hostileInjected = 0;

  constructor(private readonly opts: SimOptions) {
    this.rng = new SimRandom(opts.seed);
    this.hostileRng = opts.hostilePeers === true ? new SimRandom(opts.seed * 31 + 7) : undefined;
    this.hostileRate = this.hostileRng?.pick([0.05, 0.2, 0.5]) ?? 0;
    this.profile = chooseProfile(this.rng, opts.tightFlowControl !== false);
    this.network = new Network(this.rng.fork(), this.profile.faults);
    this.trace = opts.trace;
    this.chaosEndMs = opts.chaosTicks * TICK_MS;
  }

  run(): SimResult {
    const p = this.profile;
    const voters: NodeId[] = [];
    for (let id = 1; id <= p.nodeCount; id++) voters.push(id);
    this.log(() => `seed ${this.opts.seed}: ${p.nodeCount} nodes, ${JSON.stringify(p)}`);
    for (let id = 1; id <= p.nodeCount + SPARE_NODES; id++) {
      this.nodes.set(id, {
        id,
        rng: this.rng.fork(),
        tickPeriodMs: TICK_MS + this.rng.between(-1, 1), // a little clock skew between nodes
        storage: undefined,
        raw: undefined,
        incarnation: 0,
        readyScheduled: false,
        decommissioned: false,
        confState: EMPTY_CONF,
        appliedProbe: false,
        role: 'follower',
        term: 0,
        commit: 0,
      });
    }
    for (const id of voters) {
      this.members.set(id, 'voter');
      const n = this.node(id);
      n.storage = newStorage();
      n.storage.applySnapshot({
        metadata: { index: BOOTSTRAP.index, term: BOOTSTRAP.term, confState: { voters, learners: [] } },
        data: encodeAppState(BOOTSTRAP.index, 0),
      });
      n.storage.setHardState({ term: BOOTSTRAP.term, vote: 0, commit: BOOTSTRAP.index });
      this.checker.addNode(id, true);
      this.start(n);
    }
    this.queue.push(TICK_MS, { kind: 'chaos' });
    this.queue.push(this.chaosEndMs, { kind: 'heal-all' });

    const eventsMax = (this.opts.chaosTicks + LIVENESS_BOUND_TICKS + 10) * EVENTS_MAX_PER_TICK;
    while (this.phase !== 'done') {
      const next = this.queue.pop();
      if (next === undefined) throw new Error('event queue ran dry');
      if (++this.events > eventsMax) throw new Error(`more than ${eventsMax} events: runaway simulation`);
      this.nowMs = next.atMs;
      this.handle(next.event);
    }
    return {
      seed: this.opts.seed,
      nodeCount: p.nodeCount,
      events: this.events,
      virtualMs: this.nowMs,
      committedIndex: this.checker.committedIndex(),
      leaderTerms: this.leaderTerms.size,
      crashes: this.crashes,
      confChanges: this.confChanges,
      snapshots: this.snapshots,
      hostileInjected: this.hostileInjected,
      healTicks: Math.ceil((this.nowMs - this.healStartMs) / TICK_MS),
    };
  }

  // ---- events ----

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const n = this.node(ev.node);
        if (n.incarnation !== ev.incarnation || n.raw === undefined) return;
        n.raw.tick();
        this.afterInput(n);
        this.queue.push(this.nowMs + n.tickPeriodMs, { kind: 'tick', node: n.id, incarnation: n.incarnation });
        return;
      }
      case 'ready': {
        const n = this.node(ev.node);
        if (n.incarnation !== ev.incarnation || n.raw === undefined) return;
        n.readyScheduled = false;
        this.processReady(n);
        return;
      }
      case 'deliver': {
        const m = ev.message;
        const n = this.node(m.to);
        const delivered = !ev.lost && n.raw !== undefined && !this.network.isCut(m.from, m.to);
        this.reportDelivery(m, ev.senderIncarnation, delivered);
        if (!delivered || n.raw === undefined) return;
        this.log(() => `n${m.to} <- n${m.from} ${describeMessage(m)}`);
        n.raw.step(m);
        this.afterInput(n);
        return;
      }
      case 'restart': {
        const n = this.node(ev.node);
        if (n.incarnation !== ev.incarnation || n.raw !== undefined || n.decommissioned) return;
        this.start(n);
        return;
      }
      case 'heal-network':
        if (ev.generation === this.networkGeneration) this.healNetwork();
        return;
      case 'chaos':
        if (this.phase !== 'chaos') return;
        this.chaosRound();
        this.queue.push(this.nowMs + TICK_MS, { kind: 'chaos' });
        return;
      case 'heal-all':
        this.healAll();
        return;
      case 'probe':
        this.probe();
        return;
    }
  }

  /** After any input to a node: let the driver pick up its Ready soon (after a simulated disk delay). */
  private afterInput(n: SimNode): void {
    const raw = n.raw;
    if (raw === undefined || n.readyScheduled || !raw.hasReady()) return;
    n.readyScheduled = true;
    const stall = this.phase === 'chaos' && this.profile.diskStallRate > 0 && this.rng.chance(this.profile.diskStallRate);
    const diskMs = stall ? this.rng.between(5, 60) : this.rng.between(0, 2);
    this.queue.push(this.nowMs + diskMs, { kind: 'ready', node: n.id, incarnation: n.incarnation });
  }

  /**
   * Checks a node's role, term and commit. Every change to them shows in the node's next Ready (soft or
   * hard state), and nothing leaves the node before that Ready is handled, so observing each Ready
   * (and each start) sees every state the rest of the cluster could ever be affected by.
   */
  private observe(n: SimNode): void {
    if (n.role === 'leader' && !this.leaderTerms.has(n.term)) {
      this.leaderTerms.add(n.term);
      this.log(() => `n${n.id} is leader of term ${n.term}`);
    }
    this.checker.observe(n.id, { role: n.role, term: n.term, commit: n.commit, applied: this.checker.lastApplied(n.id) });
  }

  // ---- the driver: persist -> send -> apply -> advance ----

  private processReady(n: SimNode): void {
    const raw = n.raw;
    const storage = n.storage;
    if (raw === undefined || storage === undefined || !raw.hasReady()) return;
    const rd = raw.ready();
    const incarnation = n.incarnation;
    if (rd.softState !== undefined) n.role = rd.softState.role;
    if (rd.hardState !== undefined) {
      n.term = rd.hardState.term;
      n.commit = rd.hardState.commit;
    }
    this.observe(n);
    // A crash inside the handoff, at one of three points; 0 = no crash this time.
    const crashPoint = this.phase === 'chaos' && this.profile.crashInReadyRate > 0 && this.rng.chance(this.profile.crashInReadyRate)
      ? this.rng.between(1, 3) : 0;

    const sendEarly = this.opts.driverFault === 'send-before-persist';
    if (sendEarly) {
      for (const m of rd.messages) this.send(n, m);
      if (crashPoint !== 0) return this.crash(n, 'after send, before persist');
    }

    // 1. persist (atomically, as one fsync'd write)
    if (rd.snapshot !== undefined) {
      storage.applySnapshot(rd.snapshot);
      this.checker.persistSnapshot(n.id, rd.snapshot.metadata.index, rd.snapshot.metadata.term);
    }
    if (rd.entries.length > 0) {
      storage.append(rd.entries);
      this.checker.persistEntries(n.id, rd.entries);
    }
    if (rd.hardState !== undefined) {
      const hs = this.opts.driverFault === 'forget-vote' ? { ...rd.hardState, vote: 0 } : rd.hardState;
      storage.setHardState(hs);
      this.checker.persistHardState(n.id, hs);
    }
    if (n.role === 'leader') this.checker.checkLeader(n.id, n.term);
    this.log(() => `n${n.id} persisted ${describePersist(rd)}`);
    if (crashPoint === 1) return this.crash(n, 'after persist');

    // 2. send
    if (!sendEarly) for (const m of rd.messages) this.send(n, m);
    if (crashPoint === 2) return this.crash(n, 'after send');

    // 3. apply
    if (rd.snapshot !== undefined) {
      const app = decodeAppState(rd.snapshot.data);
      if (app.index !== rd.snapshot.metadata.index) throw new InvariantViolation('state-machine-safety', `snapshot ${rd.snapshot.metadata.index} carries application state of index ${app.index}`);
      this.checker.restore(n.id, app.index, app.digest);
      n.confState = rd.snapshot.metadata.confState;
      this.log(() => `n${n.id} restored snapshot ${app.index} conf ${describeConf(n.confState)}`);
    }
    for (const e of rd.committedEntries) {
      this.apply(n, raw, e, n.commit);
      if (n.incarnation !== incarnation) return; // the orchestrator stopped this node (its own removal)
    }
    for (const rs of rd.readStates) this.checker.readAnswered(n.id, textDecoder.decode(rs.requestCtx), rs.index);
    if (crashPoint === 3) return this.crash(n, 'after apply');

    // 4. advance
    raw.advance(rd);
    this.afterInput(n);
  }

  private send(n: SimNode, m: Message): void {
    if (m.from !== n.id || m.to === n.id || m.to === 0) throw new Error(`n${n.id} emitted a misaddressed message ${describeMessage(m)}`);
    if (!this.nodes.has(m.to)) return; // addressed to an id that never exists in this run
    let times = this.network.plan(this.nowMs);
    let lost = false;
    if (times.length === 0 && (m.type === 'snap' || (m.type === 'app' && this.opts.silentLoss === false))) {
      // A lost message still ends in a (failed) delivery event when the transport learns of the failure.
      times = [this.nowMs + this.network.faults.delayMaxMs];
      lost = true;
    }
    for (const atMs of times) this.queue.push(atMs, { kind: 'deliver', message: m, senderIncarnation: n.incarnation, lost });
  }

  /**
   * What a real transport tells raft about its sends: a snapshot's fate (reportSnapshot, which the
   * leader needs to leave the snapshot state), and appends that could not reach a peer (reportUnreachable).
   */
  private reportDelivery(m: Message, senderIncarnation: number, delivered: boolean): void {
    if (m.type !== 'snap' && (delivered || m.type !== 'app' || this.opts.silentLoss !== false)) return;
    const sender = this.node(m.from);
    if (sender.raw === undefined || sender.incarnation !== senderIncarnation) return;
    if (m.type === 'snap') sender.raw.reportSnapshot(m.to, delivered);
    else sender.raw.reportUnreachable(m.to);
    this.afterInput(sender);
  }

  private apply(n: SimNode, raw: SimRaft, e: Entry, commit: number): void {
    const firstApplication = this.checker.appliedEntry(e.index) === undefined;
    this.checker.apply(n.id, e, commit);
    if (e.type === 'conf-change') {
      if (e.data.length === 0) return;
      const cc = decodeConfChange(e.data);
      n.confState = raw.applyConfChange(cc);
      this.log(() => `n${n.id} applied ${e.index} ${cc.type} ${cc.nodeId} -> ${describeConf(n.confState)}`);
      if (firstApplication) this.onConfChangeCommitted(cc, n.confState);
      return;
    }
    if (this.phase === 'heal' && entryKey(e).startsWith(`n:${PROBE_PREFIX}`)) n.appliedProbe = true;
  }

  // ---- node lifecycle ----

  private start(n: SimNode): void {
    if (n.storage === undefined) {
      n.storage = newStorage();
      this.checker.addNode(n.id, false);
    }
    n.incarnation++;
    const snap = n.storage.snapshot();
    const app = decodeAppState(snap.data);
    n.raw = newRaft({
      id: n.id,
      storage: n.storage,
      random: n.rng.fork(),
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: HEARTBEAT_TICKS,
      maxSizePerMsgBytes: this.profile.maxSizePerMsgBytes,
      maxInflightMsgs: this.profile.maxInflightMsgs,
      applied: app.index,
    });
    this.checker.restart(n.id, app.index, app.digest);
    const s = n.raw.status();
    n.role = s.role;
    n.term = s.term;
    n.commit = s.commit;
    this.observe(n);
    n.confState = snap.metadata.confState;
    n.readyScheduled = false;
    n.decommissioned = false;
    this.log(() => `n${n.id} started (incarnation ${n.incarnation}, snapshot ${snap.metadata.index}, conf ${describeConf(n.confState)})`);
    this.queue.push(this.nowMs + this.rng.between(1, n.tickPeriodMs), { kind: 'tick', node: n.id, incarnation: n.incarnation });
    this.afterInput(n);
  }

  /** Power loss: the RawNode and everything not yet persisted vanish; the disk stays. */
  private crash(n: SimNode, why: string): void {
    if (n.raw === undefined) return;
    n.raw = undefined;
    n.incarnation++;
    n.readyScheduled = false;
    this.crashes++;
    this.log(() => `n${n.id} crashed (${why})`);
    if (!n.decommissioned && this.phase === 'chaos') {
      this.queue.push(this.nowMs + this.rng.between(20, 1_000), { kind: 'restart', node: n.id, incarnation: n.incarnation });
    }
  }

  /**
   * The orchestrator reacts to each configuration change the first time it is applied anywhere: the
   * resulting membership is the committed one. Newcomers start (with their old disk if they had one);
   * nodes no longer members are stopped for good (until added again).
   */
  private onConfChangeCommitted(cc: ConfChange, conf: ConfState): void {
    this.confChanges++;
    this.confChangeBusyUntilMs = 0;
    this.members.clear();
    for (const id of conf.voters) this.members.set(id, 'voter');
    for (const id of conf.learners) this.members.set(id, 'learner');
    this.log(() => `committed ${cc.type} ${cc.nodeId}: members ${describeMembers(this.members)}`);
    for (const n of this.nodes.values()) {
      if (this.members.has(n.id)) {
        n.decommissioned = false;
        if (n.raw === undefined) this.start(n);
      } else if (n.storage !== undefined && !n.decommissioned) {
        n.decommissioned = true;
        this.crash(n, 'decommissioned');
      }
    }
  }

  // ---- chaos ----

  private chaosRound(): void {
    const p = this.profile;
    const r = this.rng;
    if (r.chance(p.proposeRate)) this.propose();
    if (r.chance(p.crashRate)) {
      const victim = this.randomRunning();
      if (victim !== undefined) this.crash(victim, 'chaos');
    }
    if (r.chance(p.partitionRate)) {
      if (this.network.partitioned && r.chance(0.5)) this.healNetwork();
      else this.cutNetwork();
    }
    if (r.chance(p.confChangeRate)) this.changeMembership();
    if (r.chance(p.transferRate)) this.transfer();
    if (r.chance(p.snapshotRate)) this.takeSnapshot();
    if (r.chance(p.readRate)) this.read();
    if (this.hostileRng !== undefined && this.hostileRng.chance(this.hostileRate)) this.injectHostile(this.hostileRng);
    if (r.chance(p.campaignRate)) {
      const n = this.randomRunning();
      if (n?.raw !== undefined) {
        this.log(() => `n${n.id} campaign (forced)`);
        n.raw.campaign();
        this.afterInput(n);
      }
    }
  }

  /**
   * Steps one hostile message into a running node (as if the network delivered it now) and checks
   * what it may change. Targets know a configuration: a newcomer that knows none accepts anyone
   * until it learns one (nraft's documented exception).
   */
  private injectHostile(r: SimRandom): void {
    const targets = [...this.nodes.values()].filter((n) => n.raw !== undefined && (n.confState.voters.length > 0 || n.confState.learners.length > 0));
    if (targets.length === 0) return;
    const target = r.pick(targets);
    const raw = target.raw as SimRaft;
    const before = raw.status();
    const kind = r.pick(['outsider', 'malformed', 'commit-past-end'] as const);
    let m: Message;
    if (kind === 'outsider') {
      m = this.hostileMessage(r, OUTSIDER_ID, target.id, before.term + r.between(1, 200), before.lastIndex);
    } else if (kind === 'malformed') {
      const others = [...this.nodes.keys()].filter((id) => id !== target.id);
      m = this.malformedMessage(r, r.pick(others), target.id, before.term, before.lastIndex);
    } else {
      // A leader that sends its own commit index, not min(match, commit): past the end of a lagging
      // follower's log. The follower must clamp it, not stop.
      const leader = this.leader();
      if (leader?.raw === undefined || leader.id === target.id || leader.term !== before.term) return;
      m = {
        type: 'heartbeat', from: leader.id, to: target.id, term: before.term, logTerm: 0, index: 0, entries: [],
        commit: leader.raw.status().commit, reject: false, rejectHint: 0, context: new Uint8Array(0),
      };
    }
    this.hostileInjected++;
    this.log(() => `n${m.to} <- n${m.from} HOSTILE ${kind} ${describeMessage(m)}`);
    raw.step(m);
    const after = raw.status();
    if (kind === 'outsider' && after.term !== before.term) {
      throw new InvariantViolation('hostile-input', `n${target.id} moved from term ${before.term} to ${after.term} on a message from non-member ${m.from}`);
    }
    if (kind === 'malformed' && (after.term !== before.term || after.commit !== before.commit || after.lastIndex !== before.lastIndex || after.lead !== before.lead)) {
      throw new InvariantViolation('hostile-input', `n${target.id} changed on a malformed message: ${JSON.stringify({ before, after }, (_k, v: unknown) => (v instanceof Map ? undefined : v))}`);
    }
    this.afterInput(target);
  }

  /** A well-formed message of a random type, claiming whatever indexes it likes. */
  private hostileMessage(r: SimRandom, from: NodeId, to: NodeId, term: number, lastIndex: number): Message {
    const type = r.pick(HOSTILE_TYPES);
    const index = lastIndex + r.between(-2, 1_000);
    const logTerm = r.between(0, term);
    const entries: Entry[] = type === 'app' && index >= 0
      ? Array.from({ length: r.between(0, 3) }, (_, k) => ({ term, index: index + 1 + k, type: 'normal' as const, data: textEncoder.encode(`hostile-${k}`) }))
      : [];
    return {
      type, from, to, term, logTerm: type === 'app' || type.includes('vote') ? logTerm : 0, index: Math.max(0, index), entries,
      commit: r.between(0, lastIndex + 1_000), reject: r.chance(0.3), rejectHint: r.between(0, lastIndex + 10), context: new Uint8Array(0),
      ...(type === 'snap' ? { snapshot: { metadata: { index: lastIndex + r.between(1, 100), term, confState: { voters: [from], learners: [] } }, data: encodeAppState(0, 0) } } : {}),
    };
  }

  /** A message no correct node could send, in a member's name. */
  private malformedMessage(r: SimRandom, from: NodeId, to: NodeId, term: number, lastIndex: number): Message {
    const base = this.hostileMessage(r, from, to, term, lastIndex);
    const e = (t: number, i: number): Entry => ({ term: t, index: i, type: 'normal', data: textEncoder.encode('garbage') });
    const at = lastIndex;
    switch (r.between(0, 6)) {
      case 0: return { ...base, index: -1 - r.intn(5) };
      case 1: return { ...base, commit: -1 };
      case 2: return { ...base, term: term + 0.5 };
      case 3: return { ...base, type: 'app', index: at, logTerm: Math.min(term, 1), entries: [e(term, at + 1), e(term, at + 3)] };
      case 4: return { ...base, type: 'app', index: at, logTerm: Math.min(term, 1), entries: [e(term, at + 1), e(Math.max(0, term - 1), at + 2)] };
      case 5: return { ...base, type: 'app', index: at, logTerm: 0, entries: [e(term + 1, at + 1)] };
      default: return { ...base, type: 'app', index: at, logTerm: 0, entries: [e(term, at + 2)] };
    }
  }

  private propose(): void {
    const leader = this.leader();
    const n = leader !== undefined && this.rng.chance(0.8) ? leader : this.randomRunning();
    if (n?.raw === undefined) return;
    const data = `c${++this.proposalSeq}`;
    this.log(() => `n${n.id} propose ${data}`);
    this.refusable(() => n.raw?.propose(textEncoder.encode(data)));
    this.afterInput(n);
  }

  private changeMembership(): void {
    const leader = this.leader();
    if (leader?.raw === undefined || this.nowMs < this.confChangeBusyUntilMs) return;
    const options: ConfChange[] = [];
    const voters = [...this.members].filter(([, m]) => m === 'voter').map(([id]) => id);
    for (const [id, n] of this.nodes) {
      const m = this.members.get(id);
      // A removed node never comes back under its id (etcd retires removed member ids; KRaft gives a
      // returning voter a new directory id): its disk may say it was removed, and nraft trusts no
      // leader outside a node's configuration, so it could never catch up; wiped, it could vote with
      // a stale snapshot's membership.
      if (m === undefined && !n.decommissioned) options.push({ type: 'add-learner', nodeId: id });
      else if (m === 'learner') options.push({ type: 'add-voter', nodeId: id }, { type: 'remove-node', nodeId: id });
      else if (voters.length > VOTERS_MIN) options.push({ type: 'remove-node', nodeId: id });
    }
    if (options.length === 0) return;
    const cc = this.rng.pick(options);
    this.log(() => `n${leader.id} propose conf change ${cc.type} ${cc.nodeId}`);
    this.confChangeBusyUntilMs = this.nowMs + 100 * TICK_MS;
    this.refusable(() => leader.raw?.proposeConfChange(cc));
    this.afterInput(leader);
  }

  private transfer(): void {
    const leader = this.leader();
    if (leader?.raw === undefined) return;
    const targets = leader.confState.voters.filter((id) => id !== leader.id);
    if (targets.length === 0) return;
    const to = this.rng.pick(targets);
    this.log(() => `n${leader.id} transfer leadership to n${to}`);
    this.refusable(() => leader.raw?.transferLeadership(to));
    this.afterInput(leader);
  }

  private takeSnapshot(): void {
    const n = this.randomRunning();
    const storage = n?.storage;
    if (n === undefined || storage === undefined) return;
    const applied = this.checker.lastApplied(n.id);
    if (applied <= storage.snapshot().metadata.index || applied > storage.lastIndex()) return;
    storage.createSnapshot(applied, n.confState, encodeAppState(applied, this.checker.appDigest(n.id)));
    // Keep a few entries behind the snapshot sometimes, so followers catch up by log or by snapshot.
    const compactTo = applied - this.rng.pick([0, 0, 1, 5]);
    if (compactTo >= storage.firstIndex()) storage.compact(compactTo);
    this.snapshots++;
    this.log(() => `n${n.id} snapshot at ${applied}, compacted to ${compactTo}`);
  }

  private read(): void {
    const n = this.randomRunning();
    if (n?.raw === undefined) return;
    const ctx = `r${++this.readSeq}`;
    this.checker.readRequested(ctx);
    this.log(() => `n${n.id} read-index ${ctx}`);
    this.refusable(() => n.raw?.readIndex(textEncoder.encode(ctx)));
    this.afterInput(n);
  }

  private cutNetwork(): void {
    const ids = [...this.nodes.values()].filter((n) => n.storage !== undefined).map((n) => n.id);
    if (ids.length < 2) return;
    if (this.rng.chance(0.5)) {
      const shuffled = this.rng.shuffle([...ids]);
      const split = this.rng.between(1, shuffled.length - 1);
      this.network.partition([shuffled.slice(0, split), shuffled.slice(split)]);
    } else {
      const links: [NodeId, NodeId][] = [];
      for (let k = this.rng.between(1, 3); k > 0; k--) {
        const [a, b] = this.rng.shuffle([...ids]);
        if (a !== undefined && b !== undefined) links.push([a, b]);
      }
      this.network.cutOneWay(links);
    }
    this.networkGeneration++;
    this.log(() => `network: ${this.network.describe()}`);
    this.queue.push(this.nowMs + this.rng.between(50, 2_000), { kind: 'heal-network', generation: this.networkGeneration });
  }

  private healNetwork(): void {
    this.networkGeneration++;
    this.network.heal();
    this.log(() => 'network: healed');
  }

  // ---- the final heal and the liveness check ----

  private healAll(): void {
    this.phase = 'heal';
    this.healStartMs = this.nowMs;
    this.healNetwork();
    this.network.faults = BENIGN_FAULTS;
    for (const n of this.nodes.values()) {
      if (n.raw === undefined && n.storage !== undefined && !n.decommissioned) this.start(n);
    }
    this.log(() => `heal: all members up (${describeMembers(this.members)}), network clean`);
    this.queue.push(this.nowMs + TICK_MS, { kind: 'probe' });
  }

  /** Proposes a fresh write at the leader (again each election timeout) until every voter applies one. */
  private probe(): void {
    const voters = [...this.members].filter(([, m]) => m === 'voter').map(([id]) => id);
    if (voters.length > 0 && voters.every((id) => this.node(id).appliedProbe)) {
      this.phase = 'done';
      this.log(() => `liveness: every voter (${voters.join(' ')}) applied a fresh write`);
      return;
    }
    if (this.nowMs - this.healStartMs > LIVENESS_BOUND_TICKS * TICK_MS) {
      const states = [...this.nodes.values()]
        .filter((n) => n.raw !== undefined)
        .map((n) => {
          const s = (n.raw as SimRaft).status();
          return `n${n.id}:${s.role}/t${s.term}/c${s.commit}/a${s.applied}${n.appliedProbe ? '/probed' : ''}${describeProgress(s)}`;
        });
      throw new InvariantViolation('liveness',
        `no fresh write applied on every voter (${describeMembers(this.members)}) within ${LIVENESS_BOUND_TICKS} ticks of healing: ${states.join(' ')}`);
    }
    const leader = this.leader();
    if (leader?.raw !== undefined && this.nowMs - this.lastProbeMs >= ELECTION_TICKS * TICK_MS) {
      this.lastProbeMs = this.nowMs;
      const data = `${PROBE_PREFIX}${++this.probeSeq}`;
      this.log(() => `n${leader.id} propose ${data}`);
      this.refusable(() => leader.raw?.propose(textEncoder.encode(data)));
      this.afterInput(leader);
    }
    this.queue.push(this.nowMs + TICK_MS, { kind: 'probe' });
  }

  // ---- helpers ----

  private refusable(action: () => void): void {
    try {
      action();
    } catch (err) {
      if (!isExpectedRefusal(err)) throw err;
      this.log(() => `  refused: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The running node that believes it leads the highest term, if any. */
  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.raw !== undefined && n.role === 'leader' && (best === undefined || n.term > best.term)) best = n;
    }
    return best;
  }

  private randomRunning(): SimNode | undefined {
    const running = [...this.nodes.values()].filter((n) => n.raw !== undefined);
    return running.length === 0 ? undefined : this.rng.pick(running);
  }

  private node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Trace lines are built only when tracing: most runs never look at them. */
  private log(line: () => string): void {
    if (this.trace !== undefined) this.trace(`[${String(this.nowMs).padStart(6)}ms] ${line()}`);
  }
}

function describeMessage(m: Message): string {
  let s = `${m.type} t${m.term}`;
  if (m.type === 'app' || m.type === 'app-resp' || m.type.includes('vote')) s += ` i${m.index}/lt${m.logTerm}`;
  if (m.entries.length > 0) s += ` +${m.entries.length}[${m.entries[0]?.index}..${m.entries[m.entries.length - 1]?.index}]`;
  if (m.commit > 0) s += ` c${m.commit}`;
  if (m.reject) s += ` REJECT hint ${m.rejectHint}`;
  if (m.snapshot !== undefined) s += ` snap ${m.snapshot.metadata.index}/${m.snapshot.metadata.term}`;
  return s;
}

function describePersist(rd: Ready): string {
  const parts: string[] = [];
  if (rd.snapshot !== undefined) parts.push(`snap ${rd.snapshot.metadata.index}`);
  if (rd.entries.length > 0) parts.push(`entries ${rd.entries[0]?.index}..${rd.entries[rd.entries.length - 1]?.index}`);
  if (rd.hardState !== undefined) parts.push(`hs t${rd.hardState.term} v${rd.hardState.vote} c${rd.hardState.commit}`);
  parts.push(`send ${rd.messages.length}, apply ${rd.committedEntries.length}`);
  return parts.join(', ');
}

function describeProgress(s: SimStatus): string {
  if (s.progress === undefined) return '';
  const parts = [...s.progress].map(([id, p]) =>
    `${id}:${p.state}/m${p.match}/n${p.next}${p.paused ? '/paused' : ''}${p.inflightMsgs > 0 ? `/inflight${p.inflightMsgs}` : ''}${p.pendingSnapshot > 0 ? `/snap${p.pendingSnapshot}` : ''}${p.recentActive ? '' : '/inactive'}`);
  return `{${parts.join(' ')}}`;
}

function describeConf(cs: ConfState): string {
  return `voters [${cs.voters.join(' ')}] learners [${cs.learners.join(' ')}]`;
}

function describeMembers(members: ReadonlyMap<NodeId, Membership>): string {
  return [...members].map(([id, m]) => `${id}${m === 'learner' ? 'L' : ''}`).join(' ');
}
