// Shared fixtures for the adapter tests: temp directories and entry builders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/types.js';

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `tributary-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Entries [from, to] in `term`, each carrying a payload that names its index and term. */
export function entries(from: number, to: number, term: number, payloadBytes = 16): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) {
    const data = new Uint8Array(payloadBytes);
    const text = new TextEncoder().encode(`${index}@${term}`);
    data.set(text.subarray(0, payloadBytes));
    out.push({ index, term, type: index % 7 === 0 ? 'conf-change' : 'normal', data });
  }
  return out;
}

/** Entries as plain comparable values (Uint8Array → number[]). */
export function plain(es: readonly Entry[]): { index: number; term: number; type: string; data: number[] }[] {
  return es.map((e) => ({ index: e.index, term: e.term, type: e.type, data: [...e.data] }));
}
