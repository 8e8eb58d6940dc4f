import { Module } from '@nestjs/common';
import { AlertsController } from './alerts.controller.js';
import { AlertsModule } from './alerts.module.js';
import { ApiKeyGuard } from './api-key.guard.js';

/** The alert routes (`POST /alerts`, `GET /alerts`...): loaded by the roles that take HTTP traffic. */
@Module({
  imports: [AlertsModule],
  controllers: [AlertsController],
  providers: [ApiKeyGuard],
})
export class AlertsHttpModule {}
