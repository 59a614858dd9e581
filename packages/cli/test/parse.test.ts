import { describe, expect, it } from 'vitest';
import { parseOffsetSpec, resolveStartOffset } from '../src/parse/offset-spec.js';
import { parseDurationMs } from '../src/parse/duration.js';
import { parseKeyValue, parseKeyValueList, parseKeyValueMap } from '../src/parse/key-value.js';
import { parseBrokers, parseHostPort, resolveBrokersText } from '../src/parse/brokers.js';
import { parseCount, parsePartitionList } from '../src/parse/partitions.js';
import { CliError, formatErrorLine } from '../src/errors.js';

const NOW_MS = 1_700_000_000_000;

describe('offset spec', () => {
  it.each([
    ['start', { kind: 'start' }],
    ['beginning', { kind: 'start' }],
    ['end', { kind: 'end' }],
    ['42', { kind: 'absolute', offset: 42 }],
    ['+5', { kind: 'fromStart', count: 5 }],
    ['-5', { kind: 'fromEnd', count: 5 }],
    ['@1690000000000', { kind: 'timestamp', timestampMs: 1_690_000_000_000 }],
    ['@2024-01-31T12:00:00Z', { kind: 'timestamp', timestampMs: Date.UTC(2024, 0, 31, 12) }],
    ['@-1h', { kind: 'timestamp', timestampMs: NOW_MS - 3_600_000 }],
    ['@-30m', { kind: 'timestamp', timestampMs: NOW_MS - 1_800_000 }],
    ['@-10s', { kind: 'timestamp', timestampMs: NOW_MS - 10_000 }],
  ])('parses %s', (text, spec) => {
    expect(parseOffsetSpec(text, NOW_MS)).toEqual(spec);
  });

  it.each(['', 'begin', '1.5', '+', '-x', '@', '@yesterday', '@-1y', '99999999999999999999', '@2024-13'])(
    'rejects %j with INVALID_ARGUMENT naming the input',
    (text) => {
      let thrown: unknown;
      try {
        parseOffsetSpec(text, NOW_MS);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(CliError);
      expect((thrown as CliError).code).toBe('INVALID_ARGUMENT');
      expect((thrown as CliError).message).toContain(`'${text}'`);
    },
  );

  it('resolves every kind inside [logStartOffset, highWatermark]', () => {
    const bounds = { logStartOffset: 10, highWatermark: 100 };
    expect(resolveStartOffset({ kind: 'start' }, bounds)).toBe(10);
    expect(resolveStartOffset({ kind: 'end' }, bounds)).toBe(100);
    expect(resolveStartOffset({ kind: 'absolute', offset: 50 }, bounds)).toBe(50);
    expect(resolveStartOffset({ kind: 'absolute', offset: 5 }, bounds)).toBe(10);
    expect(resolveStartOffset({ kind: 'absolute', offset: 500 }, bounds)).toBe(100);
    expect(resolveStartOffset({ kind: 'fromStart', count: 3 }, bounds)).toBe(13);
    expect(resolveStartOffset({ kind: 'fromStart', count: 300 }, bounds)).toBe(100);
    expect(resolveStartOffset({ kind: 'fromEnd', count: 3 }, bounds)).toBe(97);
    expect(resolveStartOffset({ kind: 'fromEnd', count: 300 }, bounds)).toBe(10);
    expect(resolveStartOffset({ kind: 'timestamp', timestampMs: 1 }, { ...bounds, offsetForTimestamp: 42 })).toBe(42);
    expect(resolveStartOffset({ kind: 'timestamp', timestampMs: 1 }, bounds)).toBe(100);
  });
});

describe('duration', () => {
  it.each([
    ['250ms', 250],
    ['10s', 10_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '1', 'h', '1x', '1h junk', '-1h'])('rejects %j', (text) => {
    expect(() => parseDurationMs(text)).toThrow(/invalid duration/);
  });
});

describe('key=value', () => {
  it('splits at the first = and keeps = in the value', () => {
    expect(parseKeyValue('a=b=c', '-H')).toEqual({ key: 'a', value: 'b=c' });
    expect(parseKeyValue('a=', '-H')).toEqual({ key: 'a', value: '' });
  });

  it('rejects a missing = or an empty key, naming the flag', () => {
    expect(() => parseKeyValue('novalue', '--set')).toThrow(/--set expects key=value, got 'novalue'/);
    expect(() => parseKeyValue('=v', '-c')).toThrow(/-c has an empty key/);
  });

  it('keeps duplicate header keys in order', () => {
    expect(parseKeyValueList(['a=1', 'a=2'], '-H')).toEqual([
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
    ]);
  });

  it('maps configs and refuses a key set twice to different values', () => {
    expect(parseKeyValueMap(['retention.ms=1000', 'cleanup.policy=compact'], '-c')).toEqual({
      'retention.ms': '1000',
      'cleanup.policy': 'compact',
    });
    expect(parseKeyValueMap(['a=1', 'a=1'], '-c')).toEqual({ a: '1' });
    expect(() => parseKeyValueMap(['a=1', 'a=2'], '-c')).toThrow(/sets 'a' twice/);
  });
});

describe('brokers', () => {
  it('prefers the flag, then TRIBUTARY_BROKERS, then localhost:9092', () => {
    expect(resolveBrokersText('h:1', { TRIBUTARY_BROKERS: 'e:2' })).toBe('h:1');
    expect(resolveBrokersText(undefined, { TRIBUTARY_BROKERS: 'e:2' })).toBe('e:2');
    expect(resolveBrokersText(undefined, {})).toBe('localhost:9092');
  });

  it('validates and deduplicates host:port lists', () => {
    expect(parseBrokers('a:1, b:2,a:1')).toEqual(['a:1', 'b:2']);
    expect(parseBrokers('[::1]:9092')).toEqual(['[::1]:9092']);
    expect(() => parseBrokers('a')).toThrow(/invalid address 'a'/);
    expect(() => parseBrokers('a:70000')).toThrow(/invalid address/);
    expect(() => parseBrokers(' , ')).toThrow(/empty/);
    expect(parseHostPort('127.0.0.1:0', '--listen')).toEqual({ host: '127.0.0.1', port: 0 });
  });
});

describe('partitions and counts', () => {
  it('accepts repeated and comma-separated partitions', () => {
    expect(parsePartitionList(['2,0', '1', '0'])).toEqual([0, 1, 2]);
    expect(() => parsePartitionList(['x'])).toThrow(/invalid partition 'x'/);
    expect(() => parsePartitionList(['-1'])).toThrow(/invalid partition/);
  });

  it('bounds counts', () => {
    expect(parseCount('10', '-n', { min: 1 })).toBe(10);
    expect(() => parseCount('0', '-n', { min: 1 })).toThrow(/-n: invalid value '0'/);
    expect(() => parseCount('1e3', '-n')).toThrow(/invalid value/);
    expect(parseCount('-1', '--throughput', { min: -1 })).toBe(-1);
  });
});

describe('error lines', () => {
  it('shows the typed code before the message', () => {
    expect(formatErrorLine(new CliError('topic t', { code: 'UNKNOWN_TOPIC_OR_PARTITION' }))).toBe(
      'error: UNKNOWN_TOPIC_OR_PARTITION: topic t',
    );
    expect(formatErrorLine(Object.assign(new Error('boom'), { code: 7 }), (c) => (c === 7 ? 'NOT_LEADER_OR_FOLLOWER' : undefined))).toBe(
      'error: NOT_LEADER_OR_FOLLOWER: boom',
    );
    expect(formatErrorLine(new Error('plain'))).toBe('error: plain');
    expect(formatErrorLine(Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('error: ECONNREFUSED');
  });
});
