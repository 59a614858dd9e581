// Durations like `1h`, `30m`, `10s`, `250ms`, `1h30m`, as used by `consume -o @-1h`.
import { invalidArgument } from '../errors.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Anything longer is surely a typo (and would overflow the offset-for-time lookup anyway). */
export const DURATION_MS_MAX = 100 * 365 * 86_400_000;

/** Parses `<number><unit>` terms (units ms, s, m, h, d; at least one term) into milliseconds. */
export function parseDurationMs(text: string): number {
  const term = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let totalMs = 0;
  let consumed = 0;
  for (let match = term.exec(text); match !== null; match = term.exec(text)) {
    const amount = Number(match[1]);
    const unitMs = UNIT_MS[match[2] ?? ''];
    if (unitMs === undefined) break;
    totalMs += amount * unitMs;
    consumed = term.lastIndex;
  }
  if (text.length === 0 || consumed !== text.length) {
    throw invalidArgument(`invalid duration '${text}' (expected e.g. 1h, 30m, 10s, 250ms, 1h30m)`);
  }
  if (totalMs > DURATION_MS_MAX) throw invalidArgument(`duration '${text}' is longer than 100 years`);
  return Math.round(totalMs);
}
