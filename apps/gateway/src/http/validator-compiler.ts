import { Ajv, type AnySchema, type Options, type Plugin } from "ajv";
import type { AnyValidateFunction } from "ajv/dist/core.js";
import ajvFormats from "ajv-formats";
import type { FastifyServerOptions } from "fastify";

/** Fastify's `ajv` server option, which it hands to the validator factory as is. */
export interface AjvServerOptions {
  customOptions?: Options;
  plugins?: ReadonlyArray<Plugin<unknown> | [Plugin<unknown>, unknown]>;
  onCreate?: (ajv: Ajv) => void;
}

/** What Fastify passes for each schema of a route, once, when the route is registered. */
export interface RouteSchema {
  schema: AnySchema;
  httpPart?: string;
}

type ValidatorFactory = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>["buildValidator"]
>;

/** @fastify/ajv-compiler's defaults (its URI resolver aside: no schema here resolves remote refs), so the text parts validate as Fastify's own Ajv does. */
const FASTIFY_DEFAULTS: Options = {
  coerceTypes: "array",
  useDefaults: true,
  removeAdditional: true,
  addUsedSchema: false,
  allErrors: false,
};

/**
 * Query strings, path parameters and headers are text: "?limit=5" has to become the
 * integer 5. Everything else is JSON, whose types are the client's word (the contract
 * forbids coercion there), including parts Fastify might add later.
 */
const TEXT_PARTS = new Set(["querystring", "params", "headers"]);

const isFormatsPlugin = (plugin: Plugin<unknown> | [Plugin<unknown>, unknown]): boolean =>
  (Array.isArray(plugin) ? plugin[0] : plugin).name === "formatsPlugin";

/** One Ajv set up as @fastify/ajv-compiler sets up its own: plugins, ajv-formats, onCreate, shared schemas. */
const createAjv = (externalSchemas: Record<string, unknown>, options: AjvServerOptions, overrides: Options): Ajv => {
  const ajv = new Ajv({ ...FASTIFY_DEFAULTS, ...options.customOptions, ...overrides });
  const plugins = options.plugins ?? [];
  for (const plugin of plugins) {
    if (Array.isArray(plugin)) plugin[0](ajv, plugin[1]);
    else (plugin as Plugin<unknown>)(ajv);
  }
  if (!plugins.some(isFormatsPlugin)) ajvFormats.default(ajv);
  // After ajv-formats: the gateway's onCreate replaces some of its formats.
  options.onCreate?.(ajv);
  for (const schema of Object.values(externalSchemas)) ajv.addSchema(schema as AnySchema);
  return ajv;
};

/** A schema with an `$id` is compiled once per Ajv; Ajv refuses to compile the same id twice. */
const compileWith =
  (ajv: Ajv) =>
  (schema: AnySchema): AnyValidateFunction => {
    const id = typeof schema === "object" ? schema.$id : undefined;
    return (id === undefined ? undefined : ajv.getSchema(id)) ?? ajv.compile(schema);
  };

/**
 * Builds the route validators: bodies by an Ajv that never coerces (`{"name": 42}` is a 400,
 * not the name "42"), query strings, params and headers by one that does, as Fastify's
 * default does for all four. Each schema is compiled once, when its route is registered;
 * a request runs only the compiled function, so the body path costs no more than before.
 *
 * For Fastify's `schemaController.compilersFactory.buildValidator`, one per app. Fastify
 * calls the factory again when a plugin adds shared schemas; like its own factory, this one
 * keeps one pair of Ajv instances per set of shared schemas and options.
 */
export const createValidatorFactory = (): ValidatorFactory => {
  const pool = new Map<string, (route: RouteSchema) => AnyValidateFunction>();
  const build = (externalSchemas: Record<string, unknown>, options: AjvServerOptions = {}) => {
    const key = JSON.stringify([externalSchemas, options.customOptions]);
    let compiler = pool.get(key);
    if (compiler === undefined) {
      const json = compileWith(createAjv(externalSchemas, options, { coerceTypes: false }));
      const text = compileWith(createAjv(externalSchemas, options, {}));
      compiler = ({ schema, httpPart }) => (httpPart !== undefined && TEXT_PARTS.has(httpPart) ? text(schema) : json(schema));
      pool.set(key, compiler);
    }
    return compiler;
  };
  // Fastify calls the compiler with its route schema objects (RouteSchema); the type it
  // declares for the option describes Ajv's `compile` instead, hence the one cast.
  return build as unknown as ValidatorFactory;
};
