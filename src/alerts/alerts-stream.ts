import { alertsConfig, type AlertsConfig } from '../config/alerts.config.js';
import {
  RedisStreamsModule,
  type GroupFlowOptions,
  type RateLimit,
  type StreamFeatureOptions,
} from '@redis-streams-alerts/nestjs-redis-streams';
import type { ReceiverSettings } from '../config/receivers-file.js';
import { ALERTS_STREAM } from './alerts.constants.js';
import { receiverGroup } from './receivers/receiver.js';

/**
 * The alerts stream as ALERTS_PARTITIONS and the retention variables ask: trimmed by count and
 * age (when a limit is set), its dead letters never by count, and always watched, so that the
 * storage alarm sees them. Each receiver's group gets the receiver's rate limit, delivery
 * deadline (for `alerts-webhook`: ALERTS_WEBHOOK_RATE_LIMIT and ALERTS_DELIVERY_MAX_AGE_MS).
 */
export function alertsStream(config: AlertsConfig): StreamFeatureOptions {
  const { retention, deadLetters } = config;
  const limited = retention.maxLen > 0 || retention.maxAgeMs > 0;
  return {
    stream: ALERTS_STREAM,
    partitions: config.partitions > 0 ? config.partitions : undefined,
    retention: limited ? retention : undefined,
    deadLetters: { maxAgeMs: deadLetters.maxAgeMs, alarmLength: deadLetters.alarmCount },
    groups: Object.fromEntries(
      config.receivers.map((receiver) => [receiverGroup(receiver.name), receiverFlow(receiver)]),
    ),
  };
}

/**
 * Only what is set: an option left out keeps what the handler itself declares. The receiver's
 * call timeout is its fetch's own (see ReceiverDelivery).
 */
function receiverFlow(receiver: ReceiverSettings): GroupFlowOptions {
  const flow: GroupFlowOptions = {};
  if (receiver.rateLimit !== undefined) flow.rateLimit = perSecond(receiver.rateLimit);
  if (receiver.maxAgeMs > 0) flow.maxAgeMs = receiver.maxAgeMs;
  return flow;
}

/**
 * `rate` calls per second as a token bucket of whole calls: 5 is 5 per 1000 ms, 0.5 is 1 per
 * 2000 ms, 2.5 is 3 per 1200 ms. The bucket's size is also the largest burst.
 */
export function perSecond(rate: number): RateLimit {
  const max = Math.max(1, Math.round(rate));
  return { max, perMs: Math.round((max * 1_000) / rate) };
}

/** What AlertsModule imports to declare its stream. */
export const AlertsStreamModule = RedisStreamsModule.forFeatureAsync({
  inject: [alertsConfig.KEY],
  useFactory: alertsStream,
});
