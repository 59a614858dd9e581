// A Tributary node run as a real child process (`tributary server`), for tests that need real
// crashes: SIGKILL, SIGSTOP/SIGCONT, restarts on the same data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { BrokerClient } from '@tributary/protocol';
import { setTimeout as sleep } from 'node:timers/promises';

/** Path of the CLI entry point inside this repository. */
export const TRIBUTARY_BIN = fileURLToPath(new URL('../../cli/bin/tributary.js', import.meta.url));

export const DEFAULT_READY_TIMEOUT_MS = 20_000;
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export interface NodeProcessOptions {
  readonly nodeId: number;
  readonly dataDir: string;
  /** host:port the node listens on; must be a concrete port (see freePort). */
  readonly listen: string;
  readonly http?: string;
  readonly roles?: readonly string[];
  readonly voters?: string;
  /** Extra `--set key=value` configs. */
  readonly configs?: Readonly<Record<string, string>>;
  /** Where stdout/stderr go; defaults to `<dataDir>/../node-<id>.log`. */
  readonly logFile?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Runs the node under this command (e.g. `ip netns exec <ns>`); it must exec, so the pid stays the node's. */
  readonly commandPrefix?: readonly string[];
}

export type NodeProcessState = 'stopped' | 'running' | 'paused';

export class NodeProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stateValue: NodeProcessState = 'stopped';

  constructor(readonly options: NodeProcessOptions) {}

  get address(): string {
    return this.options.listen;
  }

  get nodeId(): number {
    return this.options.nodeId;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get state(): NodeProcessState {
    return this.stateValue;
  }

  get logFile(): string {
    return this.options.logFile ?? join(dirname(this.options.dataDir), `node-${this.options.nodeId}.log`);
  }

  /** Starts the process and resolves once it answers Metadata requests. */
  async start(readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
    if (this.stateValue !== 'stopped') throw new Error(`node ${this.nodeId} is ${this.stateValue}, not stopped`);
    mkdirSync(this.options.dataDir, { recursive: true });
    const args = [TRIBUTARY_BIN, 'server', '--node-id', String(this.options.nodeId), '--listen', this.options.listen,
      '--data-dir', this.options.dataDir];
    if (this.options.http !== undefined) args.push('--http', this.options.http);
    if (this.options.roles !== undefined) args.push('--roles', this.options.roles.join(','));
    if (this.options.voters !== undefined) args.push('--voters', this.options.voters);
    for (const [key, value] of Object.entries(this.options.configs ?? {})) args.push('--set', `${key}=${value}`);

    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const prefix = this.options.commandPrefix ?? [];
    const child = spawn(prefix[0] ?? process.execPath, prefix.length === 0 ? args : [...prefix.slice(1), process.execPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: process.env.TRIBUTARY_LOG_LEVEL_NODES ?? 'info', ...this.options.env },
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    this.stateValue = 'running';
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) {
          this.child = undefined;
          this.stateValue = 'stopped';
        }
        resolve();
      });
    });
    await this.waitReady(readyTimeoutMs);
  }

  /** Sends a signal without waiting (SIGKILL, SIGSTOP, SIGCONT, SIGTERM). */
  signal(signal: NodeJS.Signals): void {
    if (this.child === undefined) throw new Error(`node ${this.nodeId} is not running`);
    this.child.kill(signal);
    if (signal === 'SIGSTOP') this.stateValue = 'paused';
    if (signal === 'SIGCONT') this.stateValue = 'running';
  }

  /** SIGKILL: an unclean stop; resolves when the process is gone. */
  async kill(): Promise<void> {
    if (this.child === undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: a clean stop; escalates to SIGKILL after timeoutMs. */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    if (this.stateValue === 'paused') child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    this.log?.end();
  }

  async restart(readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
    await this.stop();
    await this.start(readyTimeoutMs);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const client = new BrokerClient(this.options.listen, grpc.credentials.createInsecure());
    try {
      for (;;) {
        if (this.child === undefined) {
          throw new Error(`node ${this.nodeId} exited during start-up; see ${this.logFile}`);
        }
        const ok = await new Promise<boolean>((resolve) => {
          client.metadata({ topics: [] }, { deadline: Date.now() + 500 }, (err) => resolve(err === null));
        });
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`node ${this.nodeId} not ready after ${timeoutMs} ms; see ${this.logFile}`);
        await sleep(100);
      }
    } finally {
      client.close();
    }
  }
}
