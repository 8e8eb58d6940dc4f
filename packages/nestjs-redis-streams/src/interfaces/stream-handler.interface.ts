import type { StreamMessage } from './stream-message.interface.js';

/** Exponential backoff with jitter: the n-th retry waits between base·2^(n-1)/2 and base·2^(n-1), at most `maxMs`. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/** Where a consumer group starts when it is created: the beginning of what the stream retains, or only new entries. */
export type GroupStart = 'beginning' | 'new';

/** A class whose instances class-validator can check. */
export type DtoClass<T = object> = new (...args: never[]) => T;

/** Options every `@StreamHandler` takes, whatever its delivery and payload. */
export interface StreamHandlerBaseOptions {
  /** Consumer group; defaults to `<ProviderClass>.<method>`. Each handler needs its own. */
  group?: string;
  /** Most entries read in one XREADGROUP. */
  batchSize?: number;
  /** Attempts before the entry goes to the dead-letter stream. */
  maxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  /**
   * Run the handler at most once per eventId (within the window, default 24 h) even when the event
   * is delivered twice (published twice, or redelivered after a crash): the fact that it was
   * handled is recorded atomically with the acknowledgement and checked before each call.
   * With `ordered`, an entry whose event is still running elsewhere (a former owner's delivery)
   * waits in place, holding back the entries after it, and no attempt is spent meanwhile.
   */
  idempotent?: boolean | { windowMs: number };
  /** Where a newly created group starts (default `beginning`). */
  startFrom?: GroupStart;
  /**
   * Most handler calls started per `perMs`, across every instance of the group (a token bucket
   * in Redis, taken once per batch). Not set: no limit, and no cost.
   */
  rateLimit?: RateLimit;
  /**
   * A delivery deadline beside `maxAttempts`: an entry older than this (from the time in its id)
   * is dead-lettered instead of tried again, whatever attempts it has left; busy signals spend no
   * attempts, but time still runs out. The dead letter's reason says which limit was hit.
   */
  maxAgeMs?: number;
  /**
   * A handler call that runs longer is given up as a failed attempt: its message's `signal`
   * aborts, its slot is freed, and its lease is no longer extended.
   */
  timeoutMs?: number;
  /**
   * Circuit breaking: when calls fail for `failures` different entries in a row (default 5), the
   * destination is taken to be down, not the entries bad. The group stops starting calls on every
   * instance and spends no attempts; one probe call goes out at growing intervals (up to
   * `maxProbeIntervalMs`, default 30 s), and the first that succeeds closes the circuit. An entry
   * that fails while others succeed is a poison message: retried and dead-lettered as usual.
   */
  circuitBreaker?: boolean | CircuitBreakerOptions;
}

/** `rateLimit`: at most `max` calls started per `perMs`. */
export interface RateLimit {
  max: number;
  perMs: number;
}

export interface CircuitBreakerOptions {
  failures?: number;
  maxProbeIntervalMs?: number;
}

/** Delivery as for any stream (the default): every instance reads every partition, many calls at once. */
export interface ConcurrentDeliveryOptions {
  ordered?: false;
  /** Most handler calls running at once in this instance. */
  concurrency?: number;
  /**
   * Entries read ahead while every slot is busy (default 0): the next batch is already in memory
   * when handlers finish, instead of one round trip later. Worth it for many short handlers; for
   * slow ones it only holds entries back from other instances. Read-ahead entries are pending
   * under this consumer (their lease is kept alive); on shutdown, those not started are handed
   * back to the group as retries due now, with no attempt spent.
   */
  prefetch?: number;
  /**
   * Hand the handler entries in batches: it takes `(payloads, messages)`, two arrays in the same
   * order (see `StreamBatchHandlerFn`), and reports which items failed (`BatchResult`, or throwing
   * a `BatchError`); every other item is acknowledged. Each item is then retried, dead-lettered,
   * de-duplicated (`idempotent`) and validated (`dto`) on its own, as with one entry per call.
   * With `batch`, `concurrency` counts batch calls running at once, so up to
   * `concurrency × maxSize` entries are in flight; `batchSize` (entries per read) defaults to
   * `maxSize`; `prefetch`, `rateLimit` and `circuitBreaker` count entries.
   */
  batch?: BatchOptions;
}

/** `batch`: when a batch is handed to the handler. */
export interface BatchOptions {
  /** A batch is handed over as soon as it has this many items (at least 1). */
  maxSize: number;
  /**
   * ... or this many ms after its first item arrived, with what it has then (0: with what arrived
   * in the same turn, such as one read's entries). While `concurrency` batch calls are running, a
   * batch that is due waits for one of them to end, taking more items up to `maxSize` meanwhile.
   */
  maxWaitMs: number;
}

/** Delivery in order, one partition at a time: see `ordered`. */
export interface OrderedDeliveryOptions {
  /**
   * On a partitioned stream: handle the events of each partition one at a time, in the order they
   * were published, on one instance at a time (a lease with a fencing token), so events with the
   * same partition key are never handled out of order. A failing entry is retried in place and
   * holds up its partition until it succeeds or is dead-lettered; while Redis is unavailable (full,
   * unreachable) it waits in place without spending attempts. Without it, every instance reads
   * every partition, with `concurrency`, as for any stream.
   */
  ordered?: true;
  /** Not taken: a partition runs one handler call at a time. */
  concurrency?: never;
  /** Not taken: a partition's next entry is read once the one before it is settled. */
  prefetch?: never;
  /** Not taken: a partition runs its entries one at a time, in order. */
  batch?: never;
}

/** The payload decoded from JSON and size-checked, optionally validated against a class. */
export interface DecodedPayloadOptions {
  rawFields?: false;
  /** A class-validator class the payload must satisfy; a failure dead-letters the entry at once. */
  dto?: DtoClass;
}

/** The entry's fields as they are: see `rawFields`. */
export interface RawFieldsOptions {
  /**
   * Hand the entry's fields to the handler as they are (as strings, invalid UTF-8 replaced),
   * without JSON decoding or size checks; for readers of dead-letter streams, whose entries must
   * be readable whatever made them fail.
   */
  rawFields?: true;
  /** Not taken: raw fields are not decoded, so there is no payload to validate. */
  dto?: never;
}

/**
 * Options of `@StreamHandler(stream, options)`. Combinations that cannot work do not type-check:
 * `ordered` with `concurrency`, `prefetch` or `batch`, `rawFields` with `dto`. Those that get past the
 * types (plain JavaScript, casts) stop the application at startup, with every problem listed.
 */
export type StreamHandlerOptions = StreamHandlerBaseOptions &
  (ConcurrentDeliveryOptions | OrderedDeliveryOptions) &
  (DecodedPayloadOptions | RawFieldsOptions);

/** The shape of a handler method. */
export type StreamHandlerFn<T = unknown> = (payload: T, message: StreamMessage) => unknown;

/**
 * The shape of a batch handler's method (`batch` option): `payloads[i]` is the payload of the
 * entry `messages[i]` describes. Entries that are not handed over are not in the arrays: invalid
 * payloads (`dto`, dead-lettered at once) and events handled before (`idempotent`). Resolving with
 * nothing acknowledges every item; a `BatchResult` or a thrown `BatchError` names those that failed;
 * any other error fails every item.
 */
export type StreamBatchHandlerFn<T = unknown> = (
  payloads: T[],
  messages: StreamMessage[],
) => BatchResult | void | Promise<BatchResult | void>;

/**
 * What a batch handler may return: the items that failed, each with its error, which decides
 * what becomes of that item as a thrown error would for one entry (`NonRetryableError`: dead
 * letter at once; `RetryLaterError`: no attempt spent; anything else: retried). Items not named
 * succeeded and are acknowledged.
 */
export interface BatchResult {
  failed: BatchItemFailure[];
}

/**
 * One failed item of a batch, named by its place in the arrays the handler got (`index`) or by
 * its entry id (`id`, the `message.id`).
 */
export type BatchItemFailure = { index: number; error: unknown } | { id: string; error: unknown };
