// The sandbox for tests that drive it directly: each test file gets its own
// temporary Slipway home (which names its container network: bridge,
// nftables table, namespaces), and the network is taken down and the home
// removed once the file's tests are done.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { type OpenSandboxResult, openSandbox } from '../../src/runtime/sandbox/index.ts';

/** Opens a sandbox for this test file; closes it (and removes its home) after the file's tests. */
export async function openTestSandbox(): Promise<OpenSandboxResult & { readonly home: string }> {
  const home = mkdtempSync(path.join(tmpdir(), 'slipway-sandbox-home-'));
  const opened = await openSandbox({ scratchDir: path.join(home, 'probe'), home });
  after(async () => {
    if ('sandbox' in opened) await opened.sandbox.close();
    rmSync(home, { recursive: true, force: true });
  });
  return { ...opened, home };
}

/** Why the sandbox cannot run here, or false when it can (the probe's sandbox is closed again at once). */
export async function sandboxSkipReason(): Promise<string | false> {
  const home = mkdtempSync(path.join(tmpdir(), 'slipway-sandbox-home-'));
  try {
    const opened = await openSandbox({ scratchDir: path.join(home, 'probe'), home });
    if ('missing' in opened) return `sandbox unavailable: ${opened.missing}`;
    await opened.sandbox.close();
    return false;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
