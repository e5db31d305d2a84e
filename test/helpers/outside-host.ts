// An "outside host" for the network tests, made by the test itself (no real
// host is reachable from the test machines, and tests send traffic to no
// address they did not create): a network namespace joined to the host by a
// veth pair on a /30 of the given range, and a tiny HTTP server in it
// (python3) that answers with the client address it saw. A container that
// reaches it went out through the host's forwarding and NAT; the address
// seen is then the host's end of the pair.

import { randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { HELPER_ENV, type ProcessHandle, runChecked, spawnProcess } from '../../src/exec/index.ts';
import { intToIp, ipToInt } from '../../src/runtime/sandbox/network-plan.ts';
import { lineLog } from './runtime-helpers.ts';

export interface OutsideHost {
  /** The server's address, in the test's namespace. */
  readonly address: string;
  readonly port: number;
  /** The host's end of the veth pair: where NATed traffic appears to come from. */
  readonly hostAddress: string;
  readonly netns: string;
  /** The requests it has received so far, oldest first. */
  requests(): SeenRequest[];
  /**
   * The requests once there are at least `count` (the server's log line can
   * reach the test after the client already has its answer).
   */
  waitForRequests(count: number, timeoutMs?: number): Promise<SeenRequest[]>;
  close(): Promise<void>;
}

// Every request is printed as one JSON line (method, path, body) for the test to read. A
// gate: GET /gate answers 503 until someone POSTs /open, so a container can wait on the test.
const SERVER = `
import http.server, json, sys
state = {"open": False}
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        print(json.dumps({"method": self.command, "path": self.path, "body": body}), flush=True)
        if self.command == "POST" and self.path == "/open":
            state["open"] = True
        status = 503 if self.path == "/gate" and not state["open"] else 200
        text = ("outside saw " + self.client_address[0]).encode()
        self.send_response(status)
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)
    do_GET = answer
    do_POST = answer
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
print("ready", flush=True)
server.serve_forever()
`;

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** Ranges to put the pair in: a benchmarking range (RFC 2544) like any outside host, or link-local (cloud metadata). */
const RANGES = {
  outside: { base: '198.18.0.0', slots: 2 ** 15 / 4 },
  'link-local': { base: '169.254.0.0', slots: 2 ** 16 / 4 },
} as const;

const PORT = 8000;

async function ip(args: string[], script: string): Promise<void> {
  await runChecked(['ip', ...args, '-batch', '-'], {
    env: HELPER_ENV,
    stdin: Readable.from([script]),
    timeoutMs: 10_000,
  });
}

export async function startOutsideHost(range: keyof typeof RANGES = 'outside'): Promise<OutsideHost> {
  const id = randomBytes(3).toString('hex');
  const netns = `swtest-${id}`;
  const veth = `swt-${id}`;
  // Away from the range's first and last blocks (169.254.0.0/24 and .255.0/24 are reserved).
  const { base, slots } = RANGES[range];
  const network = ipToInt(base) + 4 * randomInt(64, slots - 64);
  const hostAddress = intToIp(network + 1);
  const address = intToIp(network + 2);
  let server: ProcessHandle | undefined;
  const seen: SeenRequest[] = [];
  const close = async () => {
    await server?.stop(0);
    // The pair goes with either end; the namespace last.
    await runChecked(['ip', 'link', 'del', 'dev', veth], { env: HELPER_ENV }).catch(() => {});
    await runChecked(['ip', 'netns', 'del', netns], { env: HELPER_ENV }).catch(() => {});
  };
  try {
    await ip([], `netns add ${netns}\nlink add name ${veth} type veth peer name eth0 netns ${netns}\n`);
    await ip([], `addr add ${hostAddress}/30 dev ${veth}\nlink set dev ${veth} up\n`);
    await ip(['-n', netns], `link set dev lo up\naddr add ${address}/30 dev eth0\nlink set dev eth0 up\n`);
    const log = lineLog();
    server = spawnProcess(['ip', 'netns', 'exec', netns, '/usr/bin/python3', '-c', SERVER, address, String(PORT)], {
      env: HELPER_ENV,
      onLine: (stream, line) => {
        if (stream === 'stdout' && line.startsWith('{')) seen.push(JSON.parse(line) as SeenRequest);
        else log.onLine(stream, line);
      },
    });
    await log.waitFor(([, line]) => line === 'ready', 10_000);
  } catch (err) {
    await close();
    throw err;
  }
  return { address, port: PORT, hostAddress, netns, ...requestLog(seen), close };
}

function requestLog(seen: SeenRequest[]): Pick<OutsideHost, 'requests' | 'waitForRequests'> {
  return {
    requests: () => [...seen],
    waitForRequests: async (count, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (seen.length < count && Date.now() < deadline) await delay(20);
      return [...seen];
    },
  };
}

/**
 * A third party an app's containers can reach, as a deployed app reaches a
 * service on the internet: an outside host in its own network namespace
 * where the test can make one (root, iproute2), else a server on loopback
 * (then Slipway runs the process runtime, whose containers share the
 * host's network). The same gate and request log either way.
 */
export async function startThirdParty(): Promise<OutsideHost> {
  try {
    return await startOutsideHost();
  } catch {
    return startLoopbackParty();
  }
}

async function startLoopbackParty(): Promise<OutsideHost> {
  const seen: SeenRequest[] = [];
  let open = false;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', body });
      if (req.method === 'POST' && req.url === '/open') open = true;
      res.statusCode = req.url === '/gate' && !open ? 503 : 200;
      res.end(`outside saw ${req.socket.remoteAddress}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    hostAddress: '127.0.0.1',
    netns: '',
    ...requestLog(seen),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
