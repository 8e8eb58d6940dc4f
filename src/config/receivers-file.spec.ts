import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORDER_DEAD_LETTER_GROUP, RECORDER_GROUP } from '../alerts/alerts.constants.js';
import { receiverGroup } from '../alerts/receivers/receiver.js';
import { readReceiversFile, RESERVED_RECEIVER_NAMES } from './receivers-file.js';

const defaults = {
  timeoutMs: 5_000,
  maxAgeMs: 21_600_000,
  variables: {
    PD_KEY: 'pd-routing-key-123',
    SLACK_URL: 'https://hooks.slack.test/T0/B0/xyzsecret',
  },
};

describe('readReceiversFile', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'receivers-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function read(text: string) {
    const path = join(dir, `r-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(path, text);
    return readReceiversFile(path, defaults);
  }

  it('reads YAML receivers, resolving ${VAR} references and filling in defaults', () => {
    const { receivers, problems } = read(`
receivers:
  - name: oncall
    url: https://events.pagerduty.test/v2/enqueue
    format: pagerduty
    routingKey: \${PD_KEY}
    matchers: ['severity="critical"']
    rateLimit: 2
    maxAgeMs: 3600000
  - name: chat
    url: \${SLACK_URL}
    format: slack
    headers: { X-Token: "Bearer \${PD_KEY}" }
    matchers:
      - severity!="critical"
      - team=~"db|web"
    timeoutMs: 1000
`);
    expect(problems).toEqual([]);
    expect(receivers).toHaveLength(2);
    expect(receivers[0]).toMatchObject({
      name: 'oncall',
      format: 'pagerduty',
      routingKey: 'pd-routing-key-123',
      rateLimit: 2,
      maxAgeMs: 3_600_000,
      timeoutMs: 5_000,
      headers: {},
    });
    expect(receivers[0].matchers.map(String)).toEqual(['severity="critical"']);
    expect(receivers[1]).toMatchObject({
      url: 'https://hooks.slack.test/T0/B0/xyzsecret',
      headers: { 'X-Token': 'Bearer pd-routing-key-123' },
      maxAgeMs: 21_600_000,
      timeoutMs: 1_000,
    });
    expect(receivers[1].secretValues).toEqual(
      expect.arrayContaining([
        'https://hooks.slack.test/T0/B0/xyzsecret',
        'Bearer pd-routing-key-123',
      ]),
    );
  });

  it('reads JSON too, and the format defaults to json', () => {
    const { receivers, problems } = read(
      JSON.stringify({ receivers: [{ name: 'all', url: 'http://127.0.0.1:9/hook' }] }),
    );
    expect(problems).toEqual([]);
    expect(receivers[0]).toMatchObject({ name: 'all', format: 'json', matchers: [] });
  });

  it('lists every problem at once, and never a secret value', () => {
    const { receivers, problems } = read(`
receivers:
  - name: oncall
    url: \${SLACK_URL}
    format: pagerduty
    matchers: ['severity', 'team=~"(db"']
    rateLimit: -1
    maxAgeMs: 60
    colour: red
  - name: oncall
    url: ftp://\${PD_KEY}@example.test/
    format: teams
    headers: { Content-Type: text/plain, X-Key: "\${MISSING_KEY}" }
    routingKey: abc
  - name: recorder
    url: https://example.test
  - url: https://example.test
unknown: 1
`);
    expect(receivers).toEqual([]);
    expect(problems).toEqual([
      'has the unknown key "unknown" (only "receivers")',
      expect.stringMatching(/^receivers\[0\] \(oncall\): has the unknown key "colour"/),
      expect.stringMatching(
        /^receivers\[0\] \(oncall\): routingKey: is required with format pagerduty/,
      ),
      expect.stringMatching(/^receivers\[0\] \(oncall\): matchers\[0\]: is not a matcher/),
      expect.stringMatching(
        /^receivers\[0\] \(oncall\): matchers\[1\]: has an invalid regular expression/,
      ),
      expect.stringMatching(/^receivers\[0\] \(oncall\): rateLimit: must be a number/),
      expect.stringMatching(/^receivers\[0\] \(oncall\): maxAgeMs: must be 0/),
      'receivers[1] (oncall): url: must be an http:// or https:// URL with a host',
      expect.stringMatching(
        /^receivers\[1\] \(oncall\): format: must be one of json, slack, pagerduty/,
      ),
      'receivers[1] (oncall): headers.Content-Type: is set by the service itself',
      'receivers[1] (oncall): headers.X-Key: references ${MISSING_KEY}, which is not set',
      'receivers[1] (oncall): routingKey: is only used with format pagerduty',
      'receivers[1] (oncall): name: "oncall" is used twice',
      expect.stringMatching(/^receivers\[2\]: name: "recorder" is reserved/),
      expect.stringMatching(/^receivers\[3\]: name: is required/),
    ]);
    const all = problems.join('\n');
    expect(all).not.toContain('pd-routing-key-123');
    expect(all).not.toContain('xyzsecret');
  });

  it.each([
    ['receivers: [', /is not valid YAML or JSON/],
    ['receivers: []', /must list at least one receiver/],
    ['- a\n- b', /must hold "receivers:"/],
    ['receivers:\n  - name: a\n    name: b\n    url: https://x.test', /is not valid YAML or JSON/],
  ])('refuses a file that is %j', (text, problem) => {
    expect(read(text).problems).toEqual([expect.stringMatching(problem)]);
  });

  it('says so when the file cannot be read', () => {
    expect(readReceiversFile(join(dir, 'nope.yml'), defaults).problems).toEqual([
      'cannot be read (ENOENT)',
    ]);
  });

  it('reserves exactly the names whose group the recorder uses', () => {
    expect(RESERVED_RECEIVER_NAMES.map(receiverGroup)).toEqual([
      RECORDER_GROUP,
      RECORDER_DEAD_LETTER_GROUP,
    ]);
  });
});

describe('formats', () => {
  it('are the formats the renderers have, and only pagerduty needs a routing key', async () => {
    const { FORMAT_NAMES, formatNamed } = await import('../alerts/formats/index.js');
    const { RECEIVER_FORMATS } = await import('./receivers-file.js');
    expect([...RECEIVER_FORMATS]).toEqual([...FORMAT_NAMES]);
    expect(
      Object.fromEntries(RECEIVER_FORMATS.map((name) => [name, formatNamed(name).requiredSecrets])),
    ).toEqual({ json: [], slack: [], pagerduty: ['routingKey'] });
  });
});
