// A real single-node broker in this process on 127.0.0.1:0 with a temp data dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNodeConfig, startNode } from '@tributary/broker';

export interface TestBroker {
  readonly address: string;
  close(): Promise<void>;
}

export async function startTestBroker(set: Record<string, string> = {}): Promise<TestBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-client-test-'));
  const config = parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': dataDir }, set: { 'log.level': 'error', ...set } });
  const node = await startNode(config);
  return {
    address: node.address,
    close: async () => {
      await node.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
