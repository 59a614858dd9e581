// How `consume` prints records: JSON lines by default, or a `-f` template.
import { invalidArgument } from '../errors.js';

/** The CLI's own view of a consumed record; the client's record type is mapped into this at the edge. */
export interface RecordView {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly { readonly key: string; readonly value: Uint8Array | null }[];
}

const utf8 = new TextDecoder('utf-8');

function text(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : utf8.decode(bytes);
}

/**
 * The default output: one JSON object per line with the keys
 * topic, partition, offset, timestamp, key, value, headers. Bytes are shown as UTF-8 text;
 * a null key/value is `null`; headers are an object (a repeated key keeps its last value).
 */
export function recordJsonLine(record: RecordView): string {
  const headers: Record<string, string | null> = {};
  for (const header of record.headers) headers[header.key] = text(header.value);
  return `${JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestampMs,
    key: text(record.key),
    value: text(record.value),
    headers,
  })}\n`;
}

type Piece = string | ((record: RecordView) => string);

const TOKENS: Readonly<Record<string, (record: RecordView) => string>> = {
  t: (r) => r.topic,
  p: (r) => String(r.partition),
  o: (r) => String(r.offset),
  k: (r) => text(r.key) ?? '',
  v: (r) => text(r.value) ?? '',
  h: (r) => r.headers.map((h) => `${h.key}=${text(h.value) ?? ''}`).join(','),
  T: (r) => String(r.timestampMs),
};

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };

/** Longest accepted template; a bound on what we compile. */
export const TEMPLATE_LENGTH_MAX = 4096;

/**
 * Compiles a kcat-style template: %t topic, %p partition, %o offset, %k key, %v value,
 * %h headers (k=v,k=v), %T timestamp (ms), %% a percent sign; escapes \n \t \r \\.
 * Unknown tokens or escapes are an error naming them. The template is used as given:
 * add `\n` to end each record with a newline.
 */
export function compileRecordTemplate(template: string): (record: RecordView) => string {
  if (template.length > TEMPLATE_LENGTH_MAX) throw invalidArgument(`-f template is longer than ${TEMPLATE_LENGTH_MAX} characters`);
  const pieces: Piece[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i += 1) {
    const ch = template[i] as string;
    if (ch !== '%' && ch !== '\\') {
      literal += ch;
      continue;
    }
    const next = template[i + 1];
    i += 1;
    if (ch === '\\') {
      const escaped = next === undefined ? undefined : ESCAPES[next];
      if (escaped === undefined) throw invalidArgument(`-f: unknown escape '\\${next ?? ''}' (use \\n, \\t, \\r or \\\\)`);
      literal += escaped;
      continue;
    }
    if (next === '%') {
      literal += '%';
      continue;
    }
    const token = next === undefined ? undefined : TOKENS[next];
    if (token === undefined) throw invalidArgument(`-f: unknown token '%${next ?? ''}' (use %t %p %o %k %v %h %T or %%)`);
    if (literal !== '') pieces.push(literal);
    literal = '';
    pieces.push(token);
  }
  if (literal !== '') pieces.push(literal);
  return (record) => {
    let out = '';
    for (const piece of pieces) out += typeof piece === 'string' ? piece : piece(record);
    return out;
  };
}
