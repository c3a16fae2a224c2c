import { expect, it } from 'vitest';
import { VARIABLE_NAMES } from '@z4j/config';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, TEST_SESSION_SECRET, createApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

interface SettingRow {
  name: string;
  section: string;
  value: string;
  source: string;
  default: string | null;
  secret: boolean;
  description: string;
}

describeEachDatabase('admin runtime settings', postgres, ({ skip, test }) => {
  it.skipIf(skip)('shows a global admin every setting with its source, secrets masked', async () => {
    const webhookSecret = 'audit-webhook-hmac-secret-that-must-not-leak';
    const harness = createApiHarness(test().database.db, {
      Z4J_AUDIT_WEBHOOK_URL: 'https://hooks.example.com/audit?token=url-token-that-must-not-leak',
      Z4J_AUDIT_WEBHOOK_HMAC_SECRET: webhookSecret,
    });
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });

    const reply = await harness.request('GET', '/api/v1/admin/settings', { jar: await harness.sessionJar(admin) });
    expect(reply.status).toBe(200);
    const items = reply.body.items as SettingRow[];
    expect(items.map((item) => item.name)).toEqual([...VARIABLE_NAMES]);

    const byName = new Map(items.map((item) => [item.name, item]));
    // Set in the harness's env layer: the value and where it came from.
    expect(byName.get('Z4J_PUBLIC_URL')).toMatchObject({ value: 'http://localhost:7700', source: 'env', secret: false });
    // Never set: the default, and said so.
    const defaulted = items.find((item) => item.source === 'default' && !item.secret && item.default !== null);
    expect(defaulted).toBeDefined();
    // Secrets: masked to their length, whatever layer they came from.
    expect(byName.get('Z4J_SECRET')).toMatchObject({ secret: true, source: 'env', value: `<redacted, ${TEST_SECRET.length} bytes>` });
    expect(byName.get('Z4J_AUDIT_WEBHOOK_HMAC_SECRET')?.value).toBe(`<redacted, ${webhookSecret.length} bytes>`);
    for (const leaked of [TEST_SECRET, TEST_SESSION_SECRET, webhookSecret, 'url-token-that-must-not-leak', '127.0.0.1:5432/unused']) {
      expect(reply.text).not.toContain(leaked);
    }
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['default', 'description', 'name', 'secret', 'section', 'source', 'value']);
      if (item.secret && item.value !== '') expect(item.value).toMatch(/^<redacted, \d+ bytes>$/);
    }
  });

  it.skipIf(skip)('is refused to project admins and to API keys, even admin:* ones', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const projectAdmin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const asProjectAdmin = await harness.request('GET', '/api/v1/admin/settings', { jar: await harness.sessionJar(projectAdmin) });
    expect(asProjectAdmin.status).toBe(403);

    const globalAdmin = await harness.createUser({ isAdmin: true });
    const token = await harness.createApiKey(globalAdmin, ['admin:*']);
    const withKey = await harness.request('GET', '/api/v1/admin/settings', { headers: { authorization: `Bearer ${token}` } });
    expect(withKey.status).toBe(403);
    expect(withKey.text).not.toContain(TEST_SECRET);
  });
});
