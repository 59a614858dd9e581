// Kafka's topic name rules, checked at the broker's edge before a request reaches the controller (the
// rules themselves are the controller's: one implementation).
import { topicNameProblem } from '@tributary/controller';
import { ApiError } from './errors.js';

/** Throws INVALID_TOPIC_EXCEPTION naming the rule `name` breaks. */
export function validateTopicName(name: string): void {
  const problem = topicNameProblem(name);
  if (problem !== undefined) throw new ApiError('INVALID_TOPIC_EXCEPTION', problem);
}
