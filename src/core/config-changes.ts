// Config changes between two sets of config vars: what turns one into the
// other, and how to say it in one line. Used to show a change that is not
// live yet, and what a rollback restores.

import type { ConfigVars } from './types.ts';

/** Key → its new value, or null when it is removed. */
export type ConfigChanges = Readonly<Record<string, string | null>>;

/** What turns `from` into `to`: added and changed keys with their value, removed ones with null; sorted by key. */
export function configChanges(from: ConfigVars, to: ConfigVars): ConfigChanges {
  const changes: Record<string, string | null> = {};
  for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) {
    const value = Object.hasOwn(to, key) ? (to[key] as string) : null;
    const before = Object.hasOwn(from, key) ? from[key] : null;
    if (value !== before) changes[key] = value;
  }
  return Object.fromEntries(Object.entries(changes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** `+NEW ~CHANGED -REMOVED`, names only (values can be secrets); `from` tells added from changed. */
export function describeChanges(from: ConfigVars, changes: ConfigChanges): string {
  return Object.entries(changes)
    .map(([key, value]) => `${value === null ? '-' : Object.hasOwn(from, key) ? '~' : '+'}${key}`)
    .join(' ');
}
