/** Escapes text for an HTML attribute or element body. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * The first-boot form, server-rendered with no script (the CSP forbids
 * inline scripts): a plain HTML form that posts to `/setup` and gets this
 * page back with the outcome. The token travels in a hidden field.
 */
export function renderSetupPage(options: {
  readonly token: string;
  readonly state: 'form' | 'done' | 'initialised';
  readonly error?: string;
  readonly email?: string;
  readonly passwordMinLength: number;
}): string {
  const body =
    options.state === 'initialised'
      ? '<p>This brain is already set up. <a href="/">Sign in</a>.</p>'
      : options.state === 'done'
        ? '<p class="ok">The admin account and the <code>default</code> project are ready. <a href="/">Sign in</a>.</p>'
        : `${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
    <form method="post" action="/setup">
      <input type="hidden" name="token" value="${escapeHtml(options.token)}">
      <label>Email <input type="email" name="email" required autocomplete="username" value="${escapeHtml(options.email ?? '')}"></label>
      <label>Display name (optional) <input type="text" name="display_name" maxlength="200" autocomplete="name"></label>
      <label>Password (at least ${options.passwordMinLength} characters)
        <input type="password" name="password" required minlength="${options.passwordMinLength}" autocomplete="new-password"></label>
      <button type="submit">Create admin account</button>
    </form>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>z4j — first-boot setup</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #1b1f24; }
    h1 { font-size: 1.4rem; }
    label { display: block; margin: 1rem 0; }
    input { display: block; width: 100%; padding: .5rem; margin-top: .25rem; box-sizing: border-box; }
    button { padding: .6rem 1.2rem; font-size: 1rem; }
    .error { color: #b42318; } .ok { color: #067647; }
  </style>
</head>
<body>
  <h1>z4j — create the first admin</h1>
  ${body}
</body>
</html>`;
}
