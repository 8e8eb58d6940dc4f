import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { AppConfig } from '../config/app.config.js';
import { apiKeyMatches, ApiKeyGuard, presentedApiKey } from './api-key.guard.js';

const KEY = 'correct-horse-battery-staple';

function contextWith(headers: IncomingHttpHeaders): ExecutionContext {
  return {
    switchToHttp: () => ({ getRequest: () => ({ headers }) }),
  } as unknown as ExecutionContext;
}

function guard(apiKey: string | undefined): ApiKeyGuard {
  return new ApiKeyGuard({ apiKey } as AppConfig);
}

describe('apiKeyMatches', () => {
  it('matches the same key', () => {
    expect(apiKeyMatches(KEY, KEY)).toBe(true);
  });

  it('does not match a key of the same length that differs in one character', () => {
    expect(apiKeyMatches(`${KEY.slice(0, -1)}X`, KEY)).toBe(false);
  });

  it('does not match (and does not throw on) keys of other lengths', () => {
    expect(apiKeyMatches('', KEY)).toBe(false);
    expect(apiKeyMatches(KEY.slice(0, 4), KEY)).toBe(false);
    expect(apiKeyMatches(`${KEY}${KEY}`, KEY)).toBe(false);
  });

  it('compares the whole key, not a prefix', () => {
    expect(apiKeyMatches(`${KEY}x`, KEY)).toBe(false);
  });
});

describe('presentedApiKey', () => {
  it('reads x-api-key', () => {
    expect(presentedApiKey({ 'x-api-key': KEY })).toBe(KEY);
  });

  it('reads a Bearer authorization, whatever the case of the scheme', () => {
    expect(presentedApiKey({ authorization: `Bearer ${KEY}` })).toBe(KEY);
    expect(presentedApiKey({ authorization: `bearer ${KEY}` })).toBe(KEY);
  });

  it('ignores other schemes and missing headers', () => {
    expect(presentedApiKey({ authorization: `Basic ${KEY}` })).toBeUndefined();
    expect(presentedApiKey({})).toBeUndefined();
  });
});

describe('ApiKeyGuard', () => {
  it('lets everything through when no key is configured', () => {
    expect(guard(undefined).canActivate(contextWith({}))).toBe(true);
  });

  it('lets a request with the key through', () => {
    expect(guard(KEY).canActivate(contextWith({ 'x-api-key': KEY }))).toBe(true);
    expect(guard(KEY).canActivate(contextWith({ authorization: `Bearer ${KEY}` }))).toBe(true);
  });

  it('refuses a request without the key or with a wrong one', () => {
    expect(() => guard(KEY).canActivate(contextWith({}))).toThrow(UnauthorizedException);
    expect(() => guard(KEY).canActivate(contextWith({ 'x-api-key': 'wrong' }))).toThrow(
      UnauthorizedException,
    );
    expect(() => guard(KEY).canActivate(contextWith({ authorization: `Bearer ${KEY}x` }))).toThrow(
      UnauthorizedException,
    );
  });
});
