import { createServer } from 'node:net';

/** Asks the kernel for a free TCP port on `host`. Another process may take it before it is used. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('free-port: no port assigned'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
