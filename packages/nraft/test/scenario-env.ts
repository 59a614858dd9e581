// A tiny interaction-test environment in the style of etcd-raft's testdata/*.txt scripts: a set of
// RawNodes over MemoryStorage, an explicit message queue, link filters, and a line-oriented DSL with
// commands (`campaign 1`, `stabilize`, `partition 1 | 2 3`) and expectations (`expect leader 1 term 2`).
// Everything is deterministic: election timeouts are exactly electionTicks (the Random returns 0).
import {
  MemoryStorage,
  ProposalDroppedError,
  RawNode,
  decodeConfChange,
  type ConfChangeType,
  type Entry,
  type Message,
  type MessageType,
  type NodeId,
  type RaftConfigInput,
  type ReadState,
  type Ready,
  type Snapshot,
} from '../src/index.js';

const ZERO_RANDOM = { intn: (): number => 0 };
const MAX_STABILIZE_ROUNDS = 10_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface SimNode {
  id: NodeId;
  node: RawNode | undefined; // undefined while crashed
  storage: MemoryStorage;
  config: RaftConfigInput;
  /** Applied normal entries: index and value (empty no-ops excluded). */
  applied: { index: number; value: string }[];
  readStates: ReadState[];
}

export class ScenarioError extends Error {}

export class ScenarioEnv {
  readonly nodes = new Map<NodeId, SimNode>();
  private queue: Message[] = [];
  private readonly blocked = new Set<string>();
  private counters = new Map<string, number>();
  readonly transcript: string[] = [];

  run(script: string): void {
    const lines = script.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/#.*$/, '').trim();
      if (line === '') continue;
      try {
        this.transcript.push(`> ${line}`);
        this.exec(line);
      } catch (e) {
        const tail = this.transcript.slice(-40).join('\n');
        const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        throw new ScenarioError(`line ${i + 1}: ${line}\n  ${msg}\n--- transcript tail ---\n${tail}`);
      }
    }
  }

  private exec(line: string): void {
    const [cmd, ...args] = line.split(/\s+/);
    switch (cmd) {
      case 'add-nodes':
        return this.addNodes(args);
      case 'campaign':
        return this.each(args, (n) => this.live(n).campaign());
      case 'tick':
        return this.tick(Number(args[0]), Number(args[1] ?? 1));
      case 'tick-election':
        return this.each(args, (n) => this.tick(n, this.electionTicks(n)));
      case 'tick-heartbeat':
        return this.each(args, (n) => this.tick(n, this.nodeOf(n).config.heartbeatTicks ?? 1));
      case 'propose':
        this.live(Number(args[0])).propose(enc.encode(args[1] ?? ''));
        return;
      case 'propose-conf-change':
        this.live(Number(args[0])).proposeConfChange({ type: args[1] as ConfChangeType, nodeId: Number(args[2]) });
        return;
      case 'transfer-leadership': {
        const kv = keyValues(args);
        this.live(Number(kv.get('from'))).transferLeadership(Number(kv.get('to')));
        return;
      }
      case 'read-index':
        this.live(Number(args[0])).readIndex(enc.encode(args[1] ?? ''));
        return;
      case 'compact':
        return this.compact(Number(args[0]), Number(args[1]));
      case 'process-ready':
        return this.each(args, (n) => this.processReady(n));
      case 'deliver-msgs':
        this.deliver(args.length === 0 ? undefined : new Set(args.map(Number)));
        return;
      case 'drop-msgs':
        this.queue = args.length === 0 ? [] : this.queue.filter((m) => !args.map(Number).includes(m.to));
        return;
      case 'stabilize':
        return this.stabilize(args.length === 0 ? undefined : new Set(args.map(Number)));
      case 'partition':
        return this.partition(args);
      case 'isolate':
        return this.each(args, (n) => {
          for (const other of this.nodes.keys()) if (other !== n) this.block(n, other, true);
        });
      case 'drop': {
        const [from, to] = (args[0] ?? '').split('->').map(Number);
        this.block(from!, to!, false);
        return;
      }
      case 'heal':
        this.blocked.clear();
        return;
      case 'crash':
        return this.each(args, (n) => {
          this.nodeOf(n).node = undefined;
          this.queue = this.queue.filter((m) => m.to !== n);
        });
      case 'restart':
        return this.each(args, (n) => this.restart(n));
      case 'inject':
        return this.inject(args);
      case 'report-unreachable':
        this.live(Number(args[0])).reportUnreachable(Number(args[1]));
        return;
      case 'report-snapshot':
        this.live(Number(args[0])).reportSnapshot(Number(args[1]), args[2] !== 'failed');
        return;
      case 'reset-counters':
        this.counters = new Map();
        return;
      case 'status':
        return this.each(args, (n) => this.transcript.push(statusLine(this.live(n))));
      case 'log':
        return this.each(args, (n) => this.transcript.push(`log ${n}: ${this.logTerms(n).join(' ')}`));
      case 'expect':
        return this.expect(args);
      default:
        throw new Error(`unknown command ${String(cmd)}`);
    }
  }

  // ------------------------------------------------------------------ setup

  private addNodes(args: string[]): void {
    const count = Number(args[0]);
    const kv = keyValues(args.slice(1));
    const voters = idList(kv.get('voters') ?? '');
    const learners = idList(kv.get('learners') ?? '');
    const first = this.nodes.size + 1;
    for (let id = first; id < first + count; id++) {
      const config: RaftConfigInput = {
        id,
        random: ZERO_RANDOM,
        electionTicks: Number(kv.get('election') ?? 10),
        heartbeatTicks: Number(kv.get('heartbeat') ?? 1),
        preVote: kv.get('prevote') !== 'false',
        checkQuorum: kv.get('checkquorum') !== 'false',
        ...(kv.has('max-inflight') ? { maxInflightMsgs: Number(kv.get('max-inflight')) } : {}),
        ...(kv.has('max-msg-bytes') ? { maxSizePerMsgBytes: Number(kv.get('max-msg-bytes')), maxInflightBytes: 0 } : {}),
        ...(kv.has('max-inflight-bytes') ? { maxInflightBytes: Number(kv.get('max-inflight-bytes')) } : {}),
        ...(kv.has('max-uncommitted-bytes') ? { maxUncommittedEntriesBytes: Number(kv.get('max-uncommitted-bytes')) } : {}),
      };
      // Every node boots with the cluster's bootstrap membership, including nodes that join later
      // through conf changes: replaying the log from index 1 on top of it yields the right config.
      const storage = new MemoryStorage({ confState: { voters, learners } });
      this.nodes.set(id, { id, node: new RawNode(config, storage), storage, config, applied: [], readStates: [] });
    }
  }

  private restart(id: NodeId): void {
    const n = this.nodeOf(id);
    invariantScenario(n.node === undefined, `node ${id} is not crashed`);
    // The application state is rebuilt from the snapshot; raft redelivers committed entries after it.
    n.applied = decodeSnapshotData(n.storage.snapshot());
    n.readStates = [];
    n.node = new RawNode(n.config, n.storage);
  }

  // ------------------------------------------------------------------ driving

  private tick(id: NodeId, times: number): void {
    const node = this.live(id);
    for (let i = 0; i < times; i++) node.tick();
  }

  private electionTicks(id: NodeId): number {
    return this.nodeOf(id).config.electionTicks ?? 10;
  }

  /** Persist, send, apply, advance — the driver contract of RawNode. */
  private processReady(id: NodeId): boolean {
    const n = this.nodeOf(id);
    const node = n.node;
    if (node === undefined || !node.hasReady()) return false;
    const rd: Ready = node.ready();
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) {
      if (!this.blocked.has(`${m.from}->${m.to}`)) this.queue.push(m);
    }
    if (rd.snapshot !== undefined) n.applied = decodeSnapshotData(rd.snapshot);
    for (const e of rd.committedEntries) {
      if (e.type === 'conf-change') node.applyConfChange(decodeConfChange(e.data));
      else if (e.data.byteLength > 0) n.applied.push({ index: e.index, value: dec.decode(e.data) });
    }
    n.readStates.push(...rd.readStates);
    node.advance(rd);
    return true;
  }

  private deliver(to: Set<NodeId> | undefined): boolean {
    const now = this.queue.filter((m) => to === undefined || to.has(m.to));
    this.queue = this.queue.filter((m) => !(to === undefined || to.has(m.to)));
    for (const m of now) {
      const target = this.nodes.get(m.to)?.node;
      if (target === undefined || this.blocked.has(`${m.from}->${m.to}`)) continue;
      this.count(m.type);
      if (m.type === 'app-resp' && m.reject) this.count('app-resp-reject');
      this.transcript.push(`  ${describe(m)}`);
      target.step(m);
    }
    return now.length > 0;
  }

  /**
   * `inject 9->2 heartbeat term=101 commit=50 [log-term=T index=I reject=true hint=H entries=T/I,T/I
   * snap=I/T voters=(1,2,3)]`: steps a message no correct node sent (a forged or corrupted one)
   * straight into its target, as if the network delivered it now.
   */
  private inject(args: string[]): void {
    const [from, to] = (args[0] ?? '').split('->').map(Number);
    const type = args[1] as MessageType;
    const kv = keyValues(args.slice(2));
    const num = (k: string): number => (kv.has(k) ? Number(kv.get(k)) : 0);
    const entries: Entry[] = (kv.get('entries') ?? '').split(',').filter(Boolean).map((te) => {
      const [term, index] = te.split('/').map(Number);
      return { term: term!, index: index!, type: 'normal', data: enc.encode('forged') };
    });
    const snap = kv.get('snap')?.split('/').map(Number);
    const m: Message = {
      type, from: from!, to: to!, term: num('term'), logTerm: num('log-term'), index: num('index'), entries,
      commit: num('commit'), reject: kv.get('reject') === 'true', rejectHint: num('hint'), context: new Uint8Array(),
      ...(snap === undefined ? {} : {
        snapshot: { metadata: { index: snap[0]!, term: snap[1]!, confState: { voters: idList(kv.get('voters') ?? ''), learners: [] } }, data: enc.encode('[]') },
      }),
    };
    this.transcript.push(`  injected ${describe(m)}`);
    this.live(to!).step(m);
  }

  private stabilize(only: Set<NodeId> | undefined): void {
    for (let round = 0; round < MAX_STABILIZE_ROUNDS; round++) {
      let progressed = false;
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) {
        if (only !== undefined && !only.has(id)) continue;
        while (this.processReady(id)) progressed = true;
      }
      if (this.deliver(only)) progressed = true;
      if (!progressed) return;
    }
    throw new Error(`stabilize did not converge in ${MAX_STABILIZE_ROUNDS} rounds`);
  }

  private partition(args: string[]): void {
    const groups = args.join(' ').split('|').map((g) => g.trim().split(/\s+/).filter(Boolean).map(Number));
    this.blocked.clear();
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.blocked.add(`${x}->${y}`);
      }
    }
  }

  private block(a: NodeId, b: NodeId, bothWays: boolean): void {
    this.blocked.add(`${a}->${b}`);
    if (bothWays) this.blocked.add(`${b}->${a}`);
  }

  private compact(id: NodeId, index: number): void {
    const n = this.nodeOf(id);
    const st = this.live(id).status();
    invariantScenario(st.applied >= index, `node ${id} applied ${st.applied} < compaction index ${index}`);
    const data = enc.encode(JSON.stringify(n.applied.filter((a) => a.index <= index)));
    n.storage.createSnapshot(index, st.confState, data);
    n.storage.compact(index);
  }

  // ------------------------------------------------------------------ expectations

  private expect(args: string[]): void {
    const [what, ...rest] = args;
    switch (what) {
      case 'leader': {
        // expect leader X term T
        const id = Number(rest[0]);
        const st = this.live(id).status();
        check(st.role === 'leader', `node ${id} is ${st.role}, not leader (term ${st.term})`);
        if (rest[1] === 'term') check(st.term === Number(rest[2]), `node ${id} leads term ${st.term}, expected ${rest[2]}`);
        return;
      }
      case 'role': {
        const st = this.live(Number(rest[0])).status();
        check(st.role === rest[1], `node ${rest[0]} is ${st.role}, expected ${rest[1]}`);
        return;
      }
      case 'term':
      case 'commit':
      case 'lead':
      case 'last-index':
      case 'first-index':
      case 'applied-index':
      case 'refused':
        return this.expectOn(what, Number(rest[0]), rest.slice(2).map(Number));
      case 'no-leader':
        return this.expectOn('lead', 0, rest.slice(1).map(Number));
      case 'applied-values': {
        const id = Number(rest[0]);
        const got = this.nodeOf(id).applied.map((a) => a.value);
        check(JSON.stringify(got) === JSON.stringify(rest.slice(1)), `node ${id} applied [${got.join(' ')}], expected [${rest.slice(1).join(' ')}]`);
        return;
      }
      case 'log-terms': {
        const id = Number(rest[0]);
        const got = this.logTerms(id);
        check(got.join(' ') === rest.slice(1).join(' '), `node ${id} log terms [${got.join(' ')}], expected [${rest.slice(1).join(' ')}]`);
        return;
      }
      case 'voters':
      case 'learners': {
        const id = Number(rest[0]);
        const cs = this.live(id).status().confState;
        const got = (what === 'voters' ? cs.voters : cs.learners).join(' ');
        const want = rest.slice(2).join(' ');
        check(got === want, `node ${id} ${what} [${got}], expected [${want}]`);
        return;
      }
      case 'read-state': {
        // expect read-state X ctx index I
        const n = this.nodeOf(Number(rest[0]));
        const rs = n.readStates.shift();
        check(rs !== undefined, `node ${rest[0]} has no read state`);
        check(dec.decode(rs.requestCtx) === rest[1], `read state ctx ${dec.decode(rs.requestCtx)}, expected ${rest[1]}`);
        check(rs.index === Number(rest[3]), `read state index ${rs.index}, expected ${rest[3]}`);
        return;
      }
      case 'no-read-state': {
        const n = this.nodeOf(Number(rest[0]));
        check(n.readStates.length === 0, `node ${rest[0]} has ${n.readStates.length} read states`);
        return;
      }
      case 'count': {
        // expect count TYPE <= N | == N | >= N
        const got = this.counters.get(rest[0]!) ?? 0;
        const want = Number(rest[2]);
        const ok = rest[1] === '<=' ? got <= want : rest[1] === '>=' ? got >= want : got === want;
        check(ok, `count ${rest[0]} = ${got}, expected ${rest[1]} ${want}`);
        return;
      }
      case 'progress': {
        // expect progress L F state S [match M]
        const st = this.live(Number(rest[0])).status();
        const pr = st.progress?.get(Number(rest[1]));
        check(pr !== undefined, `node ${rest[0]} has no progress for ${rest[1]} (role ${st.role})`);
        const kv = keyValuesPairs(rest.slice(2));
        if (kv.has('state')) check(pr.state === kv.get('state'), `progress state ${pr.state}, expected ${kv.get('state')}`);
        if (kv.has('match')) check(pr.match === Number(kv.get('match')), `progress match ${pr.match}, expected ${kv.get('match')}`);
        return;
      }
      case 'propose-dropped':
        return this.expectDropped(rest[2], () => this.live(Number(rest[0])).propose(enc.encode(rest[1] ?? '')));
      case 'conf-change-dropped':
        return this.expectDropped(rest[3], () =>
          this.live(Number(rest[0])).proposeConfChange({ type: rest[1] as ConfChangeType, nodeId: Number(rest[2]) }),
        );
      case 'read-index-dropped':
        return this.expectDropped(rest[2], () => this.live(Number(rest[0])).readIndex(enc.encode(rest[1] ?? '')));
      default:
        throw new Error(`unknown expectation ${String(what)}`);
    }
  }

  private expectOn(field: string, want: number, ids: NodeId[]): void {
    check(ids.length > 0, `expect ${field}: no nodes named (use "on 1 2 3")`);
    for (const id of ids) {
      const st = this.live(id).status();
      const got =
        field === 'term' ? st.term
        : field === 'commit' ? st.commit
        : field === 'lead' ? st.lead
        : field === 'last-index' ? st.lastIndex
        : field === 'first-index' ? st.firstIndex
        : field === 'refused' ? st.refusedMessages
        : st.applied;
      check(got === want, `node ${id} ${field} is ${got}, expected ${want}`);
    }
  }

  private expectDropped(reason: string | undefined, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      check(e instanceof ProposalDroppedError, `expected ProposalDroppedError, got ${String(e)}`);
      if (reason !== undefined) check(e.reason === reason, `dropped for ${e.reason}, expected ${reason}`);
      this.transcript.push(`  dropped: ${e.message}`);
      return;
    }
    throw new Error('expected the request to be dropped, but it was accepted');
  }

  // ------------------------------------------------------------------ helpers

  private logTerms(id: NodeId): number[] {
    const st = this.live(id).status();
    const storage = this.nodeOf(id).storage;
    const terms: number[] = [];
    // Reads the persisted log (the scenario always persists before inspecting).
    for (let i = storage.firstIndex(); i <= Math.min(st.lastIndex, storage.lastIndex()); i++) terms.push(storage.term(i));
    return terms;
  }

  private count(key: string): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
  }

  private each(args: string[], fn: (id: NodeId) => void): void {
    for (const a of args) fn(Number(a));
  }

  private nodeOf(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  private live(id: NodeId): RawNode {
    const node = this.nodeOf(id).node;
    if (node === undefined) throw new Error(`node ${id} is crashed`);
    return node;
  }
}

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`expectation failed: ${message}`);
}

function invariantScenario(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

function keyValues(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(0, eq), a.slice(eq + 1));
  }
  return out;
}

/** `state replicate match 5` style pairs. */
function keyValuesPairs(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < args.length; i += 2) out.set(args[i]!, args[i + 1]!);
  return out;
}

function idList(s: string): NodeId[] {
  return s.replace(/[()]/g, '').split(',').filter(Boolean).map(Number);
}

function decodeSnapshotData(snap: Snapshot): { index: number; value: string }[] {
  if (snap.data.byteLength === 0) return [];
  return JSON.parse(dec.decode(snap.data)) as { index: number; value: string }[];
}

function describe(m: Message): string {
  const parts = [`${m.from}->${m.to} ${m.type} term=${m.term}`];
  if (m.type === 'app' || m.type.includes('vote')) parts.push(`logTerm=${m.logTerm} index=${m.index}`);
  if (m.type === 'app-resp') parts.push(`index=${m.index}`);
  if (m.entries.length > 0) parts.push(`entries=[${m.entries.map((e) => `${e.term}/${e.index}`).join(' ')}]`);
  if (m.type === 'app' || m.type === 'heartbeat') parts.push(`commit=${m.commit}`);
  if (m.reject) parts.push(`reject hint=${m.rejectHint}/${m.rejectHintTerm ?? 0}`);
  if (m.snapshot !== undefined) parts.push(`snap=${m.snapshot.metadata.term}/${m.snapshot.metadata.index}`);
  return parts.join(' ');
}

function statusLine(node: RawNode): string {
  const s = node.status();
  const prs =
    s.progress === undefined
      ? ''
      : ` progress=${[...s.progress].map(([id, p]) => `${id}:${p.state}/m${p.match}/n${p.next}`).join(',')}`;
  return `status ${s.id}: ${s.role} term=${s.term} vote=${s.vote} lead=${s.lead} commit=${s.commit} applied=${s.applied} last=${s.lastIndex}${prs}`;
}
