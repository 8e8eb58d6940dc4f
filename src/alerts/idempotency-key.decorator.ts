import { BadRequestException, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { EVENT_ID_PATTERN, HEADER } from './alerts.constants.js';

/**
 * The optional `Idempotency-Key` header, checked: 1 to 200 printable ASCII characters without
 * spaces (it becomes the alert's eventId). A request without it gets undefined.
 */
export function parseIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !EVENT_ID_PATTERN.test(value)) {
    throw new BadRequestException(
      'Idempotency-Key must be 1 to 200 printable ASCII characters without spaces',
    );
  }
  return value;
}

/** Parameter decorator: the request's validated `Idempotency-Key`, or undefined. */
export const IdempotencyKey = createParamDecorator((_: unknown, context: ExecutionContext) =>
  parseIdempotencyKey(
    context.switchToHttp().getRequest<IncomingMessage>().headers[HEADER.idempotencyKey],
  ),
);
