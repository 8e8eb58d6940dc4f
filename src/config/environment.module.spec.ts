import { Test } from '@nestjs/testing';
import { RedisStreamsModule, StreamDeclarations } from '@redis-streams-alerts/nestjs-redis-streams';
import { AlertsStreamModule } from '../alerts/alerts-stream.js';
import { alertsConfig, type AlertsConfig } from './alerts.config.js';
import { appConfig, type AppConfig } from './app.config.js';
import { EnvironmentVariables, validate } from './env.validation.js';
import { EnvironmentModule } from './environment.module.js';
import { redisConfig, type RedisConfig } from './redis.config.js';

describe('EnvironmentModule', () => {
  const saved = process.env;

  afterEach(() => {
    process.env = saved;
  });

  it('derives every namespace, and the alerts stream, from the environment validated once', async () => {
    const env = validate({
      PORT: '8080',
      CONSUMER_NAME: 'alerts-7',
      ALERTS_WEBHOOK_TIMEOUT_MS: '750',
      ALERTS_PARTITIONS: '3',
    });
    // Whatever validates or reads process.env again fails here, or reads other values.
    process.env = { PORT: 'abc', CONSUMER_NAME: 'has spaces!', ALERTS_PARTITIONS: 'many' };
    const module = await Test.createTestingModule({
      imports: [
        EnvironmentModule.forRoot(env),
        // Declarations are read without Redis: the connection is never opened (`lazyConnect`).
        RedisStreamsModule.forRoot({
          url: 'redis://127.0.0.1:1',
          consumerName: 'test',
          redis: { lazyConnect: true },
        }),
        AlertsStreamModule,
      ],
    }).compile();
    try {
      expect(module.get(EnvironmentVariables)).toBe(env);
      expect(module.get<AppConfig>(appConfig.KEY).port).toBe(8080);
      expect(module.get<RedisConfig>(redisConfig.KEY).consumerName).toBe('alerts-7');
      expect(module.get<AlertsConfig>(alertsConfig.KEY).receivers[0].timeoutMs).toBe(750);
      expect(module.get(StreamDeclarations).partitions()).toEqual({ alerts: 3 });
    } finally {
      await module.close();
    }
  });
});
