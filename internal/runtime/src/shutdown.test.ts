import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@z4j/logger';
import { createShutdownHandler } from './shutdown.js';

const logger = createLogger({ level: 'silent', json: true, destination: new Writable({ write: (_c, _e, cb) => cb() }) });

describe('createShutdownHandler', () => {
  it('drains once and exits 0 on the first signal', async () => {
    const exits: number[] = [];
    let drains = 0;
    let finish!: () => void;
    const onSignal = createShutdownHandler({
      drain: () => {
        drains += 1;
        return new Promise<void>((resolve) => (finish = resolve));
      },
      exit: (code) => exits.push(code),
      logger,
      timeoutMs: 10_000,
    });
    onSignal('SIGTERM');
    expect(drains).toBe(1);
    expect(exits).toEqual([]);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([0]);
  });

  it('forces exit 1 on a second signal while draining', () => {
    const exits: number[] = [];
    const onSignal = createShutdownHandler({
      drain: () => new Promise(() => undefined),
      exit: (code) => exits.push(code),
      logger,
      timeoutMs: 10_000,
    });
    onSignal('SIGTERM');
    onSignal('SIGINT');
    expect(exits).toEqual([1]);
  });

  it('exits 1 when the drain fails', async () => {
    const exits: number[] = [];
    const onSignal = createShutdownHandler({
      drain: () => Promise.reject(new Error('boom')),
      exit: (code) => exits.push(code),
      logger,
      timeoutMs: 10_000,
    });
    onSignal('SIGTERM');
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([1]);
  });
});
