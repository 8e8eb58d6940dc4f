import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { ADMIN_LIMITS, ADMIN_PAGE, STREAM_ID_PATTERN } from './admin.constants.js';
import { GroupFilter, ReasonFilter } from './dead-letter-filter.decorator.js';

const NOT_AN_ID = 'cursor must be a stream entry id such as 1732770000000-0 (the "next" of a page)';

/** `limit` of every admin list. Unknown query parameters are rejected by the global ValidationPipe. */
export class LimitQueryDto {
  @ApiPropertyOptional({
    description: 'Items per page',
    minimum: 1,
    maximum: ADMIN_PAGE.max,
    default: ADMIN_PAGE.default,
  })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(ADMIN_PAGE.max)
  limit: number = ADMIN_PAGE.default;
}

/** Query of `GET /admin/streams`: streams come in name order, after `cursor`. */
export class StreamsQueryDto extends LimitQueryDto {
  @ApiPropertyOptional({ description: 'The `next` of the previous page (a stream name)' })
  @IsOptional()
  @IsString()
  @MaxLength(ADMIN_LIMITS.nameMaxLength)
  cursor?: string;
}

/** Query of the pending entries of a group, oldest first, after `cursor`. */
export class PendingQueryDto extends LimitQueryDto {
  @ApiPropertyOptional({ description: 'The `next` of the previous page (an entry id)' })
  @IsOptional()
  @Matches(STREAM_ID_PATTERN, { message: NOT_AN_ID })
  cursor?: string;
}

/** Query of the dead letters of a stream, newest first, before `cursor`. */
export class DeadLettersQueryDto extends LimitQueryDto {
  @ApiPropertyOptional({ description: 'The `next` of the previous page (a dead-letter id)' })
  @IsOptional()
  @Matches(STREAM_ID_PATTERN, { message: NOT_AN_ID })
  cursor?: string;

  @GroupFilter()
  group?: string;

  @ReasonFilter()
  error?: string;
}
