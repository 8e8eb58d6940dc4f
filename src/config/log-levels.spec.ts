import { logLevelsFor } from './log-levels.js';

describe('logLevelsFor', () => {
  it('prints the chosen level and every more severe one', () => {
    expect(logLevelsFor('error')).toEqual(['fatal', 'error']);
    expect(logLevelsFor('log')).toEqual(['fatal', 'error', 'warn', 'log']);
    expect(logLevelsFor('verbose')).toEqual(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']);
  });
});
