// The one test that runs the real executable (the committed shim → dist/main.js).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));

describe('bin/tributary.js', () => {
  it('prints help and exits 0; a bad flag exits non-zero with an error', () => {
    const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: tributary');
    const bad = spawnSync(process.execPath, [BIN, 'consume', 't', '-o', 'nonsense', '-b', '127.0.0.1:1'], { encoding: 'utf8', timeout: 20_000 });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("error: INVALID_ARGUMENT: invalid offset 'nonsense'");
  });
});
