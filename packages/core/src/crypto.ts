import { createCipheriv, createDecipheriv, createHmac, hash, randomBytes } from "node:crypto";

const API_KEY_PREFIX = "uk_";

/** 32 random bytes (256 bits), url-safe. Shown once; only its digest is stored. */
export const newApiKey = (): string => API_KEY_PREFIX + randomBytes(32).toString("base64url");

/**
 * A plain SHA-256 is enough for keys with 256 bits of entropy: nothing to brute-force,
 * and it keeps the hot-path lookup cheap.
 */
export const apiKeyDigest = (apiKey: string): Buffer => hash("sha256", apiKey, "buffer");

export interface EmailCipher {
  encrypt(email: string): Buffer;
  decrypt(blob: Buffer): string;
  /** Keyed digest of the normalised email, for case-insensitive uniqueness without plaintext. */
  digest(email: string): Buffer;
}

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

/** AES-256-GCM with a random 96-bit nonce per value: blob = nonce | tag | ciphertext. */
export const createEmailCipher = (key: Buffer): EmailCipher => {
  // Separate subkeys so the encryption key never doubles as the HMAC key.
  const encKey = createHmac("sha256", key).update("email-encryption").digest();
  const macKey = createHmac("sha256", key).update("email-digest").digest();
  return {
    encrypt(email) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", encKey, nonce);
      const body = Buffer.concat([cipher.update(email, "utf8"), cipher.final()]);
      return Buffer.concat([nonce, cipher.getAuthTag(), body]);
    },
    decrypt(blob) {
      const decipher = createDecipheriv("aes-256-gcm", encKey, blob.subarray(0, 12));
      decipher.setAuthTag(blob.subarray(12, 28));
      return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString("utf8");
    },
    digest(email) {
      return createHmac("sha256", macKey).update(normaliseEmail(email)).digest();
    },
  };
};
