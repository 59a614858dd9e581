// The per-run context handed to every command: I/O streams, the environment, the cancel signal
// (Ctrl-C) and a lazily opened cluster connection whose clients are all closed when the run ends.
import { setTimeout as delay } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { parseBrokers, resolveBrokersText } from './parse/brokers.js';
import type { AdminPort, ClusterConnector, Connect, ConsumerPort, ConsumerSettings, ProducerPort, ProducerSettings, TransactionsPort } from './ports.js';

export interface RunIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM by the bin; `consume`, `perf` and `server` stop cleanly on it. */
  readonly signal?: AbortSignal;
  /** Opens a connection to the brokers; defaults to the real @tributary/client. */
  readonly connect?: Connect;
  /** Wall clock in ms (for `@-1h` offsets and perf timestamps); defaults to Date.now. */
  readonly nowMs?: () => number;
}

interface Closable {
  close(): Promise<void>;
}

export class CommandContext {
  readonly signal: AbortSignal;
  private readonly closables: Closable[] = [];
  private connector: ClusterConnector | undefined;

  constructor(
    readonly io: RunIo,
    private readonly brokersFlag: string | undefined,
    private readonly defaultConnect: () => Promise<Connect>,
  ) {
    this.signal = io.signal ?? new AbortController().signal;
  }

  nowMs(): number {
    return this.io.nowMs === undefined ? Date.now() : this.io.nowMs();
  }

  brokers(): string[] {
    return parseBrokers(resolveBrokersText(this.brokersFlag, this.io.env));
  }

  /** Writes to stdout, waiting for the stream to drain when it is backed up. */
  out(text: string): Promise<void> {
    return write(this.io.stdout, text);
  }

  err(text: string): Promise<void> {
    return write(this.io.stderr, text);
  }

  async admin(): Promise<AdminPort> {
    return this.track((await this.connection()).admin());
  }

  async producer(settings: ProducerSettings): Promise<ProducerPort> {
    return this.track((await this.connection()).producer(settings));
  }

  async consumer(settings: ConsumerSettings = {}): Promise<ConsumerPort> {
    return this.track((await this.connection()).consumer(settings));
  }

  async transactions(): Promise<TransactionsPort> {
    return this.track((await this.connection()).transactions());
  }

  /** Closes every client this run opened, newest first; close errors are not the command's result. */
  async closeAll(): Promise<void> {
    for (const closable of this.closables.splice(0).reverse()) {
      try {
        await closable.close();
      } catch {
        // The command already has its outcome; a failing close must not replace it.
      }
    }
  }

  private async connection(): Promise<ClusterConnector> {
    if (this.connector === undefined) {
      const connect = this.io.connect ?? (await this.defaultConnect());
      this.connector = connect(this.brokers());
    }
    return this.connector;
  }

  private track<T extends Closable>(closable: T): T {
    this.closables.push(closable);
    return closable;
  }
}

export function write(stream: Writable, text: string): Promise<void> {
  if (text === '') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const ok = stream.write(text, (error) => {
      if (error !== undefined && error !== null) reject(error);
    });
    if (ok) resolve();
    else stream.once('drain', resolve);
  });
}

/** Resolves after `ms`, or early when `signal` aborts (Node's timer rejects then; here that is the end). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}
