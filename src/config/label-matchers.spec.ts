import { parseMatcher, type LabelMatcher } from './label-matchers.js';

function parsed(text: string): LabelMatcher {
  const result = parseMatcher(text);
  if ('problem' in result) throw new Error(result.problem);
  return result;
}

describe('parseMatcher (Alertmanager classic syntax)', () => {
  it.each([
    ['severity="critical"', 'critical', true],
    ['severity="critical"', 'warning', false],
    ['severity = critical', 'critical', true],
    ['env!="dev"', 'prod', true],
    ['env!="dev"', 'dev', false],
    ['env!="dev"', '', true],
    ['team=~"db|web"', 'db', true],
    ['team=~"db|web"', 'web', true],
    // Anchored at both ends, as Alertmanager does.
    ['team=~"db|web"', 'mongodb', false],
    ['team=~"db|web"', 'webapp', false],
    ['team!~"db|web"', 'mongodb', true],
    ['team!~"db|web"', 'db', false],
    ['code=~"5.."', '503', true],
    ['code=~"5.."', '5030', false],
    ['id=~"\\\\d+"', '42', true],
    ['id=~"\\d+"', '42', true],
    ['env=""', '', true],
    ['env=', '', true],
    ['msg="say \\"hi\\""', 'say "hi"', true],
    ['path="a\\\\b"', 'a\\b', true],
  ])('%s on %j: %s', (text, value, expected) => {
    expect(parsed(text).test(value)).toBe(expected);
  });

  it('keeps the parts and writes the matcher back', () => {
    const matcher = parsed(' team =~ "db|web" ');
    expect(matcher).toMatchObject({ name: 'team', operator: '=~', value: 'db|web' });
    expect(matcher.toString()).toBe('team=~"db|web"');
  });

  it.each([
    ['severity', /is not a matcher/],
    ['="x"', /is not a matcher/],
    ['sev erity="x"', /is not a matcher/],
    ['a/b="x"', /label name/],
    ['team=~"(db"', /invalid regular expression/],
    ['env="dev', /closing double quote/],
    ['env="dev"x', /text after/],
    ['env=de"v', /stray double quote/],
  ])('refuses %j', (text, problem) => {
    const result = parseMatcher(text);
    expect(result).toEqual({ problem: expect.stringMatching(problem) });
  });
});
