import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { ADMIN_LIMITS } from './admin.constants.js';

/** The optional consumer-group filter of dead letters, in a list's query as in a replay's body. */
export function GroupFilter(): PropertyDecorator {
  return filterText('Only dead letters of this consumer group');
}

/** The optional reason filter of dead letters (`error` in a query, `errorContains` in a body). */
export function ReasonFilter(): PropertyDecorator {
  return filterText('Only dead letters whose reason contains this text (any case)');
}

function filterText(description: string): PropertyDecorator {
  // NOTE: in the order stacked decorators apply (bottom first), which is the order of the
  // messages in a 400 answer.
  return applyDecorators(
    MaxLength(ADMIN_LIMITS.filterMaxLength),
    IsString(),
    IsOptional(),
    ApiPropertyOptional({ description }),
  );
}
