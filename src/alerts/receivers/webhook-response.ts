/** What to do after the webhook answered. */
export type WebhookOutcome = 'delivered' | 'busy' | 'retry' | 'reject';

/**
 * Classifies a webhook's HTTP status. 2xx: delivered. 429 and 503: the receiver is busy (rate
 * limited, overloaded), not the alert bad: the whole group waits as `Retry-After` asks, and no
 * attempt is spent. 408 and other 5xx: the receiver is broken for now, so try again later.
 * Anything else (other 4xx, and 3xx since redirects are not followed): the request itself is
 * wrong and sending it again cannot help. A request that got no answer at all (network error,
 * timeout) is always retried.
 */
export function classifyWebhookStatus(status: number): WebhookOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429 || status === 503) return 'busy';
  if (status === 408 || (status >= 500 && status < 600)) return 'retry';
  return 'reject';
}
