import { describe, expect, it } from "vitest";
import { type Figure, markdownTable, SCOPES, scopeLegend, textTable } from "../lib/report.ts";

const figures: Figure[] = [
  { what: "bare Fastify route", scope: "baseline", value: 20_000, unit: "req/s" },
  { what: "service: POST /api/logs", scope: "gateway alone", value: 6_000, unit: "req/s", baseline: { what: "bare", value: 20_000 } },
  { what: "worker alone: queue → committed", scope: "worker alone", value: 100_000, unit: "hits/s" },
  { what: "service: accepted → committed", scope: "whole system", value: 90_000, unit: "hits/s", target: { min: 80_000 } },
  { what: "GET /api/usage/daily p99 while ingesting", scope: "whole system", value: 4, unit: "ms", target: { max: 5 } },
];

describe("bench report", () => {
  it("heads the text table with what each scope means, before any figure", () => {
    const lines = textTable(figures).split("\n");
    const firstFigure = lines.findIndex((line) => line.startsWith("bare Fastify route"));
    const header = lines.slice(0, firstFigure).join("\n");
    expect(header).toMatch(/^Scope: what was running when a figure was measured\./);
    expect(header).toContain(`  gateway alone  ${SCOPES["gateway alone"]}`);
    expect(header).toContain(`  whole system   ${SCOPES["whole system"]}`);
    expect(SCOPES["gateway alone"]).toMatch(/no worker/);
    expect(SCOPES["whole system"]).toMatch(/gateway \+ worker \+ Redis \+ Postgres/);
  });

  it("names the scope on every row", () => {
    const rows = textTable(figures).split("\n").slice(-figures.length);
    rows.forEach((row, i) => {
      expect(row.startsWith(figures[i]?.what ?? "?"), row).toBe(true);
      expect(row).toContain(figures[i]?.scope);
    });
    expect(rows[3]).toMatch(/pass$/);
  });

  it("lists only the scopes in use, in a fixed order, with their figures", () => {
    const legend = scopeLegend(figures);
    expect(legend.map((entry) => entry.scope)).toEqual(["gateway alone", "worker alone", "whole system", "baseline"]);
    expect(legend.find((entry) => entry.scope === "whole system")?.figures).toEqual([
      "service: accepted → committed",
      "GET /api/usage/daily p99 while ingesting",
    ]);
  });

  it("puts the same legend above the markdown table, and a scope column in it", () => {
    const markdown = markdownTable(figures);
    const tableStart = markdown.indexOf("| figure | scope |");
    expect(tableStart).toBeGreaterThan(0);
    expect(markdown.slice(0, tableStart)).toContain(`- **gateway alone**: ${SCOPES["gateway alone"]}`);
    expect(markdown.slice(0, tableStart)).toContain(`- **whole system**: ${SCOPES["whole system"]}`);
    expect(markdown).toContain("| service: POST /api/logs | gateway alone | 6,000 req/s | bare: 20,000 | 0.30 × |");
  });
});
