/** Standard input as the CLI sees it: `process.stdin`, or any byte stream in tests. */
export interface SecretInput extends AsyncIterable<string | Buffer> {
  readonly isTTY?: boolean;
}

export type StdinSecretResult = { readonly ok: true; readonly secret: string } | { readonly ok: false; readonly message: string };

/** One password, not a file: more than this on stdin is a mistake (the wrong file piped in). */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads a password from standard input (`--password-stdin`, `--admin-password-stdin`), so it never appears
 * in argv, shell history or `ps`. One trailing newline is dropped: it is the line end of `echo` or of a
 * file, not part of the password (as `docker login --password-stdin` does). A terminal is refused rather
 * than read, because what is typed there would be echoed.
 *
 * @example
 * printf '%s\n' "$ADMIN_PASSWORD" | z4j bootstrap-admin --email ops@example.com --password-stdin
 */
export async function readSecretFromStdin(stdin: SecretInput | undefined, flag: string): Promise<StdinSecretResult> {
  if (stdin === undefined) return { ok: false, message: `${flag}: there is no standard input to read the password from` };
  if (stdin.isTTY) {
    return {
      ok: false,
      message: `${flag}: pipe the password in (for example: printf '%s' "$PASSWORD" | z4j …); it is not read from a terminal, where it would be echoed`,
    };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += bytes.length;
    if (size > MAX_SECRET_BYTES) return { ok: false, message: `${flag}: standard input holds more than 64 KiB; expected one password` };
    chunks.push(bytes);
  }
  const secret = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (secret === '') return { ok: false, message: `${flag}: standard input was empty; expected the password` };
  return { ok: true, secret };
}
