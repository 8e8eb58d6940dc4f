import {
  getConfigToken,
  registerAs,
  type ConfigFactory,
  type ConfigFactoryKeyHost,
  type ConfigObject,
} from '@nestjs/config';
import type { EnvironmentVariables } from './env.validation.js';

/**
 * A configuration namespace: how one group of settings derives from the environment that the
 * entry point validated. Injected as `@Inject(appConfig.KEY) config: ConfigType<typeof appConfig>`.
 */
export interface ConfigNamespace<T extends ConfigObject> {
  (env: EnvironmentVariables): T;
  /** Its injection token, the same that `registerAs` gives it. */
  readonly KEY: string;
  /** The namespace with its values for `env`, for `ConfigModule.forRoot`'s `load`. */
  registerFor(env: EnvironmentVariables): ConfigFactory<T> & ConfigFactoryKeyHost<T>;
}

/**
 * `registerAs` with the validated environment passed in, instead of each namespace reading and
 * validating `process.env` on its own.
 */
export function configNamespace<T extends ConfigObject>(
  name: string,
  derive: (env: EnvironmentVariables) => T,
): ConfigNamespace<T> {
  return Object.assign((env: EnvironmentVariables) => derive(env), {
    KEY: getConfigToken(name),
    registerFor: (env: EnvironmentVariables) => registerAs(name, () => derive(env)),
  });
}
