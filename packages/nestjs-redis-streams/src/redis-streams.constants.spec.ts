import { DEFAULTS } from './redis-streams.constants.js';

describe('DEFAULTS.resendGuardMs', () => {
  it('outlasts, with room to spare, the last resend of a Cluster client', () => {
    // Each try of a command waits clusterRetryDelayMs, up to clusterMaxRedirections times, and a
    // try that reaches a node may wait up to the command timeout (publishTimeoutMs).
    const lastResendMs =
      DEFAULTS.clusterMaxRedirections * DEFAULTS.clusterRetryDelayMs + DEFAULTS.publishTimeoutMs;
    expect(DEFAULTS.resendGuardMs).toBeGreaterThanOrEqual(2 * lastResendMs);
  });
});
