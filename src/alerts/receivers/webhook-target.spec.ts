import { webhookTarget } from './webhook-target.js';

describe('webhookTarget', () => {
  it('keeps a URL without credentials as it is', () => {
    expect(webhookTarget('https://hooks.example.com/alerts?team=ops')).toEqual({
      url: 'https://hooks.example.com/alerts?team=ops',
    });
  });

  it('moves credentials into a Basic Authorization header', () => {
    const target = webhookTarget('https://bot:s%40cret@hooks.example.com/alerts');
    expect(target.url).toBe('https://hooks.example.com/alerts');
    expect(target.authorization).toBe(`Basic ${Buffer.from('bot:s@cret').toString('base64')}`);
  });
});
