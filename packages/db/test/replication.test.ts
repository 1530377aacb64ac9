import { describe, expect, it } from "vitest";
import { parseLsn, sqlState } from "../src/replication.ts";

describe("WAL positions", () => {
  it("compare as the server compares them (high word first, hexadecimal, any case)", () => {
    expect(parseLsn("0/0")).toBe(0n);
    expect(parseLsn("16/B374D848")).toBe((0x16n << 32n) | 0xb374d848n);
    expect(parseLsn("16/b374d848")).toBe(parseLsn("16/B374D848"));
    const order = ["0/FFFFFFFF", "1/0", "1/10", "1/9", "A/0"].map((text) => parseLsn(text) as bigint);
    expect(order[0]).toBeLessThan(order[1] as bigint);
    expect(order[2]).toBeGreaterThan(order[3] as bigint);
    expect(order[4]).toBeGreaterThan(order[2] as bigint);
  });

  it("are undefined for anything else", () => {
    for (const text of ["", "16", "16/", "/1", "G/0", "123456789/0", "1/2/3", " 1/2"]) expect(parseLsn(text)).toBeUndefined();
  });
});

describe("sqlState", () => {
  it("is undefined for an error the server did not answer (network, pool, client)", () => {
    expect(sqlState(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBeUndefined();
    expect(sqlState("57P01")).toBeUndefined();
  });
});
