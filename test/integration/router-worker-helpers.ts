// Which router process proxied a request: the backend looks up the router's
// end of its connection in /proc/net/tcp and finds the process holding that
// socket among the router's processes (the test process and its router
// workers). Linux only, like Slipway.

import fs from 'node:fs';
import type { Socket } from 'node:net';
import type { TestContext } from 'node:test';
import type { BuiltinRouter } from '../../src/router/builtin/index.ts';
import { type Handler, startBackend, type TestBackend } from './router-helpers.ts';

/** The pid among `pids` holding the other end of `socket` (a backend's accepted connection), or undefined. */
export function connectionOwner(socket: Socket, pids: readonly number[]): number | undefined {
  const inode = peerInode(socket.remotePort ?? 0, socket.localPort ?? 0);
  if (inode === undefined) return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** The inode of the IPv4 loopback socket bound to `localPort` and connected to `remotePort`. */
function peerInode(localPort: number, remotePort: number): string | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  const local = `:${hex(localPort)}`;
  const remote = `:${hex(remotePort)}`;
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1]?.endsWith(local) && fields[2]?.endsWith(remote)) return fields[9];
  }
  return undefined;
}

/** The router worker processes of a `slipway server` process: its children running the worker entry. */
export function routerWorkerPids(serverPid: number): number[] {
  const children = fs
    .readdirSync(`/proc/${serverPid}/task`)
    .flatMap((task) => fs.readFileSync(`/proc/${serverPid}/task/${task}/children`, 'utf8').trim().split(/\s+/))
    .filter((child) => child !== '');
  return children.map(Number).filter((child) => {
    try {
      return /router-worker\.js|worker-process\.[jt]s/.test(fs.readFileSync(`/proc/${child}/cmdline`, 'utf8'));
    } catch {
      return false; // exited meanwhile
    }
  });
}

export interface OwnedBackend extends TestBackend {
  /** Router process (pid) of each request, in arrival order. */
  readonly owners: (number | undefined)[];
}

/** A backend that records which router process each request came through, then runs `handler`. */
export async function startOwnedBackend(
  t: TestContext,
  id: string,
  router: () => BuiltinRouter,
  handler?: Handler,
): Promise<OwnedBackend> {
  const owners: (number | undefined)[] = [];
  const backend = await startBackend(t, id, (req, res, self) => {
    owners.push(connectionOwner(req.socket, [process.pid, ...router().workerPids()]));
    if (handler) handler(req, res, self);
    else {
      req.resume();
      res.end(id);
    }
  });
  return Object.assign(backend, { owners });
}
