// The transaction coordinator's pure core: the transition table (every legal and illegal move), each
// request's step in each state, epoch bumps and exhaustion, retries, timeouts, expiration, the records'
// round trip; fast-check drives random request sequences and checks every durable move is legal.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DURABLE_STATES, IllegalTransitionError, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, PRODUCER_EPOCH_MAX, TRANSACTIONAL_ID_LENGTH_MAX,
  TXN_PARTITIONS_MAX, TXN_STATES, VALID_PREVIOUS_STATES,
  abortTimedOut, addPartitions, completeTxn, endTxn, expire, initProducerId, isExpired, isLegalTransition, isTimedOut,
  metadataProblem, transition, verifyPartition,
  type TxnMetadata, type TxnStateName, type TxnStep,
} from '../../src/transactions/txn-state.js';
import { replayTxnRecord, txnKey, txnRecord } from '../../src/transactions/txn-records.js';

const ID = 'tx-1';
const at = (nowMs: number, newProducerId?: number) => (newProducerId === undefined ? { nowMs } : { nowMs, newProducerId });
const tp = (topic: string, partition: number) => ({ topic, partition });

function written(step: TxnStep): TxnMetadata {
  if (step.kind !== 'write') throw new Error(`expected a write, got ${JSON.stringify(step)}`);
  expect(metadataProblem(step.next)).toBeUndefined();
  return step.next;
}
function refused(step: TxnStep): string {
  if (step.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(step)}`);
  return step.error;
}

function fresh(nowMs = 0): TxnMetadata {
  return written(initProducerId(undefined, { transactionalId: ID, timeoutMs: 60_000, producerId: -1, producerEpoch: -1 }, at(nowMs, 7)));
}
function ongoing(m = fresh()): TxnMetadata {
  return written(addPartitions(m, ID, { producerId: m.producerId, producerEpoch: m.producerEpoch, partitions: [tp('a', 0), tp('b', 1)] }, at(10)));
}

describe('the transition table (Kafka TransactionState.validPreviousStates)', () => {
  const legal: [TxnStateName, TxnStateName][] = [
    ['Empty', 'Empty'], ['CompleteCommit', 'Empty'], ['CompleteAbort', 'Empty'],
    ['Ongoing', 'Ongoing'], ['Empty', 'Ongoing'], ['CompleteCommit', 'Ongoing'], ['CompleteAbort', 'Ongoing'],
    ['Ongoing', 'PrepareCommit'],
    ['Ongoing', 'PrepareAbort'], ['PrepareEpochFence', 'PrepareAbort'], ['Empty', 'PrepareAbort'], ['CompleteCommit', 'PrepareAbort'], ['CompleteAbort', 'PrepareAbort'],
    ['PrepareCommit', 'CompleteCommit'], ['PrepareAbort', 'CompleteAbort'],
    ['Ongoing', 'PrepareEpochFence'],
    ['Empty', 'Dead'], ['CompleteCommit', 'Dead'], ['CompleteAbort', 'Dead'],
  ];
  const all = TXN_STATES.flatMap((from) => TXN_STATES.map((to) => [from, to] as [TxnStateName, TxnStateName]));
  const isListed = (from: TxnStateName, to: TxnStateName) => legal.some(([f, t]) => f === from && t === to);

  it.each(all)('%s -> %s is legal exactly when listed', (from, to) => {
    expect(isLegalTransition(from, to)).toBe(isListed(from, to));
    const meta = { ...fresh(), state: from };
    if (isListed(from, to)) expect(transition(meta, to, {}).state).toBe(to);
    else expect(() => transition(meta, to, {})).toThrow(IllegalTransitionError);
  });

  it('has 19 legal moves of 64; nothing leaves Dead; Prepare* only moves to its Complete*', () => {
    expect(Object.values(VALID_PREVIOUS_STATES).flat().length).toBe(19);
    expect(TXN_STATES.filter((to) => isLegalTransition('Dead', to))).toEqual([]);
    expect(TXN_STATES.filter((to) => isLegalTransition('PrepareCommit', to))).toEqual(['CompleteCommit']);
    expect(TXN_STATES.filter((to) => isLegalTransition('PrepareAbort', to))).toEqual(['CompleteAbort']);
  });
});

describe('InitProducerId', () => {
  it('a new id asks for a producer id, then is Empty at epoch 0', () => {
    expect(initProducerId(undefined, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(0)).kind).toBe('allocate');
    const m = fresh();
    expect([m.state, m.producerId, m.producerEpoch]).toEqual(['Empty', 7, 0]);
  });

  it('an existing id bumps the epoch (fencing the old incarnation, which is PRODUCER_FENCED from then on)', () => {
    const m = fresh();
    const bumped = written(initProducerId(m, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(5)));
    expect([bumped.producerId, bumped.producerEpoch, bumped.timeoutMs]).toEqual([7, 1, 1000]);
    expect(refused(addPartitions(bumped, ID, { producerId: 7, producerEpoch: 0, partitions: [tp('a', 0)] }, at(6)))).toBe('PRODUCER_FENCED');
    expect(refused(endTxn(bumped, ID, { producerId: 7, producerEpoch: 0, committed: false }, at(6)))).toBe('PRODUCER_FENCED');
  });

  it('over an open transaction: PrepareEpochFence -> PrepareAbort with the epoch bumped, CONCURRENT_TRANSACTIONS until its markers are done', () => {
    const o = ongoing();
    const step = initProducerId(o, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(20));
    expect(step.kind === 'write' && step.error).toBe('CONCURRENT_TRANSACTIONS');
    const fencing = written(step);
    expect([fencing.state, fencing.producerEpoch, fencing.partitions.length, fencing.lastProducerEpoch]).toEqual(['PrepareAbort', 1, 2, NO_PRODUCER_EPOCH]);
    expect(refused(initProducerId(fencing, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(21)))).toBe('CONCURRENT_TRANSACTIONS');
    // The zombie cannot pass its abort off as a retry of the fence.
    expect(refused(endTxn(completeTxn(fencing, at(22)), ID, { producerId: 7, producerEpoch: 0, committed: false }, at(22)))).toBe('PRODUCER_FENCED');
    const next = written(initProducerId(completeTxn(fencing, at(22)), { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(23)));
    expect([next.state, next.producerEpoch]).toEqual(['Empty', 2]);
  });

  it('KIP-360: bumps the named current epoch, answers a retried bump again, refuses an old one', () => {
    const m = fresh();
    const bumped = written(initProducerId(m, { transactionalId: ID, timeoutMs: 1000, producerId: 7, producerEpoch: 0 }, at(1)));
    expect(bumped.producerEpoch).toBe(1);
    const retry = initProducerId(bumped, { transactionalId: ID, timeoutMs: 1000, producerId: 7, producerEpoch: 0 }, at(2));
    expect(retry.kind === 'write' && retry.next === bumped && retry.reply).toEqual({ producerId: 7, producerEpoch: 1 });
    const twice = written(initProducerId(bumped, { transactionalId: ID, timeoutMs: 1000, producerId: 7, producerEpoch: 1 }, at(3)));
    expect(refused(initProducerId(twice, { transactionalId: ID, timeoutMs: 1000, producerId: 7, producerEpoch: 0 }, at(4)))).toBe('PRODUCER_FENCED');
    expect(refused(initProducerId(undefined, { transactionalId: ID, timeoutMs: 1000, producerId: 7, producerEpoch: 0 }, at(4)))).toBe('INVALID_PRODUCER_ID_MAPPING');
  });

  it('epoch exhaustion: at 32766 the next InitProducerId moves to a new producer id at epoch 0', () => {
    const m = { ...fresh(), producerEpoch: PRODUCER_EPOCH_MAX - 1 };
    expect(initProducerId(m, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(1)).kind).toBe('allocate');
    const moved = written(initProducerId(m, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(1, 99)));
    expect([moved.producerId, moved.producerEpoch, moved.lastProducerId, moved.lastProducerEpoch]).toEqual([99, 0, 7, PRODUCER_EPOCH_MAX - 1]);
    const before = written(initProducerId({ ...fresh(), producerEpoch: PRODUCER_EPOCH_MAX - 2 }, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(1)));
    expect([before.producerId, before.producerEpoch]).toEqual([7, PRODUCER_EPOCH_MAX - 1]);
  });
});

describe('AddPartitionsToTxn / verify_only', () => {
  it('Empty -> Ongoing with the start time; adding known partitions writes nothing', () => {
    const o = ongoing();
    expect([o.state, o.txnStartTimestampMs, o.partitions]).toEqual(['Ongoing', 10, [tp('a', 0), tp('b', 1)]]);
    const again = addPartitions(o, ID, { producerId: 7, producerEpoch: 0, partitions: [tp('b', 1)] }, at(11));
    expect(again.kind === 'write' && again.next).toBe(o);
    const more = written(addPartitions(o, ID, { producerId: 7, producerEpoch: 0, partitions: [tp('a', 1)] }, at(12)));
    expect([more.partitions.length, more.txnStartTimestampMs]).toEqual([3, 10]);
  });

  it('refuses an unknown id, a wrong producer id, a fenced epoch, and pending markers', () => {
    const o = ongoing();
    const add = (m: TxnMetadata | undefined, producerId: number, producerEpoch: number) => refused(addPartitions(m, ID, { producerId, producerEpoch, partitions: [tp('c', 0)] }, at(1)));
    expect(add(undefined, 7, 0)).toBe('INVALID_PRODUCER_ID_MAPPING');
    expect(add(o, 8, 0)).toBe('INVALID_PRODUCER_ID_MAPPING');
    expect(add(o, 7, 1)).toBe('PRODUCER_FENCED');
    const prepared = written(endTxn(o, ID, { producerId: 7, producerEpoch: 0, committed: true }, at(2)));
    expect(add(prepared, 7, 1)).toBe('CONCURRENT_TRANSACTIONS');
  });

  it(`a transaction holds at most ${TXN_PARTITIONS_MAX} partitions (TXN_PARTITIONS_MAX)`, () => {
    const m = fresh();
    const many = Array.from({ length: TXN_PARTITIONS_MAX }, (_, i) => tp('t', i));
    const full = written(addPartitions(m, ID, { producerId: 7, producerEpoch: 0, partitions: many }, at(1)));
    expect(full.partitions.length).toBe(TXN_PARTITIONS_MAX);
    expect(refused(addPartitions(full, ID, { producerId: 7, producerEpoch: 0, partitions: [tp('u', 0)] }, at(2)))).toBe('INVALID_REQUEST');
  });

  it('verify_only: yes only for a partition of the ongoing transaction of exactly this id and epoch', () => {
    const o = ongoing();
    expect(verifyPartition(o, ID, 7, 0, tp('a', 0))).toBeUndefined();
    expect(verifyPartition(o, ID, 7, 0, tp('a', 1))).toBe('INVALID_TXN_STATE');
    expect(verifyPartition(fresh(), ID, 7, 0, tp('a', 0))).toBe('INVALID_TXN_STATE');
    expect(verifyPartition(undefined, ID, 7, 0, tp('a', 0))).toBe('INVALID_PRODUCER_ID_MAPPING');
    expect(verifyPartition(o, ID, 8, 0, tp('a', 0))).toBe('INVALID_PRODUCER_ID_MAPPING');
    const prepared = written(endTxn(o, ID, { producerId: 7, producerEpoch: 0, committed: true }, at(2)));
    // The batch of the ended transaction's epoch, late: refused — markers carry epoch 1.
    expect(verifyPartition(prepared, ID, 7, 0, tp('a', 0))).toBe('PRODUCER_FENCED');
    expect(verifyPartition(completeTxn(prepared, at(3)), ID, 7, 1, tp('a', 0))).toBe('INVALID_TXN_STATE');
  });
});

describe('EndTxn (v2)', () => {
  it('commit: Ongoing -> PrepareCommit with the epoch bumped (answered), -> CompleteCommit after the markers', () => {
    const step = endTxn(ongoing(), ID, { producerId: 7, producerEpoch: 0, committed: true }, at(30));
    const p = written(step);
    expect([p.state, p.producerEpoch, p.lastProducerEpoch, p.partitions.length]).toEqual(['PrepareCommit', 1, 0, 2]);
    expect(step.kind === 'write' && step.reply).toEqual({ producerId: 7, producerEpoch: 1 });
    const c = completeTxn(p, at(31));
    expect([c.state, c.partitions.length, c.txnStartTimestampMs]).toEqual(['CompleteCommit', 0, -1]);
  });

  it('a retry of the same end: CONCURRENT_TRANSACTIONS while markers pend, success once complete; the other outcome is INVALID_TXN_STATE', () => {
    const p = written(endTxn(ongoing(), ID, { producerId: 7, producerEpoch: 0, committed: true }, at(30)));
    expect(refused(endTxn(p, ID, { producerId: 7, producerEpoch: 0, committed: true }, at(31)))).toBe('CONCURRENT_TRANSACTIONS');
    expect(refused(endTxn(p, ID, { producerId: 7, producerEpoch: 0, committed: false }, at(31)))).toBe('INVALID_TXN_STATE');
    const c = completeTxn(p, at(32));
    const retry = endTxn(c, ID, { producerId: 7, producerEpoch: 0, committed: true }, at(33));
    expect(retry.kind === 'write' && retry.next === c && retry.reply).toEqual({ producerId: 7, producerEpoch: 1 });
    expect(refused(endTxn(c, ID, { producerId: 7, producerEpoch: 0, committed: false }, at(33)))).toBe('INVALID_TXN_STATE');
  });

  it('commit with nothing open is INVALID_TXN_STATE; abort with nothing open bumps the epoch', () => {
    expect(refused(endTxn(fresh(), ID, { producerId: 7, producerEpoch: 0, committed: true }, at(1)))).toBe('INVALID_TXN_STATE');
    const a = written(endTxn(fresh(), ID, { producerId: 7, producerEpoch: 0, committed: false }, at(1)));
    expect([a.state, a.producerEpoch, a.partitions.length]).toEqual(['PrepareAbort', 1, 0]);
  });

  it('epoch exhaustion: the end of a transaction at 32766 writes markers at 32767 and answers a new producer id', () => {
    const o = { ...ongoing(), producerEpoch: PRODUCER_EPOCH_MAX - 1 };
    expect(endTxn(o, ID, { producerId: 7, producerEpoch: PRODUCER_EPOCH_MAX - 1, committed: true }, at(1)).kind).toBe('allocate');
    const step = endTxn(o, ID, { producerId: 7, producerEpoch: PRODUCER_EPOCH_MAX - 1, committed: true }, at(1, 55));
    const p = written(step);
    expect([p.producerId, p.producerEpoch, p.nextProducerId]).toEqual([7, PRODUCER_EPOCH_MAX, 55]);
    expect(step.kind === 'write' && step.reply).toEqual({ producerId: 55, producerEpoch: 0 });
    const c = completeTxn(p, at(2));
    // The next transaction runs on the new id; the old one is fenced.
    const next = written(addPartitions(c, ID, { producerId: 55, producerEpoch: 0, partitions: [tp('a', 0)] }, at(3)));
    expect([next.producerId, next.producerEpoch, next.nextProducerId, next.lastProducerId]).toEqual([55, 0, NO_PRODUCER_ID, 7]);
    expect(refused(addPartitions(c, ID, { producerId: 7, producerEpoch: PRODUCER_EPOCH_MAX, partitions: [tp('a', 0)] }, at(3)))).toBe('PRODUCER_FENCED');
    // A retry of the commit on the old id still succeeds, answering the new id.
    const retry = endTxn(c, ID, { producerId: 7, producerEpoch: PRODUCER_EPOCH_MAX - 1, committed: true }, at(4));
    expect(retry.kind === 'write' && retry.reply).toEqual({ producerId: 55, producerEpoch: 0 });
  });
});

describe('timeouts and expiration', () => {
  it('an Ongoing transaction past transaction.timeout.ms is aborted with the epoch bumped; the producer\'s abort is a retry that succeeds, its commit is refused', () => {
    const o = ongoing();
    expect(isTimedOut(o, 10 + 60_000)).toBe(false);
    expect(isTimedOut(o, 10 + 60_001)).toBe(true);
    expect(refused(abortTimedOut(o, at(100)))).toBe('INVALID_TXN_STATE');
    const a = written(abortTimedOut(o, at(60_011)));
    expect([a.state, a.producerEpoch, a.lastProducerEpoch]).toEqual(['PrepareAbort', 1, 0]);
    const done = completeTxn(a, at(60_012));
    expect(refused(endTxn(done, ID, { producerId: 7, producerEpoch: 0, committed: true }, at(60_013)))).toBe('INVALID_TXN_STATE');
    expect(refused(addPartitions(done, ID, { producerId: 7, producerEpoch: 0, partitions: [tp('a', 0)] }, at(60_013)))).toBe('PRODUCER_FENCED');
    const abort = endTxn(done, ID, { producerId: 7, producerEpoch: 0, committed: false }, at(60_013));
    expect(abort.kind === 'write' && abort.reply).toEqual({ producerId: 7, producerEpoch: 1 });
  });

  it('transactional.id.expiration.ms: an idle Empty/Complete* id becomes Dead (a tombstone); open ones never expire', () => {
    const m = fresh(0);
    expect(isExpired(m, 999, 1000)).toBe(false);
    expect(isExpired(m, 1000, 1000)).toBe(true);
    expect(isExpired(ongoing(m), 10_000_000, 1000)).toBe(false);
    const dead = expire(m, at(1000));
    expect(dead.state).toBe('Dead');
    expect(txnRecord(dead).value).toBeNull();
    expect(() => expire(ongoing(m), at(1000))).toThrow(IllegalTransitionError);
    // A Dead id starts over.
    expect(initProducerId(dead, { transactionalId: ID, timeoutMs: 1000, producerId: -1, producerEpoch: -1 }, at(2000)).kind).toBe('allocate');
  });
});

describe('records of __transaction_state', () => {
  it('round-trip every durable state; a tombstone removes the id; foreign or broken records are not applied', () => {
    const o = ongoing();
    const samples = [fresh(), o, written(endTxn(o, ID, { producerId: 7, producerEpoch: 0, committed: true }, at(30)))];
    for (const m of samples) {
      const ids = new Map<string, TxnMetadata>();
      const r = txnRecord(m);
      expect(replayTxnRecord(ids, r.key, r.value)).toBe('applied');
      expect(ids.get(ID)).toEqual(m);
      expect(replayTxnRecord(ids, r.key, null)).toBe('applied');
      expect(ids.has(ID)).toBe(false);
    }
    const ids = new Map<string, TxnMetadata>();
    expect(replayTxnRecord(ids, Buffer.from('{"v":0,"type":"offset"}'), Buffer.from('{}'))).toBe('not-ours');
    expect(replayTxnRecord(ids, Buffer.from('nope'), null)).toBe('not-ours');
    expect(replayTxnRecord(ids, txnKey(ID), Buffer.from('{"producerId":-5}'))).toBe('invalid');
    const bad = txnRecord({ ...o, producerEpoch: PRODUCER_EPOCH_MAX + 1 });
    expect(replayTxnRecord(ids, bad.key, bad.value)).toBe('invalid');
    expect(ids.size).toBe(0);
  });

  it(`a transactional id longer than ${TRANSACTIONAL_ID_LENGTH_MAX} is not a valid metadata`, () => {
    expect(metadataProblem({ ...fresh(), transactionalId: 'x'.repeat(TRANSACTIONAL_ID_LENGTH_MAX) })).toBeUndefined();
    expect(metadataProblem({ ...fresh(), transactionalId: 'x'.repeat(TRANSACTIONAL_ID_LENGTH_MAX + 1) })).toBeDefined();
  });
});

describe('random request sequences (fast-check)', () => {
  type Op =
    | { kind: 'init'; kip360: boolean } | { kind: 'add'; partition: number; staleEpoch: boolean }
    | { kind: 'end'; committed: boolean; staleEpoch: boolean } | { kind: 'complete' } | { kind: 'timeout' } | { kind: 'expire' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('init' as const), kip360: fc.boolean() }),
    fc.record({ kind: fc.constant('add' as const), partition: fc.integer({ min: 0, max: 3 }), staleEpoch: fc.boolean() }),
    fc.record({ kind: fc.constant('end' as const), committed: fc.boolean(), staleEpoch: fc.boolean() }),
    fc.record({ kind: fc.constant('complete' as const) }),
    fc.record({ kind: fc.constant('timeout' as const) }),
    fc.record({ kind: fc.constant('expire' as const) }),
  );

  it('every durable state follows the previous by a legal move, epochs never go back on an id, open transactions keep their partitions', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: PRODUCER_EPOCH_MAX }), (ops, startEpoch) => {
      let meta: TxnMetadata | undefined;
      let nowMs = 0;
      let nextId = 100;
      // The producer's view: what the last successful answer gave it.
      let client = { producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH };
      const apply = (make: (ctx: { nowMs: number; newProducerId?: number }) => TxnStep): TxnStep => {
        let step = make({ nowMs });
        if (step.kind === 'allocate') step = make({ nowMs, newProducerId: nextId++ });
        if (step.kind === 'write' && step.next !== meta) {
          const next = step.next;
          expect(metadataProblem(next)).toBeUndefined();
          expect(DURABLE_STATES.includes(next.state) || next.state === 'Dead').toBe(true);
          if (meta !== undefined && meta.state !== 'Dead') {
            expect(isLegalTransition(meta.state, next.state) || (meta.state === 'Ongoing' && next.state === 'PrepareAbort')).toBe(true);
            if (next.producerId === meta.producerId) expect(next.producerEpoch).toBeGreaterThanOrEqual(meta.producerEpoch);
            if (meta.state === 'Ongoing' && next.state === 'Ongoing') expect(next.partitions.length).toBeGreaterThanOrEqual(meta.partitions.length);
            if (meta.state.startsWith('Prepare')) expect(next.state).toBe(meta.state === 'PrepareCommit' ? 'CompleteCommit' : 'CompleteAbort');
          }
          meta = next.state === 'Dead' ? undefined : next;
        }
        return step;
      };
      for (const o of ops) {
        nowMs += 1_000;
        if (o.kind === 'init') {
          const step = apply((ctx) => initProducerId(meta, { transactionalId: ID, timeoutMs: 5_000, producerId: o.kip360 ? client.producerId : -1, producerEpoch: o.kip360 ? client.producerEpoch : -1 }, ctx));
          if (step.kind === 'write' && step.error === undefined) client = step.reply;
          if (meta !== undefined && meta.state === 'Empty' && meta.producerEpoch === 0 && startEpoch > 0 && meta.producerId >= 100 && nextId === 101) {
            meta = { ...meta, producerEpoch: Math.min(startEpoch, PRODUCER_EPOCH_MAX - 1) }; // start near exhaustion sometimes
            client = { producerId: meta.producerId, producerEpoch: meta.producerEpoch };
          }
        } else if (o.kind === 'add') {
          apply((ctx) => addPartitions(meta, ID, { producerId: client.producerId, producerEpoch: client.producerEpoch - (o.staleEpoch ? 1 : 0), partitions: [tp('t', o.partition)] }, ctx));
        } else if (o.kind === 'end') {
          const step = apply((ctx) => endTxn(meta, ID, { producerId: client.producerId, producerEpoch: client.producerEpoch - (o.staleEpoch ? 1 : 0), committed: o.committed }, ctx));
          if (step.kind === 'write' && !o.staleEpoch) client = step.reply;
        } else if (o.kind === 'complete') {
          if (meta !== undefined && (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort')) apply((ctx) => ({ kind: 'write', next: completeTxn(meta as TxnMetadata, ctx), reply: client }));
        } else if (o.kind === 'timeout') {
          nowMs += 10_000;
          if (meta !== undefined && isTimedOut(meta, nowMs)) apply((ctx) => abortTimedOut(meta as TxnMetadata, ctx));
        } else if (meta !== undefined && isExpired(meta, nowMs, 3_000)) {
          apply((ctx) => ({ kind: 'write', next: expire(meta as TxnMetadata, ctx), reply: client }));
        }
      }
    }), { numRuns: 300 });
  });
});
