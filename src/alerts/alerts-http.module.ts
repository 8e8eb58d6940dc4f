import { Module } from '@nestjs/common';
import { AlertmanagerController } from './alertmanager/alertmanager.controller.js';
import { AlertsController } from './alerts.controller.js';
import { AlertsModule } from './alerts.module.js';
import { ApiKeyGuard } from './api-key.guard.js';

/**
 * The alert routes (`POST /alerts`, `GET /alerts`..., and Alertmanager's `POST
 * /alerts/alertmanager`): loaded by the roles that take HTTP traffic.
 */
@Module({
  imports: [AlertsModule],
  controllers: [AlertsController, AlertmanagerController],
  providers: [ApiKeyGuard],
})
export class AlertsHttpModule {}
