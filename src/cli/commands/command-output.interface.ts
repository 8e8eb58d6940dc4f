/** What a command prints: `data` as JSON for machines, `text` for people. */
export interface CommandOutput {
  data: unknown;
  text: string;
  /** A remark for people, printed on stderr so that stdout stays parseable. */
  notice?: string;
}
