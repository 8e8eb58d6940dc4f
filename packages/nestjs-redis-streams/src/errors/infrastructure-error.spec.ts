import { InfrastructureError, isInfrastructureError } from './infrastructure-error.js';

describe('isInfrastructureError', () => {
  it.each([
    "OOM command not allowed when used memory > 'maxmemory'.",
    'LOADING Redis is loading the dataset in memory',
    "READONLY You can't write against a read only replica.",
    'NOSCRIPT No matching script. Please use EVAL.',
    'CLUSTERDOWN The cluster is down',
    'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
    'Connection is closed.',
    'Command timed out',
    'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
  ])('counts %s as Redis being unavailable', (message) => {
    expect(isInfrastructureError(new Error(message))).toBe(true);
  });

  it.each([
    'webhook answered 500',
    'ERR wrong number of arguments for command',
    'connect ECONNREFUSED 10.0.0.7:443',
    'read ECONNRESET',
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'payload failed validation: severity must be one of critical, warning, info',
  ])('counts %s as a failure of the message or handler', (message) => {
    expect(isInfrastructureError(new Error(message))).toBe(false);
  });

  it('counts a marked failure of a library step, whatever its cause said', () => {
    const error = new InfrastructureError('claim the eventId', { cause: new Error('odd reply') });
    expect(isInfrastructureError(error)).toBe(true);
    expect(error.message).toBe('claim the eventId failed: odd reply');
  });

  it("counts values that are not errors as the handler's", () => {
    expect(isInfrastructureError('OOM')).toBe(false);
    expect(isInfrastructureError(undefined)).toBe(false);
  });
});
