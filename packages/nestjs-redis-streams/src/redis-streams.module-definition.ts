import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { RedisStreamsModuleOptions } from './interfaces/redis-streams.options.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: REDIS_STREAMS_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedisStreamsModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
