// Topic naming rules, exactly Kafka's (org.apache.kafka.common.internals.Topic).
import { ApiError } from './errors.js';

export const TOPIC_NAME_MAX_CHARS = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Topics the broker itself owns; listed only with include_internal. */
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state']);

/** Throws INVALID_TOPIC_EXCEPTION naming the rule the name breaks. */
export function validateTopicName(name: string): void {
  if (name.length === 0) throw new ApiError('INVALID_TOPIC_EXCEPTION', 'topic name is empty');
  if (name === '.' || name === '..') throw new ApiError('INVALID_TOPIC_EXCEPTION', `topic name cannot be "${name}"`);
  if (name.length > TOPIC_NAME_MAX_CHARS) {
    throw new ApiError('INVALID_TOPIC_EXCEPTION', `topic name is ${name.length} characters, longer than the maximum ${TOPIC_NAME_MAX_CHARS}`);
  }
  if (!LEGAL_TOPIC_NAME.test(name)) {
    throw new ApiError('INVALID_TOPIC_EXCEPTION', `topic name ${JSON.stringify(name)} contains characters other than ASCII alphanumerics, '.', '_' and '-'`);
  }
}

/**
 * '.' and '_' collide in metric names, so Kafka refuses `a.b` when `a_b` exists (and vice versa).
 * Returns the key under which two colliding names are equal.
 */
export function topicCollisionKey(name: string): string {
  return name.replaceAll('.', '_');
}
