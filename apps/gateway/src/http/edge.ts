import { createValidatorFactory } from "./validator-compiler.ts";

/**
 * Fastify constructor options for the gateway's HTTP edge: JSON bodies validated without
 * coercion. A function: the validator factory is per app.
 */
export const edgeOptions = () => ({
  schemaController: { compilersFactory: { buildValidator: createValidatorFactory() } },
});
