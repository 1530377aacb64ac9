import type { Command } from "commander";
import { integer } from "../args.ts";
import { contextOf } from "../context.ts";
import { note, print, printJson, table } from "../output.ts";

interface DailyUsage {
  data: Array<{ client_id: string; name: string; days: Array<{ date: string; total_requests: number }> }>;
  next_cursor?: string;
}

interface TopUsage {
  window: { from: string; to: string };
  data: Array<{ client_id: string; name: string; total_requests: number }>;
}

export const usageCommand = (program: Command): void => {
  const usage = program.command("usage").description("read usage: hits per day, top clients (admin)");

  usage
    .command("daily")
    .description("hits per UTC day over the last 7 days, every active client, busiest first (GET /api/usage/daily)")
    .option("--limit <n>", "clients per page, 1..1000", integer(1, 1000), 100)
    .option("--cursor <cursor>", "the page after a previous one (printed at the end of the table)")
    .addHelpText("after", "\nExample:\n  usagectl usage daily --limit 20")
    .action(async (options: { limit: number; cursor?: string }, command: Command) => {
      const { api, json } = contextOf(command);
      const query = new URLSearchParams({ limit: String(options.limit) });
      if (options.cursor !== undefined) query.set("cursor", options.cursor);
      const { body } = await api.send<DailyUsage>("GET", `/api/usage/daily?${query}`);
      if (json) return printJson(body);
      const dates = body.data[0]?.days.map((day) => day.date) ?? [];
      print(
        table(
          ["CLIENT_ID", "NAME", ...dates.map((date) => date.slice(5)), "7 DAYS"],
          body.data.map((client) => [
            client.client_id,
            client.name,
            ...client.days.map((day) => day.total_requests),
            client.days.reduce((sum, day) => sum + day.total_requests, 0),
          ]),
        ),
      );
      if (typeof body.next_cursor === "string") note(`more: usagectl usage daily --cursor ${body.next_cursor}`);
    });

  usage
    .command("top")
    .description("the busiest clients of the last 24 hours (GET /api/usage/top)")
    .option("--limit <n>", "how many, 1..100", integer(1, 100), 10)
    .addHelpText("after", "\nExample:\n  usagectl usage top --limit 5")
    .action(async (options: { limit: number }, command: Command) => {
      const { api, json } = contextOf(command);
      const { body } = await api.send<TopUsage>("GET", `/api/usage/top?limit=${options.limit}`);
      if (json) return printJson(body);
      print(
        table(
          ["#", "CLIENT_ID", "NAME", "HITS"],
          body.data.map((row, i) => [i + 1, row.client_id, row.name, row.total_requests]),
        ),
      );
      note(`window: ${body.window.from} .. ${body.window.to}`);
    });
};
