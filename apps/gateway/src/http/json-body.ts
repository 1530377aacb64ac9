import type { FastifyInstance } from "fastify";

/**
 * The only body parser: JSON. An empty JSON body is no body (a key exchange may carry its
 * key in the header alone); anything else goes to Fastify's own parser, with its
 * prototype-poisoning protection.
 */
export const registerJsonBody = (app: FastifyInstance, bodyLimit: number): void => {
  // JSON only: without this, text/plain bodies would reach the schema as strings.
  app.removeContentTypeParser("text/plain");
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string", bodyLimit }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === "") done(null, undefined);
    else parseJson(request, text, done);
  });
};
