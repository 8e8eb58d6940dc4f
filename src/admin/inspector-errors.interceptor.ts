import {
  BadRequestException,
  HttpException,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { catchError, throwError, timeout, type Observable } from 'rxjs';
import { UnknownGroupError } from '../flow/group-flows.js';
import { StreamInspector, UnknownStreamError } from '@redis-streams-alerts/nestjs-redis-streams';
import { ADMIN_REQUEST_TIMEOUT_MS } from './admin.constants.js';

/** Programming errors stay 500s; only what Redis did (or did not) do becomes a 503. */
const BUGS = [TypeError, ReferenceError, SyntaxError];

/**
 * Bounds every admin request in time and turns what the inspector throws into HTTP answers:
 * an unknown stream or consumer group (for a pause: one no handler here consumes) is a 404, a bad
 * id or count a 400, and Redis being down, slow or refusing a command a 503 (never a hang). Replays and deletions are idempotent, so a 503 that
 * cut one short can simply be repeated.
 */
@Injectable()
export class InspectorErrorsInterceptor implements NestInterceptor {
  private readonly logger = new Logger('AdminApi');

  constructor(private readonly inspector: StreamInspector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      timeout({
        first: ADMIN_REQUEST_TIMEOUT_MS,
        with: () =>
          throwError(
            () =>
              new ServiceUnavailableException(
                `Redis did not answer within ${ADMIN_REQUEST_TIMEOUT_MS} ms; retry later ` +
                  '(a replay or deletion may have been partly applied: repeating it is safe)',
              ),
          ),
      }),
      catchError((error: unknown) => throwError(() => this.toHttp(error, context))),
    );
  }

  private toHttp(error: unknown, context: ExecutionContext): unknown {
    if (error instanceof HttpException) return error;
    if (error instanceof UnknownStreamError) {
      return new NotFoundException(
        `${error.message}: this service handles ${this.inspector.knownStreams().join(', ')}`,
      );
    }
    if (error instanceof UnknownGroupError) return new NotFoundException(error.message);
    if (error instanceof RangeError) return new BadRequestException([error.message]);
    if (!(error instanceof Error) || BUGS.some((type) => error instanceof type)) return error;
    if (/^NOGROUP\b/.test(error.message)) {
      const { group } = context
        .switchToHttp()
        .getRequest<{ params: Record<string, string> }>().params;
      return new NotFoundException(
        `No consumer group "${String(group).slice(0, 200)}" on this stream`,
      );
    }
    this.logger.warn(`Admin request failed on Redis: ${error.message}`);
    return new ServiceUnavailableException(
      'Redis is unavailable or refused the command; retry later',
    );
  }
}
