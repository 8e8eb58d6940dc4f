import { FORMAT_NAMES, formatNamed, isFormatName, renderAlert } from './index.js';

describe('formats', () => {
  it('has one format for each name, called by that name', () => {
    for (const name of FORMAT_NAMES) expect(formatNamed(name).name).toBe(name);
    expect(FORMAT_NAMES).toEqual(['json', 'slack', 'pagerduty']);
  });

  it('tells a format name from anything else', () => {
    expect(isFormatName('slack')).toBe(true);
    expect(isFormatName('teams')).toBe(false);
    expect(isFormatName(undefined)).toBe(false);
  });

  it("renders in the receiver's format", () => {
    const alert = { eventId: 'e', id: '1-0', message: 'm', severity: 'info' as const };
    const slack = JSON.parse(renderAlert(alert, { name: 'chat', format: 'slack' }).body) as object;
    expect(slack).toHaveProperty('blocks');
    const json = JSON.parse(renderAlert(alert, { name: 'hook', format: 'json' }).body) as object;
    expect(json).toEqual({ eventId: 'e', id: '1-0', message: 'm', severity: 'info' });
  });
});
