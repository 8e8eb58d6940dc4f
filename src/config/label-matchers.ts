/** The four operators of Alertmanager's (and PromQL's) label matchers. */
export const MATCHER_OPERATORS = ['=', '!=', '=~', '!~'] as const;
export type MatcherOperator = (typeof MATCHER_OPERATORS)[number];

/** One `name op "value"` of a receiver's `matchers`. */
export interface LabelMatcher {
  name: string;
  operator: MatcherOperator;
  value: string;
  /** Whether a label value (the empty string for a missing label) satisfies it. */
  test(labelValue: string): boolean;
  /** The matcher as Alertmanager writes it, e.g. `team=~"db|web"`. */
  toString(): string;
}

/**
 * A label name: a Prometheus name, or one of this service's label keys (which also allow `.` and
 * `-`, e.g. `app.kubernetes.io-name`).
 */
const NAME = /^[A-Za-z0-9_.-]+$/;
/** Longest matcher text taken: a config file, not a place for essays. */
const MAX_MATCHER_LENGTH = 1_000;

/**
 * Parses one matcher in Alertmanager's classic syntax, as 0.25 reads `matchers:` items:
 * `severity="critical"`, `team=~"db|web"`, `env!=dev`, `name !~ "test-.*"`. The value may be
 * double-quoted, with `\"`, `\\` and `\n` escapes, or bare. Regular expressions are anchored at
 * both ends, as Alertmanager does (`db|web` matches `db`, not `mongodb`). Returns the problem, in
 * words, when the text is not a matcher.
 */
export function parseMatcher(text: string): LabelMatcher | { problem: string } {
  if (text.length > MAX_MATCHER_LENGTH) {
    return { problem: `is longer than ${MAX_MATCHER_LENGTH} characters` };
  }
  const found = /^\s*([^\s=!~"]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s.exec(text);
  if (!found) {
    return {
      problem: `is not a matcher such as severity="critical", team=~"db|web" or env!="dev"`,
    };
  }
  const [, name, operator, raw] = found as unknown as [string, string, MatcherOperator, string];
  if (!NAME.test(name)) {
    return { problem: `has the label name "${name}": only letters, digits, "_", "." and "-"` };
  }
  const value = unquote(raw);
  if (typeof value !== 'string') return value;
  return matcher(name, operator, value);
}

function matcher(
  name: string,
  operator: MatcherOperator,
  value: string,
): LabelMatcher | { problem: string } {
  const shown = `${name}${operator}${JSON.stringify(value)}`;
  if (operator === '=' || operator === '!=') {
    const equal = operator === '=';
    return {
      name,
      operator,
      value,
      test: (labelValue) => (labelValue === value) === equal,
      toString: () => shown,
    };
  }
  let pattern: RegExp;
  try {
    // Anchored as Alertmanager anchors it: the whole label value must match.
    pattern = new RegExp(`^(?:${value})$`);
  } catch (error) {
    return { problem: `has an invalid regular expression: ${(error as Error).message}` };
  }
  const matching = operator === '=~';
  return {
    name,
    operator,
    value,
    test: (labelValue) => pattern.test(labelValue) === matching,
    toString: () => shown,
  };
}

/** A bare value as it is; a quoted one with its escapes resolved (OpenMetrics rules). */
function unquote(raw: string): string | { problem: string } {
  if (!raw.startsWith('"')) {
    if (raw.includes('"')) return { problem: 'has a value with a stray double quote' };
    return raw;
  }
  let value = '';
  for (let i = 1; i < raw.length; i += 1) {
    const char = raw[i];
    if (char === '"') {
      return i === raw.length - 1 ? value : { problem: 'has text after its quoted value' };
    }
    const next = raw[i + 1];
    // A backslash before anything else stays a backslash, as in Alertmanager's classic parser:
    // `"\d+"` is the regular expression \d+.
    if (char === '\\' && (next === '"' || next === '\\' || next === 'n')) {
      value += next === 'n' ? '\n' : next;
      i += 1;
    } else {
      value += char;
    }
  }
  return { problem: 'has a quoted value without its closing double quote' };
}
