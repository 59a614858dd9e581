// A client operation in progress keeps Node's event loop alive: with every connection down, its retry
// backoff may be the only handle left. An unref'd backoff timer let a script end in the middle of
// `await producer.send()` with exit code 13 (unsettled top-level await) and no error at all; the
// chaos suite's consumer-group members died the same way while their coordinator was down.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const clientEntry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
let server: Server | undefined;
afterEach(() => server?.close());

/** A port that accepts TCP and closes every connection at once: the client sees a broker that is down. */
async function deadBroker(): Promise<number> {
  server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function runScript(source: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', source], { timeout: 20_000 }, (_err, stdout) => resolve({ code: child.exitCode, stdout }));
  });
}

describe('a pending client operation keeps the process alive', () => {
  it('await producer.send() against a broker that is down ends with its error, not a silent exit', async () => {
    const port = await deadBroker();
    const { code, stdout } = await runScript(`
      import { Producer } from ${JSON.stringify(clientEntry)};
      const p = new Producer({ 'bootstrap.servers': '127.0.0.1:${port}', 'max.block.ms': 1500, 'request.timeout.ms': 500, 'retry.backoff.ms': 200 });
      try { await p.send({ topic: 't', value: Buffer.from('x') }); console.log('SENT'); }
      catch (e) { console.log('FAILED ' + e.code); }
      await p.close();`);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^FAILED \w+/);
  });

  it('await consumer.poll() of a group whose coordinator cannot be reached ends with its error', async () => {
    const port = await deadBroker();
    const { code, stdout } = await runScript(`
      import { Consumer } from ${JSON.stringify(clientEntry)};
      const c = new Consumer({ 'bootstrap.servers': '127.0.0.1:${port}', 'group.id': 'g', 'request.timeout.ms': 1000, 'retry.backoff.ms': 200 });
      c.subscribe(['t']);
      try { await c.poll({ timeoutMs: 200 }); console.log('POLLED'); }
      catch (e) { console.log('FAILED ' + e.code); }
      await c.close({ leaveGroup: false });`);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^FAILED \w+/);
  });
});
