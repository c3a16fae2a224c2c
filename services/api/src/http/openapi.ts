import { toJsonSchema } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import { API_PREFIX, requiredScope } from './route-runner.js';
import { SCOPED_TAGS, type AnyRoute } from './api-types.js';

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: v.GenericSchema): JsonSchema {
  // errorMode ignore: transforms and custom checks have no JSON Schema form; the document shows the input shape.
  return toJsonSchema(schema, { errorMode: 'ignore' }) as JsonSchema;
}

const ERROR_ENVELOPE: JsonSchema = {
  type: 'object',
  required: ['error', 'message', 'request_id'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    request_id: { type: ['string', 'null'] },
    details: { type: 'object' },
  },
};

/** OpenAPI 3.1 of every route in the table, from the same valibot schemas that validate the requests. */
export function buildOpenApiDocument(routes: readonly AnyRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = `${API_PREFIX}${route.path}`.replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [...path.matchAll(/\{(\w+)\}/g)].map((match) => ({
      name: match[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (route.query) {
      const query = schemaOf(route.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
      for (const [name, schema] of Object.entries(query.properties ?? {})) {
        parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
      }
    }
    const operation: Record<string, unknown> = {
      tags: [route.tag],
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${path.replace(/[^a-zA-Z0-9]+(\w)?/g, (_, next: string | undefined) => (next ?? '').toUpperCase())}`,
      parameters,
      'x-z4j-access': route.access,
      ...(route.freshMfa ? { 'x-z4j-fresh-mfa': true } : {}),
      ...(SCOPED_TAGS.has(route.tag) && !(route.tag === 'auth' && route.method !== 'GET')
        ? { 'x-z4j-api-key-scope': requiredScope(route) }
        : {}),
      security: route.access.kind === 'public' ? [] : [{ session: [] }, { apiKey: [] }],
      responses: {
        [String(route.status ?? 200)]: { description: 'success' },
        default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
    if (route.body) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(route.body) } } };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'z4j brain API', version },
    paths,
    components: {
      schemas: { Error: ERROR_ENVELOPE },
      securitySchemes: {
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'z4j_session',
          description: '`__Host-z4j_session` over HTTPS; writes need X-CSRF-Token',
        },
        apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'z4k_…' },
      },
    },
  };
}
