#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { CommanderError } from "commander";
import { CliError, EXIT } from "./errors.ts";
import { buildProgram } from "./program.ts";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

const fail = (code: number, message: string): void => {
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = code;
};

try {
  await buildProgram(version).parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed its message already; --help and --version end in exit code 0.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (error instanceof CliError) {
    fail(error.exitCode, error.message);
  } else {
    fail(EXIT.failed, error instanceof Error ? `${error.message} (a bug? please report it)` : String(error));
  }
}
