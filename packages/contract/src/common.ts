import { Type } from "typebox";

/** The error body of every non-2xx answer: Fastify's shape plus a stable `code`. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ examples: ["VALIDATION_ERROR"] }),
    error: Type.String({ examples: ["Bad Request"] }),
    message: Type.String(),
  },
  { description: "Error answer (see the error table of the contract)" },
);

/** Canonical UUID text only: the `uuid` format of ajv-formats also takes a `urn:uuid:` prefix. */
export const UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
export const Uuid = Type.String({ format: "uuid" });
export const DateTime = Type.String({ format: "date-time" });
export const Day = Type.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$", examples: ["2026-11-22"] });

/** Postgres text cannot hold NUL, so it is refused at the edge instead of poisoning a batch. */
export const NO_NUL = "^[^\\u0000]*$";

/** Error answers for the statuses a route can give, as response schemas. */
export const errors = (...statuses: number[]): Record<number, typeof ErrorBody> =>
  Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
