import { streamKeys } from '../stream-keys.js';
import type { CircuitBreakerOptions, RateLimit } from '../interfaces/stream-handler.interface.js';

/** How a consumer's flow is controlled: the group's state in Redis, and the limits it obeys. */
export interface FlowSettings {
  /** The group's flow hash (see scripts/flow.scripts.ts), shared by its partitions and instances. */
  key: string;
  rate?: RateLimit;
  circuit?: Required<CircuitBreakerOptions> & { firstProbeMs: number };
  maxAgeMs?: number;
  timeoutMs?: number;
}

/** What a handler's options and its stream's declaration say about flow, before checking. */
export interface FlowOptions {
  rateLimit?: unknown;
  maxAgeMs?: unknown;
  timeoutMs?: unknown;
  circuitBreaker?: unknown;
}

const CIRCUIT_DEFAULTS = { failures: 5, maxProbeIntervalMs: 30_000, firstProbeMs: 1_000 };

/**
 * The flow settings of `group` on the logical `stream` (partitions share them), or what is wrong
 * with the options.
 */
export function resolveFlow(
  stream: string,
  group: string,
  options: FlowOptions,
): { flow?: FlowSettings; problems: string[] } {
  const problems: string[] = [];
  const flow: FlowSettings = { key: streamKeys.flow(stream, group) };
  const { rateLimit, maxAgeMs, timeoutMs, circuitBreaker } = options;
  if (rateLimit !== undefined) {
    const { max, perMs } = (rateLimit ?? {}) as Partial<RateLimit>;
    if (isPositiveInteger(max) && isPositiveInteger(perMs)) {
      flow.rate = { max, perMs };
    } else {
      problems.push(
        `rateLimit must be { max, perMs } with positive integers, not ${JSON.stringify(rateLimit)}`,
      );
    }
  }
  for (const [name, value] of [
    ['maxAgeMs', maxAgeMs],
    ['timeoutMs', timeoutMs],
  ] as const) {
    if (value === undefined) continue;
    if (isPositiveInteger(value)) flow[name] = value;
    else problems.push(`${name} must be a positive integer, not ${JSON.stringify(value)}`);
  }
  if (circuitBreaker === true || (typeof circuitBreaker === 'object' && circuitBreaker !== null)) {
    const given = circuitBreaker === true ? {} : (circuitBreaker as CircuitBreakerOptions);
    const circuit = { ...CIRCUIT_DEFAULTS, ...given };
    if (isPositiveInteger(circuit.failures) && isPositiveInteger(circuit.maxProbeIntervalMs)) {
      circuit.firstProbeMs = Math.min(circuit.firstProbeMs, circuit.maxProbeIntervalMs);
      flow.circuit = circuit;
    } else {
      problems.push(
        `circuitBreaker must be true, false or { failures, maxProbeIntervalMs } with positive integers, not ${JSON.stringify(circuitBreaker)}`,
      );
    }
  } else if (circuitBreaker !== undefined && circuitBreaker !== false) {
    problems.push(
      `circuitBreaker must be true, false or an object, not ${JSON.stringify(circuitBreaker)}`,
    );
  }
  return problems.length > 0 ? { problems } : { flow, problems };
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}
