// Loopback gRPC servers for the raft tests.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@tributary/nraft';
import { addRaftService, type RaftServiceHandler } from '../../src/raft/grpc-raft-transport.js';

export async function startRaftServer(handler: RaftServiceHandler, port = 0): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server();
  addRaftService(server, handler);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, address: `127.0.0.1:${bound}` };
}

export function stopServer(server: grpc.Server): void {
  server.forceShutdown();
}

/** A Logger that records what it is given (for asserting on warnings). */
export function recordingLogger(): Logger & { lines: { level: string; msg: string; obj: object }[] } {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => { lines.push({ level, msg: msg ?? '', obj }); };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
