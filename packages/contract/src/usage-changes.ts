import { type Static, Type } from "typebox";
import { Compile } from "typebox/compile";
import { Day, Uuid } from "./common.ts";

/**
 * What the worker publishes after each commit and every gateway relays to its sockets: one
 * entry per client and day whose stored total moved. `delta` is how many hits this commit
 * added, `total_requests` the committed total after it.
 */
export const UsageChange = Type.Object({ client_id: Uuid, date: Day, delta: Type.Integer(), total_requests: Type.Integer() });
export type UsageChange = Static<typeof UsageChange>;

const isChange = Compile(UsageChange);

/** One pub/sub message carries every change of one commit. */
export const encodeUsageChanges = (changes: readonly UsageChange[]): string => JSON.stringify(changes);

/**
 * The valid changes of a message, with their four fields only (a field the schema does not
 * name never reaches a socket); anything else in it is dropped. Undefined when the message
 * is not a JSON array at all.
 */
export const decodeUsageChanges = (message: string): UsageChange[] | undefined => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const changes: UsageChange[] = [];
  for (const change of parsed) {
    if (!isChange.Check(change)) continue;
    const { client_id, date, delta, total_requests } = change;
    changes.push({ client_id, date, delta, total_requests });
  }
  return changes;
};
