/**
 * What a run must undo (stop its processes, drop its database, stop a private Redis
 * Cluster), each step once: at the end of its part of the run, on an error, or on Ctrl-C or
 * SIGTERM, which would otherwise end the bench without running its `finally` blocks.
 */
export const createTeardown = () => {
  const steps = new Set<() => Promise<void>>();
  const runOne = async (step: () => Promise<void>): Promise<void> => {
    if (!steps.delete(step)) return;
    try {
      await step();
    } catch (error) {
      process.stderr.write(`teardown: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  };
  const runAll = async (): Promise<void> => {
    for (const step of [...steps].reverse()) await runOne(step);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping what the bench started\n`);
    void runAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    /** Registers a step; the function returned runs it now (once) and forgets it. */
    add(step: () => Promise<void>): () => Promise<void> {
      steps.add(step);
      return () => runOne(step);
    },
    /** Runs what is left, last added first, and lets signals end the process as they did. */
    async close(): Promise<void> {
      await runAll();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
};
