// Placeholder until @tributary/client exports Producer/Consumer/Admin (replaced by the real adapter).
import { CliError } from '../errors.js';
import type { Connect } from '../ports.js';

export const connectTributary: Connect = () => {
  throw new CliError('the client library is not built yet', { code: 'BROKER_NOT_AVAILABLE' });
};
