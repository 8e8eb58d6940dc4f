import { applyDecorators, Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { DASHBOARD_ROUTE } from './admin.constants.js';

/** The files of the page, next to this module in src/ and dist/ alike (`npm run build` copies them). */
const ASSETS_DIR = new URL('./dashboard/', import.meta.url);

/**
 * The page only loads its own script and stylesheet and only talks to this service; whatever a
 * dead letter contains is written as text, and this policy would stop a script that slipped in.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function Asset(path: string, contentType: string): MethodDecorator {
  return applyDecorators(
    Get(path),
    Header('Content-Type', `${contentType}; charset=utf-8`),
    Header('Cache-Control', 'no-cache'),
    Header('Content-Security-Policy', CONTENT_SECURITY_POLICY),
    Header('X-Content-Type-Options', 'nosniff'),
    Header('Referrer-Policy', 'no-referrer'),
  );
}

/**
 * Serves the dashboard: a static page whose script polls the admin API with the API key the user
 * types in (kept in sessionStorage). The files themselves hold nothing secret, so they need no key.
 */
@ApiExcludeController()
@Controller(DASHBOARD_ROUTE)
export class DashboardController {
  private readonly html = readAsset('index.html');
  private readonly script = readAsset('dashboard.js');
  private readonly chartsModule = readAsset('charts.js');
  private readonly domModule = readAsset('dom.js');
  private readonly style = readAsset('dashboard.css');

  @Asset('', 'text/html')
  page(): string {
    return this.html;
  }

  @Asset('dashboard.js', 'text/javascript')
  dashboardScript(): string {
    return this.script;
  }

  /** Modules that dashboard.js imports. */
  @Asset('charts.js', 'text/javascript')
  chartsScript(): string {
    return this.chartsModule;
  }

  @Asset('dom.js', 'text/javascript')
  domScript(): string {
    return this.domModule;
  }

  @Asset('dashboard.css', 'text/css')
  dashboardStyle(): string {
    return this.style;
  }
}

/** Read once at startup: a build that forgot the files fails at once, not on the first visit. */
function readAsset(name: string): string {
  try {
    return readFileSync(new URL(name, ASSETS_DIR), 'utf8');
  } catch (error) {
    throw new Error(
      `Dashboard file ${name} is missing next to the compiled code (npm run build copies ` +
        `src/admin/dashboard/ to dist/admin/dashboard/): ${(error as Error).message}`,
      { cause: error },
    );
  }
}
