import {
  BadRequestException,
  Body,
  Controller,
  Headers,
  HttpCode,
  HttpStatus,
  Inject,
  Logger,
  PayloadTooLargeException,
  Post,
  Res,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ApiBody, ApiSecurity } from '@nestjs/swagger';
import { context, propagation } from '@opentelemetry/api';
import { PublishFailedError } from '@redis-streams-alerts/nestjs-redis-streams';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { appConfig } from '../../config/app.config.js';
import { API_KEY_SCHEME } from '../../openapi.js';
import { ApiKeyGuard } from '../api-key.guard.js';
import { RETRY_AFTER_SECONDS } from './alertmanager.constants.js';
import { AlertmanagerIntake, type RelayedAlert } from './alertmanager-intake.js';
import { readAlertmanagerPayload } from './alertmanager-payload.js';
import { ALERTMANAGER_PATH } from './alertmanager-route.js';

/** Answer of `POST /alerts/alertmanager`. */
export interface AcceptedNotification {
  /** Alerts appended now. */
  accepted: number;
  /** Alerts known already (resent), or firing alerts whose resolve is known: nothing appended. */
  unchanged: number;
  /** One per distinct alert, in the order of the notification. */
  alerts: RelayedAlert[];
}

/**
 * Alertmanager's webhook receiver (`webhook_configs`) and Grafana's webhook contact point post
 * here. The answer is 2xx only once Redis has every alert of the notification; anything else is
 * a 5xx, which Alertmanager retries (a 4xx it drops for good, so only a notification that can
 * never be taken gets one). Needs the API key, as every /alerts route.
 */
@Controller(ALERTMANAGER_PATH)
@UseGuards(ApiKeyGuard)
@ApiSecurity(API_KEY_SCHEME)
export class AlertmanagerController {
  private readonly logger = new Logger(AlertmanagerController.name);

  constructor(
    private readonly intake: AlertmanagerIntake,
    @Inject(appConfig.KEY) private readonly config: ConfigType<typeof appConfig>,
  ) {}

  /**
   * Each alert becomes an event whose eventId comes from its fingerprint, start time and status,
   * so a resent notification appends nothing new. 202 once all are in the stream; 400 with every
   * problem; 413 over ALERTMANAGER_MAX_ALERTS alerts or ALERTMANAGER_BODY_LIMIT_BYTES; 503 with
   * Retry-After when Redis cannot take them (a retry then appends only what is missing).
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiBody({
    description:
      'A webhook notification of Alertmanager (version 4) or of a Grafana webhook contact point',
    schema: {
      type: 'object',
      required: ['alerts'],
      properties: {
        version: { type: 'string', example: '4' },
        receiver: { type: 'string' },
        status: { type: 'string', enum: ['firing', 'resolved'] },
        alerts: {
          type: 'array',
          items: {
            type: 'object',
            required: ['status', 'startsAt'],
            properties: {
              status: { type: 'string', enum: ['firing', 'resolved'] },
              labels: { type: 'object', additionalProperties: { type: 'string' } },
              annotations: { type: 'object', additionalProperties: { type: 'string' } },
              startsAt: { type: 'string', format: 'date-time' },
              endsAt: { type: 'string', format: 'date-time' },
              fingerprint: { type: 'string' },
              generatorURL: { type: 'string' },
            },
          },
        },
      },
    },
  })
  async receive(
    @Body() body: unknown,
    @Headers() headers: IncomingHttpHeaders,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Promise<AcceptedNotification> {
    const { maxAlerts } = this.config.alertmanager;
    const read = readAlertmanagerPayload(body, maxAlerts);
    if (read.kind === 'too-many') {
      this.logger.warn(`Refused a notification of ${read.count} alerts (most: ${maxAlerts})`);
      throw new PayloadTooLargeException(
        `The notification has ${read.count} alerts; at most ${maxAlerts} are taken at once ` +
          '(set max_alerts in the webhook_config, or raise ALERTMANAGER_MAX_ALERTS)',
      );
    }
    if (read.kind === 'invalid') {
      // Alertmanager drops a notification answered 4xx: say why here too, where operators look.
      this.logger.warn(`Refused a notification: ${read.problems.slice(0, 5).join('; ')}`);
      throw new BadRequestException(read.problems);
    }
    const { notification } = read;
    if (notification.truncatedAlerts > 0) {
      this.logger.warn(
        `Alertmanager left ${notification.truncatedAlerts} alerts out of a notification ` +
          `(receiver ${notification.receiver ?? '?'}, its max_alerts): they never reach this service`,
      );
    }

    let alerts: RelayedAlert[];
    try {
      // Without an OpenTelemetry SDK registered, extract finds nothing and this changes nothing.
      const caller = propagation.extract(context.active(), headers);
      alerts = await context.with(caller, () => this.intake.accept(notification));
    } catch (error) {
      if (!(error instanceof PublishFailedError)) throw error;
      this.logger.warn(error.message);
      response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      throw new ServiceUnavailableException(
        'The notification was not accepted because its storage (Redis) is unavailable. ' +
          'Send it again: alerts already taken are not added twice.',
      );
    }
    const accepted = alerts.filter((alert) => alert.outcome === 'accepted').length;
    return { accepted, unchanged: alerts.length - accepted, alerts };
  }
}
