import { parseCliArgs, type CliCommand } from './cli-args.js';
import { InvalidInputError, UsageError } from './cli.errors.js';

function command(...argv: string[]): CliCommand {
  const { command } = parseCliArgs(argv);
  if (command.name === 'help') throw new Error('expected a command, got help');
  return command;
}

function usageError(...argv: string[]): UsageError {
  try {
    parseCliArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`parseCliArgs accepted ${JSON.stringify(argv)}`);
}

describe('parseCliArgs', () => {
  it('reads status, with --json and --verbose', () => {
    expect(command('status')).toEqual({ name: 'status', json: false });
    expect(parseCliArgs(['status', '--json', '--verbose'])).toEqual({
      command: { name: 'status', json: true },
      verbose: true,
    });
  });

  it('answers --help and -h anywhere with the help of the command so far', () => {
    expect(parseCliArgs(['--help']).command).toEqual({ name: 'help', topic: undefined });
    expect(parseCliArgs(['dlq', '-h']).command).toEqual({ name: 'help', topic: 'dlq' });
    expect(parseCliArgs(['dlq', 'replay', '--bogus', '--help']).command).toEqual({
      name: 'help',
      topic: 'dlq replay',
    });
  });

  it('refuses a missing or unknown command, naming what to show', () => {
    expect(usageError().message).toBe('Missing command');
    expect(usageError('--verbose').topic).toBeUndefined();
    expect(usageError('statuz').message).toContain('Unknown command "statuz"');
    expect(usageError('dlq').topic).toBe('dlq');
    expect(usageError('dlq', 'purge').message).toContain('Unknown dlq command "purge"');
  });

  it("passes parseArgs' own errors on as usage errors of the command", () => {
    expect(usageError('status', '--bogus')).toMatchObject({ topic: 'status' });
    expect(usageError('status', 'extra').message).toContain("Unexpected argument 'extra'");
    expect(usageError('dlq', 'list', '--limit').message).toContain('argument missing');
  });

  it('reads dlq list with its defaults, bounds, cursor and filters', () => {
    expect(command('dlq', 'list')).toEqual({
      name: 'dlq list',
      stream: 'alerts',
      limit: 20,
      cursor: undefined,
      filter: {},
      json: false,
    });
    expect(
      command(
        'dlq',
        'list',
        '--stream=alerts:dlq',
        '--limit',
        '500',
        '--cursor',
        '1732770000000-3',
        '--group',
        'alerts-webhook',
        '--error',
        'answered 400',
        '--json',
      ),
    ).toEqual({
      name: 'dlq list',
      stream: 'alerts:dlq',
      limit: 500,
      cursor: '1732770000000-3',
      filter: { group: 'alerts-webhook', errorContains: 'answered 400' },
      json: true,
    });
    for (const limit of ['0', '501', '-1', '1.5', 'ten', '']) {
      expect(usageError('dlq', 'list', `--limit=${limit}`).message).toContain('--limit');
    }
    expect(usageError('dlq', 'list', '--cursor', 'latest').message).toContain('not a stream entry');
    expect(usageError('dlq', 'list', '--group', '').message).toBe('--group must not be empty');
  });

  it('reads dlq replay by ids or by filter, never both', () => {
    expect(command('dlq', 'replay', '1-0', '2-0')).toEqual({
      name: 'dlq replay',
      stream: 'alerts',
      selection: { ids: ['1-0', '2-0'] },
      json: false,
    });
    expect(command('dlq', 'replay', '--all')).toMatchObject({
      selection: { filter: {}, limit: 1_000 },
    });
    expect(
      command('dlq', 'replay', '--group', 'g', '--error', 'timeout', '--limit', '5'),
    ).toMatchObject({ selection: { filter: { group: 'g', errorContains: 'timeout' }, limit: 5 } });
    expect(usageError('dlq', 'replay').message).toContain('Say what to replay');
    expect(usageError('dlq', 'replay', '1-0', '--all').message).toContain('not both');
    expect(usageError('dlq', 'replay', '1-0', '--limit', '3').message).toContain('not both');
    expect(usageError('dlq', 'replay', '--all', '--group', 'g').message).toContain('--all');
    expect(usageError('dlq', 'replay', 'abc').message).toContain('"abc" is not a stream entry id');
    expect(usageError('dlq', 'replay', '--all', '--limit', '10001').message).toContain('10000');
  });

  it('reads dlq delete with at least one valid id', () => {
    expect(command('dlq', 'delete', '--stream', 'alerts', '5-1', '--json')).toEqual({
      name: 'dlq delete',
      stream: 'alerts',
      ids: ['5-1'],
      json: true,
    });
    expect(usageError('dlq', 'delete').message).toBe('Give the ids to delete');
    expect(usageError('dlq', 'delete', '5').topic).toBe('dlq delete');
  });

  it('reads groups pause and resume with exactly a stream and a group', () => {
    expect(command('groups', 'pause', 'alerts', 'alerts-webhook')).toEqual({
      name: 'groups pause',
      stream: 'alerts',
      group: 'alerts-webhook',
      json: false,
    });
    expect(command('groups', 'resume', '--json', 'alerts:dlq', 'alerts-recorder-dlq')).toEqual({
      name: 'groups resume',
      stream: 'alerts:dlq',
      group: 'alerts-recorder-dlq',
      json: true,
    });
    expect(usageError('groups', 'pause', 'alerts')).toMatchObject({
      message: 'Give two names, the stream and the group (got 1)',
      topic: 'groups pause',
    });
    expect(usageError('groups', 'resume', 'a', 'b', 'c').message).toContain('(got 3)');
    expect(usageError('groups', 'pause', 'alerts', ' ').message).toBe('GROUP must not be empty');
    expect(usageError('groups').message).toBe('Missing groups command: pause or resume');
  });

  describe('publish', () => {
    it('makes an alert of the options, checked like POST /alerts, with its defaults', () => {
      const parsed = command(
        'publish',
        '--message',
        'Disk full',
        '--source',
        'web-3',
        '--label',
        'env=prod',
        '--label',
        'query=a=b',
        '--event-id',
        'disk-full-web-3',
      );
      expect(parsed).toMatchObject({
        name: 'publish',
        stream: 'alerts',
        eventId: 'disk-full-web-3',
        payload: {
          kind: 'alert',
          alert: {
            message: 'Disk full',
            severity: 'critical',
            source: 'web-3',
            labels: { env: 'prod', query: 'a=b' },
          },
        },
      });
    });

    it('lists every problem of an invalid alert at once', () => {
      const error = usageError(
        'publish',
        '--message',
        ' ',
        '--severity',
        'loud',
        '--label',
        'bad key=1',
      );
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(error.message).toContain('message must not be blank');
      expect(error.message).toContain('severity must be one of');
      expect(error.message).toContain('key "bad key"');
    });

    it('checks an alert given as --json the same way, unknown properties included', () => {
      expect(command('publish', '--json', '{"message":"x","severity":"info"}')).toMatchObject({
        payload: { kind: 'alert', alert: { message: 'x', severity: 'info' } },
      });
      expect(usageError('publish', '--json', '{"message":"x","extra":1}').message).toContain(
        'property extra should not exist',
      );
    });

    it('takes any JSON object for another stream, and only --json there', () => {
      expect(command('publish', '--stream', 'orders', '--json', '{"sku":"a-1"}')).toEqual({
        name: 'publish',
        stream: 'orders',
        payload: { kind: 'json', value: { sku: 'a-1' } },
        eventId: undefined,
      });
      expect(usageError('publish', '--stream', 'orders', '--message', 'x').message).toContain(
        "give --json '{...}' for orders",
      );
      expect(usageError('publish', '--stream', 'orders', '--json', '[1]').message).toContain(
        'JSON object',
      );
      expect(usageError('publish', '--stream', 'orders', '--json', '{').message).toContain(
        'not valid JSON',
      );
    });

    it('refuses what cannot make one alert', () => {
      expect(usageError('publish').message).toContain('needs --message');
      expect(usageError('publish', '--json', '{}', '--message', 'x').message).toContain(
        'whole payload',
      );
      expect(usageError('publish', '--message', 'x', '--label', 'novalue').message).toContain(
        'must be key=value',
      );
      expect(
        usageError('publish', '--message', 'x', '--label', 'a=1', '--label', 'a=2').message,
      ).toBe('--label names a key twice');
      expect(usageError('publish', '--message', 'x', '--event-id', 'has space')).toBeInstanceOf(
        InvalidInputError,
      );
    });
  });
});
