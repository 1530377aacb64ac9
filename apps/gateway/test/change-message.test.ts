import { describe, expect, it } from "vitest";
import { decodeClientChange, encodeClientChange } from "../src/clients/change-message.ts";

const id = "3f0c6a56-0b8e-4a53-9f55-0f5b3e0c9d11";

/** The clients channel's message, read by gateways of this version and of the one before. */
describe("client change message", () => {
  it("carries the primary's WAL position when there is one", () => {
    const change = { client_id: id, revoked: true, lsn: "16/B374D848" };
    expect(decodeClientChange(encodeClientChange(change))).toEqual(change);
  });

  it("is the former shape without a position (no replica), which a gateway of the former version reads", () => {
    const text = encodeClientChange({ client_id: id, revoked: false, lsn: undefined });
    expect(JSON.parse(text)).toEqual({ client_id: id, revoked: false });
    expect(decodeClientChange(text)).toEqual({ client_id: id, revoked: false });
  });

  it("keeps the change and drops a position of another shape", () => {
    for (const lsn of ["16-B374D848", "not a position", 42, "1/2/3", "123456789/0"]) {
      expect(decodeClientChange(JSON.stringify({ client_id: id, revoked: true, lsn }))).toEqual({ client_id: id, revoked: true });
    }
  });

  it("is nothing at all for a message that is not a change", () => {
    expect(decodeClientChange("[]")).toBeUndefined();
    expect(decodeClientChange(JSON.stringify({ client_id: id }))).toBeUndefined();
    expect(decodeClientChange("{")).toBeUndefined();
  });
});
