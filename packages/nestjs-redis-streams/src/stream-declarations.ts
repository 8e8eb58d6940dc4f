import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { REDIS_STREAMS_OPTIONS } from './redis-streams.module-definition.js';
import type {
  GroupFlowOptions,
  RedisStreamsModuleOptions,
  RetentionRule,
  StreamFeatureOptions,
} from './interfaces/redis-streams.options.js';
import { assertValidPartitions, partitionStreams } from './partitions.js';
import { assertValidName, streamKeys } from './stream-keys.js';

/** What `RedisStreamsModule.forFeature` provides: one stream's declaration, found by discovery. */
export class StreamFeature {
  constructor(readonly options: StreamFeatureOptions) {}
}

/** Partitions by logical stream, and the retention rules of every stream. */
export interface DeclaredStreams {
  partitions: Readonly<Record<string, number>>;
  retention: readonly RetentionRule[];
  /** Per stream, the flow options of its groups (see StreamFeatureOptions.groups). */
  groups: Readonly<Record<string, Readonly<Record<string, GroupFlowOptions>>>>;
}

/**
 * The streams as declared: the module's own `partitions` and `retention`, and those of every
 * `forFeature`. Read after the modules are instantiated (at bootstrap, on publish), when every
 * feature exists; resolved and checked once, on the first read.
 */
@Injectable()
export class StreamDeclarations {
  private resolved?: DeclaredStreams;

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions,
  ) {}

  /** Partition counts by logical stream; a stream not named here is not partitioned. */
  partitions(): Readonly<Record<string, number>> {
    return this.resolve().partitions;
  }

  /** The partitions of `stream`, or undefined when it is one stream. */
  partitionsOf(stream: string): number | undefined {
    return Object.hasOwn(this.partitions(), stream) ? this.partitions()[stream] : undefined;
  }

  retention(): readonly RetentionRule[] {
    return this.resolve().retention;
  }

  groups(): DeclaredStreams['groups'] {
    return this.resolve().groups;
  }

  private resolve(): DeclaredStreams {
    this.resolved ??= declaredStreams(
      this.options,
      this.discovery
        .getProviders()
        .flatMap(({ instance }) => (instance instanceof StreamFeature ? [instance.options] : [])),
    );
    return this.resolved;
  }
}

/** Merges the module's options with the features; throws when a stream is declared twice. */
export function declaredStreams(
  options: Pick<RedisStreamsModuleOptions, 'partitions' | 'retention'>,
  features: readonly StreamFeatureOptions[],
): DeclaredStreams {
  const partitions: Record<string, number> = { ...options.partitions };
  const declared = new Set<string>();
  for (const feature of features) {
    assertValidName('stream', feature.stream);
    if (declared.has(feature.stream) || Object.hasOwn(partitions, feature.stream)) {
      throw new Error(
        `Stream "${feature.stream}" is declared twice (by forFeature, or also in the module's partitions)`,
      );
    }
    declared.add(feature.stream);
    if (feature.partitions !== undefined) partitions[feature.stream] = feature.partitions;
  }
  for (const [stream, count] of Object.entries(partitions)) {
    assertValidName('stream', stream);
    assertValidPartitions(stream, count);
  }
  return {
    partitions,
    retention: [...(options.retention ?? []), ...features.flatMap(retentionRules)],
    groups: Object.fromEntries(features.map((feature) => [feature.stream, feature.groups ?? {}])),
  };
}

/** A feature's rules: the stream's on each partition, then its dead letters' on each partition. */
export function retentionRules(feature: StreamFeatureOptions): RetentionRule[] {
  const streams =
    feature.partitions === undefined
      ? [feature.stream]
      : partitionStreams(feature.stream, feature.partitions);
  const { retention, deadLetters } = feature;
  return [
    ...(retention ? streams.map((stream) => ({ stream, ...limitsOf(retention) })) : []),
    ...(deadLetters
      ? streams.map((stream) => ({
          stream: streamKeys.deadLetter(stream),
          ...limitsOf(deadLetters),
        }))
      : []),
  ];
}

/** The limits that are set: 0 and absent both mean none. */
function limitsOf(limits: Omit<RetentionRule, 'stream'>): Omit<RetentionRule, 'stream'> {
  return Object.fromEntries(
    Object.entries(limits).filter(([, value]) => value !== undefined && value !== 0),
  );
}
