import type { Command } from "commander";
import { integer } from "../args.ts";
import { contextOf } from "../context.ts";
import { CliError, EXIT, usageError } from "../errors.ts";
import { fields, note, print, printJson, table } from "../output.ts";

interface OpsStats {
  ingest: { hits_per_second: number };
  queue: { waiting: number; active: number; failed: number; delayed: number; oldest_waiting_age_seconds: number };
  spool: { bytes: number; segments: number };
  gateways: number;
  workers: number;
}

interface FailedJobs {
  total: number;
  data: Array<{ id: string; failed_reason: string; attempts_made: number; hits: number; created_at: string; failed_at: string | null }>;
}

interface Retried {
  retried: number;
  not_failed: string[];
}

export const queueCommand = (program: Command): void => {
  const queue = program.command("queue").description("the hit queue: depth, failed jobs, replay (admin)");

  queue
    .command("stats")
    .description("ingest rate, queue depth and lag, spool, live gateways and workers (GET /api/ops/stats)")
    .addHelpText("after", "\nExample:\n  usagectl queue stats")
    .action(async (_options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const { body } = await api.send<OpsStats>("GET", "/api/ops/stats");
      if (json) return printJson(body);
      print(
        fields([
          ["ingest hits/s", body.ingest.hits_per_second],
          ["queue waiting", body.queue.waiting],
          ["queue active", body.queue.active],
          ["queue delayed", body.queue.delayed],
          ["queue failed", body.queue.failed],
          ["oldest waiting (s)", body.queue.oldest_waiting_age_seconds],
          ["spool bytes", body.spool.bytes],
          ["spool segments", body.spool.segments],
          ["gateways", body.gateways],
          ["workers", body.workers],
        ]),
      );
    });

  queue
    .command("failed")
    .description("failed hit jobs, newest first: id, reason, attempts, hits (GET /api/ops/queue/failed)")
    .option("--limit <n>", "how many, 1..100", integer(1, 100), 20)
    .addHelpText("after", "\nExample:\n  usagectl queue failed --limit 50")
    .action(async (options: { limit: number }, command: Command) => {
      const { api, json } = contextOf(command);
      const { body } = await api.send<FailedJobs>("GET", `/api/ops/queue/failed?limit=${options.limit}`);
      if (json) return printJson(body);
      print(
        table(
          ["JOB_ID", "FAILED_AT", "ATTEMPTS", "HITS", "REASON"],
          body.data.map((job) => [job.id, job.failed_at, job.attempts_made, job.hits, job.failed_reason]),
        ),
      );
      note(`${body.data.length} of ${body.total} failed job(s) shown`);
    });

  queue
    .command("retry")
    .description("move failed hit jobs back to the queue (POST /api/ops/queue/retry): the given ids, or --all")
    .argument("[job-ids...]", "ids from `usagectl queue failed`")
    .option("--all", "every failed hit job")
    .addHelpText(
      "after",
      "\nExit code 4 when a given id is not a failed job (unknown, or retried already); the others are retried.\n\n" +
        "Examples:\n  usagectl queue retry 1234 1240\n  usagectl queue retry --all",
    )
    .action(async (ids: string[], options: { all?: boolean }, command: Command) => {
      if (ids.length === 0 && options.all !== true) throw usageError("name the job ids to retry, or pass --all");
      if (ids.length > 0 && options.all === true) throw usageError("give job ids or --all, not both");
      if (ids.length > 1000) throw usageError("at most 1000 job ids at once");
      const { api, json } = contextOf(command);
      const { body } = await api.send<Retried>("POST", "/api/ops/queue/retry", { body: options.all === true ? {} : { ids } });
      if (json) printJson(body);
      else print(`retried ${body.retried} job(s)`);
      if (body.not_failed.length > 0) {
        throw new CliError(EXIT.notFound, `not failed jobs (unknown, or not in the failed state): ${body.not_failed.join(", ")}`);
      }
    });
};
