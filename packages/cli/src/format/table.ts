// Plain aligned text tables, like rpk's: upper-case headers, columns separated by two spaces.
import { invalidArgument } from '../errors.js';

export type Cell = string | number | boolean | null | undefined;

export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((row) => headers.map((_, i) => cellText(row[i])))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd())
    .map((line) => `${line}\n`)
    .join('');
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  return String(cell);
}

/** `key  value` lines for a small record of facts (cluster id, controller, …). */
export function renderFacts(facts: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(0, ...facts.map(([name]) => name.length));
  return facts.map(([name, value]) => `${name.padEnd(width)}  ${cellText(value)}\n`).join('');
}

export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

export type OutputFormat = 'text' | 'json';

export function parseOutputFormat(text: string): OutputFormat {
  if (text === 'text' || text === 'json') return text;
  throw invalidArgument(`--format must be text or json, got '${text}'`);
}
