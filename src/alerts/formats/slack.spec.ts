import type { OutgoingAlert } from './outgoing-alert.js';
import { slackFormat, type SlackMessage } from './slack.js';

const RECEIVER = { name: 'chat', format: 'slack' as const };

function render(alert: OutgoingAlert): SlackMessage {
  const { body, headers } = slackFormat.render(alert, RECEIVER);
  expect(headers).toEqual({ 'content-type': 'application/json' });
  return JSON.parse(body) as SlackMessage;
}

const FIRING: OutgoingAlert = {
  eventId: 'am-0123',
  id: '1-0',
  message: 'Disk almost full on db-1',
  severity: 'warning',
  source: 'db-1:9100',
  labels: { alertname: 'DiskFull', instance: 'db-1:9100' },
  alertStatus: 'firing',
  startsAt: '2024-01-01T00:00:00.000Z',
  generatorURL: 'http://prometheus:9090/graph?g0.expr=up&g0.tab=1',
  annotations: {
    summary: 'Disk almost full on db-1',
    description: 'Only 3% left on /var',
    runbook_url: 'https://runbooks.example.com/disk',
  },
};

describe('slack format', () => {
  it('writes a firing alert as text and blocks: header, description, fields, labels, links', () => {
    const message = render(FIRING);
    expect(message.text).toBe(':large_orange_circle: FIRING: Disk almost full on db-1 (warning)');
    expect(message.blocks.map((block) => block.type)).toEqual([
      'header',
      'section',
      'section',
      'section',
      'context',
    ]);
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'FIRING: Disk almost full on db-1', emoji: true },
    });
    expect(JSON.stringify(message.blocks[1])).toContain('Only 3% left on /var');
    expect(message.blocks[2]).toEqual({
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: '*Severity*\nwarning' },
        { type: 'mrkdwn', text: '*Source*\ndb-1:9100' },
        { type: 'mrkdwn', text: '*Started*\n2024-01-01T00:00:00.000Z' },
      ],
    });
    expect(JSON.stringify(message.blocks[3])).toContain('`alertname=DiskFull`');
    expect(message.blocks[4]).toEqual({
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: 'eventId `am-0123`' },
        { type: 'mrkdwn', text: '<http://prometheus:9090/graph?g0.expr=up&amp;g0.tab=1|Source>' },
        { type: 'mrkdwn', text: '<https://runbooks.example.com/disk|Runbook>' },
      ],
    });
  });

  it('says RESOLVED with a check mark, and when it ended', () => {
    const message = render({
      ...FIRING,
      alertStatus: 'resolved',
      endsAt: '2024-01-01T01:00:00.000Z',
    });
    expect(message.text).toBe(':white_check_mark: RESOLVED: Disk almost full on db-1 (warning)');
    expect(JSON.stringify(message.blocks[2])).toContain('*Ended*\\n2024-01-01T01:00:00.000Z');
  });

  it('writes an alert from POST /alerts (no status, no annotations) as firing', () => {
    const message = render({
      eventId: 'e-1',
      id: '1-0',
      message: 'Server down',
      severity: 'critical',
    });
    expect(message.text).toBe(':red_circle: FIRING: Server down (critical)');
    expect(message.blocks.map((block) => block.type)).toEqual(['header', 'section', 'context']);
  });

  it('escapes Slack markup in alert text, so that <!channel> notifies nobody', () => {
    const message = render({ ...FIRING, message: '<!channel> a & b', annotations: {} });
    expect(message.text).toContain('&lt;!channel&gt; a &amp; b');
    expect(message.text).not.toContain('<!channel>');
    // plain_text is not markup: the header shows the text as written.
    expect(message.blocks[0]).toMatchObject({ text: { text: 'FIRING: <!channel> a & b' } });
  });

  it("stays within Slack's limits: header 150, section 3000, field 2000 characters", () => {
    const long = 'x'.repeat(5_000);
    const message = render({
      ...FIRING,
      message: long,
      source: long,
      annotations: { description: '&'.repeat(5_000) },
    });
    const header = message.blocks[0] as { text: { text: string } };
    expect(header.text.text).toHaveLength(150);
    expect(header.text.text.endsWith('…')).toBe(true);
    const description = (message.blocks[1] as { text: { text: string } }).text.text;
    expect(description.length).toBeLessThanOrEqual(3_000);
    // Cut between entities, never inside one.
    expect(description).toMatch(/^(&amp;)+…$/);
    const fields = (message.blocks[2] as { fields: Array<{ text: string }> }).fields;
    for (const field of fields) expect(field.text.length).toBeLessThanOrEqual(2_000);
    expect(message.text.length).toBeLessThanOrEqual(3_000);
  });

  it('links only http(s) URLs', () => {
    const message = render({
      ...FIRING,
      generatorURL: 'javascript:alert(1)',
      annotations: { runbook_url: 'not a url' },
    });
    const context = message.blocks.at(-1) as { elements: unknown[] };
    expect(context.elements).toHaveLength(1);
  });
});
