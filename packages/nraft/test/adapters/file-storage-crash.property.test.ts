// Property: whatever a crash does to the bytes written after the last sync() (cut anywhere, or
// scrambled), reopening yields every entry that was synced, then possibly some of the unsynced ones
// exactly as written, and nothing else; and the store keeps working.
import { readFileSync, statSync, truncateSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileRaftStorage } from '../../src/adapters/index.js';
import type { Entry } from '../../src/types.js';
import { plain, tempDir } from './helpers.js';

function tailSegment(dir: string): string {
  const logDir = join(dir, readdirSync(dir).find((n) => n.startsWith('log-'))!);
  return join(logDir, readdirSync(logDir).filter((n) => n.endsWith('.seg')).sort().at(-1)!);
}

function makeEntries(from: number, sizes: readonly number[], term: number, seed: number): Entry[] {
  return sizes.map((size, k) => ({
    index: from + k, term, type: 'normal' as const,
    data: Uint8Array.from({ length: size }, (_, j) => (seed + k * 31 + j) % 256),
  }));
}

describe('FileRaftStorage crash property', () => {
  it('keeps every synced entry and only whole written entries after any damage to the unsynced tail', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 30 }), // synced entry sizes
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 10 }), // unsynced entry sizes
        fc.integer({ min: 200, max: 2000 }), // segmentBytes
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), // where in the unsynced bytes the damage is
        fc.constantFrom('cut', 'flip', 'zero-fill'),
        async (syncedSizes, unsyncedSizes, segmentBytes, at, damage) => {
          const dir = tempDir('raft-crash');
          try {
            const s = await FileRaftStorage.open({ dir: dir.path, fsync: false, segmentBytes });
            const synced = makeEntries(1, syncedSizes, 1, 7);
            s.append(synced);
            await s.sync();
            const segment = tailSegment(dir.path);
            const durableBytes = statSync(segment).size;
            const unsynced = makeEntries(synced.length + 1, unsyncedSizes, 2, 99);
            s.append(unsynced);
            await s.close();
            // Damage only bytes written after the sync, and only if they went to the same tail segment.
            if (tailSegment(dir.path) === segment) {
              const size = statSync(segment).size;
              const pos = durableBytes + Math.floor(at * (size - durableBytes));
              if (damage === 'cut') truncateSync(segment, pos);
              else if (pos < size) {
                const bytes = readFileSync(segment);
                if (damage === 'flip') bytes[pos] = bytes[pos]! ^ 0xff;
                else bytes.fill(0, pos);
                writeFileSync(segment, bytes);
              }
            }
            const r = await FileRaftStorage.open({ dir: dir.path, fsync: false, segmentBytes });
            const written = [...synced, ...unsynced];
            expect(r.lastIndex()).toBeGreaterThanOrEqual(synced.length);
            expect(plain(r.entries(1, r.lastIndex() + 1, Number.MAX_SAFE_INTEGER))).toEqual(plain(written.slice(0, r.lastIndex())));
            r.append(makeEntries(r.lastIndex() + 1, [5], 3, 1));
            await r.close();
            const again = await FileRaftStorage.open({ dir: dir.path, fsync: false, segmentBytes });
            expect(again.term(again.lastIndex())).toBe(3);
            await again.close();
          } finally {
            dir.remove();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
