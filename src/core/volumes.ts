// Volumes (docs/volumes.md): persistent directories an app's containers all
// mount at one path. The rules for that path and for a volume's size live
// here, so the API, the CLI's messages and the runtimes agree on them.

import { SlipwayError } from './errors.ts';

export interface Volume {
  /** Random (`v-<hex>`): names its storage, so a path removed and added again starts empty. */
  readonly id: string;
  /** Where containers see it: absolute, normalised (`/app/data`, `/data`). */
  readonly path: string;
  readonly sizeBytes: number;
  readonly createdAt: string;
}

const MiB = 1024 * 1024;
export const DEFAULT_VOLUME_BYTES = 1024 * MiB;
export const MIN_VOLUME_BYTES = 32 * MiB;
export const MAX_VOLUME_BYTES = 256 * 1024 * MiB;
export const MAX_VOLUMES_PER_APP = 8;

/** Where the app lives in every container. */
export const APP_ROOT = '/app';

/**
 * Top-level directories a volume may not cover: the system the containers
 * run (read-only binds of the host's), what the runtime makes for each
 * container (/proc, /dev, /tmp) and places no app owns.
 */
const RESERVED_ROOTS = new Set([
  'bin',
  'boot',
  'dev',
  'etc',
  'lib',
  'lib32',
  'lib64',
  'libx32',
  'opt',
  'proc',
  'root',
  'run',
  'sbin',
  'sys',
  'tmp',
  'usr',
  'var',
]);

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** The path as stored, or `volume.invalid_path` saying why not. */
export function parseVolumePath(input: string): string {
  const refuse = (why: string) =>
    new SlipwayError('volume.invalid_path', `invalid volume path ${JSON.stringify(input)}: ${why}`);
  if (typeof input !== 'string' || !input.startsWith('/'))
    throw refuse('it must be absolute, as the app sees it (e.g. /app/data or /data)');
  const trimmed = input.length > 1 ? input.replace(/\/$/, '') : input;
  const segments = trimmed.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.')) throw refuse('no "." or ".." segments');
  if (segments.some((s) => s === '')) throw refuse('no empty segments ("//")');
  if (trimmed === '/' || trimmed === APP_ROOT) throw refuse(`it cannot be / or the app's root ${APP_ROOT} itself`);
  if (RESERVED_ROOTS.has(segments[0] ?? '')) throw refuse(`/${segments[0]} belongs to the system the app runs on`);
  if (segments.length > 8 || !segments.every((s) => SEGMENT.test(s)))
    throw refuse('segments are letters, digits, ".", "_" and "-" (at most 8 of them, 64 characters each)');
  return trimmed;
}

/** `1g`, `512m`, `2G`, `100M`: a size in MiB or GiB, within the bounds; `volume.invalid_size` otherwise. */
export function parseVolumeSize(input: string): number {
  const match = /^(\d{1,6})\s*([mg])(i?b)?$/i.exec(input.trim());
  const unit = match?.[2]?.toLowerCase() === 'g' ? 1024 * MiB : MiB;
  const bytes = match ? Number(match[1]) * unit : Number.NaN;
  if (!(bytes >= MIN_VOLUME_BYTES && bytes <= MAX_VOLUME_BYTES))
    throw new SlipwayError(
      'volume.invalid_size',
      `invalid volume size ${JSON.stringify(input)}: from 32m to 256g (e.g. 512m, 1g)`,
    );
  return bytes;
}

/** Two volumes overlap when one's path is the other's or lies inside it. */
export function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}
