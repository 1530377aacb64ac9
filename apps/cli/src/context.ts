import type { Command } from "commander";
import { usageError } from "./errors.ts";
import { Api } from "./http.ts";

export const DEFAULT_URL = "http://127.0.0.1:3000";

interface GlobalOptions {
  url?: string;
  adminKey?: string;
  json?: boolean;
  timeout?: number;
}

export interface Context {
  api: Api;
  json: boolean;
}

/** The API client and output mode of a command, from its flags (commander fills them from USAGE_URL, USAGE_ADMIN_KEY). */
export const contextOf = (command: Command): Context => {
  const options = command.optsWithGlobals<GlobalOptions>();
  const url = options.url ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`not a URL: "${url}" (--url or USAGE_URL, e.g. ${DEFAULT_URL})`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw usageError(`the URL must be http or https: "${url}"`);
  const adminKey = options.adminKey;
  return {
    api: new Api({ url: parsed.href, adminKey: adminKey === "" ? undefined : adminKey, timeoutMs: (options.timeout ?? 10) * 1000 }),
    json: options.json === true,
  };
};
