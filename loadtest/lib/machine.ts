import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";

const run = (command: string, args: string[]): string => {
  try {
    return execFileSync(command, args, { encoding: "utf8" }).trim().split("\n")[0] ?? "";
  } catch {
    return "unknown";
  }
};

/** One paragraph that says what the numbers were measured on. */
export const describeMachine = (): string => {
  const cpu = cpus();
  return [
    `${cpu.length} cores (${cpu[0]?.model ?? "unknown CPU"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `Node ${process.version}`,
    run("psql", ["--version"]).replace("psql (PostgreSQL)", "PostgreSQL"),
    run("redis-server", ["--version"]).split(" sha=")[0] ?? "",
    "load generator (autocannon) on the same machine, sharing its cores",
  ].join("; ");
};
