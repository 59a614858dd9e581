// `produce TOPIC`: one record per stdin line, pipelined (bounded in-flight), flushed at the end.
// Exit 0 only when every record was acknowledged; otherwise non-zero with the number that failed.
import { createInterface } from 'node:readline';
import type { CommandContext } from '../context.js';
import { CliError, EXIT_INTERRUPTED, EXIT_OK, errorCodeName, formatErrorLine, invalidArgument } from '../errors.js';
import { InFlightLimit } from '../in-flight-limit.js';
import { parseKeyValueList, parseKeyValueMap } from '../parse/key-value.js';
import type { Acks, OutgoingRecord } from '../ports.js';

/** Records outstanding at once; the client batches them, this only bounds our own memory. */
export const PRODUCE_IN_FLIGHT_MAX = 20_000;
/** Longest stdin line accepted (the broker's default max.message.bytes is 1 MiB anyway). */
export const LINE_LENGTH_MAX = 16 * 1024 * 1024;

export interface ProduceOptions {
  readonly key: string | undefined;
  readonly keyDelimiter: string | undefined;
  readonly headers: readonly string[];
  readonly acks: string;
  readonly partition: number | undefined;
  readonly compression: string | undefined;
  readonly lingerMs: number | undefined;
  readonly producerProperties: readonly string[];
  readonly batchSizeBytes: number | undefined;
}

export function parseAcks(text: string): Acks {
  if (text === '0' || text === '1' || text === 'all') return text;
  if (text === '-1') return 'all';
  throw invalidArgument(`--acks must be 0, 1 or all, got '${text}'`);
}

const utf8 = new TextEncoder();

export interface LineShape {
  readonly topic: string;
  readonly partition: number | undefined;
  readonly fixedKey: Uint8Array | null;
  readonly keyDelimiter: string | undefined;
  readonly headers: OutgoingRecord['headers'];
}

/** One stdin line → one record; with a key delimiter the line must contain it (else INVALID_ARGUMENT). */
export function lineToRecord(line: string, shape: LineShape): OutgoingRecord {
  let key = shape.fixedKey;
  let value = line;
  if (shape.keyDelimiter !== undefined) {
    const at = line.indexOf(shape.keyDelimiter);
    if (at < 0) throw invalidArgument(`no key delimiter ${JSON.stringify(shape.keyDelimiter)} in line`);
    key = utf8.encode(line.slice(0, at));
    value = line.slice(at + shape.keyDelimiter.length);
  }
  return { topic: shape.topic, partition: shape.partition, key, value: utf8.encode(value), headers: shape.headers };
}

export async function produce(ctx: CommandContext, topic: string, options: ProduceOptions): Promise<number> {
  if (options.key !== undefined && options.keyDelimiter !== undefined) throw invalidArgument('-k and -K cannot be used together');
  if (options.keyDelimiter === '') throw invalidArgument('-K needs a non-empty delimiter');
  const shape: LineShape = {
    topic,
    partition: options.partition,
    fixedKey: options.key === undefined ? null : utf8.encode(options.key),
    keyDelimiter: options.keyDelimiter,
    headers: parseKeyValueList(options.headers, '-H').map(({ key, value }) => ({ key, value: utf8.encode(value) })),
  };
  const producer = await ctx.producer({
    acks: parseAcks(options.acks),
    compression: options.compression,
    lingerMs: options.lingerMs,
    properties: parseKeyValueMap(options.producerProperties, '-X/--producer-property'),
    batchSizeBytes: options.batchSizeBytes,
  });

  const limit = new InFlightLimit(PRODUCE_IN_FLIGHT_MAX);
  let lineNumber = 0;
  let failed = 0;
  let firstError: unknown;
  const fail = (error: unknown, at: number): void => {
    failed += 1;
    if (firstError === undefined) {
      firstError = error;
      void ctx.err(`${formatErrorLine(error)} (line ${at})\n`);
    }
  };

  const lines = createInterface({ input: ctx.io.stdin, crlfDelay: Infinity });
  // Ctrl-C while waiting for the next (interactive) line: end the input now, then flush what was read.
  const stopReading = (): void => lines.close();
  ctx.signal.addEventListener('abort', stopReading, { once: true });
  try {
    for await (const line of lines) {
      lineNumber += 1;
      const at = lineNumber;
      if (ctx.signal.aborted) break;
      if (line.length > LINE_LENGTH_MAX) {
        fail(invalidArgument(`line longer than ${LINE_LENGTH_MAX} characters`), at);
        continue;
      }
      let record: OutgoingRecord;
      try {
        record = lineToRecord(line, shape);
      } catch (error) {
        fail(error, at);
        continue;
      }
      await limit.acquire();
      producer.send(record).then(
        () => limit.release(),
        (error: unknown) => {
          limit.release();
          fail(error, at);
        },
      );
    }
  } finally {
    ctx.signal.removeEventListener('abort', stopReading);
    lines.close();
  }
  await producer.flush();
  await limit.drained();
  if (failed > 0) {
    throw new CliError(`${failed} of ${lineNumber} records failed`, { code: errorCodeName(firstError), cause: firstError });
  }
  if (ctx.signal.aborted) {
    throw new CliError(`interrupted after ${lineNumber} lines (every one read was acknowledged)`, { exitCode: EXIT_INTERRUPTED });
  }
  return EXIT_OK;
}
