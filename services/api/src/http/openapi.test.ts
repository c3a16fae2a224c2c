import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('OpenAPI document', postgres, ({ skip, test }) => {
  it.skipIf(skip)('documents every route of the table with its body schema, and needs a sign-in when private', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    expect((await harness.request('GET', '/api/v1/openapi.json')).status).toBe(401);
    const jar = await harness.sessionJar(await harness.createUser());
    const reply = await harness.request('GET', '/api/v1/openapi.json', { jar });
    expect(reply.status).toBe(200);
    const document = reply.body;
    expect(document.openapi).toBe('3.1.0');
    for (const route of harness.routes) {
      const path = `/api/v1${route.path}`.replace(/:(\w+)/g, '{$1}');
      const operation = document.paths[path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${path}`).toBeDefined();
      expect(operation.tags).toEqual([route.tag]);
      if (route.body) expect(operation.requestBody.content['application/json'].schema.type).toBe('object');
    }
    // The schema is the validating one: setup/complete requires these fields.
    expect(document.paths['/api/v1/setup/complete'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['token', 'email', 'password']),
    );
  });

  it.skipIf(skip)('is public or absent per Z4J_OPENAPI_VISIBILITY', async () => {
    const open = createApiHarness(test().database.db, { Z4J_OPENAPI_VISIBILITY: 'public' });
    expect((await open.request('GET', '/api/v1/openapi.json')).status).toBe(200);
    const disabled = createApiHarness(test().database.db, { Z4J_OPENAPI_VISIBILITY: 'disabled' });
    expect((await disabled.request('GET', '/api/v1/openapi.json')).status).toBe(404);
  });
});
