// Process entry of one groups-workload member: `node group-member-main.js '<GroupMemberConfig JSON>'`.
// Ops go to stdout as JSON lines; SIGTERM = leave gracefully (commit, LeaveGroup, exit 0); SIGKILL
// from the parent is the crash.
import { runGroupMember, type GroupMemberConfig } from './group-member.js';

const config = JSON.parse(process.argv[2] ?? '') as GroupMemberConfig;
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
try {
  await runGroupMember(config, (op) => process.stdout.write(JSON.stringify(op) + '\n'), () => stopping);
  process.exit(0); // stdout is a pipe: writes are synchronous on Linux, nothing is left unsent
} catch (error) {
  process.stderr.write(`group member ${config.name}: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
