// `-b/--brokers host:port[,host:port]`, falling back to $TRIBUTARY_BROKERS, then localhost:9092.
import { invalidArgument } from '../errors.js';

export const DEFAULT_BROKERS = 'localhost:9092';
export const BROKERS_ENV = 'TRIBUTARY_BROKERS';
/** A bootstrap list longer than this is certainly a mistake (a pasted file?). */
export const BOOTSTRAP_BROKERS_MAX = 64;

export function resolveBrokersText(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (flag !== undefined && flag.trim() !== '') return flag;
  const fromEnv = env[BROKERS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv;
  return DEFAULT_BROKERS;
}

/** Validates `host:port` entries (IPv6 as `[::1]:9092`); returns them trimmed, in order, deduplicated. */
export function parseBrokers(text: string): string[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) throw invalidArgument('--brokers is empty (expected host:port[,host:port])');
  if (entries.length > BOOTSTRAP_BROKERS_MAX) throw invalidArgument(`--brokers lists more than ${BOOTSTRAP_BROKERS_MAX} addresses`);
  for (const entry of entries) parseHostPort(entry, '--brokers');
  return [...new Set(entries)];
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `host:port` with port 0..65535 (0 = pick a free port, useful for `server --listen`). */
export function parseHostPort(text: string, what: string): HostPort {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(text.trim());
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || match[1] === undefined || !(port >= 0 && port <= 65535)) {
    throw invalidArgument(`${what}: invalid address '${text}' (expected host:port)`);
  }
  return { host: match[1], port };
}
