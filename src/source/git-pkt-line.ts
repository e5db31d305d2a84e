// Git's pkt-line framing and side-band multiplexing, as used by the smart
// HTTP protocol: a packet is 4 hex digits of total length then the payload;
// `0000` is a flush. With side-band-64k each packet's first payload byte is a
// band: 1 data (the report-status), 2 progress (shown as `remote:` lines),
// 3 a fatal error.

export const FLUSH_PKT = Buffer.from('0000');
/** Largest packet git accepts, length prefix included. */
export const MAX_PKT_LENGTH = 65520;
const MAX_BAND_PAYLOAD = MAX_PKT_LENGTH - 4 - 1;

export type Packet = { readonly kind: 'data'; readonly payload: Buffer } | { readonly kind: 'flush' | 'delim' | 'end' };

export function pktLine(payload: string | Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (data.length + 4 > MAX_PKT_LENGTH) throw new Error(`pkt-line payload too long (${data.length} bytes)`);
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0')), data]);
}

/** Frames `data` on a side band, in as many packets as it needs. */
export function sideband(band: 1 | 2 | 3, data: string | Buffer): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const packets: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += MAX_BAND_PAYLOAD) {
    packets.push(pktLine(Buffer.concat([Buffer.from([band]), bytes.subarray(at, at + MAX_BAND_PAYLOAD)])));
  }
  return Buffer.concat(packets);
}

/** Incremental reader: feed bytes as they arrive, get whole packets back. */
export class PktLineReader {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Packet[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const packets: Packet[] = [];
    while (this.#pending.length >= 4) {
      const header = this.#pending.subarray(0, 4).toString('latin1');
      if (!/^[0-9a-f]{4}$/i.test(header)) throw new Error(`invalid pkt-line length ${JSON.stringify(header)}`);
      const length = Number.parseInt(header, 16);
      if (length < 4) {
        packets.push({ kind: length === 0 ? 'flush' : length === 1 ? 'delim' : 'end' });
        this.#pending = this.#pending.subarray(4);
        continue;
      }
      if (this.#pending.length < length) break;
      packets.push({ kind: 'data', payload: Buffer.from(this.#pending.subarray(4, length)) });
      this.#pending = this.#pending.subarray(length);
    }
    return packets;
  }

  /** Bytes of an incomplete packet still waiting for the rest. */
  get buffered(): number {
    return this.#pending.length;
  }
}

/** Every packet of a complete byte string (throws on a truncated one). */
export function readPackets(bytes: Buffer): Packet[] {
  const reader = new PktLineReader();
  const packets = reader.push(bytes);
  if (reader.buffered) throw new Error('truncated pkt-line stream');
  return packets;
}

/** The text lines of data packets, without their trailing newline, up to the first flush. */
export function packetLines(packets: readonly Packet[]): string[] {
  const lines: string[] = [];
  for (const p of packets) {
    if (p.kind !== 'data') break;
    lines.push(p.payload.toString('utf8').replace(/\n$/, ''));
  }
  return lines;
}

/** Status lines of a report-status (v1 or v2) answer: `unpack ok`, `ok <ref>`, `ng <ref> <why>`, `option ...`. */
export function encodeReportStatus(lines: readonly string[]): Buffer {
  return Buffer.concat([...lines.map((line) => pktLine(`${line}\n`)), FLUSH_PKT]);
}

/**
 * Turns `ok <ref>` into `ng <ref> <reason>` for the given refs, dropping the
 * `option` lines (report-status-v2) that belonged to them.
 */
export function rejectRefs(lines: readonly string[], refs: ReadonlySet<string>, reason: string): string[] {
  const out: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (line.startsWith('option ')) {
      if (!dropping) out.push(line);
      continue;
    }
    const ok = /^ok (\S+)$/.exec(line);
    dropping = ok !== null && refs.has(ok[1] ?? '');
    out.push(dropping ? `ng ${ok?.[1]} ${reason}` : line);
  }
  return out;
}
