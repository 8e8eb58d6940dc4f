import { collectDefaultMetrics, Registry } from 'prom-client';
import { PROCESS_METRIC_PREFIX } from './metrics.constants.js';

/**
 * A registry of this application's own, never prom-client's global one: two applications in one
 * process (as in the e2e tests) then never collide on a metric name.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PROCESS_METRIC_PREFIX });
  return registry;
}
