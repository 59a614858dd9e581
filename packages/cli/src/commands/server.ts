// `server`: run one node in this process until SIGINT/SIGTERM, then close it gracefully and exit 0.
import type { CommandContext } from '../context.js';
import { EXIT_OK } from '../errors.js';

export interface ServerOptions {
  readonly nodeId: string | undefined;
  readonly listen: string | undefined;
  readonly dataDir: string | undefined;
  readonly roles: string | undefined;
  readonly voters: string | undefined;
  readonly http: string | undefined;
  readonly set: readonly string[];
}

/** The slice of @tributary/broker this command uses (imported lazily: client commands never load it). */
export interface NodeRuntime {
  parseNodeConfig(sources: {
    flags: Record<string, string | undefined>;
    env: Readonly<Record<string, string | undefined>>;
    set: readonly string[];
  }): unknown;
  startNode(config: never): Promise<{ readonly address: string; readonly httpAddress?: string | undefined; close(): Promise<void> }>;
}

/** Flags map onto the node's config keys; precedence (flags > --set > env) is the config parser's. */
export function serverFlags(options: ServerOptions): Record<string, string | undefined> {
  return {
    'node.id': options.nodeId,
    listen: options.listen,
    'data.dir': options.dataDir,
    'process.roles': options.roles,
    'controller.quorum.voters': options.voters,
    'http.listen': options.http,
  };
}

export async function server(ctx: CommandContext, options: ServerOptions, loadRuntime: () => Promise<NodeRuntime>): Promise<number> {
  const runtime = await loadRuntime();
  // Throws the broker's ConfigError naming every bad key; the runner prints it and exits non-zero.
  const config = runtime.parseNodeConfig({ flags: serverFlags(options), env: ctx.io.env, set: options.set });
  if (ctx.signal.aborted) return EXIT_OK;
  const node = await runtime.startNode(config as never);
  await ctx.out(
    `tributary: node ${String((config as { nodeId?: unknown }).nodeId ?? options.nodeId)} listening on ${node.address}` +
      `${node.httpAddress === undefined ? '' : ` (http ${node.httpAddress})`}\n`,
  );
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) return resolve();
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await ctx.err('tributary: shutting down\n');
  await node.close();
  await ctx.err('tributary: stopped\n');
  return EXIT_OK;
}
