// `consume -o SPEC`: where each assigned partition starts reading.
//
//   start | beginning | earliest   the log start offset
//   end | latest                   the high watermark (only new records)
//   N                              absolute offset N
//   +N                             N records after the log start offset
//   -N                             N records before the high watermark
//   @MS | @ISO-8601                the first offset whose timestamp is >= the time
//   @-1h | @-30m | @-10s           the same, relative to now
import { invalidArgument } from '../errors.js';
import { parseDurationMs } from './duration.js';

export type OffsetSpec =
  | { readonly kind: 'start' }
  | { readonly kind: 'end' }
  | { readonly kind: 'absolute'; readonly offset: number }
  | { readonly kind: 'fromStart'; readonly count: number }
  | { readonly kind: 'fromEnd'; readonly count: number }
  | { readonly kind: 'timestamp'; readonly timestampMs: number };

/** Parses a spec; relative times are resolved against `nowMs` (passed in so this stays pure). */
export function parseOffsetSpec(text: string, nowMs: number): OffsetSpec {
  const spec = text.trim();
  switch (spec) {
    case 'start':
    case 'beginning':
    case 'earliest':
      return { kind: 'start' };
    case 'end':
    case 'latest':
      return { kind: 'end' };
  }
  if (/^\d+$/.test(spec)) return { kind: 'absolute', offset: safeCount(spec, text) };
  if (/^\+\d+$/.test(spec)) return { kind: 'fromStart', count: safeCount(spec.slice(1), text) };
  if (/^-\d+$/.test(spec)) return { kind: 'fromEnd', count: safeCount(spec.slice(1), text) };
  if (spec.startsWith('@')) return { kind: 'timestamp', timestampMs: parseTimestamp(spec.slice(1), nowMs, text) };
  throw invalidArgument(
    `invalid offset '${text}' (expected start, end, N, +N, -N, @timestamp-ms, @ISO-time or @-1h)`,
  );
}

function safeCount(digits: string, original: string): number {
  const value = Number(digits);
  if (!Number.isSafeInteger(value)) throw invalidArgument(`offset '${original}' is too large`);
  return value;
}

function parseTimestamp(text: string, nowMs: number, original: string): number {
  if (/^\d+$/.test(text)) return safeCount(text, original);
  if (text.startsWith('-')) {
    try {
      return nowMs - parseDurationMs(text.slice(1));
    } catch {
      throw invalidArgument(`invalid relative time in offset '${original}' (expected e.g. @-1h, @-30m, @-10s)`);
    }
  }
  // ISO-8601 only: Date.parse accepts many loose forms we do not want to guess at.
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw invalidArgument(`invalid timestamp in offset '${original}' (expected @epoch-ms, @2024-01-31T12:00:00Z or @-1h)`);
}

/** What the broker tells us about one partition before we start reading it. */
export interface PartitionBounds {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** First offset with timestamp >= the spec's time; `undefined` when none (start at the end). */
  readonly offsetForTimestamp?: number | undefined;
}

/**
 * The first offset to read for `spec`, always inside [logStartOffset, highWatermark]: an absolute
 * offset beyond either end is clamped, as `auto.offset.reset` would do, rather than failing.
 */
export function resolveStartOffset(spec: OffsetSpec, bounds: PartitionBounds): number {
  const { logStartOffset, highWatermark } = bounds;
  const clamp = (offset: number): number => Math.min(Math.max(offset, logStartOffset), highWatermark);
  switch (spec.kind) {
    case 'start':
      return logStartOffset;
    case 'end':
      return highWatermark;
    case 'absolute':
      return clamp(spec.offset);
    case 'fromStart':
      return clamp(logStartOffset + spec.count);
    case 'fromEnd':
      return clamp(highWatermark - spec.count);
    case 'timestamp':
      return clamp(bounds.offsetForTimestamp ?? highWatermark);
  }
}
