import { Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam } from '@nestjs/swagger';
import { GroupFlows } from '../flow/group-flows.js';
import { AdminController, ApiStreamParam } from './admin-controller.decorator.js';
import { FlowStateView } from './admin-views.js';

const GROUP_ROUTE = 'streams/:stream/groups/:group';
const NOT_FOUND = 'A stream no handler consumes, or a group no handler of this service is';

/**
 * Pause and resume of a consumer group by hand, with its flow state (paused, busy, circuit). The
 * state is in Redis: every instance obeys it within a moment, and it survives restarts.
 */
@AdminController('', 'Admin: streams')
@ApiStreamParam()
@ApiParam({ name: 'group', example: 'alerts-webhook' })
export class GroupFlowController {
  constructor(private readonly groupFlows: GroupFlows) {}

  @Get(`${GROUP_ROUTE}/flow`)
  @ApiOperation({ summary: "A group's flow state: paused, busy until, circuit" })
  @ApiOkResponse({ type: FlowStateView })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  flow(@Param('stream') stream: string, @Param('group') group: string): Promise<FlowStateView> {
    return this.groupFlows.state(stream, group);
  }

  @Post(`${GROUP_ROUTE}/pause`)
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary:
      'Pauses the group on every instance: no handler call starts until resumed; calls under way finish',
  })
  @ApiOkResponse({ type: FlowStateView, description: 'The flow state after the pause' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  pause(@Param('stream') stream: string, @Param('group') group: string): Promise<FlowStateView> {
    return this.groupFlows.pause(stream, group);
  }

  @Post(`${GROUP_ROUTE}/resume`)
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Resumes a paused group on every instance; resuming twice is harmless' })
  @ApiOkResponse({ type: FlowStateView, description: 'The flow state after the resume' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  resume(@Param('stream') stream: string, @Param('group') group: string): Promise<FlowStateView> {
    return this.groupFlows.resume(stream, group);
  }
}
