// The `tributary` process: wires the real stdio, environment and signals into run().
import { run } from './run.js';

const controller = new AbortController();
let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    signals += 1;
    // First signal: stop gracefully (consume/perf/server finish their work); a second one forces exit.
    if (signals > 1) process.exit(130);
    controller.abort();
  });
}
// `tributary consume t | head` closes our stdout early: that is a normal way to stop, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// The client's retry/backoff timers are unref'd (a library must not hold a process open), so while a
// command waits out a backoff with no socket open the event loop could drain and Node would quit with
// "unfinished top-level await" (exit 13). This ref'd timer keeps the CLI alive until run() settles.
const keepAlive = setInterval(() => undefined, 60_000);
const exitCode = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
clearInterval(keepAlive);
process.exitCode = exitCode;
// Clients may hold sockets or timers a moment longer; the command is over, so leave now.
setImmediate(() => process.exit(exitCode));
