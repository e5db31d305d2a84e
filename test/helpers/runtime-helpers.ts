// Helpers for the runtime contract suite: a tiny slug on disk, line capture,
// and host-side checks (leftover processes, leftover mounts) that do not
// depend on which driver ran the container.

import { chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { delay } from './wait.ts';

export type Line = readonly ['stdout' | 'stderr', string];

/** A slug small enough to write per run: a web server, a script, a data file. */
export async function writeSlug(dir: string, owner?: { uid: number; gid: number }): Promise<void> {
  await mkdir(path.join(dir, 'lib'), { recursive: true });
  await writeFile(
    path.join(dir, 'server.js'),
    [
      "const http = require('node:http');",
      "const server = http.createServer((req, res) => res.end('hello from ' + process.env.CONTAINER));",
      "server.listen(Number(process.env.PORT), process.env.LISTEN_HOST || '0.0.0.0', () => {",
      "  console.log('listening on ' + process.env.PORT);",
      '});',
      '',
    ].join('\n'),
  );
  // Answers one request with what it sees of its app files, then exits.
  await writeFile(
    path.join(dir, 'peek.js'),
    [
      "const fs = require('node:fs');",
      "const server = require('node:http').createServer((req, res) => {",
      "  const seen = ['readme=' + fs.readFileSync('README', 'utf8').trim()];",
      "  for (const f of ['write.sh', 'lib/data.txt', 'created.txt', 'new-dir']) if (fs.existsSync(f)) seen.push('has ' + f);",
      "  res.end(seen.join('\\n'), () => server.close());",
      '});',
      "server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));",
      '',
    ].join('\n'),
  );
  await writeFile(path.join(dir, 'write.sh'), '#!/bin/sh\necho written > "$1"\n', { mode: 0o755 });
  await writeFile(path.join(dir, 'README'), 'original\n');
  await writeFile(path.join(dir, 'lib', 'data.txt'), 'data\n');
  if (owner !== undefined) {
    for (const entry of ['', 'lib', 'server.js', 'peek.js', 'write.sh', 'README', 'lib/data.txt']) {
      await chown(path.join(dir, entry), owner.uid, owner.gid);
    }
  }
}

/** Every file under `dir` with its content, to prove a directory was not touched. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = entry.isFile()
      ? await readFile(full, 'utf8')
      : entry.isDirectory()
        ? '<dir>'
        : '<other>';
  }
  return out;
}

export interface LineLog {
  readonly lines: Line[];
  readonly onLine: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Resolves with the first line matching, rejects after `timeoutMs`. */
  waitFor(match: (line: Line) => boolean, timeoutMs?: number): Promise<Line>;
}

export function lineLog(): LineLog {
  const lines: Line[] = [];
  return {
    lines,
    onLine: (stream, line) => {
      lines.push([stream, line]);
    },
    async waitFor(match, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`no matching line within ${timeoutMs} ms; got ${JSON.stringify(lines)}`);
        await delay(20);
      }
    },
  };
}

/** Pids of live (non-zombie) processes with `marker` as one of their arguments (so not the `sh -c` naming it). */
export async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Zombies have an empty cmdline, so they never match.
      const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.split('\0').includes(marker)) found.push(Number(name));
    } catch {
      // The process ended between readdir and readFile: it is not left behind.
    }
  }
  return found;
}

/** Polls until `check` holds or `timeoutMs` passes; returns the last value. */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 3000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await delay(50);
  }
}

/** Mount points (from /proc/self/mounts) under `dir`. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .map((field) =>
      field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    )
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

export function httpGet(host: string, port: number, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('HTTP request timed out')));
    req.on('error', reject);
    req.end();
  });
}
