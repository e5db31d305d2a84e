// The environment a container runs with (any driver), built from scratch:
// PATH, HOME and npm's update-notifier defaults beneath the spec's
// environment, PORT above it. Nothing of the server's own environment leaks in.

import { appSearchPath } from '../exec/index.ts';

export function processEnv(
  appDir: string,
  specEnv: Readonly<Record<string, string>>,
  port: number | undefined,
): Record<string, string> {
  const env: Record<string, string> = {
    // The same node the slug was built with comes right after the app's own bins.
    PATH: appSearchPath(appDir),
    HOME: appDir,
    // npm checks the registry for a newer npm and prints a notice in the app's
    // and the hook's output (each container has a fresh HOME, so every time).
    // A variable, since npm's other ways are files: a user config in HOME is
    // the app's own .npmrc (HOME is the app), a global one is the host's.
    npm_config_update_notifier: 'false',
    ...specEnv,
  };
  // Last, so a config var named PORT cannot point the app at the wrong port.
  if (port !== undefined) env.PORT = String(port);
  return env;
}
