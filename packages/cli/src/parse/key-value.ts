// `k=v` pairs: record headers (-H), topic configs (-c, --set) and node configs (server --set).
import { invalidArgument } from '../errors.js';

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

/** Longest accepted key, so a runaway argument fails clearly instead of being sent. */
export const KEY_LENGTH_MAX = 1024;

/**
 * Splits at the first `=`: the value may itself contain `=` and may be empty; the key may not.
 * `what` names the flag in the error message, e.g. `--set` or `-H`.
 */
export function parseKeyValue(text: string, what: string): KeyValue {
  const at = text.indexOf('=');
  if (at < 0) throw invalidArgument(`${what} expects key=value, got '${text}'`);
  const key = text.slice(0, at).trim();
  if (key.length === 0) throw invalidArgument(`${what} has an empty key in '${text}'`);
  if (key.length > KEY_LENGTH_MAX) throw invalidArgument(`${what} key is longer than ${KEY_LENGTH_MAX} characters`);
  return { key, value: text.slice(at + 1) };
}

/** Repeated pairs in order (headers keep duplicates: Kafka allows a key more than once). */
export function parseKeyValueList(texts: readonly string[], what: string): KeyValue[] {
  return texts.map((text) => parseKeyValue(text, what));
}

/**
 * Repeated pairs as a map, for configs. A key given twice with different values is an error:
 * silently keeping one of them would hide a typo in a script.
 */
export function parseKeyValueMap(texts: readonly string[], what: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const { key, value } of parseKeyValueList(texts, what)) {
    const previous = map[key];
    if (previous !== undefined && previous !== value) {
      throw invalidArgument(`${what} sets '${key}' twice ('${previous}' and '${value}')`);
    }
    map[key] = value;
  }
  return map;
}

/** Commander collector for repeatable flags: `-H a=1 -H b=2` → ['a=1', 'b=2']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return previous === undefined ? [value] : [...previous, value];
}
