import { Command, Option } from "commander";
import { integer } from "./args.ts";
import { clientsCommand } from "./commands/clients.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { queueCommand } from "./commands/queue.ts";
import { streamCommand } from "./commands/stream.ts";
import { usageCommand } from "./commands/usage.ts";
import { DEFAULT_URL } from "./context.ts";
import { EXIT_HELP, EXIT_SHORT } from "./errors.ts";

const CONFIG_HELP = `Configuration (flags win over the environment):
  USAGE_URL        the gateway, e.g. https://usage.internal (default ${DEFAULT_URL})
  USAGE_ADMIN_KEY  the admin key (the gateway's ADMIN_API_KEY); exchanged for a token on each run.
                   Prefer it to --admin-key, which other users of the machine can see in ps.`;

/** The whole command tree; bin.ts parses with it. */
export const buildProgram = (version: string): Command => {
  const program = new Command("usagectl")
    .description("The operators' command line for the usage-metering API (HTTP only).")
    .version(version, "-V, --version")
    .addOption(new Option("--url <url>", "the gateway's base URL").env("USAGE_URL"))
    .addOption(new Option("--admin-key <key>", "the admin key").env("USAGE_ADMIN_KEY"))
    .option("--json", "print the API's JSON answer instead of a table")
    .option("--timeout <seconds>", "give up on an answer after this long, 1..600", integer(1, 600), 10)
    // Every command (and subcommand, which inherit these): exit 2 on bad usage instead of commander's 1.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    // Commander's usage errors as one line, like the CLI's own.
    .configureOutput({ outputError: (text, write) => write(`${text.trimEnd()} (see --help)\n`) })
    .addHelpText("after", `\n${CONFIG_HELP}\n\n${EXIT_HELP}`);
  clientsCommand(program);
  usageCommand(program);
  queueCommand(program);
  streamCommand(program);
  doctorCommand(program);
  // Every command's --help shows the global options and where the exit codes are.
  const visit = (command: Command): void => {
    if (command !== program) command.addHelpText("after", `\n${EXIT_SHORT}`);
    command.commands.forEach(visit);
  };
  visit(program);
  return program;
};
