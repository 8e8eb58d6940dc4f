import type { IncomingMessage } from 'node:http';

/** Where Alertmanager's and Grafana's webhook notifications are posted. */
export const ALERTMANAGER_PATH = '/alerts/alertmanager';

/**
 * Whether a request is a JSON notification for ALERTMANAGER_PATH: the body parser that runs
 * before routing gives those their own size limit.
 */
export function isAlertmanagerNotification(request: IncomingMessage): boolean {
  const path = (request.url ?? '').split('?')[0].replace(/\/+$/, '');
  return (
    request.method === 'POST' &&
    path === ALERTMANAGER_PATH &&
    /^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')
  );
}
