// The nginx master Slipway runs as its child: start it in the foreground
// (`daemon off`), or take over the one a killed Slipway left running, check
// configurations with `nginx -t`, reload with SIGHUP, and tell its workers
// apart by reading /proc.

import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import { SlipwayError } from '../../core/errors.ts';
import { HELPER_ENV, runProcess, spawnProcess } from '../../exec/index.ts';

export interface NginxMaster {
  readonly pid: number;
  /** SIGTERM to the master and its workers, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs: number): Promise<void>;
  /** Leaves it running without us (the server stops, the next start takes it over). */
  release(): void;
}

/** `nginx -t` on a file; resolves to null when valid, else nginx's complaint. */
export async function testConfig(binary: string, prefix: string, file: string): Promise<string | null> {
  const lines: string[] = [];
  const result = await runProcess([binary, '-t', '-q', '-p', `${prefix}/`, '-e', 'stderr', '-c', file], {
    env: HELPER_ENV,
    onLine: (_stream, line) => lines.push(line),
    timeoutMs: 30_000,
  });
  return result.code === 0 ? null : lines.join('\n') || `nginx -t exited with ${result.code ?? result.signal}`;
}

/** Starts the master and resolves once it accepts connections on host:port. */
export async function startMaster(options: {
  binary: string;
  prefix: string;
  file: string;
  host: string;
  port: number;
  logger: Logger | undefined;
}): Promise<NginxMaster> {
  const output: string[] = [];
  const handle = spawnProcess([options.binary, '-p', `${options.prefix}/`, '-e', 'stderr', '-c', options.file], {
    env: HELPER_ENV,
    onLine: (_stream, line) => {
      if (output.length < 50) output.push(line);
      options.logger?.warn({ nginx: line }, 'nginx');
    },
  });
  let exited = false;
  handle.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(options.host, options.port)) || workerPids(handle.pid ?? 0).length === 0) {
    if (exited || Date.now() > deadline) {
      await handle.stop(0);
      throw new SlipwayError('internal', `nginx did not start: ${output.join('\n') || 'no output'}`);
    }
    await delay(20);
  }
  return {
    pid: handle.pid as number,
    stop: async (graceMs) => void (await handle.stop(graceMs)),
    release: () => handle.release(),
  };
}

/**
 * The nginx master a Slipway killed outright (SIGKILL, crash) left running on this
 * configuration, or null: only a process whose title names this very configuration
 * file is one. It still serves what it was last given.
 */
export function leftMaster(pidFile: string, configFile: string): NginxMaster | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  const isOurs = () => {
    try {
      const title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return title.includes('nginx: master process') && title.includes(configFile);
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 1 || !isOurs()) return null;
  return {
    pid,
    release: () => {},
    async stop(graceMs) {
      // Its own process group (spawned detached): the master and its workers.
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(-pid, name);
        } catch {}
      };
      signal('SIGTERM');
      const deadline = Date.now() + graceMs;
      while (isOurs() && Date.now() < deadline) await delay(20);
      if (isOurs()) signal('SIGKILL');
      while (isOurs()) await delay(20);
    },
  };
}

/** The master's live children (its workers, old and new). */
export function workerPids(masterPid: number): number[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8');
  } catch {
    return [];
  }
  return text
    .split(' ')
    .filter((s) => s.length > 0)
    .map(Number);
}

/** True once a worker was told to quit: it closed its listening sockets and says so in its title. */
export function isShuttingDown(workerPid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${workerPid}/cmdline`, 'utf8').includes('shutting down');
  } catch {
    return true; // already gone
  }
}

/** A free TCP port on `host`, for when the caller asked for port 0. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host === '0.0.0.0' ? '127.0.0.1' : host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
