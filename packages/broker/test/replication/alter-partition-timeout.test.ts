// The AlterPartition timeout belongs to the client: a call that gets no answer within timeoutMs
// resolves with REQUEST_TIMED_OUT (the leader retries later), and one answered in time keeps its answer.
import { describe, expect, it } from 'vitest';
import { resultWithin, type AlterPartitionResult } from '../../src/replication/alter-partition-client.js';

describe('AlterPartition timeout', () => {
  it('resolves with REQUEST_TIMED_OUT when no answer comes within timeoutMs', async () => {
    const never = new Promise<AlterPartitionResult>(() => undefined);
    await expect(resultWithin(never, 20)).resolves.toMatchObject({ ok: false, error: 'REQUEST_TIMED_OUT' });
  });

  it('keeps an answer that comes in time', async () => {
    const refused: AlterPartitionResult = { ok: false, error: 'INVALID_UPDATE_VERSION', message: 'stale' };
    await expect(resultWithin(Promise.resolve(refused), 60_000)).resolves.toBe(refused);
  });
});
