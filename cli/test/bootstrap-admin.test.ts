import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openBrainDatabase, type BrainDatabase } from '@z4j/db';
import { verifyPassword } from '@z4j/identity';
import { createMigratedTestDatabase, probePostgres, testPostgresOptions } from '@z4j/testing';
import { parseCliArgs } from '../src/cli-args.js';
import { readSecretFromStdin, type SecretInput } from '../src/stdin-secret.js';
import { Z4J_BIN, assertBuilt, cleanEnv } from './serve-process.js';

const postgres = await probePostgres();
const PASSWORD = 'a long enough admin passphrase';

describe('parseCliArgs bootstrap-admin and serve --admin-email', () => {
  it('parses the commands', () => {
    expect(parseCliArgs(['bootstrap-admin', '--email', 'ops@example.com', '--password-stdin'])).toEqual({
      name: 'bootstrap-admin',
      email: 'ops@example.com',
    });
    expect(parseCliArgs(['bootstrap-admin', '--password-stdin', '--email=ops@example.com', '--display-name', ' Ops '])).toEqual({
      name: 'bootstrap-admin',
      email: 'ops@example.com',
      displayName: 'Ops',
    });
    expect(parseCliArgs(['serve', '--admin-email', 'ops@example.com', '--admin-password-stdin'])).toMatchObject({
      name: 'serve',
      adminEmail: 'ops@example.com',
    });
    expect(parseCliArgs(['serve', '--only', 'api', '--admin-email', 'ops@example.com', '--admin-password-stdin'])).toEqual({
      name: 'serve',
      only: ['api'],
      adminEmail: 'ops@example.com',
    });
  });

  it('never takes a password from argv, and names what is wrong', () => {
    expect(() => parseCliArgs(['bootstrap-admin', '--email', 'ops@example.com', '--password', 'hunter2'])).toThrow(
      'bootstrap-admin: --password is not accepted (command lines end up in shell history and process lists); use --password-stdin and pipe the password in',
    );
    expect(() => parseCliArgs(['bootstrap-admin', '--email', 'ops@example.com', '--password=hunter2'])).toThrow(
      /--password is not accepted/,
    );
    expect(() => parseCliArgs(['serve', '--admin-email', 'ops@example.com', '--admin-password', 'hunter2'])).toThrow(
      /serve: --admin-password is not accepted .*use --admin-password-stdin/,
    );
    expect(() => parseCliArgs(['bootstrap-admin', '--email', 'ops@example.com'])).toThrow(
      'bootstrap-admin: --password-stdin is required: the password is read from standard input, never from the command line',
    );
    expect(() => parseCliArgs(['bootstrap-admin', '--password-stdin'])).toThrow('bootstrap-admin: --email is required');
    expect(() => parseCliArgs(['bootstrap-admin', '--email', 'not-an-email', '--password-stdin'])).toThrow(
      '--email: expected an email address (name@example.com), got "not-an-email"',
    );
    expect(() => parseCliArgs(['bootstrap-admin', '--email', 'a@b.co', '--password-stdin', 'extra'])).toThrow(
      'bootstrap-admin: unexpected argument "extra"',
    );
    expect(() => parseCliArgs(['serve', '--admin-email', 'ops@example.com'])).toThrow('serve: --admin-email needs --admin-password-stdin');
    expect(() => parseCliArgs(['serve', '--admin-password-stdin'])).toThrow('serve: --admin-password-stdin needs --admin-email');
    expect(() => parseCliArgs(['serve', '--only', 'gateway', '--admin-email', 'ops@example.com', '--admin-password-stdin'])).toThrow(
      'serve: --admin-email needs the api service in --only',
    );
  });
});

describe('readSecretFromStdin', () => {
  const input = (chunks: (string | Buffer)[], isTTY = false): SecretInput => ({
    isTTY,
    async *[Symbol.asyncIterator]() {
      yield* chunks;
    },
  });

  it('reads the whole input and drops one trailing line end only', async () => {
    expect(await readSecretFromStdin(input(['pass ', Buffer.from('phrase\n')]), '--password-stdin')).toEqual({
      ok: true,
      secret: 'pass phrase',
    });
    expect(await readSecretFromStdin(input(['  spaced  \r\n']), '-')).toEqual({ ok: true, secret: '  spaced  ' });
    expect(await readSecretFromStdin(input(['two\n\n']), '-')).toEqual({ ok: true, secret: 'two\n' });
  });

  it('refuses a terminal, empty input and oversized input, naming the flag', async () => {
    expect(await readSecretFromStdin(input([], true), '--password-stdin')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^--password-stdin: pipe the password in/),
    });
    expect(await readSecretFromStdin(input(['\n']), '--password-stdin')).toEqual({
      ok: false,
      message: '--password-stdin: standard input was empty; expected the password',
    });
    expect(await readSecretFromStdin(input(['x'.repeat(70_000)]), '-')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/64 KiB/),
    });
    expect(await readSecretFromStdin(undefined, '-')).toMatchObject({ ok: false });
  });
});

/** Runs `z4j …` with `stdin` written to its standard input (then closed). */
function runWithStdin(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [Z4J_BIN, ...args], { env, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.on('error', () => undefined); // the process may exit (usage error) before reading
    child.stdin.end(stdin);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!postgres.available)('z4j bootstrap-admin and serve --admin-email on Postgres', () => {
  let created: Awaited<ReturnType<typeof createMigratedTestDatabase>>;
  let database: BrainDatabase;

  const env = (extra: Record<string, string> = {}) =>
    cleanEnv({
      Z4J_HOME: mkdtempSync(join(tmpdir(), 'z4j-home-')),
      Z4J_DATABASE_URL: created.url,
      Z4J_SECRET: 'test-secret-0123456789-0123456789-0123456789',
      Z4J_SESSION_SECRET: 'test-session-secret-0123456789-0123456789',
      Z4J_ENVIRONMENT: 'dev',
      Z4J_PUBLIC_URL: 'http://localhost:7700',
      Z4J_ARGON2_MEMORY_COST: '8192',
      Z4J_ARGON2_TIME_COST: '1',
      Z4J_ARGON2_PARALLELISM: '1',
      Z4J_LOGIN_MIN_DURATION_MS: '0',
      ...extra,
    });

  beforeAll(async () => {
    created = await createMigratedTestDatabase();
    database = await openBrainDatabase(testPostgresOptions(created.url));
  });

  afterAll(async () => {
    await database?.close();
    await created?.drop();
  });

  afterEach(async () => {
    // audit_log is append-only; the users and what hangs off them are not.
    for (const table of ['memberships', 'sessions', 'users', 'projects'] as const) await database.db.deleteFrom(table).execute();
  });

  it('creates the first admin from a piped password, then refuses with exit 1 once a user exists', async () => {
    const first = await runWithStdin(
      ['bootstrap-admin', '--email', 'Ops@Example.com', '--display-name', 'Ops', '--password-stdin'],
      env(),
      `${PASSWORD}\n`,
    );
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/^created global admin ops@example\.com \(user [0-9a-f-]{36}\) with the "default" project/);
    expect(first.code).toBe(0);

    const user = await database.db
      .selectFrom('users')
      .select(['id', 'email', 'display_name', 'is_admin', 'password_hash'])
      .executeTakeFirstOrThrow();
    expect(user).toMatchObject({ email: 'ops@example.com', display_name: 'Ops', is_admin: true });
    expect(await verifyPassword(user.password_hash, PASSWORD)).toBe(true);
    const membership = await database.db
      .selectFrom('memberships')
      .innerJoin('projects', 'projects.id', 'memberships.project_id')
      .select(['projects.slug', 'memberships.role'])
      .where('memberships.user_id', '=', user.id)
      .execute();
    expect(membership).toEqual([{ slug: 'default', role: 'admin' }]);
    const audit = await database.db.selectFrom('audit_log').select(['action', 'metadata']).where('user_id', '=', user.id).execute();
    expect(audit).toEqual([{ action: 'setup.completed', metadata: { via: 'cli', email: 'ops@example.com' } }]);

    const second = await runWithStdin(['bootstrap-admin', '--email', 'other@example.com', '--password-stdin'], env(), PASSWORD);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(
      'z4j: bootstrap-admin: refusing: a user already exists, and bootstrap-admin only ever creates the first admin (add more users from the dashboard)\n',
    );
    expect(await database.db.selectFrom('users').select('email').execute()).toEqual([{ email: 'ops@example.com' }]);
  });

  it('says what is wrong with a weak password or missing input, and never echoes a password', async () => {
    const weak = await runWithStdin(['bootstrap-admin', '--email', 'ops@example.com', '--password-stdin'], env(), 'short\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/^z4j: bootstrap-admin: password: must be at least 8 characters/);
    const empty = await runWithStdin(['bootstrap-admin', '--email', 'ops@example.com', '--password-stdin'], env(), '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('z4j: bootstrap-admin: --password-stdin: standard input was empty; expected the password\n');
    const inArgv = await runWithStdin(['bootstrap-admin', '--email', 'ops@example.com', '--password', 'hunter2-hunter2'], env(), '');
    expect(inArgv.code).toBe(2);
    expect(inArgv.stderr).toMatch(/^z4j: bootstrap-admin: --password is not accepted/);
    expect(inArgv.stderr).not.toContain('hunter2');
    expect(await database.db.selectFrom('users').select('id').execute()).toEqual([]);
  });

  it('serve --admin-email/--admin-password-stdin creates the admin at boot, who can then sign in', async () => {
    assertBuilt();
    const child = spawn(
      process.execPath,
      [
        Z4J_BIN,
        'serve',
        '--only',
        'api',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--admin-email',
        'boot@example.com',
        '--admin-password-stdin',
      ],
      { env: env(), cwd: tmpdir() },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdin.end(`${PASSWORD}\n`);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready within 60 s\nstdout:\n${out}\nstderr:\n${err}`)), 60_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const ready = out.split('\n').find((line) => line.includes('"lifecycle:ready"'));
          if (ready) {
            clearTimeout(timer);
            resolve((JSON.parse(ready) as { url: string }).url);
          }
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`z4j serve exited with ${code}\nstdout:\n${out}\nstderr:\n${err}`));
        });
      });
      const login = await fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'boot@example.com', password: PASSWORD }),
      });
      expect(login.status).toBe(200);
      expect(await login.json()).toMatchObject({ user: { email: 'boot@example.com', is_admin: true }, mfa_required: false });
      expect(login.headers.getSetCookie().some((line) => line.startsWith('z4j_session='))).toBe(true);
      // No setup link was minted: the brain left first-boot mode at once.
      expect(err).not.toContain('/setup?token=');
      expect(out + err).not.toContain(PASSWORD);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
