/** Hosts a plain `ws://` connection is allowed to without `devMode` (as the Python agent: loopback only). */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * The agent socket URL for a brain URL, as the Python agent builds it: `https://` → `wss://`, `http://` → `ws://`,
 * trailing `/` trimmed, `/ws/agent` appended (kept as is when the URL already ends with `/ws/agent`). `ws(s)://` URLs
 * are accepted too. Plain `ws://` is refused unless the host is loopback or `devMode` is set in code, so a token is
 * never sent in clear text by accident.
 *
 * @throws {TypeError} with a message saying what is wrong.
 * @example
 * agentSocketUrl('https://z4j.example.com/', false) // 'wss://z4j.example.com/ws/agent'
 */
export function agentSocketUrl(brainUrl: string, devMode: boolean): string {
  let url: URL;
  try {
    url = new URL(brainUrl.trim());
  } catch {
    throw new TypeError(`not a URL: ${JSON.stringify(brainUrl)}`);
  }
  const scheme = { 'https:': 'wss:', 'wss:': 'wss:', 'http:': 'ws:', 'ws:': 'ws:' }[url.protocol];
  if (scheme === undefined) throw new TypeError(`must start with https://, http://, wss:// or ws:// (got ${url.protocol}//)`);
  if (url.username !== '' || url.password !== '') throw new TypeError('must not carry credentials (the token is sent as a header)');
  if (scheme === 'ws:' && !devMode && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new TypeError(`plain ${url.protocol}// is only allowed for localhost; use https:// (or devMode: true in code for a test setup)`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  const socketPath = path.endsWith('/ws/agent') ? path : `${path}/ws/agent`;
  return `${scheme}//${url.host}${socketPath}${url.search}`;
}
