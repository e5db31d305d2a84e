// A container's private, writable view of an immutable slug, at
// `<containerDir>/app`. An overlay mount when the host allows it (instant, and
// only the files a container changes take space); else a full copy. Either
// way the slug is never modified and removing the view removes every trace.
// Beside the app, a package.json ends what Node.js and npm see of the host's
// tree (see APP_BOUNDARY).

import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { isMountPoint, mountThenExec, overlayOptions, unmount } from '../overlay-mount.ts';

export type ViewKind = 'overlay' | 'copy';

/**
 * `<containerDir>/package.json`. Node.js takes a module's type from the nearest
 * package.json above it, and npm its project from the nearest package.json:
 * without this file, an app with none of its own would get those of whatever
 * holds the Slipway home (Slipway's own `"type": "module"` in a checkout,
 * where `require` is then undefined). This one declares nothing, as `/` does
 * above a sandboxed container's /app, and is removed with the view.
 */
const APP_BOUNDARY = `${JSON.stringify({
  description: "Slipway: the boundary of this container's app; Node.js and npm look no further up",
  private: true,
})}\n`;

export interface WritableView {
  readonly kind: ViewKind;
  readonly containerDir: string;
  /** The container's app root. */
  readonly appDir: string;
  /** Where to write what the view must show before the container starts: the overlay's upper layer, or the copy. */
  readonly writableRoot: string;
  /**
   * `argv` as the container runs it, and where it is spawned: a copy is ready
   * and entered at once; an overlay is mounted by the container's own first
   * process, which then becomes `argv` in it (see mountThenExec).
   */
  launch(argv: readonly string[]): { readonly argv: string[]; readonly cwd: string };
  /** Unmounts (overlay) and deletes the container directory. Idempotent. */
  remove(): Promise<void>;
}

export async function createWritableView(kind: ViewKind, slugDir: string, containerDir: string): Promise<WritableView> {
  const appDir = path.join(containerDir, 'app');
  const upper = path.join(containerDir, 'upper');
  const work = path.join(containerDir, 'work');
  // Synchronous metadata calls, microseconds each, where trips to the thread pool cost milliseconds
  // on a busy host, on the way to every container start.
  const slugStat = statSync(slugDir, { throwIfNoEntry: false });
  if (slugStat === undefined || !slugStat.isDirectory()) throw new Error(`slug ${slugDir} is not a directory`);
  // Validate before creating anything, so a bad path leaves nothing behind.
  const overlay = { lower: slugDir, upper, work, target: appDir };
  if (kind === 'overlay') overlayOptions(overlay);

  // Not recursive: an existing directory means another container owns this id.
  try {
    mkdirSync(containerDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new Error(`container directory ${containerDir} already exists`);
    throw err;
  }
  let removal: Promise<void> | undefined;
  const view: WritableView = {
    kind,
    containerDir,
    appDir,
    writableRoot: kind === 'overlay' ? upper : appDir,
    launch: (argv) =>
      kind === 'overlay' ? { argv: mountThenExec(overlay, argv), cwd: containerDir } : { argv: [...argv], cwd: appDir },
    remove: () => {
      removal ??= removeView(kind, containerDir, appDir);
      return removal;
    },
  };
  try {
    writeFileSync(path.join(containerDir, 'package.json'), APP_BOUNDARY);
    if (kind === 'overlay') {
      // Mounted by the container's first process (launch): one process start fewer per container.
      for (const dir of [upper, work, appDir]) mkdirSync(dir);
    } else {
      await cp(slugDir, appDir, { recursive: true, verbatimSymlinks: true });
    }
  } catch (err) {
    await view.remove();
    throw err;
  }
  return view;
}

/** Removes a view a crashed server left behind, whichever kind it was. */
export async function removeStaleView(containerDir: string): Promise<void> {
  await removeView('overlay', containerDir, path.join(containerDir, 'app'));
}

async function removeView(kind: ViewKind, containerDir: string, appDir: string): Promise<void> {
  if (kind === 'overlay') {
    if (await isMountPoint(appDir)) await unmount(appDir);
    // A recursive delete through a live mount would walk into the view; refuse.
    if (await isMountPoint(appDir)) throw new Error(`${appDir} is still mounted; left in place`);
  }
  await rm(containerDir, { recursive: true, force: true });
}
