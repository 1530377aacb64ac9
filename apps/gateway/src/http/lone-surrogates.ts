/**
 * A JSON text can spell a lone UTF-16 surrogate as an escape ("\ud800"), which JSON.parse
 * turns into a string no UTF-8 column can hold: Postgres would refuse it or a driver would
 * swap it for U+FFFD. Raw surrogates never get this far: their UTF-8 form is invalid UTF-8.
 */

/** A `\u` escape of a surrogate (D800..DFFF), paired or not: the cheap test on the raw text. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** False for nearly every body: only then is the parsed value walked. */
export const mayHoldLoneSurrogate = (json: string): boolean => json.includes("\\u") && SURROGATE_ESCAPE.test(json);

/**
 * Whether any string in the value, keys included, holds a lone surrogate. Iterative: a
 * deeply nested body must not overflow the stack.
 */
export const holdsLoneSurrogate = (value: unknown): boolean => {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === "string") {
      if (!item.isWellFormed()) return true;
    } else if (Array.isArray(item)) {
      for (const element of item) pending.push(element);
    } else if (typeof item === "object" && item !== null) {
      for (const [key, element] of Object.entries(item)) {
        if (!key.isWellFormed()) return true;
        pending.push(element);
      }
    }
  }
  return false;
};
