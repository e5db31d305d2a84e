// The environment a container runs with (any driver), built from scratch:
// PATH and HOME defaults beneath the spec's environment, PORT above it.
// Nothing of the server's own environment leaks in.

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
    ...specEnv,
  };
  // Last, so a config var named PORT cannot point the app at the wrong port.
  if (port !== undefined) env.PORT = String(port);
  return env;
}
