import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';

/** Swagger UI at `/docs`, the OpenAPI document at `/docs-json`. */
export const OPENAPI_PATH = 'docs';

/** The API key's security scheme: controllers that need the key say `@ApiSecurity(API_KEY_SCHEME)`. */
export const API_KEY_SCHEME = 'api-key';

/**
 * Serves the OpenAPI document of every route. It describes the API, not its data, so it needs no
 * key; the routes it lists still do when `API_KEY` is set.
 */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('redis-streams-alerts')
    .setDescription(
      'Alerts in over HTTP, delivered to a webhook through Redis Streams; the admin API shows ' +
        'the streams and repairs their dead letters. When API_KEY is set, the /alerts and /admin ' +
        'routes need it as `x-api-key: <key>` (or `Authorization: Bearer <key>`).',
    )
    .setVersion(packageVersion())
    .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, API_KEY_SCHEME)
    .build();
  SwaggerModule.setup(OPENAPI_PATH, app, () => SwaggerModule.createDocument(app, config), {
    customSiteTitle: 'redis-streams-alerts API',
  });
}

/** From package.json, one folder above both src/ and dist/. */
function packageVersion(): string {
  try {
    const url = new URL('../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
