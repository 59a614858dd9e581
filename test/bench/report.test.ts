// Smoke test of the bench helpers (bench/lib/report.mjs): flag parsing, percentiles, ratios and the markdown
// tables that `npm run bench:cluster` / `bench:scale` print. No timing is measured or asserted here.
import { describe, expect, it } from 'vitest';
// A plain .mjs module without type declarations: its exports are used untyped below.
import * as report from '../../bench/lib/report.mjs';

const { numberFlag, listFlag, percentile, fmt, fmtMs, ratio, markdownTable, cpuPerMiB, MIB } = report as Record<string, any>;

describe('bench flags', () => {
  it('parses numbers in range and names the flag when one is bad', () => {
    expect(numberFlag('seconds', '10', { min: 0.5 })).toBe(10);
    expect(numberFlag('seconds', '2.5', { min: 0.5 })).toBe(2.5);
    expect(() => numberFlag('seconds', '1O')).toThrow("--seconds must be a number, got '1O'");
    expect(() => numberFlag('seconds', '')).toThrow('--seconds must be a number');
    expect(() => numberFlag('window', '2.5', { integer: true })).toThrow('--window must be a whole number');
    expect(() => numberFlag('seconds', '0.1', { min: 0.5, max: 60 })).toThrow('--seconds must be in [0.5, 60], got 0.1');
  });

  it('parses a list of known names and names the unknown ones', () => {
    expect(listFlag('only', 'sync, e2e', ['sync', 'e2e', 'consume'])).toEqual(['sync', 'e2e']);
    expect(() => listFlag('peer', 'nats,kafka', ['nats'])).toThrow('--peer: unknown kafka (expected some of nats)');
    expect(() => listFlag('only', ' , ', ['sync'])).toThrow('--only must name at least one of sync');
  });
});

describe('bench figures', () => {
  it('takes nearest-rank percentiles without reordering the samples', () => {
    const samples = [5, 1, 4, 2, 3];
    expect(percentile(samples, 0.5)).toBe(3);
    expect(percentile(samples, 0.99)).toBe(5);
    expect(percentile(samples, 0)).toBe(1);
    expect(samples).toEqual([5, 1, 4, 2, 3]);
    expect(percentile([], 0.5)).toBeNaN();
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 0.99)).toBe(99);
  });

  it('formats missing values as a dash and ratios with a ×', () => {
    expect(fmt(Number.NaN)).toBe('–');
    expect(fmt(1234.56, 1)).toBe('1,234.6');
    expect(fmtMs(0.4234)).toBe('0.42');
    expect(fmtMs(23.44)).toBe('23.4');
    expect(fmtMs(2238.2)).toBe('2,238');
    expect(ratio(6.6, 9.3)).toBe('0.71×');
    expect(ratio(150, 10)).toBe('15×');
    expect(ratio(1, 0)).toBe('–');
    expect(ratio(undefined, 2)).toBe('–');
  });

  it('divides each process\'s CPU by the MiB moved', () => {
    const r = cpuPerMiB({ client: 2, 'node 1': 3 }, 100 * MIB);
    expect(r.perProcess).toEqual({ client: 0.02, 'node 1': 0.03 });
    expect(r.total).toBeCloseTo(0.05);
    expect(cpuPerMiB({ client: 1 }, 0).total).toBeNaN();
  });

  it('prints an aligned markdown table and refuses a row of the wrong width', () => {
    const table = markdownTable([{ title: 'figure', align: 'left' }, { title: 'MB/s', align: 'right' }], [['consume', '59.0'], ['a|b', '6.6']]);
    expect(table.split('\n')).toEqual([
      '| figure  | MB/s |',
      '| ------- | ---: |',
      '| consume | 59.0 |',
      '| a\\|b    |  6.6 |',
    ]);
    expect(() => markdownTable([{ title: 'a', align: 'left' }], [['x', 'y']])).toThrow('row has 2 cells, expected 1');
  });
});
