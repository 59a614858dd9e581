// The two small files beside the log: `raft-state` (the commit point of the whole store) and the
// snapshot it references. Both are framed with a magic, a version and a CRC32C of the payload, and
// are only ever replaced atomically (temp file + fsync + rename + directory fsync), so a crash leaves
// either the old file or the new one, never a mix.
import { crc32c } from '@node-rs/crc32';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfState, HardState, Snapshot } from '../types.js';
import { BinaryReader, BinaryWriter, ShortReadError } from './binary.js';
import { StorageCorruptionError } from './adapter-errors.js';

const FRAME_HEADER_BYTES = 16;
const STATE_MAGIC = 0x5452_5354; // "TRST"
const SNAPSHOT_MAGIC = 0x5452_534e; // "TRSN"
const FORMAT_VERSION = 1;
/** Membership lists longer than this can only come from corrupt bytes. */
const MEMBERS_MAX = 10_000;

export const TEMP_SUFFIX = '.tmp';

/** Everything that must change together; rewriting this file is the store's single commit point. */
export interface StoreState {
  readonly hardState: HardState;
  /** The boot membership (the empty snapshot's); a stored snapshot carries its own. */
  readonly confState: ConfState;
  /** The entry just before the first one in the log (the compaction point) and its term. */
  readonly logStart: { readonly index: number; readonly term: number };
  /** Which `log-<generation>` directory holds the segments; bumped when a snapshot resets the log. */
  readonly logGeneration: number;
  /** The stored snapshot (index 0 = none); its file is named from index and term. */
  readonly snapshot: { readonly index: number; readonly term: number };
}

function frame(magic: number, payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(magic, 0);
  header.writeUInt32LE(FORMAT_VERSION, 4);
  header.writeUInt32LE(crc32c(payload), 8);
  header.writeUInt32LE(payload.length, 12);
  return Buffer.concat([header, payload]);
}

function unframe(magic: number, file: Buffer, path: string): Buffer {
  if (file.length < FRAME_HEADER_BYTES) throw new StorageCorruptionError('file shorter than its header', path);
  if (file.readUInt32LE(0) !== magic) throw new StorageCorruptionError('bad magic', path, 0);
  const version = file.readUInt32LE(4);
  if (version !== FORMAT_VERSION) throw new StorageCorruptionError(`unknown format version ${version}`, path, 4);
  const payloadBytes = file.readUInt32LE(12);
  if (FRAME_HEADER_BYTES + payloadBytes !== file.length) throw new StorageCorruptionError('length mismatch', path, 12);
  const payload = file.subarray(FRAME_HEADER_BYTES);
  if (crc32c(payload) !== file.readUInt32LE(8)) throw new StorageCorruptionError('checksum mismatch', path, 8);
  return payload;
}

function writeConfState(w: BinaryWriter, cs: ConfState): void {
  w.u64List(cs.voters).u64List(cs.learners);
}

function readConfState(r: BinaryReader): ConfState {
  return { voters: r.u64List(MEMBERS_MAX), learners: r.u64List(MEMBERS_MAX) };
}

function decodeOrCorrupt<T>(path: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof ShortReadError) throw new StorageCorruptionError(`malformed payload: ${err.message}`, path, -1, { cause: err });
    throw err;
  }
}

export function encodeState(s: StoreState): Buffer {
  const w = new BinaryWriter()
    .u64(s.hardState.term).u64(s.hardState.vote).u64(s.hardState.commit)
    .u64(s.logStart.index).u64(s.logStart.term)
    .u64(s.logGeneration)
    .u64(s.snapshot.index).u64(s.snapshot.term);
  writeConfState(w, s.confState);
  return frame(STATE_MAGIC, w.finish());
}

export function decodeState(file: Buffer, path: string): StoreState {
  const r = new BinaryReader(unframe(STATE_MAGIC, file, path));
  return decodeOrCorrupt(path, () => {
    const hardState = { term: r.u64(), vote: r.u64(), commit: r.u64() };
    const logStart = { index: r.u64(), term: r.u64() };
    const logGeneration = r.u64();
    const snapshot = { index: r.u64(), term: r.u64() };
    const confState = readConfState(r);
    if (!r.atEnd()) throw new ShortReadError('trailing bytes');
    return { hardState, confState, logStart, logGeneration, snapshot };
  });
}

export function encodeSnapshot(snap: Snapshot): Buffer {
  const w = new BinaryWriter().u64(snap.metadata.index).u64(snap.metadata.term);
  writeConfState(w, snap.metadata.confState);
  w.bytes(snap.data);
  return frame(SNAPSHOT_MAGIC, w.finish());
}

export function decodeSnapshot(file: Buffer, path: string): Snapshot {
  const r = new BinaryReader(unframe(SNAPSHOT_MAGIC, file, path));
  return decodeOrCorrupt(path, () => {
    const index = r.u64();
    const term = r.u64();
    const confState = readConfState(r);
    const data = r.bytes();
    if (!r.atEnd()) throw new ShortReadError('trailing bytes');
    return { metadata: { index, term, confState }, data };
  });
}

/** fsync a directory so that creations, renames and unlinks inside it survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `dir/name` with `bytes` atomically: write `name.tmp`, fsync it, rename over `name`,
 * fsync `dir`. A crash at any point leaves the old file intact (a stale temp file is removed on open).
 */
export async function writeFileAtomic(options: { dir: string; name: string; bytes: Buffer; fsync: boolean }): Promise<void> {
  const target = join(options.dir, options.name);
  const temp = target + TEMP_SUFFIX;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(options.bytes);
    if (options.fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, target);
  if (options.fsync) await syncDirectory(options.dir);
}
