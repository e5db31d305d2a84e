// The environment a process-driver container runs with, built from scratch:
// PATH and HOME defaults beneath the spec's environment, PORT above it.
// Nothing of the server's own environment leaks in.

import path from 'node:path';

export function processEnv(
  appDir: string,
  specEnv: Readonly<Record<string, string>>,
  port: number | undefined,
): Record<string, string> {
  const env: Record<string, string> = {
    // The app's own binaries first, then the node running Slipway (the slug
    // was built against it), then the usual system directories.
    PATH: [
      path.join(appDir, 'node_modules', '.bin'),
      path.dirname(process.execPath),
      '/usr/local/bin',
      '/usr/bin',
      '/bin',
    ].join(':'),
    HOME: appDir,
    ...specEnv,
  };
  // Last, so a config var named PORT cannot point the app at the wrong port.
  if (port !== undefined) env.PORT = String(port);
  return env;
}
