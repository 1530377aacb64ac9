import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { measureCpu } from "../lib/cpu-budget.ts";

/**
 * A shell under a command name of its own (node names its processes "MainThread"), so a
 * party by name sees only these processes.
 */
const comm = `cpuburn${process.pid % 100_000}`;
const shell = join(mkdtempSync(join(tmpdir(), "cpu-budget-")), comm);
symlinkSync("/bin/sh", shell);

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
    let busy: ChildProcess | undefined;
    const { cpu } = await measureCpu(
      [
        { name: "idle", pid: idle.pid },
        { name: "busy", comm },
      ],
      async () => {
        busy = await burner(200_000);
      },
    );
    await stop(idle);
    if (busy !== undefined) await stop(busy);
    expect(cpu.seconds.idle).toBeLessThan(0.02);
    expect(cpu.seconds.busy).toBeGreaterThanOrEqual(0.1);
    expect(cpu.wallS).toBeGreaterThanOrEqual(cpu.seconds.busy ?? 0);
    expect(cpu.machineBusy).toBeGreaterThan(0);
  });
});
