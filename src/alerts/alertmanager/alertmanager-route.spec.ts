import type { IncomingMessage } from 'node:http';
import { isAlertmanagerNotification } from './alertmanager-route.js';

const request = (method: string, url: string, contentType?: string) =>
  ({ method, url, headers: { 'content-type': contentType } }) as unknown as IncomingMessage;

describe('isAlertmanagerNotification', () => {
  it('spots a JSON POST to /alerts/alertmanager, with a query or a trailing slash', () => {
    expect(
      isAlertmanagerNotification(request('POST', '/alerts/alertmanager', 'application/json')),
    ).toBe(true);
    expect(
      isAlertmanagerNotification(
        request('POST', '/alerts/alertmanager/?x=1', 'application/json; charset=utf-8'),
      ),
    ).toBe(true);
  });

  it('leaves every other request to the general body limit', () => {
    expect(isAlertmanagerNotification(request('POST', '/alerts', 'application/json'))).toBe(false);
    expect(
      isAlertmanagerNotification(request('POST', '/alerts/alertmanager-x', 'application/json')),
    ).toBe(false);
    expect(
      isAlertmanagerNotification(request('GET', '/alerts/alertmanager', 'application/json')),
    ).toBe(false);
    expect(isAlertmanagerNotification(request('POST', '/alerts/alertmanager', 'text/plain'))).toBe(
      false,
    );
    expect(isAlertmanagerNotification(request('POST', '/alerts/alertmanager'))).toBe(false);
  });
});
