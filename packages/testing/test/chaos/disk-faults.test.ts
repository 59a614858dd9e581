import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom, simulatePowerLoss } from '../../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('simulatePowerLoss', () => {
  it('cuts only partition segment files, within their last tailBytesMax bytes, never Raft segments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trib-powerloss-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'orders-0'));
    mkdirSync(join(dir, '__cluster_metadata_raft', 'log-00000000'), { recursive: true });
    const logFile = join(dir, 'orders-0', '00000000000000000000.log');
    const segFile = join(dir, '__cluster_metadata_raft', 'log-00000000', '00000000000000000001.seg');
    writeFileSync(logFile, Buffer.alloc(10_000, 1));
    writeFileSync(segFile, Buffer.alloc(10_000, 2));
    let cutSomething = false;
    for (let seed = 1; seed <= 20; seed++) {
      writeFileSync(logFile, Buffer.alloc(10_000, 1));
      const cut = simulatePowerLoss(dir, new SeededRandom(seed), 4096);
      expect(cut.every((c) => c.file === logFile && c.bytesCut > 0 && c.bytesCut <= 4096)).toBe(true);
      expect(statSync(logFile).size).toBe(10_000 - (cut[0]?.bytesCut ?? 0));
      cutSomething ||= cut.length > 0;
      expect(statSync(segFile).size).toBe(10_000);
    }
    expect(cutSomething).toBe(true);
  });
});
