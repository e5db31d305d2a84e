// The stack image every docker container runs on (`slipway stack:build`):
// Debian 12 (minbase, from Debian's packages, by mmdebstrap) plus the very
// Node.js running Slipway, at the same path, with its npm and corepack, so
// that a slug built on the host (native modules for its ABI) runs unchanged.
// Made locally with `docker import`: no registry is needed on one host.

import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HELPER_ENV, runProcess } from '../../exec/index.ts';
import type { Engine } from './engine.ts';

export const STACK_SUITE = 'bookworm';
/** The image's name: the Debian suite and the Node.js version it carries. */
export const DEFAULT_STACK_IMAGE = `slipway/stack:${STACK_SUITE}-node${process.versions.node}`;
/** Beyond minbase: TLS roots for apps, and the C++ runtime Node.js links against. */
const PACKAGES = ['ca-certificates', 'libstdc++6', 'libgcc-s1'];

export interface StackBuildOptions {
  readonly engine: Engine;
  readonly image?: string;
  /** Rebuild even when the image exists. */
  readonly force?: boolean;
  readonly mirror?: string;
  /** Progress, one line at a time. */
  readonly progress: (line: string) => void;
}

export type StackBuildResult = { readonly image: string; readonly built: boolean; readonly seconds: number };

export async function stackImageExists(engine: Engine, image: string): Promise<boolean> {
  try {
    await engine.request('GET', `/images/${encodeURIComponent(image)}/json`);
    return true;
  } catch {
    return false;
  }
}

/** Shell run by mmdebstrap in the finished tree ("$1"): the host's node, npm and corepack, at the host's paths. */
function copyNodeHook(): string {
  const node = realpathSync(process.execPath);
  const binDir = path.dirname(process.execPath);
  const modules = path.join(path.dirname(binDir), 'lib', 'node_modules');
  const lines = [`set -e`, `mkdir -p "$1${binDir}" "$1${modules}"`, `cp -L '${node}' "$1${process.execPath}"`];
  for (const [tool, target] of [
    ['npm', 'npm/bin/npm-cli.js'],
    ['npx', 'npm/bin/npx-cli.js'],
    ['corepack', 'corepack/dist/corepack.js'],
  ] as const) {
    const pkg = path.join(modules, target.split('/')[0] ?? '');
    if (!existsSync(pkg)) continue;
    lines.push(`[ -d "$1${pkg}" ] || cp -a '${pkg}' "$1${modules}/"`);
    lines.push(`ln -sf '${path.relative(binDir, path.join(modules, target))}' "$1${path.join(binDir, tool)}"`);
  }
  return lines.join('\n');
}

export async function buildStackImage(options: StackBuildOptions): Promise<StackBuildResult> {
  const { engine, progress } = options;
  const image = options.image ?? DEFAULT_STACK_IMAGE;
  const t0 = Date.now();
  const seconds = () => Math.round((Date.now() - t0) / 100) / 10;
  if (!options.force && (await stackImageExists(engine, image))) {
    progress(`${image} already exists (--force rebuilds it)`);
    return { image, built: false, seconds: seconds() };
  }
  const work = await mkdtemp(path.join(tmpdir(), 'slipway-stack-'));
  try {
    const tarball = path.join(work, 'rootfs.tar');
    progress(`building a Debian ${STACK_SUITE} root file system with Node.js ${process.version} (mmdebstrap)...`);
    await step(
      [
        'mmdebstrap',
        '--variant=minbase',
        `--include=${PACKAGES.join(',')}`,
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-exclude=/usr/share/man/*',
        '--dpkgopt=path-exclude=/usr/share/locale/*',
        `--customize-hook=${copyNodeHook()}`,
        '--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*',
        STACK_SUITE,
        tarball,
        ...(options.mirror ? [options.mirror] : []),
      ],
      progress,
    );
    progress(`importing it as ${image} (docker import)...`);
    await step(
      [
        'docker',
        'import',
        '--change',
        'ENV LANG=C.UTF-8',
        '--change',
        `LABEL slipway.stack=${STACK_SUITE} slipway.node=${process.version}`,
        tarball,
        image,
      ],
      progress,
      { DOCKER_HOST: `unix://${engine.socket}` },
    );
    progress(`built ${image} in ${seconds()} s`);
    return { image, built: true, seconds: seconds() };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function step(argv: string[], progress: (line: string) => void, env: Record<string, string> = {}): Promise<void> {
  const tail: string[] = [];
  const result = await runProcess(argv, {
    env: { ...HELPER_ENV, ...env },
    onLine: (_stream, line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (/^[IWE]: /.test(line) || argv[0] === 'docker') progress(`  ${line}`);
    },
  });
  if (result.code !== 0) {
    const why = result.spawnError ?? tail.join('\n');
    throw new Error(`${argv[0]} failed (exit ${result.code ?? result.signal}):\n${why}`);
  }
}
