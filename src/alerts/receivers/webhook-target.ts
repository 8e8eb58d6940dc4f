/** Where the webhook handler sends requests, and the credentials it sends along. */
export interface WebhookTarget {
  /** The URL without user name and password. */
  url: string;
  /** `Basic ...` when the configured URL carried credentials. */
  authorization?: string;
}

/**
 * fetch refuses URLs with credentials (`https://user:secret@host/hook`), so they move into a
 * Basic `Authorization` header, as curl does.
 */
export function webhookTarget(configuredUrl: string): WebhookTarget {
  const url = new URL(configuredUrl);
  if (!url.username && !url.password) return { url: url.toString() };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return {
    url: url.toString(),
    authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`,
  };
}
