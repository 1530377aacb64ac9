import { createInterface } from "node:readline/promises";
import { CliError, EXIT, usageError } from "./errors.ts";

/**
 * A destructive command goes on with --yes, or when a person answers "y" on a terminal.
 * Without a terminal and without --yes it refuses (bad usage): a script must say --yes.
 */
export const confirm = async (question: string, yes: boolean | undefined, action: string): Promise<void> => {
  if (yes === true) return;
  if (process.stdin.isTTY !== true) {
    throw usageError(`refusing to ${action} without confirmation: stdin is not a terminal, pass --yes`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(EXIT.failed, `aborted: did not ${action}`);
  } finally {
    rl.close();
  }
};
