// `host:port` addresses as written in configs and flags (`[::1]:9092` for IPv6).

export interface HostPort {
  readonly host: string;
  /** 0 = let the OS choose (listen addresses only). */
  readonly port: number;
}

/** Parses `host:port`; returns a reason string instead of throwing so config parsing can collect it. */
export function parseHostPort(text: string): HostPort | string {
  const match = /^(?:\[([^\]]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return `expected host:port, got ${JSON.stringify(text)}`;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port > 65535) return `port ${port} is out of range 0..65535`;
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
