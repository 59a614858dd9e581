import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { NODE_CONFIG_KEYS, TOPIC_CONFIG_KEYS, envVarName } from '../src/index.js';

describe('docs/configuration.md', () => {
  it('documents every node key (with its env var) and every topic key', async () => {
    const doc = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of Object.keys(NODE_CONFIG_KEYS)) {
      expect(doc, key).toContain(`| \`${key}\` | \`${envVarName(key)}\` |`);
    }
    for (const key of Object.keys(TOPIC_CONFIG_KEYS)) expect(doc, key).toContain(`| \`${key}\` |`);
  });
});
