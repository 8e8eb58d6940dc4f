import { Get, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
} from '@nestjs/swagger';
import { GroupFlows, type GroupWithFlow, type StreamWithFlows } from '../flow/group-flows.js';
import { StreamInspector } from '@redis-streams-alerts/nestjs-redis-streams';
import { ADMIN_LIMITS } from './admin.constants.js';
import { AdminController, ApiStreamParam } from './admin-controller.decorator.js';
import { PendingQueryDto, StreamsQueryDto } from './admin-query.dto.js';
import {
  HistoryView,
  PendingPageView,
  StreamPageView,
  StreamView,
  type GroupView,
} from './admin-views.js';
import { StreamHistory } from './stream-history.js';

/** What the handled streams hold: groups with their consumers, lag and pending entries. */
@AdminController('', 'Admin: streams')
export class StreamsController {
  constructor(
    private readonly inspector: StreamInspector,
    private readonly streamHistory: StreamHistory,
    private readonly groupFlows: GroupFlows,
  ) {}

  @Get('streams')
  @ApiOperation({
    summary: 'The handled streams with their groups, consumers, lag, pending and flow state',
  })
  @ApiOkResponse({ type: StreamPageView })
  @ApiBadRequestResponse({ description: 'A bad limit or cursor' })
  async list(@Query() query: StreamsQueryDto): Promise<StreamPageView> {
    const after = this.inspector
      .knownStreams()
      .filter((stream) => query.cursor === undefined || stream > query.cursor);
    const page = after.slice(0, query.limit);
    const items = await this.groupFlows.withFlows(
      await Promise.all(page.map((stream) => this.inspector.stream(stream))),
    );
    return {
      items: items.map(toStreamView),
      next: after.length > page.length ? page[page.length - 1] : undefined,
    };
  }

  @Get('streams/:stream')
  @ApiOperation({ summary: 'One stream with its groups, consumers, lag, pending and flow state' })
  @ApiStreamParam()
  @ApiOkResponse({ type: StreamView })
  @ApiNotFoundResponse({ description: 'No handler consumes this stream' })
  async one(@Param('stream') stream: string): Promise<StreamView> {
    const [info] = await this.groupFlows.withFlows([await this.inspector.stream(stream)]);
    return toStreamView(info);
  }

  @Get('streams/:stream/groups/:group/pending')
  @ApiOperation({
    summary: 'Entries delivered to a group and not yet acknowledged, with idle time and deliveries',
  })
  @ApiStreamParam()
  @ApiParam({ name: 'group', example: 'alerts-webhook' })
  @ApiOkResponse({ type: PendingPageView })
  @ApiBadRequestResponse({ description: 'A bad limit or cursor' })
  @ApiNotFoundResponse({ description: 'Unknown stream or consumer group' })
  pending(
    @Param('stream') stream: string,
    @Param('group') group: string,
    @Query() query: PendingQueryDto,
  ): Promise<PendingPageView> {
    return this.inspector.pending(stream, group, query.cursor ?? '-', query.limit);
  }

  @Get('history')
  @ApiOperation({
    summary:
      'The last minutes, sampled every 5 s: lag and pending (all instances), throughput (this one)',
  })
  @ApiOkResponse({ type: HistoryView })
  history(): HistoryView {
    return this.streamHistory.history();
  }
}

/** Bounds the consumers: they accumulate when instances get new names (a Deployment's pods). */
function toStreamView(info: StreamWithFlows): StreamView {
  return { ...info, groups: info.groups.map(toGroupView) };
}

function toGroupView(group: GroupWithFlow): GroupView {
  const consumers = [...group.consumers]
    .sort((a, b) => a.idleMs - b.idleMs)
    .slice(0, ADMIN_LIMITS.consumersPerGroup);
  return { ...group, consumers, consumerCount: group.consumers.length };
}
