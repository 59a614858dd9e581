// Prometheus metrics of this node's controller voter: whether its Raft driver runs, how often it was
// restarted after a failure, and how many peer messages raft refused. In the node's own registry.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ControllerMetricsSource {
  status(): { readonly driverRunning: boolean; readonly driverRestarts: number; readonly refusedRaftMessages: number };
}

export function registerControllerMetrics(registry: Registry, source: ControllerMetricsSource): void {
  const registers = [registry];
  new Gauge({
    name: 'tributary_raft_driver_running', registers,
    help: '1 while this controller voter\'s Raft driver runs; 0 after it stopped on a failure, until a restart succeeds',
    collect() { this.set(source.status().driverRunning ? 1 : 0); },
  });
  new Counter({
    name: 'tributary_raft_driver_restarts_total', registers,
    help: 'Raft drivers started again (from the durable metadata log) after a failure',
    collect() { this.reset(); this.inc(source.status().driverRestarts); },
  });
  new Counter({
    name: 'tributary_raft_refused_messages_total', registers,
    help: 'Raft messages refused: from non-members, malformed, or with impossible indexes',
    collect() { this.reset(); this.inc(source.status().refusedRaftMessages); },
  });
}
