import { gzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import { appTestbed } from '../support/app-testbed.js';
import type { MainProcess } from '../support/main-process.js';
import { SeededRandom } from '../support/seeded-random.js';
import { waitFor } from '../support/wait-for.js';

/** FUZZ_SEED=<n> repeats a run; FUZZ_ENTRIES / FUZZ_REQUESTS change its size. */
const SEED = SeededRandom.seedFrom('FUZZ_SEED');
const ENTRY_COUNT = Number(process.env.FUZZ_ENTRIES ?? 2_000);
const REQUEST_COUNT = Number(process.env.FUZZ_REQUESTS ?? 2_000);
const HTTP_WORKERS = 16;
const REQUEST_BOUND_MS = 5_000;
const SETTLE_BOUND_MS = 45_000;
const API_KEY = 'fuzz-api-key-0123456789abcdef';
const MAX_VALUE_BYTES = 1024 * 1024;
const MAX_HUGE_ENTRIES = 5;
const SEVERITIES = ['info', 'warning', 'critical'];
const WEBHOOK_GROUP = 'alerts-webhook';

/** Where an input must end: by the contract, or either way for inputs the contract leaves open. */
type Outcome = 'deliver' | 'dead-letter' | 'either';

interface FuzzEntry {
  kind: string;
  outcome: Outcome;
  fields: Array<[string | Buffer, string | Buffer]>;
  /** For entries to deliver: the message the webhook must receive. */
  message?: string;
}

type Expectation = 'accept' | 'reject' | 'any';

interface FuzzRequest {
  kind: string;
  expect: Expectation;
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const LABEL_KEY_CHARS = `${ALNUM}_.-`;
/** Printable ASCII without space, many of them odd in keys, URLs, JSON, logs or shells. */
const EVENT_ID_CHARS = `${ALNUM}!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`;
const BLANKS = ['', ' ', '   ', '\t', '\n\r ', '\u00a0', '\u3000\u2003', '\u2028'];

/** The seed is in every failure message, so any failure can be replayed. */
const seedNote = `(fuzz seed ${SEED}: run again with FUZZ_SEED=${SEED})`;

class InputFactory {
  private serial = 0;
  private hugeEntries = 0;

  constructor(private readonly r: SeededRandom) {}

  private unique(prefix: string): string {
    this.serial += 1;
    return `${prefix}${this.serial}`;
  }

  goodMessage(): string {
    const r = this.r;
    const chars = [...r.unicode(r.int(0, 200))];
    // At least one visible character, so it is never blank.
    chars.splice(r.int(0, chars.length), 0, r.pick([...ALNUM]));
    return chars.join('');
  }

  goodLabels(): Record<string, string> {
    const r = this.r;
    const labels: Record<string, string> = {};
    for (let i = r.int(0, 20); i > 0; i--) {
      let key = r.stringOf(LABEL_KEY_CHARS, r.int(1, 64));
      if (['__proto__', 'constructor', 'prototype'].includes(key)) key = `k${key}`;
      labels[key] = r.unicode(r.int(0, 60)).slice(0, 256);
    }
    return labels;
  }

  goodEventId(): string {
    const r = this.r;
    return `${this.unique('e')}-${r.stringOf(EVENT_ID_CHARS, r.int(0, 150))}`;
  }

  randomJson(depth = 0): unknown {
    const r = this.r;
    const kind = depth > 4 ? r.int(0, 4) : r.int(0, 6);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return r.chance(0.5);
      case 2:
        return r.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, r.int(-1e9, 1e9)]);
      case 3:
        return r.unicode(r.int(0, 40));
      case 4:
        return r.pick(['message', 'info', 'critical', '', '{}', '__proto__']);
      case 5:
        return Array.from({ length: r.int(0, 5) }, () => this.randomJson(depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let i = r.int(0, 6); i > 0; i--) {
          const key = r.pick([
            'message',
            'severity',
            'source',
            'labels',
            'receivedAt',
            '__proto__',
            'constructor',
            r.unicode(r.int(0, 12)),
          ]);
          object[key] = this.randomJson(depth + 1);
        }
        return object;
      }
    }
  }

  /** Optional fields of a valid alert, as stream field values (labels as JSON text). */
  private goodOptionalFields(): Array<[string, string]> {
    const r = this.r;
    const fields: Array<[string, string]> = [];
    if (r.chance(0.5)) fields.push(['severity', r.pick(SEVERITIES)]);
    if (r.chance(0.5)) fields.push(['source', r.unicode(r.int(0, 60)).slice(0, 200)]);
    if (r.chance(0.4)) fields.push(['labels', JSON.stringify(this.goodLabels())]);
    if (r.chance(0.3)) {
      fields.push(['receivedAt', new Date(r.int(0, 4_102_444_800_000)).toISOString()]);
    }
    return fields;
  }

  private extraFields(count: number): Array<[string, string]> {
    const r = this.r;
    return Array.from({ length: count }, (_, i) => [
      `x_${i}_${r.stringOf(ALNUM, r.int(1, 10))}`,
      r.unicode(r.int(0, 30)),
    ]);
  }

  private withEventId(fields: FuzzEntry['fields']): FuzzEntry['fields'] {
    return this.r.chance(0.5) ? [['eventId', this.goodEventId()], ...fields] : fields;
  }

  private shuffled<T>(items: T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.r.int(0, i);
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }

  private goodFlat(): FuzzEntry {
    const r = this.r;
    const message = this.goodMessage();
    const extras = this.extraFields(r.chance(0.05) ? r.int(200, 1_000) : r.int(0, 4));
    const fields = this.shuffled([['message', message], ...this.goodOptionalFields(), ...extras]);
    return {
      kind: 'good flat fields',
      outcome: 'deliver',
      fields: this.withEventId(fields as FuzzEntry['fields']),
      message,
    };
  }

  private goodPayload(): FuzzEntry {
    const r = this.r;
    const message = this.goodMessage();
    const payload: Record<string, unknown> = { message };
    for (const [name, value] of this.goodOptionalFields()) {
      payload[name] = name === 'labels' ? JSON.parse(value) : value;
    }
    for (const [name, value] of this.extraFields(r.int(0, 3))) payload[name] = value;
    const fields: FuzzEntry['fields'] = [['payload', JSON.stringify(payload)]];
    if (r.chance(0.5)) fields.push(['publishedAt', String(Date.now())]);
    return {
      kind: 'good JSON payload',
      outcome: 'deliver',
      fields: this.withEventId(fields),
      message,
    };
  }

  /** A valid flat entry with `defect` applied: it can never be delivered. */
  private badFlat(
    kind: string,
    defect: (fields: Array<[string, string | Buffer]>) => void,
  ): FuzzEntry {
    const fields: Array<[string, string | Buffer]> = [
      ['message', this.goodMessage()],
      ...this.goodOptionalFields(),
      ...this.extraFields(this.r.int(0, 3)),
    ];
    defect(fields);
    return { kind, outcome: 'dead-letter', fields: this.withEventId(fields) };
  }

  private set(
    fields: Array<[string, string | Buffer]>,
    name: string,
    value: string | Buffer,
  ): void {
    const existing = fields.find(([field]) => field === name);
    if (existing) existing[1] = value;
    else fields.push([name, value]);
  }

  private invalidJsonText(): string {
    const r = this.r;
    const candidates = [
      '{"message": "x"',
      "{'message': 'x'}",
      '{"message": "x",}',
      '{message: "x"}',
      'NaN',
      'undefined',
      '{"message": "\\x41"}',
      r.unicode(r.int(1, 50)),
      `{${r.unicode(r.int(0, 30))}`,
    ];
    const text = r.pick(candidates);
    try {
      JSON.parse(text);
      return `{${text}`;
    } catch {
      return text;
    }
  }

  private badEntry(): FuzzEntry {
    const r = this.r;
    switch (r.int(0, 16)) {
      case 0:
        return this.badFlat('no message', (f) => {
          f.splice(0, 1);
          if (f.length === 0) f.push(['x_only', this.goodMessage()]);
        });
      case 1:
        return this.badFlat('blank message', (f) => this.set(f, 'message', r.pick(BLANKS)));
      case 2:
        return this.badFlat('message over 2000 characters', (f) =>
          this.set(f, 'message', r.stringOf(ALNUM, r.int(2_001, 20_000))),
        );
      case 3:
        if (this.hugeEntries < MAX_HUGE_ENTRIES) {
          this.hugeEntries += 1;
          return this.badFlat('value over 1 MiB', (f) =>
            this.set(
              f,
              r.pick(['message', 'x_huge']),
              Buffer.alloc(MAX_VALUE_BYTES + r.int(1, 50_000), 'a'),
            ),
          );
        }
        return this.badFlat('message over 2000 characters', (f) =>
          this.set(f, 'message', 'y'.repeat(r.int(2_001, 100_000))),
        );
      case 4:
        return this.badFlat('invalid UTF-8', (f) => {
          const at = r.int(0, f.length - 1);
          f[at][1] = Buffer.concat([r.bytes(r.int(0, 20)), Buffer.from([0xff, 0xc3, 0x28])]);
        });
      case 5:
        return {
          kind: 'payload field that is not JSON',
          outcome: 'dead-letter',
          fields: this.withEventId([['payload', this.invalidJsonText()]]),
        };
      case 6:
        return {
          kind: 'payload that is not a JSON object',
          outcome: 'dead-letter',
          fields: this.withEventId([
            [
              'payload',
              JSON.stringify(r.pick([1, 'text', [], [{ message: 'm' }], null, true, -0.5])),
            ],
          ]),
        };
      case 7:
        return {
          kind: 'payload message of the wrong type',
          outcome: 'dead-letter',
          fields: this.withEventId([
            [
              'payload',
              JSON.stringify({
                message: r.pick([1, null, true, [], ['m'], { text: 'm' }, 0]),
                severity: 'info',
              }),
            ],
          ]),
        };
      case 8:
        return this.badFlat('unknown severity', (f) =>
          this.set(
            f,
            'severity',
            r.pick(['', 'CRITICAL', 'fatal', 'Info', ' info', r.unicode(r.int(1, 10))]),
          ),
        );
      case 9:
        return this.badFlat('invalid labels', (f) =>
          this.set(
            f,
            'labels',
            r.pick([
              'env=prod',
              '[]',
              '"text"',
              '1',
              '{"env": 1}',
              '{"a b": "x"}',
              '{"": "x"}',
              '{"__proto__": "x"}',
              '{"constructor": "x"}',
              JSON.stringify({ env: 'v'.repeat(257) }),
              JSON.stringify(
                Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])),
              ),
            ]),
          ),
        );
      case 10:
        return this.badFlat('eventId empty or over 200 characters', (f) =>
          f.unshift(['eventId', r.chance(0.3) ? '' : r.stringOf(EVENT_ID_CHARS, r.int(201, 400))]),
        );
      case 11: {
        // Printable ASCII without spaces is the contract of an eventId (it becomes a key and a header).
        const odd = r.pick([
          ' ',
          '\t',
          '\n',
          '\r\n',
          '\u0000',
          '\u007f',
          'é',
          '\u00a0',
          '日本',
          '🔥',
        ]);
        const eventId = `${this.unique('odd')}${odd}${r.stringOf(EVENT_ID_CHARS, r.int(0, 20))}`;
        const entry = this.badFlat(
          'eventId with a space, control or non-ASCII character',
          () => {},
        );
        entry.fields = [
          ['eventId', eventId],
          ...entry.fields.filter(([name]) => name !== 'eventId'),
        ];
        return entry;
      }
      case 12:
        return {
          kind: 'only reserved fields',
          outcome: 'dead-letter',
          fields: this.withEventId(
            r.pick([
              [['publishedAt', String(Date.now())]],
              [['traceparent', '00-abc-def-01']],
              [
                ['publishedAt', '1'],
                ['traceparent', 'x'],
              ],
            ]) as FuzzEntry['fields'],
          ),
        };
      case 13:
        return this.badFlat('invalid receivedAt', (f) =>
          this.set(f, 'receivedAt', r.pick(['yesterday', '2024-13-45', 'now', '', r.unicode(8)])),
        );
      case 14:
        return this.badFlat('source over 200 characters', (f) =>
          this.set(f, 'source', r.stringOf(ALNUM, r.int(201, 2_000))),
        );
      case 15: {
        const depth = r.int(3_000, 10_000);
        const nested = r.chance(0.5)
          ? `${'['.repeat(depth)}${']'.repeat(depth)}`
          : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
        return {
          kind: 'deeply nested payload',
          outcome: 'dead-letter',
          fields: this.withEventId([
            ['payload', `{"message":"m","${r.pick(['labels', 'extra', 'source'])}":${nested}}`],
          ]),
        };
      }
      default:
        return {
          kind: 'payload with invalid content',
          outcome: 'dead-letter',
          fields: this.withEventId([
            [
              'payload',
              JSON.stringify({
                message: this.goodMessage(),
                ...r.pick<Record<string, unknown>>([
                  { severity: 'loud' },
                  { source: 42 },
                  { source: 'x'.repeat(201) },
                  { labels: ['a'] },
                  { labels: { env: { nested: 'x' } } },
                  { receivedAt: 'later' },
                ]),
              }),
            ],
          ]),
        };
    }
  }

  /** Anything at all: random names and values, reserved names, bytes. The contract leaves it open. */
  private randomEntry(): FuzzEntry {
    const r = this.r;
    const names = (): string | Buffer =>
      r.pick<() => string | Buffer>([
        () => r.bytes(r.int(0, 12)),
        () => r.unicode(r.int(0, 12)),
        () => r.pick(['message', 'payload', 'eventId', 'publishedAt', 'traceparent', 'labels']),
        () => r.pick(['severity', 'source', 'receivedAt', '__proto__', 'constructor']),
        () => r.pick(['toString', 'hasOwnProperty', 'valueOf', 'prototype', '']),
      ])();
    const values = (): string | Buffer =>
      r.pick<() => string | Buffer>([
        () => r.bytes(r.int(0, 40)),
        () => r.unicode(r.int(0, 40)),
        () => JSON.stringify(this.randomJson()),
        () => this.goodMessage(),
        () => r.pick(['', 'info', '{}', '[]', 'null', String(r.int(-5, 5))]),
        () => r.stringOf(ALNUM, r.int(1_000, 10_000)),
      ])();
    const fields: FuzzEntry['fields'] = [];
    for (let i = r.int(1, 8); i > 0; i--) fields.push([names(), values()]);
    // A second entry must not share an eventId with this one: an idempotent group would skip it.
    for (const field of fields) {
      if (field[0].toString() === 'eventId')
        field[1] = `${this.unique('rnd')}${field[1].toString()}`;
    }
    return { kind: 'random fields', outcome: 'either', fields };
  }

  entry(): FuzzEntry {
    const roll = this.r.next();
    if (roll < 0.25) return this.goodFlat();
    if (roll < 0.4) return this.goodPayload();
    if (roll < 0.85) return this.badEntry();
    return this.randomEntry();
  }

  // --- HTTP ---

  private goodBody(): Record<string, unknown> {
    const r = this.r;
    const body: Record<string, unknown> = { message: this.goodMessage() };
    if (r.chance(0.5)) body.severity = r.pick(SEVERITIES);
    if (r.chance(0.5)) body.source = r.unicode(r.int(0, 60)).slice(0, 200);
    if (r.chance(0.4)) body.labels = this.goodLabels();
    return body;
  }

  private keyHeader(): Record<string, string> {
    return this.r.chance(0.7) ? { 'x-api-key': API_KEY } : { authorization: `Bearer ${API_KEY}` };
  }

  private post(
    kind: string,
    expect: Expectation,
    body: string | Buffer,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ): FuzzRequest {
    return {
      kind,
      expect,
      method: 'POST',
      path: '/alerts',
      headers: { ...this.keyHeader(), ...headers },
      body,
    };
  }

  private deepJson(): string {
    const r = this.r;
    const depth = r.int(100, 9_000);
    const nested = r.chance(0.5)
      ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
      : `${'['.repeat(depth)}${']'.repeat(depth)}`;
    return r.pick([
      () => nested,
      () => `{"message":"m","labels":${nested}}`,
      () => `{"message":"m","extra":${nested}}`,
      () => `{"message":${nested}}`,
    ])();
  }

  request(): FuzzRequest {
    const r = this.r;
    const roll = r.next();
    if (roll < 0.25) {
      const headers: Record<string, string> = {
        'content-type': r.pick(['application/json', 'application/json; charset=utf-8']),
      };
      if (r.chance(0.3)) headers['idempotency-key'] = this.goodEventId();
      return this.post('valid alert', 'accept', JSON.stringify(this.goodBody()), headers);
    }
    if (roll < 0.35) return this.post('random JSON', 'any', JSON.stringify(this.randomJson()));
    if (roll < 0.5) {
      const body = this.goodBody();
      const [field, value] = r.pick<[string, unknown]>([
        ['message', r.pick([1, null, true, [], ['m'], { text: 'm' }, '', ' '])],
        ['severity', r.pick([null, 1, 'fatal', 'CRITICAL', '', ['info']])],
        ['source', r.pick([null, 1, {}, [], 'x'.repeat(201)])],
        ['labels', r.pick([null, 'env=prod', [], ['a'], { env: 1 }, { 'a b': 'x' }, { env: {} }])],
        [r.pick(['priority', 'receivedAt', 'id', 'eventId', '__proto__x', 'Message']), 'x'],
      ]);
      body[field] = value;
      if (r.chance(0.1)) {
        // class-transformer drops these keys instead of copying them: ignored, or refused.
        const text = JSON.stringify(this.goodBody()).slice(0, -1);
        const extra = r.pick([
          '"__proto__":{"polluted":1}',
          '"constructor":{"prototype":{"polluted":1}}',
        ]);
        return this.post('prototype-named property', 'any', `${text},${extra}}`);
      }
      return this.post('wrong types or unknown property', 'reject', JSON.stringify(body));
    }
    if (roll < 0.55) return this.post('deep nesting', 'reject', this.deepJson());
    if (roll < 0.6) {
      const size = r.chance(0.5) ? r.int(2_001, 60_000) : r.int(66_000, 300_000);
      return this.post('huge string', 'reject', JSON.stringify({ message: 'h'.repeat(size) }));
    }
    if (roll < 0.7) {
      const body = r.pick<() => string | Buffer>([
        () => this.invalidJsonText(),
        () => JSON.stringify(this.goodBody()).slice(0, -1),
        () => r.bytes(r.int(1, 200)),
        () => '',
        () => 'null',
        () => '"just a string"',
        () => '[1,2,3]',
      ])();
      return this.post('invalid JSON', 'reject', body);
    }
    if (roll < 0.72) {
      // body-parser decodes invalid UTF-8 leniently (U+FFFD), so these may be accepted.
      const body = Buffer.concat([
        Buffer.from('{"message":"m'),
        r.bytes(r.int(1, 20)),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]);
      return this.post('invalid UTF-8 in a JSON string', 'any', body);
    }
    if (roll < 0.8) {
      const contentType = r.pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json; charset=utf-16',
        'application/json; charset=koi8-r',
        'image/png',
        '',
      ]);
      const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
      return this.post('wrong content type', 'reject', JSON.stringify(this.goodBody()), headers);
    }
    if (roll < 0.85) {
      const headers: Record<string, string> = r.pick<Record<string, string>>([
        {},
        { 'x-api-key': 'wrong-key-0123456789abcdef' },
        { authorization: 'Bearer nope' },
        { 'x-api-key': API_KEY.slice(0, -1) },
      ]);
      return {
        kind: 'missing or wrong API key',
        expect: 'reject',
        method: 'POST',
        path: '/alerts',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(this.goodBody()),
      };
    }
    if (roll < 0.9) {
      const good = JSON.stringify(this.goodBody());
      const [encoding, body, expect] = r.pick<[string, string | Buffer, Expectation]>([
        ['gzip', gzipSync(good), 'any'],
        ['gzip', r.bytes(r.int(1, 100)), 'reject'],
        ['deflate', r.bytes(r.int(1, 100)), 'reject'],
        ['x-unknown', good, 'reject'],
        ['identity', good, 'any'],
      ]);
      return this.post('content encoding', expect, body, {
        'content-type': 'application/json',
        'content-encoding': encoding,
      });
    }
    if (roll < 0.95) {
      const text = JSON.stringify(this.goodBody());
      const bytes = Buffer.from(text);
      for (let flips = r.int(1, 5); flips > 0; flips--)
        bytes[r.int(0, bytes.length - 1)] = r.int(0, 255);
      return this.post('mutated JSON', 'any', bytes);
    }
    const eventId = r.pick([
      () => this.goodEventId(),
      () => r.stringOf(EVENT_ID_CHARS, r.int(201, 300)),
      () => r.unicode(r.int(1, 30)),
      () => '../../etc/passwd',
      () => '%00',
    ])();
    return r.chance(0.5)
      ? {
          kind: 'GET one alert',
          expect: 'any',
          method: 'GET',
          path: `/alerts/${encodeURIComponent(eventId)}`,
          headers: this.keyHeader(),
        }
      : {
          kind: 'GET recent alerts',
          expect: 'any',
          method: 'GET',
          path: `/alerts?limit=${encodeURIComponent(r.pick(['1', '0', '-1', '201', 'x', '1e3', '50', eventId]))}`,
          headers: this.keyHeader(),
        };
  }
}

interface Answer {
  request: FuzzRequest;
  status?: number;
  body?: string;
  error?: string;
  elapsedMs: number;
}

async function send(base: string, request: FuzzRequest): Promise<Answer> {
  const started = Date.now();
  try {
    const response = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(REQUEST_BOUND_MS),
    });
    const body = await response.text();
    return { request, status: response.status, body, elapsedMs: Date.now() - started };
  } catch (error) {
    return {
      request,
      error: String((error as Error).cause ?? error),
      elapsedMs: Date.now() - started,
    };
  }
}

/** GET of a health probe, bounded like every other request. */
function probe(base: string, path: string): Promise<Answer> {
  return send(base, { kind: 'probe', expect: 'any', method: 'GET', path, headers: {} });
}

function describeRequest(answer: Answer): string {
  const { request } = answer;
  const body = request.body === undefined ? '' : request.body.toString().slice(0, 120);
  return `${request.method} ${request.path.slice(0, 80)} ${JSON.stringify(request.headers)} ${JSON.stringify(body)} -> ${answer.status ?? answer.error} ${answer.body?.slice(0, 120) ?? ''}`;
}

function describeEntry(id: string, entry: FuzzEntry): string {
  const fields = entry.fields
    .slice(0, 8)
    .map(([name, value]) => [name.toString().slice(0, 30), value.toString().slice(0, 60)]);
  return `${id} ${JSON.stringify(fields)}${entry.fields.length > 8 ? ` (+${entry.fields.length - 8} fields)` : ''}`;
}

/** Problems grouped by what went wrong and the kind of input, with a few examples of each. */
class Problems {
  private readonly groups = new Map<string, string[]>();

  add(what: string, kind: string, example: string): void {
    const key = `${what} [${kind}]`;
    const examples = this.groups.get(key) ?? [];
    examples.push(example.slice(0, 400));
    this.groups.set(key, examples);
  }

  /** Compared with `{ seed, problems: {} }`, so a failure shows the seed and each problem. */
  summary(): { seed: number; problems: Record<string, { count: number; examples: string[] }> } {
    const problems: Record<string, { count: number; examples: string[] }> = {};
    for (const [key, examples] of this.groups) {
      problems[key] = { count: examples.length, examples: examples.slice(0, 2) };
    }
    return { seed: SEED, problems };
  }
}

function toFields(flat: Buffer[]): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i].toString(), flat[i + 1]);
  return fields;
}

describe(`fuzzing the inputs ${seedNote}`, () => {
  const bed = appTestbed({ appendOnly: false, webhook: true });
  let client: Redis;
  let main: MainProcess;
  let base: string;
  /** Alerts the API answered 202 for: they are in the stream and must be delivered. */
  const accepted = new Set<string>();

  beforeAll(async () => {
    process.stdout.write(`Fuzz seed ${SEED} (repeat with FUZZ_SEED=${SEED})\n`);
    client = bed.client;
    ({ main, url: base } = await bed.startMain({
      API_KEY,
      CONSUMER_NAME: 'fuzz-1',
      CONSUMER_CONCURRENCY: '32',
      CONSUMER_BATCH_SIZE: '64',
      CONSUMER_BLOCK_MS: '200',
      RETRY_MAX_ATTEMPTS: '3',
      RETRY_BACKOFF_BASE_MS: '20',
      RETRY_BACKOFF_MAX_MS: '100',
      PUBLISH_TIMEOUT_MS: '5000',
      // Short, so that an entry a consumer lost track of is taken over within the test's bound.
      CLAIM_MIN_IDLE_MS: '5000',
      LOG_LEVEL: 'error',
    }));
  }, 20_000);

  // Deeply nested JSON once made class-transformer overflow its stack: a 500 (RequestValidationPipe).
  it(`answers ${REQUEST_COUNT} random and malformed requests with 2xx or 4xx, in time`, async () => {
    const started = Date.now();
    const factory = new InputFactory(new SeededRandom(SEED));
    const requests = Array.from({ length: REQUEST_COUNT }, () => factory.request());
    const answers: Answer[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: HTTP_WORKERS }, async () => {
        while (next < requests.length) answers.push(await send(base, requests[next++]));
      }),
    );

    const problems = new Problems();
    for (const answer of answers) {
      const { status, request } = answer;
      const example = describeRequest(answer);
      // fetch itself refuses some header values (e.g. non-Latin-1): nothing was sent.
      if (answer.error?.includes('TypeError') && answer.error.includes('header')) continue;
      if (status === undefined) {
        problems.add(`no answer within ${REQUEST_BOUND_MS} ms`, request.kind, example);
      } else if (status >= 500 || status < 200 || (status >= 300 && status < 400)) {
        problems.add(`answered ${status}`, request.kind, example);
      } else if (request.expect === 'accept' && status !== 202) {
        problems.add('a valid alert was not accepted', request.kind, example);
      } else if (request.expect === 'reject' && status < 400) {
        problems.add('an invalid request was accepted', request.kind, example);
      }
      if (status === 202 && request.method === 'POST') {
        accepted.add((JSON.parse(answer.body ?? '{}') as { id: string }).id);
      }
    }
    process.stdout.write(`HTTP fuzz: ${answers.length} requests in ${Date.now() - started} ms\n`);
    expect(problems.summary()).toEqual({ seed: SEED, problems: {} });
    expect(main.running).toBe(true);
    expect((await probe(base, '/health/live')).status).toBe(200);
  }, 60_000);

  // Odd eventIds (spaces, control or non-ASCII characters) are dead-lettered at once by decodeEntry.
  it(`ends each of ${ENTRY_COUNT} random stream entries delivered or dead-lettered, as the contract says`, async () => {
    const started = Date.now();
    // Another sequence than the HTTP one, from the same seed.
    const factory = new InputFactory(new SeededRandom(SEED ^ 0x5eed));
    const entries = Array.from({ length: ENTRY_COUNT }, () => factory.entry());
    const written = new Map<string, FuzzEntry>();
    for (let start = 0; start < entries.length; start += 100) {
      const batch = entries.slice(start, start + 100);
      const pipeline = client.pipeline();
      for (const entry of batch) pipeline.xadd('alerts', '*', ...entry.fields.flat());
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([error, id], i) => {
        if (error)
          throw new Error(`XADD failed for ${batch[i].kind}: ${error.message} ${seedNote}`);
        written.set(String(id), batch[i]);
      });
    }
    const total = written.size + accepted.size;
    process.stdout.write(
      `Stream fuzz: ${written.size} entries written in ${Date.now() - started} ms\n`,
    );

    const deadLetters = new Map<string, Map<string, Buffer>>();
    const deliveries = new Map<string, Array<Record<string, unknown>>>();
    let deadLettersReadUpTo = '-';
    const collect = async (): Promise<boolean> => {
      deliveries.clear();
      for (const { body } of bed.receiver.deliveries) {
        const id = String(body.id);
        deliveries.set(id, [...(deliveries.get(id) ?? []), body]);
      }
      // Only what is new since the last look: dead letters of huge entries are huge too.
      const dlq = (await client.xrangeBuffer(
        'alerts:dlq',
        deadLettersReadUpTo === '-' ? '-' : `(${deadLettersReadUpTo}`,
        '+',
      )) as Array<[Buffer, Buffer[]]>;
      for (const [id, flat] of dlq) {
        deadLettersReadUpTo = id.toString();
        const fields = toFields(flat);
        if (fields.get('dlq-group')?.toString() !== WEBHOOK_GROUP) continue;
        deadLetters.set(String(fields.get('dlq-original-id')), fields);
      }
      const [pending] = (await client.xpending('alerts', WEBHOOK_GROUP)) as [number];
      return pending === 0 && deliveries.size + deadLetters.size >= total;
    };
    await waitFor(collect, 'every entry to be settled', SETTLE_BOUND_MS, 250).catch(() => false);
    await collect();
    process.stdout.write(`Stream fuzz: ${total} entries settled in ${Date.now() - started} ms\n`);

    const problems = new Problems();
    for (const [id, entry] of written) {
      const example = describeEntry(id, entry);
      const delivered = deliveries.get(id);
      const dead = deadLetters.get(id);
      const reason = dead?.get('dlq-error')?.toString() ?? '';
      if (delivered && dead) problems.add('delivered and dead-lettered', entry.kind, example);
      if (!delivered && !dead)
        problems.add('neither delivered nor dead-lettered', entry.kind, example);
      if (entry.outcome === 'deliver') {
        if (!delivered)
          problems.add('a valid entry was not delivered', entry.kind, `${example} ${reason}`);
        else if (delivered[0].message !== entry.message) {
          problems.add(
            'delivered with another message',
            entry.kind,
            `${example} got ${JSON.stringify(delivered[0].message)}`,
          );
        }
      }
      if (entry.outcome === 'dead-letter') {
        if (!dead) problems.add('an invalid entry was not dead-lettered', entry.kind, example);
        // It can never succeed: retrying it only wastes attempts.
        else if (dead.get('dlq-attempts')?.toString() !== '1') {
          problems.add(
            'an invalid entry was retried before being dead-lettered',
            entry.kind,
            `${example} ${reason}`,
          );
        }
      }
      if (dead && !reason.trim()) problems.add('dead letter without a reason', entry.kind, example);
      if (delivered && delivered.length > 1)
        problems.add('delivered more than once', entry.kind, example);
    }
    for (const id of accepted) {
      if (!deliveries.has(id)) {
        const reason = deadLetters.get(id)?.get('dlq-error')?.toString();
        problems.add('an alert answered 202 was not delivered', 'HTTP', `${id} ${reason}`);
      }
    }
    for (const id of [...deliveries.keys(), ...deadLetters.keys()]) {
      if (!written.has(id) && !accepted.has(id)) problems.add('an unknown entry came out', '-', id);
    }

    const [pending] = (await client.xpending('alerts', WEBHOOK_GROUP)) as [number];
    expect({
      ...problems.summary(),
      streamLength: await client.xlen('alerts'),
      settled: deliveries.size + deadLetters.size,
      pending,
      waitingRetries: await client.zcard(`alerts:retries:${WEBHOOK_GROUP}`),
    }).toEqual({
      seed: SEED,
      problems: {},
      streamLength: total,
      settled: total,
      pending: 0,
      waitingRetries: 0,
    });
  }, 60_000);

  it('is still up, live and ready, and logged no unexpected failure', async () => {
    expect(main.running).toBe(true);
    expect((await probe(base, '/health/live')).status).toBe(200);
    expect((await probe(base, '/health/ready')).status).toBe(200);
    expect(main.stdout + main.stderr).not.toMatch(/Unexpected failure|Unhandled|uncaught/i);
  });
});
