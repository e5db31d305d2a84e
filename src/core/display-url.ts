// A URL as Slipway shows it (logs, messages, the CLI's output): never with the
// user name or password it may carry, which for a git host is often a token.

/** `raw` without its userinfo; as given when it has none (even when it does not parse). */
export function displayUrl(raw: string | URL): string {
  const text = String(raw);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL, but it may still hold `user:secret@` where the shell or a user put it.
    return text.replace(/^([a-z][a-z0-9+.-]*:\/*)?[^/@\s]*@/i, '$1');
  }
  if (url.username === '' && url.password === '') return text;
  url.username = '';
  url.password = '';
  return url.href;
}
