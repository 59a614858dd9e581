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

const exitCode = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = exitCode;
// Clients may hold sockets or timers a moment longer; the command is over, so leave now.
setImmediate(() => process.exit(exitCode));
