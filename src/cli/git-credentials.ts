// The answer of `slipway git:credentials get`, git's credential helper for a
// Slipway remote (set up by git:remote). git runs it at every push and fetch,
// so bin/slipway starts git-credential-helper.ts's bundle for it rather than
// the whole CLI; main.ts's `git:credentials` command prints the same answer.

import { loadCredentials } from './credentials.ts';

/** What git reads from the helper for `get`: the API token as the password. */
export function credentialAnswer(env: NodeJS.ProcessEnv): string {
  return `username=slipway\npassword=${loadCredentials(env).token}`;
}
