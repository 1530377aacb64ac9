import { Format } from "typebox/format";

/** 1 where a char code (below 128) is a hex digit, either case. */
const HEX = new Uint8Array(128);
for (const digit of "0123456789abcdefABCDEF") HEX[digit.charCodeAt(0)] = 1;

const hexRun = (text: string, from: number, to: number): boolean => {
  for (let at = from; at < to; at++) {
    const code = text.charCodeAt(at);
    if (code > 127 || HEX[code] === 0) return false;
  }
  return true;
};

/**
 * TypeBox's `uuid` format, the same strings (8-4-4-4-12 hex digits, either case; a test
 * compares the two) without its regular expression: each hit of a job carries two UUIDs,
 * and the expression was a twentieth of the worker's CPU. About four times faster.
 */
export const isUuid = (text: string): boolean =>
  text.length === 36 &&
  text.charCodeAt(8) === 45 &&
  text.charCodeAt(13) === 45 &&
  text.charCodeAt(18) === 45 &&
  text.charCodeAt(23) === 45 &&
  hexRun(text, 0, 8) &&
  hexRun(text, 9, 13) &&
  hexRun(text, 14, 18) &&
  hexRun(text, 19, 23) &&
  hexRun(text, 24, 36);

/** TypeBox reads a format when a schema is compiled: call this before compiling. */
export const useFastUuidFormat = (): void => Format.Set("uuid", isUuid);
