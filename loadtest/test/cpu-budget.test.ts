import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { measureCpu } from "../lib/cpu-budget.ts";

/**
 * A shell under a command name of its own (node names its processes "MainThread"), so a
 * party by name sees only these processes.
 */
const comm = `cpuburn${process.pid % 100_000}`;
const dir = mkdtempSync(join(tmpdir(), "cpu-budget-"));
const shell = join(dir, comm);
symlinkSync("/bin/sh", shell);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Counts to `n` (about a microsecond a step), says so, then waits on its stdin without CPU. */
const burner = async (n: number): Promise<ChildProcess> => {
  const child = spawn(shell, ["-c", `i=0; while [ $i -lt ${n} ]; do i=$((i+1)); done; echo done; read x`], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()));
  return child;
};
const stop = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });

describe("CPU budget", () => {
  it("counts each process of a party from where it stood, and an exit does not take its past off the sum", async () => {
    // Busy before the stage (twice what the late one burns), then killed during it.
    const early = await burner(400_000);
    let late: ChildProcess | undefined;
    const { result, cpu } = await measureCpu([{ name: "burners", comm }], async () => {
      await stop(early);
      late = await burner(200_000);
      return "ran";
    });
    const byPid = late?.pid;
    if (late !== undefined) await stop(late);
    expect(result).toBe("ran");
    expect(byPid).toBeGreaterThan(0);
    // Only the late one's counting: without the per-pid difference the early one's past
    // would have cancelled it out.
    expect(cpu.seconds.burners).toBeGreaterThanOrEqual(0.1);
    expect(cpu.seconds.burners).toBeLessThan(cpu.machineS + 0.02);
  });

  it("counts a process by pid, and nothing for one that stays idle", async () => {
    const idle = await burner(1);
    // Idle until told to count: its pid is known before the stage starts.
    const busy = spawn(shell, ["-c", `read go; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo done; read x`], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const { cpu } = await measureCpu(
      [
        { name: "idle", pid: idle.pid },
        { name: "busy", pid: busy.pid },
      ],
      async () => {
        busy.stdin?.write("go\n");
        await new Promise<void>((resolve) => busy.stdout?.once("data", () => resolve()));
      },
    );
    await stop(idle);
    await stop(busy);
    expect(cpu.seconds.idle).toBeLessThan(0.02);
    expect(cpu.seconds.busy).toBeGreaterThanOrEqual(0.1);
    expect(cpu.wallS).toBeGreaterThanOrEqual(cpu.seconds.busy ?? 0);
    expect(cpu.machineBusy).toBeGreaterThan(0);
  });
});
