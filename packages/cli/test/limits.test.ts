// Every named CLI limit, hit exactly at its edge: the maximum passes, one more is a typed
// INVALID_ARGUMENT that names the limit (and a bad stdin line loses none of its neighbours).
import { describe, expect, it } from 'vitest';
import { CliError } from '../src/errors.js';
import { compileRecordTemplate, TEMPLATE_LENGTH_MAX } from '../src/format/record.js';
import { BOOTSTRAP_BROKERS_MAX, parseBrokers } from '../src/parse/brokers.js';
import { DURATION_MS_MAX, parseDurationMs } from '../src/parse/duration.js';
import { KEY_LENGTH_MAX, parseKeyValue } from '../src/parse/key-value.js';
import { parsePartition, PARTITION_ID_MAX } from '../src/parse/partitions.js';
import { LINE_LENGTH_MAX } from '../src/commands/produce.js';
import { FakeCluster } from './fake-cluster.js';
import { cli, jsonLines } from './harness.js';

function invalidArgument(action: () => unknown): CliError {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CliError);
  expect((thrown as CliError).code).toBe('INVALID_ARGUMENT');
  return thrown as CliError;
}

describe('named CLI limits', () => {
  it(`-f template: ${TEMPLATE_LENGTH_MAX} characters at most`, () => {
    expect(() => compileRecordTemplate('x'.repeat(TEMPLATE_LENGTH_MAX))).not.toThrow();
    expect(invalidArgument(() => compileRecordTemplate('x'.repeat(TEMPLATE_LENGTH_MAX + 1))).message).toContain(String(TEMPLATE_LENGTH_MAX));
  });

  it(`--brokers: ${BOOTSTRAP_BROKERS_MAX} addresses at most`, () => {
    const list = (n: number): string => Array.from({ length: n }, (_, i) => `h${i}:9092`).join(',');
    expect(parseBrokers(list(BOOTSTRAP_BROKERS_MAX))).toHaveLength(BOOTSTRAP_BROKERS_MAX);
    expect(invalidArgument(() => parseBrokers(list(BOOTSTRAP_BROKERS_MAX + 1))).message).toContain(String(BOOTSTRAP_BROKERS_MAX));
  });

  it(`-p partition: ${PARTITION_ID_MAX} at most`, () => {
    expect(parsePartition(String(PARTITION_ID_MAX))).toBe(PARTITION_ID_MAX);
    expect(invalidArgument(() => parsePartition(String(PARTITION_ID_MAX + 1))).message).toContain(String(PARTITION_ID_MAX + 1));
  });

  it(`key=value: keys of ${KEY_LENGTH_MAX} characters at most`, () => {
    expect(parseKeyValue(`${'k'.repeat(KEY_LENGTH_MAX)}=v`, '-H').key).toHaveLength(KEY_LENGTH_MAX);
    expect(invalidArgument(() => parseKeyValue(`${'k'.repeat(KEY_LENGTH_MAX + 1)}=v`, '-H')).message).toMatch(/-H key is longer than 1024/);
  });

  it('durations: 100 years at most', () => {
    const days = DURATION_MS_MAX / 86_400_000;
    expect(parseDurationMs(`${days}d`)).toBe(DURATION_MS_MAX);
    expect(invalidArgument(() => parseDurationMs(`${days}d1ms`)).message).toMatch(/longer than 100 years/);
  });

  it(`produce: a stdin line over ${LINE_LENGTH_MAX} characters fails alone; the lines around it are sent`, async () => {
    const cluster = new FakeCluster();
    const { connect } = cluster;
    await cli(['topic', 'create', 't', '-p', '1'], { connect });
    const atLimit = 'a'.repeat(LINE_LENGTH_MAX);
    const stdin = ['before', 'b'.repeat(LINE_LENGTH_MAX + 1), atLimit, 'after'].join('\n') + '\n';
    const produced = await cli(['produce', 't'], { connect, stdin });
    expect(produced.code).toBe(1);
    expect(produced.stderr).toMatch(/error: INVALID_ARGUMENT: line longer than 16777216 characters \(line 2\)/);
    expect(produced.stderr).toMatch(/1 of 4 records failed/);
    const consumed = await cli(['consume', 't', '--exit-at-end'], { connect });
    const values = jsonLines(consumed.stdout).map((r) => (r as { value: string }).value);
    expect(values.map((v) => (v.length > 16 ? `${v[0]}x${v.length}` : v))).toEqual(['before', `ax${LINE_LENGTH_MAX}`, 'after']);
  });
});
