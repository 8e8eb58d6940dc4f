#!/usr/bin/env node
import { runCli } from './cli-runner.js';

// A reader that goes away (`| head`) must not turn into an uncaught EPIPE.
process.stdout.on('error', () => undefined);

// Exits explicitly: the library may hold a timer or two (a startup check) that nothing awaits.
runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`error: ${String(error)}\n`);
    process.exit(1);
  },
);
