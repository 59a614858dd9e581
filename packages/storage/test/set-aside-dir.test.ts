// Set-aside names (`-delete`, `-stray`) always fit the file system's name limit and are recognised.
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIR_NAME_BYTES_MAX, isSetAsideDirName, setAsideDirPath } from '../src/index.js';

describe('set-aside directory names', () => {
  it('keep a short name whole and cut a long one to the limit; both are recognised', () => {
    const short = setAsideDirPath(join('/data', 'orders-3'), 'delete');
    expect(basename(short)).toMatch(/^orders-3\.[0-9a-f]{32}-delete$/);
    for (const kind of ['delete', 'stray'] as const) {
      const long = basename(setAsideDirPath(join('/data', `${'a'.repeat(249)}-9999`), kind));
      expect(Buffer.byteLength(long)).toBe(DIR_NAME_BYTES_MAX);
      expect(isSetAsideDirName(long, kind)).toBe(true);
      expect(isSetAsideDirName(long, kind === 'delete' ? 'stray' : 'delete')).toBe(false);
    }
    expect(isSetAsideDirName('orders-3', 'delete')).toBe(false);
  });

  it('two set-asides of one directory get different names', () => {
    expect(setAsideDirPath('/d/t-0', 'stray')).not.toBe(setAsideDirPath('/d/t-0', 'stray'));
  });
});
