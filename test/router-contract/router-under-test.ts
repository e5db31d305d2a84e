// A Router driver as the contract suite sees it: how to start one for a
// test, and the few places where drivers are allowed to differ, declared
// (as Hono's contract suite declares its skips) rather than tested by name.

import type { TestContext } from 'node:test';
import type { BuiltinRouterOptions } from '../../src/router/builtin/index.ts';
import type { Router } from '../../src/router/types.ts';

export interface RouterTraits {
  /** A request with a body is replayed on another backend when its connection was refused (nginx). */
  readonly replaysRefusedRequestWithBody: boolean;
  /** What a client gets when a backend answers HTTP/0.9 (no status line). */
  readonly http09Answer: '502' | 'closed with nothing sent';
  /** A route change may close idle client connections (nginx's graceful reload). */
  readonly reloadClosesIdleConnections: boolean;
  /**
   * A backend that does not complete connections within the connect timeout is passed over,
   * and the request moves to another one (built-in; nginx answers 504 after its fixed 5 s).
   */
  readonly passesOverSilentBackend: boolean;
}

export interface RouterUnderTest {
  readonly name: string;
  readonly traits: RouterTraits;
  start(t: TestContext, options?: Partial<BuiltinRouterOptions>): Promise<Router>;
}
