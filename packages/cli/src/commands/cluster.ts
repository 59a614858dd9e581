// `cluster info` and `cluster health [--exit-code]`.
import type { CommandContext } from '../context.js';
import { EXIT_FAILURE, EXIT_OK } from '../errors.js';
import type { OutputFormat } from '../format/table.js';
import { computeClusterHealth, renderCluster, renderHealth } from '../format/views.js';

export async function clusterInfo(ctx: CommandContext, format: OutputFormat): Promise<number> {
  const admin = await ctx.admin();
  await ctx.out(renderCluster(await admin.describeCluster(), format));
  return EXIT_OK;
}

/** Exit 0 when healthy; when unhealthy, exit 1 only with --exit-code (the report itself succeeded). */
export async function clusterHealth(ctx: CommandContext, options: { format: OutputFormat; exitCode: boolean }): Promise<number> {
  const admin = await ctx.admin();
  const [cluster, topics] = await Promise.all([admin.describeCluster(), admin.describeAllTopics()]);
  const health = computeClusterHealth(cluster, topics);
  await ctx.out(renderHealth(health, options.format));
  return options.exitCode && !health.healthy ? EXIT_FAILURE : EXIT_OK;
}
