// The command tree (commander) and the `run(argv, io)` entry point. Callbacks only translate parsed
// flags into option objects and call the command functions; parsing, formatting and the actual
// work live in parse/, format/, perf/ and commands/.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CommandContext, write, type RunIo } from './context.js';
import { CliError, EXIT_FAILURE, formatErrorLine } from './errors.js';
import { parseOutputFormat, type OutputFormat } from './format/table.js';
import { collect } from './parse/key-value.js';
import { parseCount, parsePartition } from './parse/partitions.js';
import type { Connect } from './ports.js';
import { clusterHealth, clusterInfo } from './commands/cluster.js';
import { consume } from './commands/consume.js';
import { perfConsume, perfProduce } from './commands/perf.js';
import { produce } from './commands/produce.js';
import { server, type NodeRuntime } from './commands/server.js';
import { addPartitions, alterTopicConfig, createTopic, deleteTopics, describeTopics, listTopics } from './commands/topic.js';

export type { RunIo } from './context.js';

export interface RunDeps {
  /** Loads the real client adapter; lazily, so `--help` and `server` never open a client. */
  readonly loadConnect?: () => Promise<Connect>;
  /** Loads @tributary/broker for `server`. */
  readonly loadNodeRuntime?: () => Promise<NodeRuntime>;
}

/** Group commands load @tributary/client lazily, like the other client commands. */
const loadGroupCommands = async () => import('./commands/group.js');
const loadTxnCommands = async () => import('./commands/txn.js');
const defaultLoadConnect = async (): Promise<Connect> => (await import('./adapters/tributary-client.js')).connectTributary;
const defaultLoadNodeRuntime = async (): Promise<NodeRuntime> => (await import('@tributary/broker')) as unknown as NodeRuntime;

/** Runs the CLI on `argv` (without node and script) and resolves to the process exit code. */
export async function run(argv: readonly string[], io: RunIo, deps: RunDeps = {}): Promise<number> {
  let exitCode = 0;
  let context: CommandContext | undefined;
  const contextFor = (command: Command): CommandContext => {
    const globals = command.optsWithGlobals<{ brokers?: string }>();
    context = new CommandContext(io, globals.brokers, deps.loadConnect ?? defaultLoadConnect);
    return context;
  };
  // Wraps a command function: its resolved value becomes the exit code.
  const action =
    <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<number>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const positional = args.slice(0, -1) as A;
      exitCode = await fn(contextFor(command), ...positional);
    };

  const program = buildProgram(io, action, deps);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander already printed help or the usage error
    await write(io.stderr, `${formatErrorLine(error)}\n`);
    return error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  } finally {
    await context?.closeAll();
  }
}

type Action = <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<number>) => (...args: unknown[]) => Promise<void>;

function intArg(what: string, bounds: { min?: number; max?: number } = {}) {
  return (value: string): number => {
    try {
      return parseCount(value, what, bounds);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

function partitionArg(value: string): number {
  try {
    return parsePartition(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function formatOption(): Option {
  return new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');
}

function buildProgram(io: RunIo, action: Action, deps: RunDeps): Command {
  const program = new Command('tributary')
    .description('Tributary: a replicated log broker. Commands are noun-verb, in Kafka\'s words.')
    .option('-b, --brokers <host:port,...>', 'bootstrap brokers (env TRIBUTARY_BROKERS, default localhost:9092)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void write(io.stdout, text),
      writeErr: (text) => void write(io.stderr, text),
    })
    .showHelpAfterError('(add --help for usage)')
    .allowExcessArguments(false);

  // ---- server ----
  program
    .command('server')
    .description('run a node (broker and/or controller) until SIGINT/SIGTERM')
    .option('--node-id <id>', 'node.id')
    .option('--listen <host:port>', 'gRPC listen address (listen)')
    .option('--data-dir <dir>', 'data directory (data.dir)')
    .option('--roles <roles>', 'process.roles: broker, controller or broker,controller')
    .option('--voters <id@host:port,...>', 'controller.quorum.voters (omit to run alone)')
    .option('--http <host:port>', 'HTTP address for /metrics, /healthz, /readyz (http.listen)')
    .option('--set <key=value>', 'any node config key (repeatable); env TRIBUTARY_<KEY> works too', collect)
    .action(
      action((ctx, options: { nodeId?: string; listen?: string; dataDir?: string; roles?: string; voters?: string; http?: string; set?: string[] }) =>
        server(
          ctx,
          {
            nodeId: options.nodeId,
            listen: options.listen,
            dataDir: options.dataDir,
            roles: options.roles,
            voters: options.voters,
            http: options.http,
            set: options.set ?? [],
          },
          deps.loadNodeRuntime ?? defaultLoadNodeRuntime,
        ),
      ),
    );

  // ---- cluster ----
  const cluster = program.command('cluster').description('cluster-wide information');
  cluster
    .command('info')
    .description('nodes, roles, active controller and its term')
    .addOption(formatOption())
    .action(action((ctx, options: { format: string }) => clusterInfo(ctx, parseOutputFormat(options.format))));
  cluster
    .command('health')
    .description('offline and under-replicated partitions, fenced brokers')
    .addOption(formatOption())
    .option('--exit-code', 'exit 1 when the cluster is unhealthy')
    .action(
      action((ctx, options: { format: string; exitCode?: boolean }) =>
        clusterHealth(ctx, { format: parseOutputFormat(options.format), exitCode: options.exitCode === true }),
      ),
    );

  // ---- topic ----
  const topic = program.command('topic').description('create, list, describe, delete and configure topics');
  topic
    .command('create')
    .description('create a topic')
    .argument('<name>')
    .option('-p, --partitions <n>', 'partition count (default: the broker\'s num.partitions)', intArg('--partitions', { min: 1 }))
    .option('-r, --replicas <n>', 'replication factor (default: the broker\'s default.replication.factor)', intArg('--replicas', { min: 1 }))
    .option('-c, --config <key=value>', 'topic config (repeatable)', collect)
    .option('--if-not-exists', 'succeed when the topic already exists')
    .action(
      action((ctx, name: string, options: { partitions?: number; replicas?: number; config?: string[]; ifNotExists?: boolean }) =>
        createTopic(ctx, name, {
          partitions: options.partitions,
          replicationFactor: options.replicas,
          configs: options.config ?? [],
          ifNotExists: options.ifNotExists === true,
        }),
      ),
    );
  topic
    .command('list')
    .alias('ls')
    .description('list topics')
    .addOption(formatOption())
    .action(action((ctx, options: { format: string }) => listTopics(ctx, parseOutputFormat(options.format))));
  topic
    .command('describe')
    .description('partitions (leader, replicas, ISR, epoch, offsets) and configs')
    .argument('<names...>')
    .addOption(formatOption())
    .action(action((ctx, names: string[], options: { format: string }) => describeTopics(ctx, names, parseOutputFormat(options.format))));
  topic
    .command('delete')
    .description('delete topics')
    .argument('<names...>')
    .action(action((ctx, names: string[]) => deleteTopics(ctx, names)));
  topic
    .command('alter-config')
    .description('set or delete (reset to default) topic configs')
    .argument('<name>')
    .option('--set <key=value>', 'set a config (repeatable)', collect)
    .option('--delete <key>', 'reset a config to its default (repeatable)', collect)
    .action(action((ctx, name: string, options: { set?: string[]; delete?: string[] }) =>
      alterTopicConfig(ctx, name, { set: options.set ?? [], delete: options.delete ?? [] })));
  topic
    .command('add-partitions')
    .description('grow a topic to a new total partition count')
    .argument('<name>')
    .requiredOption('-n, --num <total>', 'the new total number of partitions', intArg('--num', { min: 1 }))
    .action(action((ctx, name: string, options: { num: number }) => addPartitions(ctx, name, options.num)));

  // ---- produce / consume ----
  program
    .command('produce')
    .description('produce stdin lines, one record per line')
    .argument('<topic>')
    .option('-k, --key <key>', 'the same key for every record')
    .option('-K, --key-delimiter <delim>', 'split each line into key DELIM value')
    .option('-H, --header <key=value>', 'header (repeatable)', collect)
    .option('--acks <acks>', '0, 1 or all', 'all')
    .option('-p, --partition <p>', 'produce to this partition (default: the partitioner)', partitionArg)
    .option('-z, --compression <type>', 'compression.type: none, gzip, lz4')
    .option('--linger-ms <ms>', 'linger.ms', intArg('--linger-ms'))
    .option('--batch-size <bytes>', 'batch.size', intArg('--batch-size'))
    .option('-X, --producer-property <key=value>', 'any producer property by its Kafka name (repeatable)', collect)
    .action(
      action((ctx, name: string, options: { key?: string; keyDelimiter?: string; header?: string[]; acks: string; partition?: number; compression?: string; lingerMs?: number; batchSize?: number; producerProperty?: string[] }) =>
        produce(ctx, name, {
          key: options.key,
          keyDelimiter: options.keyDelimiter,
          headers: options.header ?? [],
          acks: options.acks,
          partition: options.partition,
          compression: options.compression,
          lingerMs: options.lingerMs,
          batchSizeBytes: options.batchSize,
          producerProperties: options.producerProperty ?? [],
        }),
      ),
    );
  program
    .command('consume')
    .description('print records as JSON lines (default) or with a -f template')
    .argument('<topic>')
    .option('-o, --offset <spec>', 'start|end|N|+N|-N|@epoch-ms|@ISO-time|@-1h', 'start')
    .option('-n, --num <count>', 'stop after this many records', intArg('-n', { min: 1 }))
    .option('-p, --partition <p,...>', 'partitions to read (repeatable or comma list; default all)', collect)
    .option('-f, --template <template>', 'record template: %t %p %o %k %v %h %T, \\n \\t')
    .addOption(new Option('--format <format>', 'json lines, or text (values only)').choices(['text', 'json']))
    .option('--exit-at-end', 'stop when every partition reaches its high watermark as of the start')
    .option('-g, --group <id>', 'consume as a member of this consumer group (commits what it prints; -o start|end applies without a commit)')
    .addOption(new Option('--isolation-level <level>', 'isolation.level: read_committed skips aborted transactions and stops at the last stable offset')
      .choices(['read_uncommitted', 'read_committed']).default('read_uncommitted'))
    .action(
      action(async (ctx, name: string, options: { offset: string; num?: number; partition?: string[]; template?: string; format?: string; exitAtEnd?: boolean; group?: string; isolationLevel: 'read_uncommitted' | 'read_committed' }) =>
        options.group !== undefined
          ? (await loadGroupCommands()).groupConsume(ctx, name, options.group, {
            count: options.num, template: options.template,
            format: (options.format ?? (options.template === undefined ? 'json' : 'text')) as OutputFormat,
            reset: options.offset === 'end' || options.offset === 'latest' ? 'latest' : 'earliest',
            isolationLevel: options.isolationLevel,
          })
          : consume(ctx, name, {
          offset: options.offset,
          count: options.num,
          partitions: options.partition ?? [],
          template: options.template,
          format: (options.format ?? (options.template === undefined ? 'json' : 'text')) as OutputFormat,
          exitAtEnd: options.exitAtEnd === true,
          isolationLevel: options.isolationLevel,
        }),
      ),
    );

  // ---- consumer groups ----
  const group = program.command('group').description('list, describe, seek (reset offsets) and delete consumer groups');
  group
    .command('list')
    .alias('ls')
    .description('list consumer groups and their states')
    .addOption(formatOption())
    .action(action(async (ctx, options: { format: string }) => (await loadGroupCommands()).groupList(ctx, parseOutputFormat(options.format))));
  group
    .command('describe')
    .description('state, members, and per partition CURRENT-OFFSET, LOG-END-OFFSET, LAG, MEMBER, with the total lag')
    .argument('<group>')
    .addOption(formatOption())
    .action(action(async (ctx, id: string, options: { format: string }) => (await loadGroupCommands()).groupDescribe(ctx, id, parseOutputFormat(options.format))));
  group
    .command('seek')
    .description('reset committed offsets of an Empty group (every topic it has commits for, plus --topic)')
    .argument('<group>')
    .option('--to <spec>', 'start|end|N|@epoch-ms|@ISO-time|@-1h')
    .option('--shift-by <n>', 'move each committed offset by n (may be negative)', (v: string) => {
      const n = Number(v);
      if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`--shift-by must be an integer, got '${v}'`);
      return n;
    })
    .option('-t, --topic <topic>', 'also reset this topic (repeatable)', collect)
    .option('--dry-run', 'print the plan without committing')
    .action(action(async (ctx, id: string, options: { to?: string; shiftBy?: number; topic?: string[]; dryRun?: boolean }) =>
      (await loadGroupCommands()).groupSeek(ctx, id, { to: options.to, shiftBy: options.shiftBy, topics: options.topic ?? [], dryRun: options.dryRun === true })));
  group
    .command('delete')
    .description('delete an Empty group and its committed offsets')
    .argument('<group>')
    .action(action(async (ctx, id: string) => (await loadGroupCommands()).groupDelete(ctx, id)));

  // ---- transactions ----
  const txn = program.command('txn').description('list and describe transactions; find and abort a hanging one (kafka-transactions.sh)');
  txn
    .command('list')
    .alias('ls')
    .description('transactional ids with their producer id and state, from every coordinator')
    .option('--state <state>', 'only this state, e.g. Ongoing (repeatable)', collect)
    .option('--producer-id <id>', 'only this producer id (repeatable)', (v: string, prev: number[] | undefined) => [...(prev ?? []), intArg('--producer-id')(v)])
    .option('--duration-filter-ms <ms>', 'only transactions open longer than this', intArg('--duration-filter-ms'), 0)
    .addOption(formatOption())
    .action(action(async (ctx, options: { state?: string[]; producerId?: number[]; durationFilterMs: number; format: string }) =>
      (await loadTxnCommands()).txnList(ctx, { states: options.state ?? [], producerIds: options.producerId ?? [], durationFilterMs: options.durationFilterMs, format: parseOutputFormat(options.format) })));
  txn
    .command('describe')
    .description('state, producer id/epoch, timeout, start time and partitions of one transactional id')
    .requiredOption('--transactional-id <id>', 'the transactional.id')
    .addOption(formatOption())
    .action(action(async (ctx, options: { transactionalId: string; format: string }) =>
      (await loadTxnCommands()).txnDescribe(ctx, options.transactionalId, parseOutputFormat(options.format))));
  txn
    .command('describe-producers')
    .description('producers with state on a partition; TXN-START-OFFSET is the first offset of an open transaction')
    .requiredOption('--topic <topic>', 'topic')
    .requiredOption('--partition <p>', 'partition', partitionArg)
    .addOption(formatOption())
    .action(action(async (ctx, options: { topic: string; partition: number; format: string }) =>
      (await loadTxnCommands()).txnDescribeProducers(ctx, options.topic, options.partition, parseOutputFormat(options.format))));
  txn
    .command('abort')
    .description('abort a hanging transaction on one partition: by --start-offset, or by --producer-id, --producer-epoch and --coordinator-epoch')
    .requiredOption('--topic <topic>', 'topic')
    .requiredOption('--partition <p>', 'partition', partitionArg)
    .option('--start-offset <offset>', 'the first offset of the open transaction (see describe-producers)', intArg('--start-offset'))
    .option('--producer-id <id>', 'producer id', intArg('--producer-id'))
    .option('--producer-epoch <epoch>', 'producer epoch', intArg('--producer-epoch', { max: 32767 }))
    .option('--coordinator-epoch <epoch>', 'coordinator epoch', intArg('--coordinator-epoch', { max: 2_147_483_647 }))
    .action(action(async (ctx, options: { topic: string; partition: number; startOffset?: number; producerId?: number; producerEpoch?: number; coordinatorEpoch?: number }) =>
      (await loadTxnCommands()).txnAbort(ctx, {
        topic: options.topic, partition: options.partition, startOffset: options.startOffset,
        producerId: options.producerId, producerEpoch: options.producerEpoch, coordinatorEpoch: options.coordinatorEpoch,
      })));

  // ---- perf ----
  const perf = program.command('perf').description('throughput and latency tests (kafka-*-perf-test style)');
  perf
    .command('produce')
    .description('produce fixed-size records as fast as allowed; latency measured from send to ack')
    .argument('<topic>')
    .requiredOption('--num-records <n>', 'records to send', intArg('--num-records', { min: 1 }))
    .requiredOption('--record-size <bytes>', 'value size in bytes', intArg('--record-size', { min: 0, max: 64 * 1024 * 1024 }))
    .option('--throughput <records/s>', 'target rate, -1 = unlimited', intArg('--throughput', { min: -1 }), -1)
    .option('--acks <acks>', '0, 1 or all', 'all')
    .option('--batch-size <bytes>', 'batch.size', intArg('--batch-size'))
    .option('--linger-ms <ms>', 'linger.ms', intArg('--linger-ms'))
    .option('-z, --compression <type>', 'compression.type: none, gzip, lz4')
    .option('-X, --producer-property <key=value>', 'any producer property by its Kafka name (repeatable)', collect)
    .option('--reporting-interval-ms <ms>', 'how often to print a progress line', intArg('--reporting-interval-ms', { min: 1 }), 5000)
    .option('--json', 'end with one JSON line (progress lines go to stderr)')
    .option('--sync', 'one record outstanding at a time: send, wait for its ack, send the next')
    .action(
      action((ctx, name: string, options: { numRecords: number; recordSize: number; throughput: number; acks: string; batchSize?: number; lingerMs?: number; compression?: string; producerProperty?: string[]; reportingIntervalMs: number; json?: boolean; sync?: boolean }) =>
        perfProduce(ctx, name, {
          numRecords: options.numRecords,
          recordSizeBytes: options.recordSize,
          throughput: options.throughput,
          acks: options.acks,
          batchSizeBytes: options.batchSize,
          lingerMs: options.lingerMs,
          compression: options.compression,
          producerProperties: options.producerProperty ?? [],
          json: options.json === true,
          reportingIntervalMs: options.reportingIntervalMs,
          sync: options.sync === true,
        }),
      ),
    );
  perf
    .command('consume')
    .description('consume from the start of every partition until --messages records')
    .argument('<topic>')
    .requiredOption('--messages <n>', 'records to consume', intArg('--messages', { min: 1 }))
    .option('--timeout-ms <ms>', 'give up when no record arrives for this long', intArg('--timeout-ms', { min: 1 }), 10_000)
    .option('--json', 'print one JSON line')
    .action(
      action((ctx, name: string, options: { messages: number; timeoutMs: number; json?: boolean }) =>
        perfConsume(ctx, name, { messages: options.messages, json: options.json === true, timeoutMs: options.timeoutMs }),
      ),
    );

  return program;
}
