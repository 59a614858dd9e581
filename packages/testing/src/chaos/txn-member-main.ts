// Process entry of one txn-workload member: `node txn-member-main.js '<TxnMemberConfig JSON>'`.
// Ops go to stdout as JSON lines; SIGTERM = finish the transaction in progress, leave, exit 0;
// a fatal error exits EXIT_FATAL (the workload starts the slot again); SIGKILL is the crash.
import { EXIT_FATAL, FatalMemberError, runTxnMember, type TxnMemberConfig } from './txn-member.js';

const config = JSON.parse(process.argv[2] ?? '') as TxnMemberConfig;
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
try {
  await runTxnMember(config, (op) => process.stdout.write(JSON.stringify(op) + '\n'), () => stopping);
  process.exit(0); // stdout is a pipe: writes are synchronous on Linux, nothing is left unsent
} catch (error) {
  if (error instanceof FatalMemberError) {
    process.stdout.write(JSON.stringify({ process: config.name, type: 'info', f: 'txn-member', value: { event: 'fatal', code: error.code }, node: null }) + '\n');
    process.exit(EXIT_FATAL);
  }
  process.stderr.write(`txn member ${config.name}: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
