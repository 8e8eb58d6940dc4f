import { classifyWebhookStatus } from './webhook-response.js';

describe('classifyWebhookStatus', () => {
  it.each([200, 201, 202, 204, 299])('%i is delivered', (status) => {
    expect(classifyWebhookStatus(status)).toBe('delivered');
  });

  it.each([429, 503])('%i is busy', (status) => {
    expect(classifyWebhookStatus(status)).toBe('busy');
  });

  it.each([408, 500, 502, 504, 599])('%i is retried', (status) => {
    expect(classifyWebhookStatus(status)).toBe('retry');
  });

  it.each([300, 301, 302, 307, 400, 401, 403, 404, 405, 409, 410, 413, 422])(
    '%i is rejected without retry',
    (status) => {
      expect(classifyWebhookStatus(status)).toBe('reject');
    },
  );
});
