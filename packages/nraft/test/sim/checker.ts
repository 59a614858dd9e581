// The invariant checker: a pure observer fed by the simulator (or by a test with a fabricated history).
// It mirrors every node's *durable* log from what the driver persisted, and throws InvariantViolation the
// moment any Raft safety property breaks:
//   election-safety       at most one leader per term, over the whole run
//   log-matching          two logs holding an entry with the same (index, term) agree on every entry up to it
//   leader-completeness   a leader of term T holds every entry committed in a term before T
//   state-machine-safety  every node applies the same entry at each index (and restores identical snapshots)
//   commit-monotonic      a node's commit index never moves back (after a restart: never below its durable commit)
//   applied-beyond-commit a node never applies an entry it does not know to be committed
//   hard-state            durable term never decreases; a durable vote never changes within a term
//   log-structure         appends are contiguous and never overwrite a durably committed entry
//   apply-order           a node applies entries one after another, without gaps or repeats
//   read-index            a ReadIndex answer covers every write committed before the read began
// Identities are exact: entries and log prefixes are interned to small integers, so "same id" means
// "same content", with no hash collisions to reason about.
import type { Entry, HardState, NodeId } from '../../src/types.js';

export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'commit-monotonic'
  | 'applied-beyond-commit'
  | 'hard-state'
  | 'log-structure'
  | 'apply-order'
  | 'read-index'
  | 'hostile-input'
  | 'liveness';

export class InvariantViolation extends Error {
  constructor(
    readonly kind: ViolationKind,
    detail: string,
  ) {
    super(`${kind}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** What a node's state looks like from outside (RawNode.status()). */
export interface ObservedStatus {
  readonly role: 'follower' | 'pre-candidate' | 'candidate' | 'leader';
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
}

/** A durable log as the checker mirrors it: a snapshot point followed by entries. */
interface LogMirror {
  snapIndex: number;
  snapTerm: number;
  /** Interned id of the whole prefix [1, snapIndex]. */
  snapChain: number;
  /** terms[k] and chains[k] describe entry snapIndex + 1 + k. */
  terms: number[];
  chains: number[];
}

interface NodeView {
  log: LogMirror;
  hardState: HardState;
  /** Lowest commit index this node may report from now on. */
  commitFloor: number;
  lastApplied: number;
  /** Interned id of the applied state (the sequence of applied entries). */
  appDigest: number;
}

interface AppliedEntry {
  readonly term: number;
  readonly key: string;
  readonly node: NodeId;
}

const ROOT_CHAIN = 0;

/** A printable, exact key for an entry's content. */
export function entryKey(e: Pick<Entry, 'type' | 'data'>): string {
  let s = e.type === 'normal' ? 'n:' : 'c:';
  for (const b of e.data) s += String.fromCharCode(b);
  return s;
}

export class InvariantChecker {
  private readonly nodes = new Map<NodeId, NodeView>();
  private readonly leaderByTerm = new Map<number, NodeId>();
  private readonly intern = new Map<string, number>([['', ROOT_CHAIN]]);
  /** index -> term -> interned prefix id: the log-matching witness. */
  private readonly chainAt = new Map<number, Map<number, number>>();
  /** index -> the first application of that index anywhere. */
  private readonly applied = new Map<number, AppliedEntry>();
  /** index -> interned application-state id after applying that index. */
  private readonly digestAt = new Map<number, number>();
  /** commitTerm[i]: a term by which index i was known committed (an upper bound of the deciding term). */
  private readonly commitTerm: number[] = [0];
  /** Per (leader, term): how far leader completeness has been verified. */
  private readonly completenessCursor = new Map<string, number>();
  private readonly pendingReads = new Map<string, number>();
  private maxCommit = 0;

  /**
   * Declares the bootstrap state every initial node starts from: a snapshot at `index`/`term` whose
   * application state is `digestKey`. Must be called before any node is added.
   */
  constructor(private readonly bootstrap: { index: number; term: number }) {
    this.chainAt.set(bootstrap.index, new Map([[bootstrap.term, this.internKey(`boot|${bootstrap.index}|${bootstrap.term}`)]]));
    this.digestAt.set(bootstrap.index, ROOT_CHAIN);
    for (let i = 1; i <= bootstrap.index; i++) this.commitTerm[i] = bootstrap.term;
    this.maxCommit = bootstrap.index;
  }

  /** A node joins with `bootstrapped` = starts from the bootstrap snapshot, else with an empty disk. */
  addNode(id: NodeId, bootstrapped: boolean): void {
    if (this.nodes.has(id)) throw new Error(`checker: node ${id} added twice`);
    const b = this.bootstrap;
    const log: LogMirror = bootstrapped
      ? { snapIndex: b.index, snapTerm: b.term, snapChain: this.chainFor(b.index, b.term, 'bootstrap'), terms: [], chains: [] }
      : { snapIndex: 0, snapTerm: 0, snapChain: ROOT_CHAIN, terms: [], chains: [] };
    this.nodes.set(id, {
      log,
      hardState: bootstrapped ? { term: b.term, vote: 0, commit: b.index } : { term: 0, vote: 0, commit: 0 },
      commitFloor: bootstrapped ? b.index : 0,
      lastApplied: bootstrapped ? b.index : 0,
      appDigest: ROOT_CHAIN,
    });
  }

  // ---- durable state (called by the driver in its persist step) ----

  persistSnapshot(id: NodeId, index: number, term: number): void {
    const n = this.node(id);
    if (index <= n.log.snapIndex) {
      throw new InvariantViolation('log-structure', `node ${id} persisted snapshot ${index}/${term} not newer than its snapshot ${n.log.snapIndex}`);
    }
    n.log = { snapIndex: index, snapTerm: term, snapChain: this.chainFor(index, term, `snapshot on node ${id}`), terms: [], chains: [] };
  }

  persistEntries(id: NodeId, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const n = this.node(id);
    const log = n.log;
    const first = entries[0] as Entry;
    const last = log.snapIndex + log.terms.length;
    if (first.index <= log.snapIndex || first.index > last + 1) {
      throw new InvariantViolation('log-structure', `node ${id} appended entries from ${first.index}, log holds (${log.snapIndex}, ${last}]`);
    }
    if (first.index <= last && first.index <= n.hardState.commit) {
      const had = log.terms[first.index - log.snapIndex - 1];
      if (had !== first.term) {
        throw new InvariantViolation('log-structure', `node ${id} overwrote entry ${first.index} (term ${had} -> ${first.term}) at or below its durable commit ${n.hardState.commit}`);
      }
    }
    log.terms.length = first.index - log.snapIndex - 1;
    log.chains.length = log.terms.length;
    let expected = first.index;
    for (const e of entries) {
      if (e.index !== expected) throw new InvariantViolation('log-structure', `node ${id} appended a gap: expected index ${expected}, got ${e.index}`);
      expected++;
      const prev = log.chains.length === 0 ? log.snapChain : (log.chains[log.chains.length - 1] as number);
      const prevTerm = log.terms.length === 0 ? log.snapTerm : (log.terms[log.terms.length - 1] as number);
      if (e.term < prevTerm) throw new InvariantViolation('log-structure', `node ${id} entry ${e.index} has term ${e.term} below its predecessor's ${prevTerm}`);
      const chain = this.internKey(`${prev}|${e.term}|${entryKey(e)}`);
      this.witness(e.index, e.term, chain, id);
      log.terms.push(e.term);
      log.chains.push(chain);
    }
  }

  persistHardState(id: NodeId, hs: HardState): void {
    const n = this.node(id);
    const old = n.hardState;
    if (hs.term < old.term) throw new InvariantViolation('hard-state', `node ${id} durable term went back ${old.term} -> ${hs.term}`);
    if (hs.term === old.term && old.vote !== 0 && hs.vote !== old.vote) {
      throw new InvariantViolation('hard-state', `node ${id} changed its durable vote in term ${hs.term}: ${old.vote} -> ${hs.vote}`);
    }
    if (hs.commit < old.commit) throw new InvariantViolation('commit-monotonic', `node ${id} durable commit went back ${old.commit} -> ${hs.commit}`);
    n.hardState = hs;
    this.noteCommit(hs.commit, hs.term);
  }

  // ---- volatile state ----

  /**
   * The node (re)started from its durable state: its application state is that of its newest snapshot
   * (`snapshotIndex`, `digest` as decoded from the snapshot's data), and its commit may not drop below
   * its durable commit.
   */
  restart(id: NodeId, snapshotIndex: number, digest: number): void {
    const n = this.node(id);
    this.checkDigest(id, snapshotIndex, digest);
    n.commitFloor = n.hardState.commit;
    n.lastApplied = snapshotIndex;
    n.appDigest = digest;
  }

  /** Called after every simulation step for every running node. */
  observe(id: NodeId, s: ObservedStatus): void {
    const n = this.node(id);
    if (s.role === 'leader') {
      const other = this.leaderByTerm.get(s.term);
      if (other === undefined) this.leaderByTerm.set(s.term, id);
      else if (other !== id) throw new InvariantViolation('election-safety', `nodes ${other} and ${id} are both leaders of term ${s.term}`);
    }
    if (s.commit < n.commitFloor) throw new InvariantViolation('commit-monotonic', `node ${id} commit went back ${n.commitFloor} -> ${s.commit}`);
    n.commitFloor = s.commit;
    if (s.applied > s.commit) throw new InvariantViolation('applied-beyond-commit', `node ${id} applied ${s.applied} > commit ${s.commit}`);
    this.noteCommit(s.commit, s.term);
  }

  /** The node's application state machine applied entry `e` while the node's commit index was `commit`. */
  apply(id: NodeId, e: Entry, commit: number): void {
    const n = this.node(id);
    if (e.index !== n.lastApplied + 1) throw new InvariantViolation('apply-order', `node ${id} applied index ${e.index} after ${n.lastApplied}`);
    if (e.index > commit) throw new InvariantViolation('applied-beyond-commit', `node ${id} applied index ${e.index} beyond its commit ${commit}`);
    const key = entryKey(e);
    const first = this.applied.get(e.index);
    if (first === undefined) this.applied.set(e.index, { term: e.term, key, node: id });
    else if (first.term !== e.term || first.key !== key) {
      throw new InvariantViolation('state-machine-safety',
        `index ${e.index}: node ${first.node} applied term ${first.term} ${JSON.stringify(first.key)}, node ${id} applied term ${e.term} ${JSON.stringify(key)}`);
    }
    n.lastApplied = e.index;
    n.appDigest = this.internKey(`${n.appDigest}|${key}`);
    this.checkDigest(id, e.index, n.appDigest);
  }

  /** The node replaced its application state with a snapshot's (index + digest as encoded in it). */
  restore(id: NodeId, index: number, digest: number): void {
    const n = this.node(id);
    if (index < n.lastApplied) throw new InvariantViolation('apply-order', `node ${id} restored snapshot ${index} below applied ${n.lastApplied}`);
    this.checkDigest(id, index, digest);
    n.lastApplied = index;
    n.appDigest = digest;
  }

  /** The current application-state digest of a node (what a snapshot taken now must carry). */
  appDigest(id: NodeId): number {
    return this.node(id).appDigest;
  }

  lastApplied(id: NodeId): number {
    return this.node(id).lastApplied;
  }

  /**
   * Leader completeness, incrementally: call when `id` is leader of `term` and everything it held when it
   * asked for its last Ready is durable (i.e. right after the driver persisted).
   */
  checkLeader(id: NodeId, term: number): void {
    const n = this.node(id);
    const cursorKey = `${id}/${term}`;
    let i = (this.completenessCursor.get(cursorKey) ?? 0) + 1;
    const upTo = Math.min(this.commitTerm.length - 1, this.maxCommit);
    for (; i <= upTo; i++) {
      const decided = this.commitTerm[i] as number;
      if (decided >= term) break; // not yet known committed before this term: check again later
      if (i <= n.log.snapIndex) continue; // covered by its snapshot (identity checked via the chain)
      const have = n.log.terms[i - n.log.snapIndex - 1];
      const want = this.applied.get(i);
      if (want === undefined) {
        if (have === undefined) {
          throw new InvariantViolation('leader-completeness', `leader ${id} of term ${term} lacks index ${i}, committed by term ${decided}`);
        }
        continue;
      }
      if (have !== want.term) {
        throw new InvariantViolation('leader-completeness',
          `leader ${id} of term ${term} has ${have === undefined ? 'no entry' : `term ${have}`} at index ${i}, committed entry has term ${want.term} (known committed by term ${decided})`);
      }
    }
    this.completenessCursor.set(cursorKey, i - 1);
  }

  // ---- reads ----

  readRequested(ctx: string): void {
    this.pendingReads.set(ctx, this.maxCommit);
  }

  readAnswered(id: NodeId, ctx: string, index: number): void {
    const floor = this.pendingReads.get(ctx);
    if (floor === undefined) return; // a duplicate answer, or a request from before a restart
    if (index < floor) throw new InvariantViolation('read-index', `node ${id} read ${ctx} got index ${index}, but ${floor} was committed before the read began`);
  }

  /** The highest commit index any node has reported. */
  committedIndex(): number {
    return this.maxCommit;
  }

  appliedEntry(index: number): { term: number; key: string } | undefined {
    return this.applied.get(index);
  }

  // ---- internals ----

  private node(id: NodeId): NodeView {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`checker: unknown node ${id}`);
    return n;
  }

  private internKey(key: string): number {
    let id = this.intern.get(key);
    if (id === undefined) {
      id = this.intern.size;
      this.intern.set(key, id);
    }
    return id;
  }

  /** The prefix id of (index, term), which some node must already have held. */
  private chainFor(index: number, term: number, what: string): number {
    if (index === 0) return ROOT_CHAIN;
    const chain = this.chainAt.get(index)?.get(term);
    if (chain === undefined) throw new InvariantViolation('log-matching', `${what} at ${index}/${term} covers an entry no node ever held`);
    return chain;
  }

  private witness(index: number, term: number, chain: number, id: NodeId): void {
    let byTerm = this.chainAt.get(index);
    if (byTerm === undefined) {
      byTerm = new Map();
      this.chainAt.set(index, byTerm);
    }
    const seen = byTerm.get(term);
    if (seen === undefined) byTerm.set(term, chain);
    else if (seen !== chain) {
      throw new InvariantViolation('log-matching', `node ${id} holds entry ${index}/${term} with a log prefix that differs from another node's`);
    }
  }

  private checkDigest(id: NodeId, index: number, digest: number): void {
    const seen = this.digestAt.get(index);
    if (seen === undefined) this.digestAt.set(index, digest);
    else if (seen !== digest) {
      throw new InvariantViolation('state-machine-safety', `node ${id} application state at index ${index} differs from another node's`);
    }
  }

  private noteCommit(commit: number, term: number): void {
    // The first report of an index being committed bounds the term that decided it from above: a node
    // learns a commit index from a leader of its own current term, or decides it as that leader.
    for (let i = this.commitTerm.length; i <= commit; i++) this.commitTerm[i] = term;
    if (commit > this.maxCommit) this.maxCommit = commit;
  }
}
