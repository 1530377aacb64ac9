import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { apiKeyDigest, createEmailCipher, newApiKey } from "../src/crypto.ts";

describe("secrets at rest", () => {
  const cipher = createEmailCipher(randomBytes(32));

  it("encrypts emails with a fresh nonce each time and decrypts them back", () => {
    const a = cipher.encrypt("Alice@Example.com");
    const b = cipher.encrypt("Alice@Example.com");
    expect(a.equals(b)).toBe(false);
    expect(a.toString("latin1")).not.toContain("Alice");
    expect(cipher.decrypt(a)).toBe("Alice@Example.com");
  });

  it("refuses a tampered ciphertext (GCM tag)", () => {
    const blob = cipher.encrypt("bob@example.com");
    blob[blob.length - 1] = (blob[blob.length - 1] as number) ^ 1;
    expect(() => cipher.decrypt(blob)).toThrow();
  });

  it("digests emails case-insensitively, keyed", () => {
    expect(cipher.digest("A@X.io").equals(cipher.digest("a@x.io"))).toBe(true);
    expect(createEmailCipher(randomBytes(32)).digest("a@x.io").equals(cipher.digest("a@x.io"))).toBe(false);
  });

  it("makes 256-bit API keys and stable digests", () => {
    const key = newApiKey();
    expect(Buffer.from(key.slice(3), "base64url")).toHaveLength(32);
    expect(apiKeyDigest(key).equals(apiKeyDigest(key))).toBe(true);
    expect(apiKeyDigest(key).toString("hex")).not.toContain(key);
  });
});
