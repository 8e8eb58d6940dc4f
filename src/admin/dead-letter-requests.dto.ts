import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsInt,
  IsObject,
  Matches,
  Max,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { ADMIN_LIMITS, STREAM_ID_PATTERN } from './admin.constants.js';
import { GroupFilter, ReasonFilter } from './dead-letter-filter.decorator.js';

const NOT_AN_ID = 'each value in ids must be a stream entry id such as 1732770000000-0';
/** Absent is fine, `null` is not: an optional property, when sent, must be valid. */
const isPresent = (_: object, value: unknown): boolean => value !== undefined;

/** Which dead letters a filtered replay takes; `{}` takes them all. */
export class DeadLetterFilterDto {
  @GroupFilter()
  group?: string;

  @ReasonFilter()
  errorContains?: string;
}

/** Body of a replay: either the `ids` to replay, or a `filter` (with a `limit`). */
export class ReplayDeadLettersDto {
  @ApiPropertyOptional({
    description: 'Dead-letter ids to replay',
    type: [String],
    maxItems: ADMIN_LIMITS.idsPerRequest,
    example: ['1732770000000-0'],
  })
  @ValidateIf(isPresent)
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(ADMIN_LIMITS.idsPerRequest)
  @Matches(STREAM_ID_PATTERN, { each: true, message: NOT_AN_ID })
  ids?: string[];

  @ApiPropertyOptional({
    description: 'Replay the dead letters that match; `{}` matches all',
    type: () => DeadLetterFilterDto,
  })
  @ValidateIf(isPresent)
  @IsObject()
  @ValidateNested()
  @Type(() => DeadLetterFilterDto)
  filter?: DeadLetterFilterDto;

  @ApiPropertyOptional({
    description:
      'With `filter`: the most to replay in this call, the newest that match (appended in their ' +
      'original order); call again for the rest',
    minimum: 1,
    maximum: ADMIN_LIMITS.replayMatchingMax,
    default: ADMIN_LIMITS.replayMatchingMax,
  })
  @ValidateIf(isPresent)
  @IsInt()
  @Min(1)
  @Max(ADMIN_LIMITS.replayMatchingMax)
  limit?: number;
}

/** Body of a batch deletion. */
export class DeleteDeadLettersDto {
  @ApiProperty({
    description: 'Dead-letter ids to delete',
    type: [String],
    minItems: 1,
    maxItems: ADMIN_LIMITS.idsPerRequest,
    example: ['1732770000000-0'],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(ADMIN_LIMITS.idsPerRequest)
  @Matches(STREAM_ID_PATTERN, { each: true, message: NOT_AN_ID })
  ids!: string[];
}
