// Runs every scenario script in test/scenarios/*.txt, one vitest test per file. A failing expectation
// reports the script line and the tail of the message transcript.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ScenarioEnv } from './scenario-env.js';

const dir = fileURLToPath(new URL('./scenarios/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

describe('raft scenarios', () => {
  it('finds scenario scripts', () => {
    expect(files.length).toBeGreaterThanOrEqual(19);
  });
  for (const file of files) {
    it(file.replace(/\.txt$/, ''), () => {
      new ScenarioEnv().run(readFileSync(dir + file, 'utf8'));
    });
  }
});
