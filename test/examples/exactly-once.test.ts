// examples/exactly-once against an in-process 3-node cluster: two instances of the app invoice 300
// orders; then a third starts with the first one's transactional.id (a restart: it fences the
// first, which stops on ProducerFencedError) and 300 more orders arrive. In the end every order has
// exactly one committed invoice — none twice, none missing — and the group's offsets are at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupAdmin } from '@tributary/client';
import { startCluster } from '@tributary/testing';
import { waitFor } from '../cluster/helpers.js';
// The example is plain JavaScript, as users copy it.
import { createTopics, produceOrders, runInvoicer, verify } from '../../examples/exactly-once/exactly-once.mjs';

const TOPICS = { input: 'orders', output: 'invoices', group: 'invoicer' };

interface Instance {
  readonly controller: AbortController;
  done: Promise<unknown>;
  committed: number;
}

describe('examples/exactly-once', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('invoices every order exactly once across a fenced restart', async () => {
    const bootstrap = cluster.bootstrapServers;
    const options = { bootstrap, ...TOPICS };
    await createTopics(options);
    await produceOrders({ ...options, count: 300 });

    const start = (transactionalId: string): Instance => {
      const controller = new AbortController();
      const instance: Instance = { controller, committed: 0, done: Promise.resolve() };
      instance.done = runInvoicer({
        ...options, transactionalId, signal: controller.signal, onCommit: ({ orders }: { orders: number }) => { instance.committed += orders; },
      }).then(() => 'stopped', (error: unknown) => error);
      return instance;
    };
    const a = start('invoicer-a');
    const b = start('invoicer-b');
    await waitFor('100 orders invoiced', () => (a.committed + b.committed >= 100 ? true : undefined), 60_000);

    // A restart of instance a: same transactional.id, so the old one is fenced.
    const a2 = start('invoicer-a');
    await produceOrders({ ...options, count: 300, first: 300 });

    const admin = new GroupAdmin({ 'bootstrap.servers': bootstrap });
    try {
      await waitFor('the group committed every order', async () => {
        const offsets = await admin.fetchOffsets(TOPICS.group).catch(() => []);
        const total = offsets.filter((o) => o.topic === TOPICS.input).reduce((sum, o) => sum + Math.max(0, o.offset), 0);
        return total >= 600 ? true : undefined;
      }, 90_000);
    } finally {
      await admin.close();
    }
    for (const i of [a, b, a2]) i.controller.abort();
    const outcomes = await Promise.all([a.done, b.done, a2.done]);
    // The fenced instance stopped with ProducerFencedError, or never wrote again before it was stopped.
    const fenced = outcomes[0];
    if (fenced !== 'stopped') expect((fenced as { code?: string }).code, String(fenced)).toBe('PRODUCER_FENCED');
    expect(outcomes.slice(1)).toEqual(['stopped', 'stopped']);

    const result = await verify(options);
    expect(result.duplicates).toEqual([]);
    expect(result.missing).toEqual([]);
    expect(result.orders).toBe(600);
    expect(result.invoices).toBe(600);
  }, 240_000);
});
