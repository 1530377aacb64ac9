import { isIP } from "node:net";
import type { Ajv } from "ajv";

/** `format: "ip"`: IPv4 or IPv6 without a zone id (Postgres' inet has no zones). */
export const ipFormat = (ajv: Ajv): Ajv =>
  ajv.addFormat("ip", { type: "string", validate: (value: string) => isIP(value) !== 0 && !value.includes("%") });
