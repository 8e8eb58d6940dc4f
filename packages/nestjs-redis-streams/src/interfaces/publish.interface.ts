/** Options of `StreamPublisher.publish`. */
export interface PublishOptions {
  /** The event's id; generated (UUIDv7: unique and time-ordered) when absent. */
  eventId?: string;
  /** Trim the stream to about this many entries (XADD MAXLEN ~). */
  maxLen?: number;
  /**
   * How long a chosen eventId is remembered, so that publishing it again appends nothing (default:
   * the module's `dedupWindowMs`, 24 h). A caller that keeps its own longer record of eventIds may
   * ask for less: it only has to cover the time until that record exists.
   */
  dedupWindowMs?: number;
  /**
   * On a partitioned stream: events with the same key go to the same partition, and so are
   * handled in order by `ordered` handlers. Without it, the eventId is the key.
   */
  partitionKey?: string;
}

/** Where a published event went: what `publish` resolves, and `publishMany` for each item. */
export interface PublishResult {
  /** The stream entry id. */
  id: string;
  eventId: string;
  /** True when this eventId was already published within the de-duplication window: nothing new was appended. */
  duplicate: boolean;
  /** The Redis stream the entry is in: the stream itself, or a partition of it (`alerts:{3}`). */
  stream: string;
}

/** One event of `StreamPublisher.publishMany`. */
export interface PublishItem {
  payload: unknown;
  eventId?: string;
  /** See PublishOptions.partitionKey. */
  partitionKey?: string;
}
