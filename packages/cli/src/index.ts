export { run, type RunDeps, type RunIo } from './run.js';
export { CliError } from './errors.js';
