import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './create-logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('redacts secrets, tokens, passwords, cookies and authorization headers at any usual depth', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', json: true, destination });
    logger.info(
      {
        password: 'hunter2',
        token: 'tok',
        req: { headers: { authorization: 'Bearer abc', cookie: 'z4j_session=1', 'set-cookie': 'x' } },
        config: { secret: 's3cr3t', sessionSecret: 'ss' },
        agent: { hmac_secret: 'h' },
        keep: 'visible',
      },
      'hello',
    );
    const line = JSON.stringify(lines[0]);
    for (const leaked of ['hunter2', 'Bearer abc', 'z4j_session=1', 's3cr3t', '"ss"', '"h"', '"tok"']) {
      expect(line).not.toContain(leaked);
    }
    expect(lines[0]).toMatchObject({ keep: 'visible', msg: 'hello', level: 'info' });
    expect((lines[0] as { req: { headers: { authorization: string } } }).req.headers.authorization).toBe('[REDACTED]');
  });

  it('binds base fields and honours the level', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'warn', json: true, destination, base: { service: 'gateway' } });
    logger.info('dropped');
    logger.child({ agent: 'a1' }).warn('kept');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: 'gateway', agent: 'a1', msg: 'kept', level: 'warn' });
  });
});
