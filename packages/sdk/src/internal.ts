/**
 * Where the middleware hands its own failures to the client's onError (a registered symbol,
 * so every entry point of the package finds the same one).
 */
export const REPORT: unique symbol = Symbol.for("@usage/sdk.report") as never;
