import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const readme = readFileSync("README.md", "utf8");
const ci = readFileSync(".ci/run", "utf8");
const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { packageManager: string; devDependencies: Record<string, string> };

/** The code blocks of a markdown text, in order. */
const codeBlocks = (markdown: string, lang: string): string[] =>
  [...markdown.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, "gm"))].map((match) => match[1] ?? "");

/** A command line without its trailing `# comment`. */
const command = (line: string): string => line.replace(/\s+#.*$/, "").trim();

describe("README's two commands", () => {
  const [first = ""] = codeBlocks(readme, "bash");
  const [start = "", test = ""] = first.trim().split("\n").map(command);

  it("install and start, then test, through the pnpm that package.json pins", () => {
    const pinned = manifest.packageManager.replace(/^pnpm@/, "");
    expect(start).toBe(`npx -y pnpm@${pinned} install && npx -y pnpm@${pinned} start`);
    expect(test).toBe(`npx -y pnpm@${pinned} test`);
  });

  it("are what CI runs, verbatim", () => {
    expect(ci).toContain(`readonly START_COMMAND='${start}'`);
    expect(ci).toContain(`readonly TEST_COMMAND='${test}'`);
    expect(ci).toMatch(/setsid bash -c "\$START_COMMAND"/);
    expect(ci).toMatch(/bash -c "\$TEST_COMMAND"/);
  });

  it("check engines against the Node the project brings, not the one running pnpm", () => {
    const workspace = readFileSync("pnpm-workspace.yaml", "utf8");
    expect(workspace).toMatch(new RegExp(`^nodeVersion: ${manifest.devDependencies.node?.replaceAll(".", "\\.")}$`, "m"));
  });
});
