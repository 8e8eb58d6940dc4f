import { alertsConfig, type AlertsConfig } from '../config/alerts.config.js';
import {
  RedisStreamsModule,
  type GroupFlowOptions,
  type RateLimit,
  type StreamFeatureOptions,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERTS_STREAM, WEBHOOK_GROUP } from './alerts.constants.js';

/**
 * The alerts stream as ALERTS_PARTITIONS and the retention variables ask: trimmed by count and
 * age (when a limit is set), its dead letters never by count, and always watched, so that the
 * storage alarm sees them. The webhook group gets its rate limit and delivery deadline from
 * ALERTS_WEBHOOK_RATE_LIMIT and ALERTS_DELIVERY_MAX_AGE_MS.
 */
export function alertsStream(config: AlertsConfig): StreamFeatureOptions {
  const { retention, deadLetters } = config;
  const limited = retention.maxLen > 0 || retention.maxAgeMs > 0;
  return {
    stream: ALERTS_STREAM,
    partitions: config.partitions > 0 ? config.partitions : undefined,
    retention: limited ? retention : undefined,
    deadLetters: { maxAgeMs: deadLetters.maxAgeMs, alarmLength: deadLetters.alarmCount },
    groups: { [WEBHOOK_GROUP]: webhookFlow(config) },
  };
}

/** Only what is set: an option left out keeps what the handler itself declares. */
function webhookFlow(config: AlertsConfig): GroupFlowOptions {
  const flow: GroupFlowOptions = {};
  if (config.webhookRateLimit !== undefined) flow.rateLimit = perSecond(config.webhookRateLimit);
  if (config.deliveryMaxAgeMs > 0) flow.maxAgeMs = config.deliveryMaxAgeMs;
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
