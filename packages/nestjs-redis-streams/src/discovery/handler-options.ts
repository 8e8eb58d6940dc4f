import { DEAD_LETTER_SUFFIX, DEFAULTS } from '../redis-streams.constants.js';
import type {
  GroupFlowOptions,
  HandlerRuntimeDefaults,
} from '../interfaces/redis-streams.options.js';
import { resolveFlow } from '../consumer/flow-settings.js';
import { resolveBatch } from '../consumer/batch-settings.js';
import { RetryPolicy } from '../consumer/retry-policy.js';
import { partitionStreams } from '../partitions.js';
import type { ConsumerDefinition } from '../consumer/consumer-definition.js';
import type {
  ConcurrentDeliveryOptions,
  DecodedPayloadOptions,
  OrderedDeliveryOptions,
  RawFieldsOptions,
  StreamHandlerBaseOptions,
  StreamHandlerFn,
  StreamHandlerOptions,
} from '../interfaces/stream-handler.interface.js';
import { assertValidName, streamKeys } from '../stream-keys.js';

/** A `@StreamHandler` method as discovery found it. */
export interface DiscoveredHandler {
  /** `Class.method`: names the handler in messages, and is its group unless it names one. */
  name: string;
  stream: string;
  options: StreamHandlerOptions;
  /** The method, bound to its provider. */
  handle: StreamHandlerFn;
}

/** What the module decides for every handler. */
export interface HandlerSettings {
  defaults?: Partial<HandlerRuntimeDefaults>;
  /** The module's `dedupWindowMs`: the window of `idempotent: true`. */
  dedupWindowMs?: number;
  /** The partitioned streams, as declared. */
  partitions: Readonly<Record<string, number>>;
  /** Per stream and group, the flow options its declaration sets; they win over the handler's. */
  groups?: Readonly<Record<string, Readonly<Record<string, GroupFlowOptions>>>>;
}

type OptionName =
  | keyof StreamHandlerBaseOptions
  | keyof ConcurrentDeliveryOptions
  | keyof OrderedDeliveryOptions
  | keyof DecodedPayloadOptions
  | keyof RawFieldsOptions;

/**
 * Every option a handler may take (the type makes this list follow the interfaces); anything else
 * is a typo that the types did not catch.
 */
const KNOWN_OPTIONS: Record<OptionName, true> = {
  group: true,
  batchSize: true,
  maxAttempts: true,
  backoff: true,
  idempotent: true,
  startFrom: true,
  ordered: true,
  concurrency: true,
  prefetch: true,
  rawFields: true,
  dto: true,
  rateLimit: true,
  maxAgeMs: true,
  timeoutMs: true,
  circuitBreaker: true,
  batch: true,
};

/**
 * Turns the handlers that discovery found into consumer definitions: each handler's options over
 * the module's defaults over the library's. Options the types forbid can still arrive (plain
 * JavaScript, casts), so everything is checked here, and every problem of every handler is
 * reported in one error: a service that refuses to start says all that it needs fixed at once.
 */
export function resolveHandlers(
  handlers: readonly DiscoveredHandler[],
  settings: HandlerSettings,
): ConsumerDefinition[] {
  const problems: string[] = [];
  const definitions: ConsumerDefinition[] = [];
  const owners = new Map<string, string>();
  for (const handler of handlers) {
    const { definition, group, problems: own } = resolveHandler(handler, settings);
    const where = `${handler.name} on ${handler.stream}/${group}`;
    problems.push(...own.map((problem) => `${where}: ${problem}`));
    const key = `${handler.stream}\u0000${group}`;
    const owner = owners.get(key);
    if (owner !== undefined) {
      problems.push(
        `${where}: shares stream "${handler.stream}" and group "${group}" with ${owner}; give each its own group`,
      );
    }
    owners.set(key, handler.name);
    if (definition) definitions.push(definition);
  }
  if (problems.length > 0) {
    throw new Error(
      `@StreamHandler options refused (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
  }
  return definitions;
}

/**
 * What is read for each definition: a partitioned stream as its partition streams, and a handler
 * of a partitioned stream's dead letters (`alerts:dlq`) as those of every partition
 * (`alerts:{0}:dlq`, ...), since each partition keeps its own, in its own slot.
 */
export function definitionsPerStream(
  definitions: readonly ConsumerDefinition[],
  partitions: Readonly<Record<string, number>>,
): ConsumerDefinition[] {
  return definitions.flatMap((definition) => {
    const count = partitionCount(partitions, definition.stream);
    if (count !== undefined) {
      return partitionStreams(definition.stream, count).map((stream) => ({
        ...definition,
        stream,
      }));
    }
    const base = definition.stream.endsWith(DEAD_LETTER_SUFFIX)
      ? definition.stream.slice(0, -DEAD_LETTER_SUFFIX.length)
      : undefined;
    const baseCount = base === undefined ? undefined : partitionCount(partitions, base);
    if (base === undefined || baseCount === undefined) return [definition];
    return partitionStreams(base, baseCount).map((stream) => ({
      ...definition,
      stream: streamKeys.deadLetter(stream),
    }));
  });
}

/** The partitions of `stream`, or undefined when it is one stream. */
export function partitionCount(
  partitions: Readonly<Record<string, number>>,
  stream: string,
): number | undefined {
  return Object.hasOwn(partitions, stream) ? partitions[stream] : undefined;
}

function resolveHandler(
  handler: DiscoveredHandler,
  settings: HandlerSettings,
): { definition?: ConsumerDefinition; group: string; problems: string[] } {
  const { stream } = handler;
  if (typeof handler.options !== 'object' || handler.options === null) {
    const problem = `options must be an object, not ${shown(handler.options)}`;
    return { group: handler.name, problems: [problem] };
  }
  // Read as the plain object it may be: its values are checked, not trusted.
  const options = handler.options as Record<string, unknown>;
  const group = typeof options.group === 'string' ? options.group : handler.name;
  const declared = settings.groups?.[stream]?.[group] ?? {};
  const { values, problems: valueProblems } = mergedValues(
    { ...options, ...declared },
    settings.defaults ?? {},
  );
  const flow = resolveFlow(stream, group, { ...options, ...declared });
  const idempotency = idempotencyWindow(options.idempotent, settings.dedupWindowMs);
  const batch = resolveBatch(options.batch);
  const problems = [
    ...shapeProblems(options, stream, group),
    ...combinationProblems(options, stream, settings.partitions),
    ...valueProblems,
    ...(idempotency.problem === undefined ? [] : [idempotency.problem]),
    ...flow.problems,
    ...batch.problems,
  ];
  if (problems.length > 0 || values === undefined || !flow.flow) return { group, problems };
  const { maxAttempts, baseMs, maxMs, ...reading } = values;
  return {
    group,
    problems,
    definition: {
      stream,
      group,
      startFrom: options.startFrom === 'new' ? 'new' : 'beginning',
      ...reading,
      policy: new RetryPolicy(maxAttempts, { baseMs, maxMs }),
      dto: options.dto as ConsumerDefinition['dto'],
      rawFields: options.rawFields as boolean | undefined,
      ordered: options.ordered as boolean | undefined,
      idempotencyWindowMs: idempotency.windowMs,
      handle: handler.handle,
      flow: flow.flow,
      ...(batch.batch && {
        batch: batch.batch,
        // A read brings a whole batch, unless the handler says otherwise.
        batchSize: options.batchSize === undefined ? batch.batch.maxSize : reading.batchSize,
      }),
    },
  };
}

/** Options that are not what their name says: unknown, of the wrong type, or badly named. */
function shapeProblems(options: Record<string, unknown>, stream: string, group: string): string[] {
  const problems = Object.keys(options)
    .filter((key) => !Object.hasOwn(KNOWN_OPTIONS, key))
    .map((key) => `unknown option ${shown(key)}`);
  if (options.group !== undefined && typeof options.group !== 'string') {
    problems.push(`group must be a string, not ${shown(options.group)}`);
  }
  problems.push(...nameProblems('stream', stream), ...nameProblems('group', group));
  for (const flag of ['ordered', 'rawFields'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
      problems.push(`${flag} must be true or false, not ${shown(options[flag])}`);
    }
  }
  if (options.dto !== undefined && typeof options.dto !== 'function') {
    problems.push(`dto must be a class, not ${shown(options.dto)}`);
  }
  if (options.backoff !== undefined && (typeof options.backoff !== 'object' || !options.backoff)) {
    problems.push(`backoff must be an object, not ${shown(options.backoff)}`);
  }
  if (![undefined, 'beginning', 'new'].includes(options.startFrom as string | undefined)) {
    problems.push(`startFrom must be "beginning" or "new", not ${shown(options.startFrom)}`);
  }
  return problems;
}

/** Options that each make sense but not together, as the union type says. */
function combinationProblems(
  options: Record<string, unknown>,
  stream: string,
  partitions: Readonly<Record<string, number>>,
): string[] {
  const problems: string[] = [];
  if (options.ordered === true) {
    if (options.concurrency !== undefined) {
      problems.push('ordered takes no concurrency: each partition runs one handler call at a time');
    }
    if (options.prefetch !== undefined) {
      problems.push(
        'ordered takes no prefetch: a partition is read again only once its entries are settled',
      );
    }
    if (options.batch !== undefined) {
      problems.push('ordered takes no batch: a partition runs its entries one at a time, in order');
    }
    if (partitionCount(partitions, stream) === undefined) {
      problems.push(
        `ordered needs a partitioned stream; declare "${stream}" with partitions ` +
          `(the module's partitions option, or forFeature)`,
      );
    }
  }
  if (options.rawFields === true && options.dto !== undefined) {
    problems.push(
      'rawFields takes no dto: raw fields are not decoded, so there is no payload to validate',
    );
  }
  return problems;
}

/** The numbers a handler runs with. */
type HandlerNumbers = Pick<
  ConsumerDefinition,
  'batchSize' | 'concurrency' | 'prefetch' | 'blockMs'
> & {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
};

/** The numbers a handler runs with: its own options, else the module's defaults, else the library's. */
function mergedValues(
  options: Record<string, unknown>,
  defaults: Partial<HandlerRuntimeDefaults>,
): {
  values?: HandlerNumbers;
  problems: string[];
} {
  const backoff = (options.backoff ?? {}) as Record<string, unknown>;
  const merged = {
    batchSize: options.batchSize ?? defaults.batchSize ?? DEFAULTS.batchSize,
    concurrency: options.concurrency ?? defaults.concurrency ?? DEFAULTS.concurrency,
    prefetch: options.prefetch ?? defaults.prefetch ?? DEFAULTS.prefetch,
    blockMs: defaults.blockMs ?? DEFAULTS.blockMs,
    maxAttempts: options.maxAttempts ?? defaults.maxAttempts ?? DEFAULTS.maxAttempts,
    baseMs: backoff.baseMs ?? defaults.backoff?.baseMs ?? DEFAULTS.backoffBaseMs,
    maxMs: backoff.maxMs ?? defaults.backoff?.maxMs ?? DEFAULTS.backoffMaxMs,
  };
  const problems: string[] = [];
  for (const [name, least] of [
    ['batchSize', 1],
    ['concurrency', 1],
    ['prefetch', 0],
    ['blockMs', 1],
    ['maxAttempts', 1],
  ] as const) {
    if (!isIntegerOfAtLeast(merged[name], least)) {
      problems.push(`${name} must be an integer of at least ${least}, not ${shown(merged[name])}`);
    }
  }
  const { baseMs, maxMs } = merged;
  if (
    typeof baseMs !== 'number' ||
    typeof maxMs !== 'number' ||
    !(baseMs >= 0 && baseMs <= maxMs)
  ) {
    problems.push(
      `backoff needs 0 <= baseMs <= maxMs, not baseMs ${shown(baseMs)} and maxMs ${shown(maxMs)}`,
    );
  }
  // Every value was checked above: a number where a number belongs.
  return problems.length > 0 ? { problems } : { values: merged as HandlerNumbers, problems };
}

/** The window of an idempotent handler in ms (none when it is not one), or what is wrong. */
function idempotencyWindow(
  setting: unknown,
  moduleWindowMs: number | undefined,
): { windowMs?: number; problem?: string } {
  if (setting === undefined || setting === false) return {};
  if (setting === true) {
    const windowMs = moduleWindowMs ?? DEFAULTS.dedupWindowMs;
    if (isIntegerOfAtLeast(windowMs, 1)) return { windowMs };
    return {
      problem: `idempotent: the module's dedupWindowMs must be a positive integer, not ${shown(windowMs)}`,
    };
  }
  const windowMs =
    typeof setting === 'object' ? (setting as { windowMs?: unknown } | null)?.windowMs : undefined;
  if (isIntegerOfAtLeast(windowMs, 1)) return { windowMs };
  return {
    problem: `idempotent must be true, false or { windowMs } with a positive integer, not ${shown(setting)}`,
  };
}

function nameProblems(kind: 'stream' | 'group', name: string): string[] {
  try {
    assertValidName(kind, name);
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

function isIntegerOfAtLeast(value: unknown, least: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= least;
}

/** A value as a message shows it: strings quoted, objects as JSON, classes by name. */
function shown(value: unknown): string {
  if (typeof value === 'function') return value.name ? `function ${value.name}` : 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}
