// The router's access line in an app's log (source `router`), logfmt style so
// it reads well and greps well:
//   method=GET path=/orders?page=2 status=200 duration=12ms request_id=6f1c…

export interface AccessFacts {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  readonly requestId: string;
}

const MAX_PATH_CHARS = 2000;
const NEEDS_QUOTES = /[\s"]/;

export function routerAccessLine(access: AccessFacts): string {
  const cut = access.path.length > MAX_PATH_CHARS ? `${access.path.slice(0, MAX_PATH_CHARS)}…` : access.path;
  const path = NEEDS_QUOTES.test(cut) ? JSON.stringify(cut) : cut;
  const duration = Math.round(access.durationMs);
  return `method=${access.method} path=${path} status=${access.status} duration=${duration}ms request_id=${access.requestId}`;
}
