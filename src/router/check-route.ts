// Route validation shared by the router drivers: a malformed route is a
// caller bug, and refusing it keeps the live table sane.

import { SlipwayError } from '../core/errors.ts';
import type { AppRoute } from './types.ts';

export function assertValidRoute(app: string, route: AppRoute): void {
  const invalid = (what: string) => new SlipwayError('internal', `invalid route for app "${app}": ${what}`);
  if (typeof app !== 'string' || app.length === 0) throw invalid('empty app name');
  for (const hostname of route.hostnames) {
    if (typeof hostname !== 'string' || hostname.length === 0) throw invalid('empty hostname');
  }
  for (const backend of route.backends) {
    if (typeof backend.id !== 'string' || backend.id.length === 0) throw invalid('backend without id');
    if (typeof backend.host !== 'string' || backend.host.length === 0)
      throw invalid(`backend ${backend.id} has no host`);
    if (!Number.isInteger(backend.port) || backend.port < 1 || backend.port > 65_535) {
      throw invalid(`backend ${backend.id} has port ${backend.port}`);
    }
  }
}
