import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parseDotenvStrict, scanDotenv, upsertDotenv } from './dotenv-file.js';

describe('scanDotenv', () => {
  it('accepts what dotenv accepts: comments, export, quotes, multi-line quoted values, KEY: value', () => {
    const text = '# c\n\nexport A=1\nB = "two words" # trailing\nC=\'x\'\nD="line1\nline2"\nE: 5\r\nF=\n';
    expect(scanDotenv(text).ok).toBe(true);
    expect(parseDotenvStrict(text, '.env')).toEqual({ A: '1', B: 'two words', C: 'x', D: 'line1\nline2', E: '5', F: '' });
  });

  it('reports a line without an assignment by number only', () => {
    expect(scanDotenv('A=1\nthis is a secret value\n')).toEqual({ ok: false, reason: 'line 2 is not KEY=value' });
  });

  it('reports an unterminated quote', () => {
    expect(scanDotenv('A=1\nB="open\nC=2\n')).toEqual({ ok: false, reason: 'the quoted value starting on line 2 is never closed' });
  });

  it('throws a ConfigError naming the file', () => {
    expect(() => parseDotenvStrict('junk', '/x/config.env')).toThrow(ConfigError);
    expect(() => parseDotenvStrict('junk', '/x/config.env')).toThrow(
      /^\/x\/config\.env: expected a dotenv file of KEY=value lines, got line 1/,
    );
  });
});

describe('upsertDotenv', () => {
  it('replaces in place, drops later duplicates that would override, appends new keys', () => {
    const text = '# keep\nA=old\nB=1\nA=stale\nC="multi\nline"\n';
    expect(upsertDotenv(text, { A: 'new', C: 'flat', D: 'added' }, 'f')).toBe('# keep\nA=new\nB=1\nC=flat\nD=added\n');
  });

  it('writes into an empty file and into one without a final newline', () => {
    expect(upsertDotenv('', { A: '1' }, 'f')).toBe('A=1\n');
    expect(upsertDotenv('X=1', { A: '1' }, 'f')).toBe('X=1\nA=1\n');
  });
});
