// Reading back what a driver wrote on a container (or service) it started:
// the labels that name its app, release, role and Slipway id, so that a
// later run of the same home can tell what it is (runtime/types.ts `adopt`).

import type { FoundContainer } from './types.ts';

/** The container these labels describe, or null when one is missing or empty (not one Slipway made). */
export function foundOf(labels: Readonly<Record<string, string>> | undefined): FoundContainer | null {
  const id = labels?.['slipway.id'];
  const app = labels?.['slipway.app'];
  const release = labels?.['slipway.release'];
  const name = labels?.['slipway.container'];
  if (!id || !app || !release || !name) return null;
  return { id, app, release, name };
}
