// The transactional producer's state table, Kafka's fatal/abortable classification, and the
// transactional producer's config rules.
import { ErrorCode } from '@tributary/protocol';
import { describe, expect, it } from 'vitest';
import {
  BrokerError, ConfigError, DEFAULT_TRANSACTION_TIMEOUT_MS, IllegalStateError, InvalidTxnStateError, ProducerFencedError,
  TRANSACTION_TRANSITIONS, TransactionAbortableError, parseProducerConfig, type TransactionState,
} from '../src/index.js';
import { checkTransactionTransition, classifyTxnError, errorFromWire } from '../src/internal.js';

const STATES: readonly TransactionState[] = ['UNINITIALIZED', 'INITIALIZING', 'READY', 'IN_TRANSACTION', 'COMMITTING', 'ABORTING', 'ABORTABLE_ERROR', 'FATAL_ERROR'];

/** Spelled out independently of the table: the transitions Kafka's TransactionManager allows, as this client uses them. */
const LEGAL = new Set([
  'UNINITIALIZED>INITIALIZING', 'UNINITIALIZED>FATAL_ERROR',
  'INITIALIZING>READY', 'INITIALIZING>UNINITIALIZED', 'INITIALIZING>FATAL_ERROR',
  'READY>IN_TRANSACTION', 'READY>FATAL_ERROR',
  'IN_TRANSACTION>COMMITTING', 'IN_TRANSACTION>ABORTING', 'IN_TRANSACTION>ABORTABLE_ERROR', 'IN_TRANSACTION>FATAL_ERROR',
  'COMMITTING>READY', 'COMMITTING>ABORTABLE_ERROR', 'COMMITTING>FATAL_ERROR',
  'ABORTING>READY', 'ABORTING>FATAL_ERROR',
  'ABORTABLE_ERROR>ABORTING', 'ABORTABLE_ERROR>FATAL_ERROR',
]);

describe('transaction state table', () => {
  it('has every state as a key', () => {
    expect(Object.keys(TRANSACTION_TRANSITIONS).sort()).toEqual([...STATES].sort());
  });

  for (const from of STATES) {
    for (const to of STATES) {
      const legal = LEGAL.has(`${from}>${to}`);
      it(`${from} -> ${to} is ${legal ? 'legal' : 'refused'}`, () => {
        if (legal) expect(() => checkTransactionTransition(from, to)).not.toThrow();
        else expect(() => checkTransactionTransition(from, to)).toThrow(IllegalStateError);
      });
    }
  }

  it('FATAL_ERROR is final and nothing skips READY on the way to a new transaction', () => {
    expect(TRANSACTION_TRANSITIONS.FATAL_ERROR).toEqual([]);
    const intoTransaction = STATES.filter((s) => TRANSACTION_TRANSITIONS[s].includes('IN_TRANSACTION'));
    expect(intoTransaction).toEqual(['READY']);
  });
});

describe('fatal vs abortable (Kafka\'s classification)', () => {
  const wire = (code: ErrorCode) => errorFromWire(code, 'scripted');
  it('fenced producers and coordinator refusals are fatal', () => {
    for (const source of ['coordinator', 'partition', 'group'] as const) {
      expect(classifyTxnError(wire(ErrorCode.PRODUCER_FENCED), source)).toBe('fatal');
      expect(classifyTxnError(wire(ErrorCode.TRANSACTION_COORDINATOR_FENCED), source)).toBe('fatal');
      expect(classifyTxnError(wire(ErrorCode.INVALID_PRODUCER_ID_MAPPING), source)).toBe('fatal');
    }
    expect(classifyTxnError(wire(ErrorCode.INVALID_PRODUCER_EPOCH), 'coordinator')).toBe('fatal');
    expect(classifyTxnError(wire(ErrorCode.INVALID_TXN_STATE), 'coordinator')).toBe('fatal');
    expect(classifyTxnError(wire(ErrorCode.INVALID_PRODUCER_EPOCH), 'group')).toBe('fatal');
  });

  it('a batch that was not written, or a group refusing the member, only dooms the transaction', () => {
    expect(classifyTxnError(wire(ErrorCode.INVALID_PRODUCER_EPOCH), 'partition')).toBe('abortable'); // KIP-588
    expect(classifyTxnError(wire(ErrorCode.INVALID_RECORD), 'partition')).toBe('abortable');
    expect(classifyTxnError(wire(ErrorCode.INVALID_TXN_STATE), 'partition')).toBe('abortable');
    expect(classifyTxnError(wire(ErrorCode.ILLEGAL_GENERATION), 'group')).toBe('abortable');
    expect(classifyTxnError(wire(ErrorCode.UNKNOWN_MEMBER_ID), 'group')).toBe('abortable');
    expect(classifyTxnError(wire(ErrorCode.FENCED_INSTANCE_ID), 'group')).toBe('abortable');
    expect(classifyTxnError(wire(ErrorCode.TRANSACTION_ABORTABLE), 'coordinator')).toBe('abortable');
  });

  it('maps the wire codes to typed errors', () => {
    expect(wire(ErrorCode.PRODUCER_FENCED)).toBeInstanceOf(ProducerFencedError);
    expect(wire(ErrorCode.INVALID_TXN_STATE)).toBeInstanceOf(InvalidTxnStateError);
    expect(wire(ErrorCode.TRANSACTION_ABORTABLE)).toBeInstanceOf(TransactionAbortableError);
    expect((wire(ErrorCode.INVALID_TXN_STATE).cause as BrokerError).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
  });
});

describe('transactional producer config', () => {
  const issuesOf = (options: Parameters<typeof parseProducerConfig>[0]): string[] => {
    try {
      parseProducerConfig(options);
      return [];
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).issues.map((i) => `${i.field}: ${i.message}`);
    }
  };

  it('defaults: not transactional; with transactional.id idempotence is on and the timeout is 60 s', () => {
    expect(parseProducerConfig({}).transactionalId).toBeUndefined();
    const c = parseProducerConfig({ 'transactional.id': 'app-1' });
    expect(c.transactionalId).toBe('app-1');
    expect(c.enableIdempotence).toBe(true);
    expect(c.transactionTimeoutMs).toBe(DEFAULT_TRANSACTION_TIMEOUT_MS);
    expect(DEFAULT_TRANSACTION_TIMEOUT_MS).toBe(60_000);
    expect(parseProducerConfig({ 'transactional.id': 'a', 'transaction.timeout.ms': 900_000 }).transactionTimeoutMs).toBe(900_000);
  });

  it('refuses a transactional producer without idempotence, naming transactional.id', () => {
    expect(issuesOf({ 'transactional.id': 'a', 'enable.idempotence': false })).toEqual([expect.stringMatching(/^transactional\.id: needs idempotence/)]);
    expect(issuesOf({ 'transactional.id': 'a', acks: 1 })).toEqual([expect.stringMatching(/^transactional\.id: needs idempotence.*acks=all/)]);
    expect(issuesOf({ 'transactional.id': 'a', retries: 0 })).toEqual([expect.stringMatching(/^transactional\.id:/)]);
    // The limit: 5 in flight is allowed, 6 is not.
    expect(issuesOf({ 'transactional.id': 'a', 'max.in.flight.requests.per.connection': 5 })).toEqual([]);
    expect(issuesOf({ 'transactional.id': 'a', 'max.in.flight.requests.per.connection': 6 })).toEqual([expect.stringMatching(/^transactional\.id:.*max\.in\.flight/)]);
    // Explicit idempotence reports its own rule once.
    expect(issuesOf({ 'transactional.id': 'a', 'enable.idempotence': true, acks: 0 })).toEqual([expect.stringMatching(/^enable\.idempotence:/)]);
  });

  it('refuses an empty id and a non-positive timeout', () => {
    expect(issuesOf({ 'transactional.id': '' })).toEqual(['transactional.id: must not be empty']);
    expect(issuesOf({ 'transactional.id': 'a', 'transaction.timeout.ms': 0 })).toEqual(['transaction.timeout.ms: must be >= 1']);
  });
});
