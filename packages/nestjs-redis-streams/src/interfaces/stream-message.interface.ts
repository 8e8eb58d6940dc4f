/** What a handler receives beside the payload. */
export interface StreamMessage {
  /** The stream entry id, e.g. `1718000000000-0`. */
  id: string;
  stream: string;
  group: string;
  consumer: string;
  /** The event's id: from the `eventId` field, or the entry id for producers that wrote none. */
  eventId: string;
  /** 1 on first delivery; grows with each retry and with each recovery from a consumer that stopped. */
  attempt: number;
  /** The entry's fields as written, decoded as UTF-8. */
  fields: Record<string, string>;
  /**
   * Aborts when the handler should stop: at its `timeoutMs`, and when a shutdown's drain time is
   * up (calls that finish within it are not cut short); with `ordered`, also when the lease is lost.
   * Hand it to what the handler waits for (fetch, a client call) so that the call ends with it.
   */
  signal: AbortSignal;
  /** On a partitioned stream with `ordered: true`: the partition being processed. */
  partition?: number;
  /**
   * With `ordered: true`: the fencing token of this instance's lease on the partition. It grows
   * with every change of owner; a downstream system that remembers the highest token it has seen
   * per partition can refuse writes from an owner that lost its lease without knowing it.
   */
  fencingToken?: number;
}
