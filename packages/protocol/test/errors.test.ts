import { describe, expect, it } from 'vitest';
import { RECORD_ERROR_CODE, RecordFormatError, UnsupportedCompressionError } from '@tributary/record-format';
import {
  compressionFromName,
  CorruptRecordError,
  ERRORS,
  ErrorCode,
  errorName,
  fromWireError,
  InvalidArgumentError,
  isRetriable,
  MessageTooLargeError,
  toWireError,
  TributaryError,
  tributary,
} from '../src/index.js';

// Numeric enums map both ways; the members are the string keys.
const members = Object.entries(tributary.v1.ErrorCode).filter(([, v]) => typeof v === 'number') as [string, number][];

describe('error table', () => {
  it('covers every ErrorCode of the generated enum with its own name', () => {
    expect(members.length).toBeGreaterThan(50);
    for (const [name, code] of members) {
      const info = ERRORS[code as ErrorCode];
      expect(info, name).toBeDefined();
      expect(info.name).toBe(name);
      expect(errorName(code)).toBe(name);
      expect(info.description.length).toBeGreaterThan(0);
    }
    expect(Object.keys(ERRORS)).toHaveLength(members.length);
  });

  it('marks exactly Kafka\'s retriable codes retriable', () => {
    const retriable = members.filter(([, code]) => isRetriable(code)).map(([name]) => name).sort();
    expect(retriable).toEqual(
      [
        'CORRUPT_MESSAGE',
        'UNKNOWN_TOPIC_OR_PARTITION',
        'LEADER_NOT_AVAILABLE',
        'NOT_LEADER_OR_FOLLOWER',
        'REQUEST_TIMED_OUT',
        'REPLICA_NOT_AVAILABLE',
        'NETWORK_EXCEPTION',
        'COORDINATOR_LOAD_IN_PROGRESS',
        'COORDINATOR_NOT_AVAILABLE',
        'NOT_COORDINATOR',
        'NOT_ENOUGH_REPLICAS',
        'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
        'NOT_CONTROLLER',
        'KAFKA_STORAGE_ERROR',
        'FENCED_LEADER_EPOCH',
        'UNKNOWN_LEADER_EPOCH',
        'OFFSET_NOT_AVAILABLE',
        'PREFERRED_LEADER_NOT_AVAILABLE',
        'ELIGIBLE_LEADERS_NOT_AVAILABLE',
        'UNSTABLE_OFFSET_COMMIT',
        'THROTTLING_QUOTA_EXCEEDED',
        // Kafka's exception class is not a RetriableException, but every Kafka producer retries it (the
        // previous transaction's markers are still being written); marked retriable so generic clients do too.
        'CONCURRENT_TRANSACTIONS',
      ].sort(),
    );
  });

  it('treats unknown codes as not retriable and names them', () => {
    expect(isRetriable(9999)).toBe(false);
    expect(errorName(9999)).toBe('UNKNOWN_ERROR_CODE(9999)');
    expect(errorName(Number('toString'))).toBe('UNKNOWN_ERROR_CODE(NaN)');
  });
});

describe('typed errors', () => {
  it('TributaryError.from picks the specific class for every code and keeps retriable', () => {
    for (const [, code] of members) {
      const err = TributaryError.from(code as ErrorCode, 'boom');
      expect(err).toBeInstanceOf(TributaryError);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe(code);
      expect(err.retriable).toBe(isRetriable(code));
    }
    expect(TributaryError.from(ErrorCode.CORRUPT_MESSAGE, 'x')).toBeInstanceOf(CorruptRecordError);
    expect(TributaryError.from(ErrorCode.MESSAGE_TOO_LARGE, 'x')).toBeInstanceOf(MessageTooLargeError);
    expect(TributaryError.from(ErrorCode.INVALID_ARGUMENT, 'x')).toBeInstanceOf(InvalidArgumentError);
  });

  it('keeps the cause', () => {
    const cause = new Error('inner');
    expect(new CorruptRecordError('outer', { cause }).cause).toBe(cause);
  });

  it('round-trips through the wire Error message, field names included', () => {
    const errors = [new CorruptRecordError('bad crc'), new MessageTooLargeError('too big'), new InvalidArgumentError('topics[0].name', 'must not be empty'), TributaryError.from(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'moved')];
    for (const err of errors) {
      const wire = tributary.v1.Error.decode(tributary.v1.Error.encode(toWireError(err)).finish());
      const back = fromWireError(wire);
      expect(back).toBeInstanceOf(err.constructor);
      expect(back?.code).toBe(err.code);
      expect(back?.message).toBe(err.message);
      expect(back?.retriable).toBe(err.retriable);
    }
    const back = fromWireError(toWireError(new InvalidArgumentError('topics[0].name', 'must not be empty'))) as InvalidArgumentError;
    expect(back.field).toBe('topics[0].name');
    expect(back.detail).toBe('must not be empty');
  });

  it('sends anything else as UNKNOWN_SERVER_ERROR and reads NONE as no error', () => {
    expect(toWireError(new TypeError('oops'))).toMatchObject({ code: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'oops' });
    expect(toWireError('text')).toMatchObject({ code: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'text' });
    expect(fromWireError(null)).toBeNull();
    expect(fromWireError({})).toBeNull();
    expect(fromWireError({ code: ErrorCode.NONE, message: '' })).toBeNull();
    expect(fromWireError({ code: ErrorCode.REQUEST_TIMED_OUT })?.message).toBe('REQUEST_TIMED_OUT');
  });
});

describe('the record format errors', () => {
  it('carry the wire code and retriable flag of their Kafka name, and count as TributaryErrors', () => {
    for (const [name, code] of Object.entries(RECORD_ERROR_CODE)) {
      expect(tributary.v1.ErrorCode[name as keyof typeof tributary.v1.ErrorCode], name).toBe(code);
    }
    const errors: RecordFormatError[] = [new CorruptRecordError('x'), new MessageTooLargeError('x'), new InvalidArgumentError('f', 'x'), new UnsupportedCompressionError(2)];
    for (const err of errors) {
      expect(err.code).toBe(RECORD_ERROR_CODE[err.errorName]);
      expect(err.retriable).toBe(isRetriable(err.code));
      expect(err).toBeInstanceOf(TributaryError);
      expect(toWireError(err).code).toBe(err.code);
    }
    // Only TributaryError itself widens instanceof; a specific class keeps the ordinary check.
    expect(new Error('x')).not.toBeInstanceOf(TributaryError);
    expect(TributaryError.from(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'x')).not.toBeInstanceOf(CorruptRecordError);
  });
});

describe('compressionFromName', () => {
  it('accepts none, gzip and lz4', () => {
    expect(['none', 'gzip', 'lz4'].map((n) => compressionFromName(n))).toEqual(['none', 'gzip', 'lz4']);
  });

  it('names the bad value and the field', () => {
    for (const bad of ['snappy', 'zstd', 'GZIP', '', 'lz4 ']) {
      let thrown: unknown;
      try {
        compressionFromName(bad);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(InvalidArgumentError);
      expect((thrown as InvalidArgumentError).field).toBe('compression.type');
      expect((thrown as Error).message).toContain(JSON.stringify(bad));
    }
    expect(() => compressionFromName('brotli', 'producer.compression')).toThrow(/^producer\.compression: /);
  });
});
