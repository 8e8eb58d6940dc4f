import {
  applyDecorators,
  BadRequestException,
  Body,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Logger,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
} from '@nestjs/swagger';
import {
  DeadLetters,
  StreamInspector,
  type DeadLetter,
  type ReplayResult,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ADMIN_LIMITS } from './admin.constants.js';
import { AdminController, ApiStreamParam } from './admin-controller.decorator.js';
import { DeadLettersQueryDto } from './admin-query.dto.js';
import {
  DeadLetterPageView,
  DeletedView,
  ReplayResultView,
  type DeadLetterView,
} from './admin-views.js';
import { DeleteDeadLettersDto, ReplayDeadLettersDto } from './dead-letter-requests.dto.js';

/**
 * The dead letters of a stream: read them with their reason, replay them to the stream they came
 * from (each at most once, however often it is asked), or delete them.
 */
@AdminController('streams/:stream/dead-letters', 'Admin: dead letters')
@ApiStreamParam()
@ApiNotFoundResponse({ description: 'No handler consumes this stream' })
export class DeadLettersController {
  private readonly logger = new Logger('AdminApi');

  constructor(
    private readonly inspector: StreamInspector,
    private readonly deadLetters: DeadLetters,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Dead letters, newest first, with their reason; filter by group or error',
  })
  @ApiOkResponse({ type: DeadLetterPageView })
  @ApiBadRequestResponse({ description: 'A bad limit, cursor or filter' })
  async list(
    @Param('stream') stream: string,
    @Query() query: DeadLettersQueryDto,
  ): Promise<DeadLetterPageView> {
    const page = await this.inspector.deadLetters(stream, query.cursor ?? '+', query.limit, {
      group: query.group,
      errorContains: query.error,
    });
    return { ...page, items: page.items.map(shortened) };
  }

  @Post('replay')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Replay the given dead letters, or every one matching a filter, to their stream',
    description:
      'Each dead letter is appended to its stream again, without its dlq-* fields, and removed ' +
      'from the dead letters in the same atomic step: replaying one twice appends it once, and the ' +
      'second time lists it under `missing`. `{ "filter": {} }` replays all of them: at most ' +
      '`limit` per call (the newest that match, appended in their original order).',
  })
  @ApiOkResponse({ type: ReplayResultView })
  @ApiBadRequestResponse({ description: 'Neither or both of ids and filter, or a bad id' })
  async replay(
    @Param('stream') stream: string,
    @Body() body: ReplayDeadLettersDto,
  ): Promise<ReplayResultView> {
    if ((body.ids === undefined) === (body.filter === undefined)) {
      throw new BadRequestException(['send either "ids" or "filter" (use {} to replay all)']);
    }
    if (body.ids && body.limit !== undefined) {
      throw new BadRequestException(['"limit" goes with "filter", not with "ids"']);
    }
    const result = body.ids
      ? await this.deadLetters.replay(stream, body.ids)
      : await this.deadLetters.replayMatching(
          stream,
          body.filter ?? {},
          body.limit ?? ADMIN_LIMITS.replayMatchingMax,
        );
    return this.logged(stream, result);
  }

  @Post(':id/replay')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Replay one dead letter to its stream (idempotent)' })
  @ApiOkResponse({ type: ReplayResultView })
  @ApiDeadLetterId()
  async replayOne(
    @Param('stream') stream: string,
    @Param('id') id: string,
  ): Promise<ReplayResultView> {
    return this.logged(stream, await this.deadLetters.replay(stream, [id]));
  }

  @Post('delete')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Delete dead letters for good' })
  @ApiOkResponse({ type: DeletedView })
  @ApiBadRequestResponse({ description: 'No ids, too many, or a bad id' })
  async deleteMany(
    @Param('stream') stream: string,
    @Body() body: DeleteDeadLettersDto,
  ): Promise<DeletedView> {
    return this.deleted(stream, await this.deadLetters.delete(stream, body.ids));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete one dead letter for good' })
  @ApiOkResponse({ type: DeletedView })
  @ApiDeadLetterId()
  async deleteOne(@Param('stream') stream: string, @Param('id') id: string): Promise<DeletedView> {
    return this.deleted(stream, await this.deadLetters.delete(stream, [id]));
  }

  /** Operators change what gets delivered here: leave a trace of it. */
  private logged(stream: string, result: ReplayResult): ReplayResult {
    if (result.replayed.length > 0 || result.missing.length > 0) {
      this.logger.log(
        `Replayed ${result.replayed.length} dead letter(s) of ${stream}` +
          (result.missing.length > 0 ? ` (${result.missing.length} no longer there)` : ''),
      );
    }
    return result;
  }

  private deleted(stream: string, deleted: number): DeletedView {
    if (deleted > 0) this.logger.log(`Deleted ${deleted} dead letter(s) of ${stream}`);
    return { deleted };
  }
}

/** The `:id` of a route about one dead letter, and its answer to an id that is not one. */
function ApiDeadLetterId(): MethodDecorator {
  return applyDecorators(
    ApiBadRequestResponse({ description: 'Not a stream entry id' }),
    ApiParam({
      name: 'id',
      example: '1732770000000-0',
      description: 'Id in the dead-letter stream',
    }),
  );
}

/** Keeps a page small whatever the entries hold. */
function shortened(letter: DeadLetter): DeadLetterView {
  const max = ADMIN_LIMITS.shownValueMaxLength;
  const long = (value: string): boolean => value.length > max;
  if (!long(letter.error) && !Object.values(letter.fields).some(long)) return letter;
  const cut = (value: string): string => (long(value) ? `${value.slice(0, max)}…` : value);
  const fields = Object.fromEntries(
    Object.entries(letter.fields).map(([name, value]) => [name, cut(value)]),
  );
  return { ...letter, error: cut(letter.error), fields, truncated: true };
}
