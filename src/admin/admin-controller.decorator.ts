import { applyDecorators, Controller, UseGuards, UseInterceptors } from '@nestjs/common';
import {
  ApiParam,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
// NOTE: shared with the alerts API on purpose: one key, one comparison, one place to change it.
import { ApiKeyGuard } from '../alerts/api-key.guard.js';
import { API_KEY_SCHEME } from '../openapi.js';
import { ADMIN_ROUTE } from './admin.constants.js';
import { InspectorErrorsInterceptor } from './inspector-errors.interceptor.js';

/**
 * A controller under `/admin/<path>`: it needs the API key when one is configured, its calls to
 * Redis are bounded and their errors mapped to 404/400/503, and the OpenAPI document says so.
 */
export function AdminController(path: string, tag: string): ClassDecorator {
  return applyDecorators(
    Controller(path ? `${ADMIN_ROUTE}/${path}` : ADMIN_ROUTE),
    UseGuards(ApiKeyGuard),
    UseInterceptors(InspectorErrorsInterceptor),
    ApiTags(tag),
    ApiSecurity(API_KEY_SCHEME),
    ApiUnauthorizedResponse({ description: 'API_KEY is set and the request did not send it' }),
    ApiServiceUnavailableResponse({
      description: 'Redis is down, or did not answer within 5 s',
    }),
  );
}

/** The `:stream` of an admin route, as the OpenAPI document shows it. */
export function ApiStreamParam(): MethodDecorator & ClassDecorator {
  return ApiParam({
    name: 'stream',
    example: 'alerts',
    description: 'A stream this service handles',
  });
}
