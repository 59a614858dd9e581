// Names for a log directory set aside: `<topic>-<partition>.<32 hex>-delete` for a committed deletion
// being removed, `-stray` for a log the metadata does not know (kept for the operator). As in Kafka,
// the `<topic>-<partition>` part is cut short when the whole name would pass the file system's name
// limit: a legal 249-character topic name plus 40 characters of suffix would otherwise fail the
// rename with ENAMETOOLONG, and with it the deletion that the metadata committed.
import { randomUUID } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** The longest file name (bytes) most Linux file systems (ext4, xfs, tmpfs) allow. */
export const DIR_NAME_BYTES_MAX = 255;

export type SetAsideKind = 'delete' | 'stray';

/** `<dir>.<32 hex>-<kind>` beside `dir`, with the base cut so the name fits DIR_NAME_BYTES_MAX bytes. */
export function setAsideDirPath(dir: string, kind: SetAsideKind): string {
  const suffix = `.${randomUUID().replaceAll('-', '')}-${kind}`;
  let base = basename(dir);
  const roomBytes = DIR_NAME_BYTES_MAX - Buffer.byteLength(suffix);
  // Cut by characters until the UTF-8 bytes fit (topic names are ASCII; this holds for any name).
  while (Buffer.byteLength(base) > roomBytes) base = base.slice(0, base.length - 1);
  return join(dirname(dir), `${base}${suffix}`);
}

/** Whether a directory name is one of setAsideDirPath's of `kind` (the base may have been cut). */
export function isSetAsideDirName(name: string, kind: SetAsideKind): boolean {
  return new RegExp(`^.+\\.[0-9a-f]{32}-${kind}$`).test(name);
}
