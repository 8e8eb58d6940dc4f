import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { LIST_LIMIT } from './alerts.constants.js';

/** Query of `GET /alerts`. */
export class ListAlertsQueryDto {
  /** How many of the most recent alerts to return: 1 to 200, 50 by default. */
  @ApiPropertyOptional({ minimum: 1, maximum: LIST_LIMIT.max, default: LIST_LIMIT.default })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(LIST_LIMIT.max)
  limit: number = LIST_LIMIT.default;
}
