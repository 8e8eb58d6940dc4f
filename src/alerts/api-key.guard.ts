import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { appConfig } from '../config/app.config.js';
import { HEADER } from './alerts.constants.js';

/**
 * Lets a request through only with the configured API key (`API_KEY`), sent as `x-api-key: <key>`
 * or `Authorization: Bearer <key>`. Without a configured key, every request passes.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(appConfig.KEY) private readonly config: ConfigType<typeof appConfig>) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.config.apiKey;
    if (!expected) return true;
    const given = presentedApiKey(context.switchToHttp().getRequest<IncomingMessage>().headers);
    if (given !== undefined && apiKeyMatches(given, expected)) return true;
    throw new UnauthorizedException(
      'A valid API key is required: send it as "x-api-key: <key>" or "Authorization: Bearer <key>"',
    );
  }
}

/** The key a request presents, from `x-api-key` or else a Bearer `Authorization` header. */
export function presentedApiKey(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers[HEADER.apiKey];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers[HEADER.authorization] ?? '');
  return match?.[1];
}

/**
 * Compares in constant time. Both sides are hashed first: `timingSafeEqual` needs equal lengths,
 * and comparing digests keeps the key's length from showing in the timing too.
 */
export function apiKeyMatches(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
