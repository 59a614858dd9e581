// The byte encoding of a ConfChange inside a 'conf-change' entry. Fixed 10 bytes:
//   [0] format version (1) | [1] change type | [2..10) node id as big-endian uint64.
// Raft itself never looks inside normal entries, but it must decode conf changes (to know an entry is
// one) and every node must decode them identically, so the format is versioned and strict.
import { ConfChangeDecodeError } from './errors.js';
import type { ConfChange, ConfChangeType } from './types.js';

const FORMAT_VERSION = 1;
const ENCODED_LENGTH_BYTES = 10;
const TYPE_CODES: Readonly<Record<ConfChangeType, number>> = { 'add-voter': 1, 'remove-node': 2, 'add-learner': 3 };
const TYPES_BY_CODE: ReadonlyMap<number, ConfChangeType> = new Map(
  (Object.entries(TYPE_CODES) as [ConfChangeType, number][]).map(([t, c]) => [c, t]),
);

export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) {
    throw new ConfChangeDecodeError(`nodeId must be a positive safe integer, got ${cc.nodeId}`);
  }
  const code = TYPE_CODES[cc.type];
  if (code === undefined) throw new ConfChangeDecodeError(`unknown type ${String(cc.type)}`);
  const out = new Uint8Array(ENCODED_LENGTH_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, FORMAT_VERSION);
  view.setUint8(1, code);
  view.setBigUint64(2, BigInt(cc.nodeId));
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength !== ENCODED_LENGTH_BYTES) {
    throw new ConfChangeDecodeError(`expected ${ENCODED_LENGTH_BYTES} bytes, got ${data.byteLength}`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const version = view.getUint8(0);
  if (version !== FORMAT_VERSION) throw new ConfChangeDecodeError(`unknown format version ${version}`);
  const type = TYPES_BY_CODE.get(view.getUint8(1));
  if (type === undefined) throw new ConfChangeDecodeError(`unknown type code ${view.getUint8(1)}`);
  const id = view.getBigUint64(2);
  if (id === 0n || id > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfChangeDecodeError(`node id ${id} out of range`);
  return { type, nodeId: Number(id) };
}
