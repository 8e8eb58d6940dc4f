import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type {
  ConsumerInfo,
  DeadLetter,
  FlowState,
  GroupInfo,
  PendingEntry,
  ReplayResult,
  StreamInfo,
} from '@redis-streams-alerts/nestjs-redis-streams';
import type { GroupSample, History, HistorySample, StreamSample } from './stream-history.js';

// The answers of the admin API, as classes so that the OpenAPI document can describe them. Each
// implements the library's type it stands for, so the two cannot drift apart. Every property names
// its type explicitly: swc (used by the tests) emits no usable metadata for unions and nullables.

const NEXT = 'Pass as `cursor` for the next page; absent on the last page';

export class ConsumerView implements ConsumerInfo {
  @ApiProperty({ type: String }) name!: string;
  @ApiProperty({ type: Number, description: 'Entries delivered to it and not yet acknowledged' })
  pending!: number;
  @ApiProperty({ type: Number, description: 'Since its last read or claim' }) idleMs!: number;
}

export class FlowStateView implements FlowState {
  @ApiProperty({
    type: Boolean,
    description: 'Paused by hand: no handler call starts until resumed',
  })
  paused!: boolean;
  @ApiPropertyOptional({
    type: String,
    description: 'The destination said it is busy (429/503): no call starts until then (ISO time)',
  })
  busyUntil?: string;
  @ApiProperty({
    type: String,
    enum: ['closed', 'open'],
    description: '`open`: the destination is taken to be down; only probe calls go out',
  })
  circuit!: 'closed' | 'open';
  @ApiPropertyOptional({ type: String, description: 'While open: the next probe (ISO time)' })
  nextProbeAt?: string;
  @ApiProperty({ type: Number, description: 'Calls of different entries that failed in a row' })
  failureStreak!: number;
}

export class GroupView implements GroupInfo {
  @ApiProperty({ type: String }) name!: string;
  @ApiProperty({
    type: () => [ConsumerView],
    description: 'The least idle consumers first, at most 50; see consumerCount',
  })
  consumers!: ConsumerView[];
  @ApiProperty({ type: Number }) consumerCount!: number;
  @ApiProperty({ type: Number, description: 'Delivered and not yet acknowledged' })
  pending!: number;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Entries not yet delivered to the group; null when Redis cannot tell',
  })
  lag!: number | null;
  @ApiProperty({ type: String }) lastDeliveredId!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'Null when nothing is pending' })
  oldestPendingAgeMs!: number | null;
  @ApiPropertyOptional({
    type: () => FlowStateView,
    description:
      'Pause, busy and circuit state, shared by every instance; only for groups a handler of this service consumes',
  })
  flow?: FlowStateView;
}

export class DeadLetterStreamView {
  @ApiProperty({ type: String, example: 'alerts:dlq' }) stream!: string;
  @ApiProperty({ type: Number }) length!: number;
}

export class StreamView implements StreamInfo {
  @ApiProperty({ type: String, example: 'alerts' }) stream!: string;
  @ApiProperty({ type: Number }) length!: number;
  @ApiProperty({ type: String, nullable: true }) firstId!: string | null;
  @ApiProperty({ type: String, nullable: true }) lastId!: string | null;
  @ApiProperty({ type: () => [GroupView] }) groups!: GroupView[];
  @ApiProperty({ type: () => DeadLetterStreamView }) deadLetter!: DeadLetterStreamView;
}

export class StreamPageView {
  @ApiProperty({ type: () => [StreamView] }) items!: StreamView[];
  @ApiPropertyOptional({ type: String, description: NEXT }) next?: string;
}

export class PendingEntryView implements PendingEntry {
  @ApiProperty({ type: String }) id!: string;
  @ApiProperty({ type: String }) consumer!: string;
  @ApiProperty({ type: Number, description: 'Since it was last delivered' }) idleMs!: number;
  @ApiProperty({ type: Number, description: 'Times it was delivered' }) deliveries!: number;
}

export class PendingPageView {
  @ApiProperty({ type: () => [PendingEntryView] }) items!: PendingEntryView[];
  @ApiPropertyOptional({ type: String, description: NEXT }) next?: string;
}

export class DeadLetterView implements DeadLetter {
  @ApiProperty({ type: String, description: 'Id in the dead-letter stream' }) id!: string;
  @ApiProperty({ type: String, description: 'Id it had in its stream' }) originalId!: string;
  @ApiProperty({ type: String }) eventId!: string;
  @ApiProperty({ type: String, description: 'The consumer group that gave up on it' })
  group!: string;
  @ApiProperty({ type: String }) consumer!: string;
  @ApiProperty({ type: String, description: 'Why: the last error' }) error!: string;
  @ApiProperty({ type: Number }) attempts!: number;
  @ApiProperty({ type: String, description: 'ISO time' }) failedAt!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'The original entry (values beyond 4096 characters shortened)',
  })
  fields!: Record<string, string>;
  @ApiPropertyOptional({
    type: Boolean,
    description: 'Present when the reason or a field was shortened for the list',
  })
  truncated?: boolean;
}

export class DeadLetterPageView {
  @ApiProperty({ type: () => [DeadLetterView] }) items!: DeadLetterView[];
  @ApiPropertyOptional({ type: String, description: NEXT }) next?: string;
}

export class ReplayedView {
  @ApiProperty({ type: String }) deadLetterId!: string;
  @ApiProperty({ type: String, description: 'Id of the new entry in the stream' }) newId!: string;
}

export class ReplayResultView implements ReplayResult {
  @ApiProperty({ type: () => [ReplayedView] }) replayed!: ReplayedView[];
  @ApiProperty({
    type: [String],
    description: 'Ids that were not (or no longer) dead letters: already replayed or deleted',
  })
  missing!: string[];
}

export class DeletedView {
  @ApiProperty({ type: Number, description: 'Dead letters deleted; missing ids are not counted' })
  deleted!: number;
}

export class GroupSampleView implements GroupSample {
  @ApiProperty({ type: String }) group!: string;
  @ApiProperty({ type: Number, nullable: true }) lag!: number | null;
  @ApiProperty({ type: Number, nullable: true }) pending!: number | null;
  @ApiProperty({ type: Number, description: 'Handled by this instance during the interval' })
  handled!: number;
  @ApiProperty({ type: Number }) failed!: number;
  @ApiProperty({ type: Number }) deadLettered!: number;
}

export class StreamSampleView implements StreamSample {
  @ApiProperty({ type: String }) stream!: string;
  @ApiProperty({ type: Number, nullable: true }) length!: number | null;
  @ApiProperty({ type: Number, nullable: true }) deadLetters!: number | null;
  @ApiProperty({ type: Number, description: 'Published by this instance during the interval' })
  published!: number;
  @ApiProperty({ type: () => [GroupSampleView] }) groups!: GroupSampleView[];
}

export class HistorySampleView implements HistorySample {
  @ApiProperty({ type: Number, description: 'Milliseconds since the epoch' }) at!: number;
  @ApiProperty({ type: () => [StreamSampleView] }) streams!: StreamSampleView[];
}

export class HistoryView implements History {
  @ApiProperty({ type: Number }) intervalMs!: number;
  @ApiProperty({ type: () => [HistorySampleView], description: 'Oldest first, at most 120' })
  samples!: HistorySampleView[];
}
