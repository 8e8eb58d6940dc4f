import type { FormatName } from './alert-format.js';

/**
 * What a format needs to know about the receiver it renders for. The receivers file gives each
 * receiver more (URL, headers, matchers, flow settings); this is the part that shapes the body.
 */
export interface Receiver {
  /** The receiver's name, unique in the receivers file. */
  name: string;
  format: FormatName;
  /**
   * Secret values by name (read from the environment, never logged), e.g. PagerDuty's
   * `routingKey`. A format lists the ones it needs in `requiredSecrets`.
   */
  secrets?: Readonly<Record<string, string>>;
}
