import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Logger,
  NotFoundException,
  Param,
  Post,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { ApiHeader, ApiSecurity } from '@nestjs/swagger';
import { context, propagation } from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';
import { API_KEY_SCHEME } from '../openapi.js';
import { PublishFailedError } from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERTS_STREAM, EVENT_ID_PATTERN } from './alerts.constants.js';
import { toAlertPayload } from './alert-content.js';
import { AlertIntake, type IntakeResult } from './alert-intake.js';
import type { AlertRecord } from './alert-record.js';
import { AlertStore } from './alert-store.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { CreateAlertDto } from './create-alert.dto.js';
import { IdempotencyKey } from './idempotency-key.decorator.js';
import { ListAlertsQueryDto } from './list-alerts-query.dto.js';

/** Answer of `POST /alerts`. */
export interface AcceptedAlert {
  /** The stream entry id. */
  id: string;
  eventId: string;
}

/** Answer of `GET /alerts`. */
export interface AlertList {
  alerts: AlertRecord[];
}

/**
 * The HTTP side of alerts. An alert is accepted (202) only once Redis has it in the stream; the
 * webhook delivery happens afterwards, and `GET /alerts/:eventId` tells how it went. Every route
 * needs the API key when one is configured: alerts may describe the infrastructure.
 */
@Controller('alerts')
@UseGuards(ApiKeyGuard)
@ApiSecurity(API_KEY_SCHEME)
export class AlertsController {
  private readonly logger = new Logger(AlertsController.name);

  constructor(
    private readonly intake: AlertIntake,
    private readonly store: AlertStore,
  ) {}

  /**
   * Appends the alert to the stream. With an `Idempotency-Key`, the key is the eventId, and sending
   * the same request again answers with the first one's ids instead of adding a second alert. A W3C
   * `traceparent` header is continued: the publish span is its child, and the handlers' spans follow.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Becomes the eventId' })
  async create(
    @Body() body: CreateAlertDto,
    @Headers() headers: IncomingHttpHeaders,
    @IdempotencyKey() idempotencyKey?: string,
  ): Promise<AcceptedAlert> {
    const payload = toAlertPayload(body);
    let accepted: IntakeResult;
    try {
      // Without an OpenTelemetry SDK registered, extract finds nothing and this changes nothing.
      const caller = propagation.extract(context.active(), headers);
      accepted = await context.with(caller, () =>
        this.intake.accept(ALERTS_STREAM, payload, {
          eventId: idempotencyKey,
          // With ALERTS_PARTITIONS, the alerts of one source share a partition.
          partitionKey: body.source,
        }),
      );
    } catch (error) {
      if (!(error instanceof PublishFailedError)) throw error;
      this.logger.warn(error.message);
      throw new ServiceUnavailableException(
        'The alert was not accepted because its storage (Redis) is unavailable. ' +
          'Retry later, with an Idempotency-Key to make retries safe.',
      );
    }
    return { id: accepted.id, eventId: accepted.eventId };
  }

  /** The most recent alerts, newest first, with their delivery status. */
  @Get()
  async list(@Query() query: ListAlertsQueryDto): Promise<AlertList> {
    return { alerts: await this.readStore(() => this.store.recent(query.limit)) };
  }

  /** One alert with its delivery status, attempts, last error and timestamps. */
  @Get(':eventId')
  async findOne(@Param('eventId') eventId: string): Promise<AlertRecord> {
    const record = EVENT_ID_PATTERN.test(eventId)
      ? await this.readStore(() => this.store.find(eventId))
      : undefined;
    if (!record) throw new NotFoundException(`No alert with eventId "${eventId.slice(0, 200)}"`);
    return record;
  }

  private async readStore<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      this.logger.warn(`Alert store read failed: ${(error as Error).message}`);
      throw new ServiceUnavailableException('Alert storage (Redis) is unavailable; retry later.');
    }
  }
}
