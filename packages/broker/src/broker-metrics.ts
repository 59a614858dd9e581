// Prometheus metrics of one node, in a Registry owned by that node (never prom-client's global
// default registry: several nodes share a process in tests).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface BrokerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'api' | 'result'>;
  readonly bytesIn: Counter<'topic'>;
  readonly bytesOut: Counter<'topic'>;
  readonly requestLatencySeconds: Histogram<'api'>;
}

export interface PartitionGaugeSource {
  /** [topic, partition, logStartOffset, highWatermark, logEndOffset] per hosted partition. */
  partitions(): Iterable<{ topic: string; partition: number; logStartOffset: number; highWatermark: number; logEndOffset: number }>;
  waitingRequests(): number;
  /** Hosted replicas whose log failed or could not open in this run. */
  offlineReplicas(): Iterable<{ topic: string; partition: number }>;
}

export function createBrokerMetrics(args: { readonly nodeId: number; readonly source: PartitionGaugeSource; readonly processMetrics: boolean }): BrokerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: String(args.nodeId) });
  if (args.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tributary_' });
  const registers = [registry];
  const requests = new Counter({ name: 'tributary_requests_total', help: 'Requests handled, by API and result (ok or error code)', labelNames: ['api', 'result'] as const, registers });
  const bytesIn = new Counter({ name: 'tributary_bytes_in_total', help: 'Record batch bytes appended by produce requests', labelNames: ['topic'] as const, registers });
  const bytesOut = new Counter({ name: 'tributary_bytes_out_total', help: 'Record batch bytes returned by fetch requests', labelNames: ['topic'] as const, registers });
  const requestLatencySeconds = new Histogram({
    name: 'tributary_request_latency_seconds', help: 'Request latency by API (fetch includes long-poll waiting)',
    labelNames: ['api'] as const, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30], registers,
  });
  const source = args.source;
  new Gauge({
    name: 'tributary_partitions', help: 'Partitions hosted by this node', registers,
    collect() { this.set([...source.partitions()].length); },
  });
  const offsets = (name: string, help: string, pick: (p: { logStartOffset: number; highWatermark: number; logEndOffset: number }) => number) =>
    new Gauge({
      name, help, labelNames: ['topic', 'partition'] as const, registers,
      collect() {
        this.reset();
        for (const p of source.partitions()) this.set({ topic: p.topic, partition: String(p.partition) }, pick(p));
      },
    });
  offsets('tributary_partition_log_start_offset', 'Log start offset per partition', (p) => p.logStartOffset);
  offsets('tributary_partition_high_watermark', 'High watermark per partition', (p) => p.highWatermark);
  offsets('tributary_partition_log_end_offset', 'Log end offset per partition', (p) => p.logEndOffset);
  // Kafka's ReplicaManager OfflineReplicaCount, and which ones (a failed log stays offline until restart).
  new Gauge({
    name: 'tributary_offline_replicas', help: 'Hosted replicas whose log failed or could not open (offline until the node restarts)', registers,
    collect() { this.set([...source.offlineReplicas()].length); },
  });
  new Gauge({
    name: 'tributary_partition_offline', help: '1 per hosted replica whose log failed or could not open', labelNames: ['topic', 'partition'] as const, registers,
    collect() {
      this.reset();
      for (const p of source.offlineReplicas()) this.set({ topic: p.topic, partition: String(p.partition) }, 1);
    },
  });
  new Gauge({
    name: 'tributary_waiting_requests', help: 'Fetch and acks=all produce requests parked waiting for data or the high watermark', registers,
    collect() { this.set(source.waitingRequests()); },
  });
  return { registry, requests, bytesIn, bytesOut, requestLatencySeconds };
}
