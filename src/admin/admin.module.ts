import { Module } from '@nestjs/common';
import { ApiKeyGuard } from '../alerts/api-key.guard.js';
import { GroupFlows } from '../flow/group-flows.js';
import { DashboardController } from './dashboard.controller.js';
import { DeadLettersController } from './dead-letters.controller.js';
import { GroupFlowController } from './group-flow.controller.js';
import { InspectorErrorsInterceptor } from './inspector-errors.interceptor.js';
import { StreamHistory } from './stream-history.js';
import { StreamsController } from './streams.controller.js';

/**
 * For operators: the admin API under `/admin` (streams, groups, pending entries, pause and resume
 * of groups, dead letters with replay and deletion, a short history) and the dashboard at `/dashboard` that shows it. Built on
 * the library's `StreamInspector` and `DeadLetters`, so it knows nothing about alerts.
 */
@Module({
  controllers: [StreamsController, GroupFlowController, DeadLettersController, DashboardController],
  providers: [ApiKeyGuard, InspectorErrorsInterceptor, StreamHistory, GroupFlows],
})
export class AdminModule {}
