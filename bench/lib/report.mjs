// Helpers shared by the cluster and scale benches: flag parsing, percentiles, per-process CPU from /proc,
// and the markdown tables they print. Pure except cpuSecondsOf / rssBytesOf (which read /proc).
// Smoke-tested by test/bench-report.test.ts (formatting and parsing only; timings are never asserted).
import { readFileSync } from 'node:fs';

export const MIB = 1024 * 1024;
/** The cluster bench's topics (Tributary) and streams (NATS, one subject of the same name each). */
export const LOAD_TOPIC = 'bench';
export const E2E_TOPIC = 'bench-e2e';

/**
 * A flag that must be a finite number in [min, max]. Throws an Error naming the flag and the value, so a typo
 * (`--seconds 1O`) stops the bench before it starts a cluster rather than running a phase of NaN seconds.
 */
export function numberFlag(name, value, { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false } = {}) {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (String(value).trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${value}'`);
  if (integer && !Number.isInteger(n)) throw new Error(`--${name} must be a whole number, got '${value}'`);
  if (n < min || n > max) throw new Error(`--${name} must be in [${min}, ${max}], got ${n}`);
  return n;
}

/** A comma-separated list of names, each one of `allowed`; throws naming the unknown ones. */
export function listFlag(name, value, allowed) {
  const items = String(value).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = items.filter((s) => !allowed.includes(s));
  if (unknown.length > 0) throw new Error(`--${name}: unknown ${unknown.join(', ')} (expected some of ${allowed.join(', ')})`);
  if (items.length === 0) throw new Error(`--${name} must name at least one of ${allowed.join(', ')}`);
  return items;
}

/** Nearest-rank percentile (q in [0, 1]) of unsorted samples; NaN for none. Does not modify `samples`. */
export function percentile(samples, q) {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** CPU seconds (user + system, every thread) a process has used so far, from /proc (Linux); NaN when gone. */
export function cpuSecondsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in bytes, from /proc/<pid>/status; NaN when gone. */
export function rssBytesOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? Number.NaN : Number(m[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** Fixed decimals for figures; '–' for a missing value (NaN, undefined, null). */
export function fmt(value, decimals = 1) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  return Number(value).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Milliseconds with a precision that suits the size: 0.42, 3.1, 1,146. */
export function fmtMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
  return ms < 1 ? fmt(ms, 2) : ms < 100 ? fmt(ms, 1) : fmt(ms, 0);
}

/** `a / b` as '1.30×'; '–' when either side is missing or b is 0. */
export function ratio(a, b) {
  if (a === undefined || b === undefined || a === null || b === null || Number.isNaN(a) || Number.isNaN(b) || b === 0) return '–';
  return `${a / b >= 10 ? fmt(a / b, 0) : fmt(a / b, 2)}×`;
}

/**
 * A GitHub markdown table. `columns` = [{ title, align: 'left' | 'right' }]; rows are arrays of strings
 * (as many as columns; a pipe inside a cell is escaped). Cells are padded so the raw text lines up too.
 */
export function markdownTable(columns, rows) {
  for (const row of rows) {
    if (row.length !== columns.length) throw new Error(`markdownTable: row has ${row.length} cells, expected ${columns.length}: ${row.join(' | ')}`);
  }
  const cell = (s) => String(s).replaceAll('|', '\\|');
  const widths = columns.map((c, i) => Math.max(3, cell(c.title).length, ...rows.map((r) => cell(r[i]).length)));
  const pad = (s, i) => (columns[i].align === 'right' ? cell(s).padStart(widths[i]) : cell(s).padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${columns.map((c, i) => (c.align === 'right' ? `${'-'.repeat(widths[i] - 1)}:` : '-'.repeat(widths[i]))).join(' | ')} |`;
  return [line(columns.map((c) => c.title)), rule, ...rows.map(line)].join('\n');
}

/**
 * CPU-seconds per MiB for each process of a phase and in total: `cpuByProcess` = { name: seconds }.
 * Returns { perProcess: { name: cpuSPerMiB }, total } (NaN when no bytes moved).
 */
export function cpuPerMiB(cpuByProcess, bytes) {
  const mib = bytes / MIB;
  const perProcess = Object.fromEntries(Object.entries(cpuByProcess).map(([name, s]) => [name, mib > 0 ? s / mib : Number.NaN]));
  const totalS = Object.values(cpuByProcess).reduce((a, b) => a + b, 0);
  return { perProcess, total: mib > 0 ? totalS / mib : Number.NaN };
}
