// Measures startNode() -> ready (node.cluster?.lifecycleState running and self unfenced) for a node without voters.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
const { parseNodeConfig, startNode } = await import(process.cwd() + '/packages/broker/dist/index.js');
const mode = process.argv[2] ?? 'alone';
const n = Number(process.argv[3] ?? 5);
const times = [];
for (let i = 0; i < n; i++) {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-startup-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const flags = { 'node.id': 1, listen: `127.0.0.1:${mode === 'self' ? port : 0}`, 'data.dir': dataDir };
  if (mode === 'self') flags['controller.quorum.voters'] = `1@127.0.0.1:${port}`;
  const config = parseNodeConfig({ flags, set: {} });
  const t0 = performance.now();
  const node = await startNode(config, { logger: pino({ level: 'silent' }) });
  const returned = performance.now() - t0;
  for (;;) {
    const self = node.metadata.brokers().find((b) => b.nodeId === 1);
    if ((node.cluster === undefined || node.cluster.lifecycleState === 'running') && self !== undefined && !self.fenced) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const ready = performance.now() - t0;
  times.push(ready);
  console.log(`${mode} #${i}: returned ${returned.toFixed(0)} ms, ready ${ready.toFixed(0)} ms`);
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
}
times.sort((a, b) => a - b);
console.log(`${mode}: median ${times[Math.floor(n / 2)].toFixed(0)} ms, min ${times[0].toFixed(0)}, max ${times[n - 1].toFixed(0)}`);
