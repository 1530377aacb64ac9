import { fullFormats } from "ajv-formats/dist/formats.js";
import { describe, expect, it, vi } from "vitest";
import { dateTimeFormat, isDateTime } from "../src/http/ajv-formats.ts";
import { buildGateway, hit } from "./helper.ts";

const reference = fullFormats["date-time"] as { validate: (text: string) => boolean };

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

/** Strings near every boundary the format checks, and some that miss its shape. */
const corpus = (): string[] => {
  const out = [
    "",
    "2024-01-01",
    "2024-01-01T00:00:00",
    "2024-01-01T00:00:00Z ",
    " 2024-01-01T00:00:00Z",
    "2024-01-01T00:00Z",
    "2024-1-01T00:00:00Z",
    "02024-01-01T00:00:00Z",
    "2024-01-01TT00:00:00Z",
    "2024-01-01T00:00:00.Z",
    "2024-01-01T00:00:00,5Z",
    "2024-01-01T00:00:00+5:00",
    "2024-01-01T00:00:00+05:0",
    "2024-01-01T00:00:00+05:00:00",
    "2024-01-01T00:00:00ZZ",
    "2024-01-01\t00:00:00Z",
    "2024-01-01\n00:00:00Z",
    "2024-01-01T00:00:00\u0661Z",
    "2024-01-01T23:59:60.999+00:00",
    "2024-01-02T00:59:60+01:00",
    "2024-01-01T22:59:60-01:00",
    "2024-01-01T23:29:60-00:30",
    "2024-01-01T12:00:59.99999999999999999Z",
    "2024-01-01T12:00:59.9999999999999Z",
    "2024-01-01T23:59:60.99999999999999999Z",
    "2024-01-01T23:59:60.9999999999999Z",
    "2024-01-01T23:59:59.99999999999999999+00:00",
  ];
  const years = [1900, 2000, 2023, 2024, 2100, 9999, 0];
  for (const year of years)
    for (const month of [0, 1, 2, 4, 12, 13])
      for (const day of [0, 1, 28, 29, 30, 31, 32]) out.push(`${pad(year, 4)}-${pad(month)}-${pad(day)}T12:00:00Z`);
  for (const hour of [0, 22, 23, 24, 99])
    for (const minute of [0, 58, 59, 60])
      for (const second of [0, 59, 60, 61])
        for (const fraction of ["", ".0", ".123456789"])
          for (const offset of ["Z", "z", "+00:00", "-00:00", "+01:00", "-01:00", "+0130", "+01", "-23:59", "+24:00", "+00:60", "-0060"])
            for (const separator of ["T", "t", " "])
              out.push(`2024-06-30${separator}${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${offset}`);
  return out;
};

describe("date-time format", () => {
  it("accepts exactly the strings ajv-formats' date-time accepts", () => {
    const cases = corpus();
    const disagreements = cases.filter((text) => isDateTime(text) !== reference.validate(text));
    expect(disagreements).toEqual([]);
    // The corpus reaches both answers, many times each.
    expect(cases.filter(isDateTime).length).toBeGreaterThan(500);
    expect(cases.filter((text) => !isDateTime(text)).length).toBeGreaterThan(500);
  });

  it("rejects impossible calendar days that Date.parse would roll over", () => {
    expect(Number.isNaN(Date.parse("2023-02-29T00:00:00Z"))).toBe(false);
    expect(isDateTime("2023-02-29T00:00:00Z")).toBe(false);
    expect(isDateTime("2024-02-29T00:00:00Z")).toBe(true);
    expect(isDateTime("2024-04-31T00:00:00Z")).toBe(false);
  });

  it("is the check the gateway's routes validate with", async () => {
    const gw = await buildGateway();
    const client = await gw.register();
    const spy = vi.spyOn(dateTimeFormat, "validate");
    try {
      const timestamp = new Date().toISOString();
      const response = await gw.inject({
        method: "POST",
        url: "/api/logs",
        headers: { "x-api-key": client.api_key },
        payload: hit({ timestamp }),
      });
      expect(response.statusCode, response.body).toBe(202);
      expect(spy).toHaveBeenCalledWith(timestamp);
    } finally {
      spy.mockRestore();
      await gw.close();
    }
  });
});
