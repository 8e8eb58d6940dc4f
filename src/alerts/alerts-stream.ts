import { alertsConfig, type AlertsConfig } from '../config/alerts.config.js';
import { RedisStreamsModule, type StreamFeatureOptions } from '../redis-streams/index.js';
import { ALERTS_STREAM } from './alerts.constants.js';

/**
 * The alerts stream as ALERTS_PARTITIONS and the retention variables ask: trimmed by count and
 * age (when a limit is set), its dead letters never by count, and always watched, so that the
 * storage alarm sees them.
 */
export function alertsStream(config: AlertsConfig): StreamFeatureOptions {
  const { retention, deadLetters } = config;
  const limited = retention.maxLen > 0 || retention.maxAgeMs > 0;
  return {
    stream: ALERTS_STREAM,
    partitions: config.partitions > 0 ? config.partitions : undefined,
    retention: limited ? retention : undefined,
    deadLetters: { maxAgeMs: deadLetters.maxAgeMs, alarmLength: deadLetters.alarmCount },
  };
}

/** What AlertsModule imports to declare its stream. */
export const AlertsStreamModule = RedisStreamsModule.forFeatureAsync({
  inject: [alertsConfig.KEY],
  useFactory: alertsStream,
});
