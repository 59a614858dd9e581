// Just enough YAML for the deploy files (no YAML library in the repository): `---` documents, block
// mappings and sequences, single-line flow sequences, quoted and plain scalars, `{}`, `|` literal
// blocks and comments. Anything else (anchors, tags, multi-line flow, folded scalars) is an error,
// so the deploy files stay inside what this test can check.

export type YamlValue = string | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  readonly indent: number;
  readonly text: string;
  readonly number: number;
}

export function parseYamlDocuments(source: string): YamlValue[] {
  const docs: string[][] = [[]];
  for (const raw of source.split('\n')) {
    if (/^---\s*$/.test(raw)) docs.push([]);
    else docs[docs.length - 1]!.push(raw);
  }
  return docs.map((d) => parseDocument(d)).filter((d): d is YamlValue => d !== undefined);
}

function parseDocument(rawLines: readonly string[]): YamlValue | undefined {
  const lines: Line[] = rawLines.map((raw, i) => ({ indent: raw.length - raw.trimStart().length, text: raw.trim(), number: i + 1 }));
  const parser = new Parser(lines);
  parser.skipBlank();
  if (parser.done()) return undefined;
  const value = parser.block(lines[parser.pos]!.indent);
  parser.skipBlank();
  if (!parser.done()) throw new Error(`yaml: unexpected line ${lines[parser.pos]!.number}: ${lines[parser.pos]!.text}`);
  return value;
}

class Parser {
  pos = 0;
  constructor(private lines: readonly Line[]) {}

  done(): boolean {
    return this.pos >= this.lines.length;
  }

  skipBlank(): void {
    while (!this.done() && (this.lines[this.pos]!.text === '' || this.lines[this.pos]!.text.startsWith('#'))) this.pos++;
  }

  block(indent: number): YamlValue {
    this.skipBlank();
    const first = this.lines[this.pos]!;
    return first.text === '-' || first.text.startsWith('- ') ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    for (;;) {
      this.skipBlank();
      const line = this.lines[this.pos];
      if (line === undefined || line.indent !== indent || !(line.text === '-' || line.text.startsWith('- '))) return out;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.pos++;
        out.push(this.nested(indent));
      } else if (/^[^"'[{][^:]*:(\s|$)/.test(rest)) {
        // `- key: value` starts a mapping whose keys sit at the column after "- ".
        const column = indent + (line.text.length - rest.length);
        this.lines = this.replaceLine(this.pos, { indent: column, text: rest, number: line.number });
        out.push(this.mapping(column));
      } else {
        this.pos++;
        out.push(scalarOrFlow(rest, line.number));
      }
    }
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    for (;;) {
      this.skipBlank();
      const line = this.lines[this.pos];
      if (line === undefined || line.indent < indent) return out;
      if (line.indent > indent) throw new Error(`yaml: bad indentation at line ${line.number}: ${line.text}`);
      const match = /^("[^"]*"|'[^']*'|[^:#]+?):(\s+(.*))?$/.exec(line.text);
      if (match === null) return out;
      const key = unquote(match[1]!);
      if (Object.hasOwn(out, key)) throw new Error(`yaml: duplicate key ${key} at line ${line.number}`);
      const rest = stripComment(match[3] ?? '');
      this.pos++;
      if (rest === '') out[key] = this.nested(indent);
      else if (rest === '|' || rest === '|-') out[key] = this.literal(indent, rest === '|-');
      else if (/^[&*!>]/.test(rest) || key === '<<') throw new Error(`yaml: unsupported syntax at line ${line.number}: ${line.text}`);
      else out[key] = scalarOrFlow(rest, line.number);
    }
  }

  /** The value under a `key:` or `-` with nothing after it: a deeper block, or an empty string. */
  private nested(indent: number): YamlValue {
    this.skipBlank();
    const next = this.lines[this.pos];
    if (next === undefined) return '';
    // A sequence may sit at the same indent as its key (`key:\n- a`).
    if (next.indent > indent || (next.indent === indent && (next.text === '-' || next.text.startsWith('- ')))) return this.block(next.indent);
    return '';
  }

  private literal(indent: number, chomp: boolean): string {
    const body: string[] = [];
    let column = -1;
    while (!this.done()) {
      const line = this.lines[this.pos]!;
      if (line.text !== '' && line.indent <= indent) break;
      if (line.text !== '' && column < 0) column = line.indent;
      body.push(line.text === '' ? '' : ' '.repeat(line.indent - column) + line.text);
      this.pos++;
    }
    while (body.length > 0 && body[body.length - 1] === '') body.pop();
    return body.join('\n') + (chomp ? '' : '\n');
  }

  private replaceLine(index: number, line: Line): readonly Line[] {
    const copy = [...this.lines];
    copy[index] = line;
    return copy;
  }
}

function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || text[i - 1] === ' ')) return text.slice(0, i).trimEnd();
  }
  return text.trim();
}

function unquote(text: string): string {
  const t = text.trim();
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (t.startsWith("'")) return t.slice(1, -1).replaceAll("''", "'");
  return t;
}

function scalarOrFlow(text: string, lineNumber: number): YamlValue {
  if (text === '{}') return {};
  if (!text.startsWith('[')) return unquote(text);
  if (!text.endsWith(']')) throw new Error(`yaml: multi-line flow sequence at line ${lineNumber}`);
  const items: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (const c of text.slice(1, -1)) {
    if (quote !== undefined) {
      current += c;
      if (c === quote && !current.endsWith(`\\${quote}`)) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === ',') {
      items.push(current);
      current = '';
    } else current += c;
  }
  if (current.trim() !== '') items.push(current);
  return items.map((i) => unquote(i));
}
