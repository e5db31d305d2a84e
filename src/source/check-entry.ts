// Decides, from tar headers alone, whether an archive entry is safe to unpack
// under a root directory: no absolute or `..` paths, links that stay inside the
// tree, only files, directories and links, and size/count limits. One checker
// is fed every entry in order; `finish()` re-checks links against the complete
// set of symlinks, because a later symlink can change where an earlier path
// leads. No I/O here: the extractor runs it before and while writing.

import path from 'node:path';
import { SlipwayError } from '../core/errors.ts';

export interface ExtractLimits {
  /** Total unpacked bytes of regular files. */
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly maxFileBytes: number;
}

export const DEFAULT_LIMITS: ExtractLimits = {
  maxBytes: 1024 ** 3,
  maxEntries: 20_000,
  maxFileBytes: 512 * 1024 ** 2,
};

/** What the checker needs to know about an entry (a subset of node-tar's ReadEntry). */
export interface EntryHeader {
  readonly path: string;
  readonly type: string;
  readonly size: number;
  readonly linkpath?: string | undefined;
}

type Kind = 'file' | 'dir' | 'symlink' | 'hardlink';

const KINDS: Readonly<Record<string, Kind>> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'dir',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
};

/** node-tar refuses deeper paths; refuse them first, with our own error. */
const MAX_DEPTH = 1024;
/** Symlink hops followed while resolving a target, as the kernel's ELOOP limit. */
const MAX_HOPS = 40;

export class EntryChecker {
  files = 0;
  bytes = 0;
  entries = 0;
  readonly #limits: ExtractLimits;
  readonly #kinds = new Map<string, Kind>();
  /** Symlink path (normalised) -> its raw target. */
  readonly #symlinks = new Map<string, string>();
  readonly #paths: string[] = [];
  /** Every directory that has entries below it. */
  readonly #parents = new Set<string>();

  constructor(limits: ExtractLimits) {
    this.#limits = limits;
  }

  /** Checks one entry in archive order; throws a SlipwayError naming it when unsafe. */
  check(entry: EntryHeader): void {
    const kind = KINDS[entry.type];
    if (kind === undefined) {
      throw new SlipwayError(
        'source.unsupported_entry',
        `${show(entry.path)}: ${entry.type} entries are not allowed (only files, directories and links)`,
        { path: entry.path },
      );
    }
    this.entries += 1;
    if (this.entries > this.#limits.maxEntries) {
      throw tooLarge(entry.path, `more than ${this.#limits.maxEntries} entries`, this.#limits.maxEntries);
    }
    const rel = normalizeEntryPath(entry.path);
    if (rel === '' && kind !== 'dir') throw unsafePath(entry.path, `a ${kind} may not replace the root directory`);
    const previous = this.#kinds.get(rel);
    if (previous !== undefined && (isLink(previous) || isLink(kind)) && previous !== kind) {
      throw unsafeLink(entry.path, `declared twice, as a ${previous} and as a ${kind}`);
    }
    if (previous === 'symlink') throw unsafeLink(entry.path, 'symlink declared twice');
    this.#throughSymlink(rel, entry.path);
    this.#checkTree(rel, kind, entry.path);

    if (kind === 'file') this.#countFile(entry);
    else if (kind === 'symlink') this.#checkSymlink(rel, entry);
    else if (kind === 'hardlink') this.#checkHardlink(entry);
    this.#kinds.set(rel, kind);
    this.#paths.push(rel);
  }

  /** Re-checks every path and symlink against the final set of symlinks; throws on the first problem. */
  finish(): void {
    for (const rel of this.#paths) this.#throughSymlink(rel, rel);
    for (const [rel, target] of this.#symlinks) {
      if (!staysInside(parentSegments(rel), target, this.#symlinks)) {
        throw unsafeLink(rel, `symlink target ${show(target)} leads outside the archive root (or loops)`);
      }
    }
  }

  #countFile(entry: EntryHeader): void {
    const { maxFileBytes, maxBytes } = this.#limits;
    if (entry.size > maxFileBytes) {
      throw tooLarge(
        entry.path,
        `file is ${entry.size} bytes, over the per-file limit of ${maxFileBytes}`,
        maxFileBytes,
      );
    }
    this.files += 1;
    this.bytes += entry.size;
    if (this.bytes > maxBytes) {
      throw tooLarge(entry.path, `archive unpacks to more than the limit of ${maxBytes} bytes`, maxBytes);
    }
  }

  #checkSymlink(rel: string, entry: EntryHeader): void {
    const target = entry.linkpath ?? '';
    if (target === '' || target.includes('\0')) throw unsafeLink(entry.path, 'symlink has an empty or invalid target');
    if (isAbsolute(target)) throw unsafeLink(entry.path, `absolute symlink target ${show(target)}`);
    this.#symlinks.set(rel, target); // before resolving, so that a link to itself is seen as a loop
    if (!staysInside(parentSegments(rel), target, this.#symlinks)) {
      throw unsafeLink(entry.path, `symlink target ${show(target)} leads outside the archive root (or loops)`);
    }
  }

  #checkHardlink(entry: EntryHeader): void {
    const raw = entry.linkpath ?? '';
    if (raw === '' || raw.includes('\0') || isAbsolute(raw) || segments(raw).includes('..')) {
      throw unsafeLink(entry.path, `hard link target ${show(raw)} is outside the archive root`);
    }
    const target = normalizeEntryPath(raw);
    const kind = this.#kinds.get(target);
    // A hard link to a symlink would copy the symlink, relative target and all, to another directory.
    if (kind !== 'file' && kind !== 'hardlink') {
      throw unsafeLink(entry.path, `hard link target ${show(raw)} is not a regular file earlier in the archive`);
    }
    this.#throughSymlink(target, entry.path);
  }

  /** Conflicts node-tar would only hit halfway through unpacking: a path below a file, or a non-directory over a populated one. */
  #checkTree(rel: string, kind: Kind, shown: string): void {
    const parts = rel === '' ? [] : rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const above = this.#kinds.get(prefix);
      if (above === 'file' || above === 'hardlink')
        throw invalidArchive(shown, `${show(prefix)} is a file earlier in the archive`);
      this.#parents.add(prefix);
    }
    if (kind === 'dir' || !this.#parents.has(rel)) return;
    if (kind === 'symlink') throw unsafeLink(shown, 'a symlink would replace a directory that holds earlier entries');
    throw invalidArchive(shown, `a ${kind} would replace a directory that holds earlier entries`);
  }

  /** Refuses a path whose parent directories include a symlink: writing there would follow it. */
  #throughSymlink(rel: string, shown: string): void {
    const parts = rel === '' ? [] : rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.#symlinks.has(prefix)) throw unsafeLink(shown, `path goes through the symlink ${show(prefix)}`);
    }
  }
}

/**
 * The entry's path relative to the root ('' for the root itself), with `./`,
 * empty segments and a trailing slash removed. Throws for absolute paths and
 * for any `..` segment (node-tar refuses those too, even when they stay inside).
 * Backslashes count as separators here, as node-tar treats them when checking.
 */
export function normalizeEntryPath(raw: string): string {
  if (raw.includes('\0')) throw unsafePath(raw, 'contains a NUL byte');
  if (isAbsolute(raw)) throw unsafePath(raw, 'absolute paths are not allowed');
  const parts = segments(raw);
  if (parts.includes('..')) throw unsafePath(raw, "'..' is not allowed in paths");
  if (parts.length > MAX_DEPTH) throw unsafePath(raw, `nested deeper than ${MAX_DEPTH} levels`);
  return parts.join('/');
}

/** Follows `target` from `dir` through the archive's symlinks; false if it ever leaves the root. */
function staysInside(dir: string[], target: string, symlinks: ReadonlyMap<string, string>): boolean {
  const stack = [...dir];
  let queue = segments(target);
  let hops = 0;
  while (queue.length > 0) {
    const part = queue[0] as string;
    queue = queue.slice(1);
    if (part === '..') {
      if (stack.length === 0) return false;
      stack.pop();
      continue;
    }
    stack.push(part);
    const next = symlinks.get(stack.join('/'));
    if (next === undefined) continue;
    hops += 1;
    if (hops > MAX_HOPS || isAbsolute(next)) return false;
    stack.pop();
    queue = [...segments(next), ...queue];
  }
  return true;
}

function segments(p: string): string[] {
  return p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
}

function parentSegments(rel: string): string[] {
  const parts = rel.split('/');
  return parts.slice(0, -1);
}

/** POSIX absolute, or anything node-tar would strip a root from (`C:`, `\\server\`). */
function isAbsolute(p: string): boolean {
  return p.startsWith('/') || path.win32.isAbsolute(p) || path.win32.parse(p).root !== '';
}

function isLink(kind: Kind): boolean {
  return kind === 'symlink' || kind === 'hardlink';
}

function show(p: string): string {
  return JSON.stringify(p);
}

function unsafePath(p: string, why: string): SlipwayError {
  return new SlipwayError('source.unsafe_path', `${show(p)}: ${why}`, { path: p });
}

function unsafeLink(p: string, why: string): SlipwayError {
  return new SlipwayError('source.unsafe_link', `${show(p)}: ${why}`, { path: p });
}

function invalidArchive(p: string, why: string): SlipwayError {
  return new SlipwayError('source.invalid_archive', `${show(p)}: ${why}`, { path: p });
}

function tooLarge(p: string, why: string, limit: number): SlipwayError {
  return new SlipwayError('source.too_large', `${show(p)}: ${why}`, { path: p, limit });
}
