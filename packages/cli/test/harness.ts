// Test helpers: run the CLI in-process with string stdin and captured stdout/stderr.
import { PassThrough, Readable, Writable } from 'node:stream';
import { run, type RunDeps } from '../src/run.js';
import type { Connect } from '../src/ports.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly stdin?: string;
  readonly env?: Record<string, string | undefined>;
  readonly connect?: Connect;
  readonly signal?: AbortSignal;
  readonly deps?: RunDeps;
  readonly nowMs?: () => number;
  /** Called with each stdout chunk as it is written (to react to output before the run ends). */
  readonly onStdout?: (chunk: string) => void;
}

class Capture extends Writable {
  private readonly chunks: string[] = [];
  constructor(private readonly onChunk?: (chunk: string) => void) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk.toString());
    this.onChunk?.(chunk.toString());
    callback();
  }
  text(): string {
    return this.chunks.join('');
  }
}

export async function cli(argv: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const stdout = new Capture(options.onStdout);
  const stderr = new Capture();
  const stdin = options.stdin === undefined ? emptyStdin() : Readable.from([options.stdin]);
  const code = await run(
    argv,
    {
      stdin,
      stdout,
      stderr,
      env: options.env ?? {},
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.connect === undefined ? {} : { connect: options.connect }),
      ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
    },
    options.deps,
  );
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function emptyStdin(): Readable {
  const stream = new PassThrough();
  stream.end();
  return stream;
}

export function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}
