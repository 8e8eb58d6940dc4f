import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigValidationError, validate } from '../config/env.validation.js';
import { StreamInspector, UnknownStreamError } from '@redis-streams-alerts/nestjs-redis-streams';
import { settledWithin } from '../common/waits.js';
import { parseCliArgs, type CliCommand } from './cli-args.js';
import { CLI_DEFAULTS, CLI_NAME, EXIT } from './cli.constants.js';
import { CommandFailedError, InvalidInputError, UsageError } from './cli.errors.js';
import { createCliLogger } from './cli-logger.js';
import { CliModule } from './cli.module.js';
import { commandNamed } from './command-registry.js';
import type { CommandOutput } from './commands/command-output.interface.js';
import { RedisReachability } from './redis-reachability.js';
import { usageText } from './usage.js';

/**
 * Runs one command line and returns the exit code. The order makes failures cheap and clear: the
 * command line first (no Redis needed), then the environment, then the context (handlers are
 * discovered, nothing consumes), the stream name, and only then Redis, within a few seconds.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  let verbose = false;
  let context: INestApplicationContext | undefined;
  try {
    const invocation = parseCliArgs(argv);
    const { command } = invocation;
    verbose = invocation.verbose;
    if (command.name === 'help') {
      await write(process.stdout, usageText(command.topic));
      return EXIT.ok;
    }
    const env = validate(process.env);
    context = await NestFactory.createApplicationContext(CliModule.forRoot(env), {
      logger: createCliLogger(env, verbose),
      // Let startup errors reach the catch below instead of an abort().
      abortOnError: false,
    });
    if ('stream' in command) assertKnownStream(context.get(StreamInspector), command);
    await context.get(RedisReachability).ensure();
    const output = await execute(context, command);
    if (output.notice) await write(process.stderr, output.notice);
    const json = 'json' in command && command.json;
    await write(process.stdout, json ? JSON.stringify(output.data, null, 2) : output.text);
    return EXIT.ok;
  } catch (error) {
    return report(error, verbose);
  } finally {
    if (context) await closeWithin(context, CLI_DEFAULTS.closeTimeoutMs);
  }
}

function execute(context: INestApplicationContext, command: CliCommand): Promise<CommandOutput> {
  // parseCliArgs made `command` with this very definition's `parse`.
  const runner = commandNamed(command.name)?.runner;
  if (!runner) throw new Error(`No command ${command.name}`);
  return context.get(runner).run(command);
}

/** Only streams that a handler consumes: a typo must not read or write some other key. */
function assertKnownStream(
  inspector: StreamInspector,
  command: Extract<CliCommand, { stream: string }>,
): void {
  const known = inspector.knownStreams();
  if (!known.includes(command.stream)) {
    throw new InvalidInputError(
      `Unknown stream "${command.stream.slice(0, 200)}": this service handles ${known.join(', ') || 'no stream'}`,
      command.name,
    );
  }
}

async function report(error: unknown, verbose: boolean): Promise<number> {
  if (error instanceof InvalidInputError || error instanceof UnknownStreamError) {
    const topic = error instanceof InvalidInputError ? error.topic : undefined;
    const help = topic ? `${CLI_NAME} ${topic} --help` : `${CLI_NAME} --help`;
    await write(process.stderr, `error: ${error.message}\n\nRun "${help}" for the options.`);
    return EXIT.usage;
  }
  if (error instanceof UsageError) {
    await write(process.stderr, `error: ${error.message}\n\n${usageText(error.topic)}`);
    return EXIT.usage;
  }
  if (error instanceof ConfigValidationError) {
    // The message lists every problem already.
    await write(process.stderr, error.message);
    return EXIT.failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  const stack = verbose && error instanceof Error && !(error instanceof CommandFailedError);
  await write(process.stderr, `error: ${message}${stack ? `\n${error.stack}` : ''}`);
  return EXIT.failure;
}

/** Closes the context (its Redis connection), but never waits longer than `timeoutMs`. */
async function closeWithin(context: INestApplicationContext, timeoutMs: number): Promise<void> {
  await settledWithin(context.close(), timeoutMs);
}

/** Writes a line and waits until it is handed over, so that exiting right after loses nothing. */
function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text.endsWith('\n') ? text : `${text}\n`, () => resolve());
  });
}
