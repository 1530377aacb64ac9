import type { Command } from "commander";
import { contextOf } from "../context.ts";
import { CliError, EXIT, type ExitCode } from "../errors.ts";
import { printJson, print as printLine, table } from "../output.ts";

interface Check {
  name: "gateway" | "postgres" | "redis" | "admin_key";
  ok: boolean;
  detail: string;
  /** The exit code when this check fails. */
  exit: ExitCode;
}

const parse = (text: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

export const doctorCommand = (program: Command): void => {
  program
    .command("doctor")
    .description("check the setup: gateway reachable, Postgres and Redis ready (/health/ready), admin key accepted")
    .addHelpText(
      "after",
      "\nExits 0 when every check passes, else with the code of the first failing one: 7 gateway\n" +
        "unreachable, 6 Postgres or Redis not ready, 2 no admin key set, 3 admin key refused.\n" +
        "--json prints { url, ok, checks: [ { name, ok, detail } ], ready: <the /health/ready answer> }.\n\n" +
        "Example:\n  USAGE_URL=https://usage.internal USAGE_ADMIN_KEY=… usagectl doctor",
    )
    .action(async (_options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const checks: Check[] = [];
      let ready: Record<string, unknown> | undefined;

      const started = Date.now();
      try {
        const health = await api.raw("GET", "/health");
        checks.push({
          name: "gateway",
          ok: health.status === 200,
          detail: `${api.url("/health").origin} answered ${health.status} in ${Date.now() - started} ms`,
          exit: EXIT.server,
        });
      } catch (error) {
        checks.push({ name: "gateway", ok: false, detail: error instanceof Error ? error.message : String(error), exit: EXIT.network });
      }

      if (checks[0]?.ok) {
        const answer = await api.raw("GET", "/health/ready").catch(() => undefined);
        ready = answer === undefined ? undefined : parse(answer.text);
        const states = (ready?.checks ?? {}) as Record<string, unknown>;
        for (const name of ["postgres", "redis"] as const) {
          const state = typeof states[name] === "string" ? (states[name] as string) : "unknown";
          checks.push({
            name,
            ok: state === "up",
            detail: state === "up" ? "up" : `${state} (GET /health/ready answered ${answer?.status ?? "nothing"})`,
            exit: EXIT.server,
          });
        }
        try {
          await api.token();
          checks.push({ name: "admin_key", ok: true, detail: "accepted (POST /api/auth/token)", exit: EXIT.auth });
        } catch (error) {
          const exit = error instanceof CliError ? error.exitCode : EXIT.failed;
          checks.push({ name: "admin_key", ok: false, detail: error instanceof Error ? error.message : String(error), exit });
        }
      }

      const failed = checks.find((check) => !check.ok);
      if (json) {
        printJson({
          url: api.settings.url,
          ok: failed === undefined,
          checks: checks.map(({ name, ok, detail }) => ({ name, ok, detail })),
          ...(ready === undefined ? {} : { ready }),
        });
      } else {
        printLine(
          table(
            ["CHECK", "STATUS", "DETAIL"],
            checks.map((check) => [check.name, check.ok ? "ok" : "FAIL", check.detail]),
          ),
        );
      }
      if (failed !== undefined) throw new CliError(failed.exit, `doctor: ${failed.name} check failed: ${failed.detail}`);
    });
};
