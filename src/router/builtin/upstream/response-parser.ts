// An incremental HTTP/1.1 response parser for the router's upstream side:
// bytes from a backend connection go in, a response head and body chunks come
// out, and `done` tells when the response is complete. It frames bodies by Content-Length, chunked encoding or the
// connection's end, skips informational (1xx) answers, knows which answers
// carry no body (HEAD, 204, 304), and tells whether the connection may carry
// another request afterwards. Anything it cannot frame with certainty is an
// error: a proxy that guesses at framing lets one response bleed into the next.

export interface ResponseEvents {
  /** The final (non-1xx) response head. Headers are [name, value, ...] as sent. */
  onHead(status: number, statusText: string, headers: string[]): void;
  onBody(chunk: Buffer): void;
}

const HEAD = 0;
const FIXED = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;
const FAILED = 8;

const CRLF = 0x0a0d; // "\r\n" read as a little-endian uint16
const HEAD_END = Buffer.from('\r\n\r\n');
/** Longest chunk-size line accepted, extensions included. */
const MAX_CHUNK_LINE = 4096;
/** Hex digits in a chunk size: 13 stay within Number.MAX_SAFE_INTEGER. */
const MAX_CHUNK_DIGITS = 13;
const DIGITS = /^[0-9]{1,15}$/;
const HEX = /^[0-9a-fA-F]+$/;

export class ResponseParser {
  /** Whether the connection may carry another request once this response is done. */
  reusable = true;
  /** The backend's `Keep-Alive: timeout=` hint in ms, or -1 when it gave none. */
  keepAliveHintMs = -1;
  /** True once any byte of the current response arrived. */
  started = false;

  #state: number = DONE;
  #headOnly = false;
  /** Bytes of an incomplete head, or of an incomplete chunk-size or trailer line. */
  #pending: Buffer | null = null;
  #remaining = 0;
  #lastKeepAlive = '';
  #lastKeepAliveMs = -1;

  constructor(
    private readonly events: ResponseEvents,
    private readonly maxHeadBytes: number,
  ) {}

  /** Readies the parser for the response to a request with `method`. */
  expect(method: string): void {
    this.#state = HEAD;
    this.#headOnly = method === 'HEAD';
    this.#pending = null;
    this.started = false;
    this.keepAliveHintMs = -1;
  }

  get done(): boolean {
    return this.#state === DONE;
  }

  /** Stops parsing for good: after a failure, nothing more reaches the events. */
  abandon(): void {
    this.#state = FAILED;
    this.reusable = false;
  }

  /** Parses `chunk`; returns an error message when the bytes are not a valid response. */
  feed(chunk: Buffer): string | null {
    if (this.#state === DONE || this.#state === FAILED) {
      // Bytes nobody asked for: whatever the backend meant, the connection is spoiled.
      this.reusable = false;
      return null;
    }
    this.started = true;
    let data = chunk;
    if (this.#pending !== null) {
      data = Buffer.concat([this.#pending, chunk]);
      this.#pending = null;
    }
    let pos = 0;
    while (pos < data.length) {
      switch (this.#state) {
        case HEAD: {
          const end = data.indexOf(HEAD_END, pos);
          if (end === -1) {
            if (data.length - pos > this.maxHeadBytes) return this.#fail('response head too large');
            this.#pending = data.subarray(pos);
            return null;
          }
          if (end - pos > this.maxHeadBytes) return this.#fail('response head too large');
          const error = this.#parseHead(data.toString('latin1', pos, end));
          if (error !== null) return this.#fail(error);
          if (this.#halted()) return null;
          pos = end + 4;
          break;
        }
        case FIXED: {
          const take = Math.min(this.#remaining, data.length - pos);
          this.#remaining -= take;
          this.events.onBody(pos === 0 && take === data.length ? data : data.subarray(pos, pos + take));
          if (this.#halted()) return null;
          pos += take;
          if (this.#remaining === 0) this.#end();
          break;
        }
        case CHUNK_SIZE: {
          const lf = data.indexOf(0x0a, pos);
          if (lf === -1) {
            if (data.length - pos > MAX_CHUNK_LINE) return this.#fail('chunk size line too long');
            this.#pending = data.subarray(pos);
            return null;
          }
          const error = this.#parseChunkSize(data, pos, lf);
          if (error !== null) return this.#fail(error);
          pos = lf + 1;
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(this.#remaining, data.length - pos);
          this.#remaining -= take;
          this.events.onBody(data.subarray(pos, pos + take));
          if (this.#halted()) return null;
          pos += take;
          if (this.#remaining === 0) this.#state = CHUNK_DATA_END;
          break;
        }
        case CHUNK_DATA_END: {
          if (data.length - pos < 2) {
            this.#pending = data.subarray(pos);
            return null;
          }
          if (data.readUInt16LE(pos) !== CRLF) return this.#fail('chunk data not followed by CRLF');
          pos += 2;
          this.#state = CHUNK_SIZE;
          break;
        }
        case TRAILERS: {
          // Trailer fields are read and dropped, up to the empty line.
          const lf = data.indexOf(0x0a, pos);
          if (lf === -1) {
            if (data.length - pos > this.maxHeadBytes) return this.#fail('trailer too large');
            this.#pending = data.subarray(pos);
            return null;
          }
          if (lf === 0 || data[lf - 1] !== 0x0d) return this.#fail('trailer line not ended by CRLF');
          const empty = lf === pos + 1;
          pos = lf + 1;
          if (empty) this.#end();
          break;
        }
        case UNTIL_CLOSE:
          this.events.onBody(pos === 0 ? data : data.subarray(pos));
          pos = data.length;
          break;
        default:
          // DONE (or FAILED): bytes beyond the response mean the backend
          // wrote something unasked; do not trust the connection again.
          this.reusable = false;
          return null;
      }
    }
    return null;
  }

  /** The backend closed the connection: ends a close-delimited body, or says why the response is cut. */
  finish(): string | null {
    if (this.#state === UNTIL_CLOSE) {
      this.#end();
      return null;
    }
    if (this.#state === DONE) return null;
    return this.#fail(this.started ? 'connection closed mid-response' : 'connection closed before any response');
  }

  /** True once abandoned: an event handler may have failed the exchange mid-feed. */
  #halted(): boolean {
    return this.#state === FAILED;
  }

  #fail(message: string): string {
    this.abandon();
    return message;
  }

  /** The response is complete (`done`); `feed` stops at this point. */
  #end(): void {
    this.#state = DONE;
  }

  #parseHead(head: string): string | null {
    const lineEnd = head.indexOf('\r\n');
    const statusLine = lineEnd === -1 ? head : head.slice(0, lineEnd);
    if (!statusLine.startsWith('HTTP/1.') || statusLine.length < 12 || statusLine[8] !== ' ') {
      return 'malformed status line';
    }
    const minor = statusLine[7];
    const status = Number(statusLine.slice(9, 12));
    if ((minor !== '1' && minor !== '0') || !(status >= 100 && status <= 999) || !isDigit(statusLine, 9, 12)) {
      return 'malformed status line';
    }
    if (statusLine.length > 12 && statusLine[12] !== ' ') return 'malformed status line';
    if (minor === '0') this.reusable = false;

    const headers: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let hasTransferEncoding = false;
    for (let start = lineEnd + 2; lineEnd !== -1 && start < head.length; ) {
      let end = head.indexOf('\r\n', start);
      if (end === -1) end = head.length;
      const colon = head.indexOf(':', start);
      if (colon <= start || colon > end) return 'malformed header line';
      const first = head.charCodeAt(start);
      const beforeColon = head.charCodeAt(colon - 1);
      // Folded lines and whitespace before the colon are refused (RFC 9112 §5).
      if (first === 0x20 || first === 0x09 || beforeColon === 0x20 || beforeColon === 0x09) {
        return 'malformed header line';
      }
      const name = head.slice(start, colon);
      const value = trimWhitespace(head, colon + 1, end);
      headers.push(name, value);
      start = end + 2;
      // Only four names matter here; their lengths rule out most headers without a lowercase copy.
      if (name.length !== 10 && name.length !== 14 && name.length !== 17) continue;
      switch (name.toLowerCase()) {
        case 'content-length': {
          const length = parseContentLength(value);
          if (length === -1 || (contentLength !== -1 && contentLength !== length)) return 'invalid Content-Length';
          contentLength = length;
          break;
        }
        case 'transfer-encoding':
          hasTransferEncoding = true;
          chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(value);
          break;
        case 'connection':
          if (value !== 'keep-alive' && /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i.test(value)) this.reusable = false;
          break;
        case 'keep-alive':
          this.keepAliveHintMs = this.#keepAliveHint(value);
          break;
      }
    }

    if (status < 200) {
      // 101 answers a request that asked for no upgrade; other 1xx are skipped.
      if (status === 101) return 'unexpected 101 Switching Protocols';
      return null;
    }
    this.events.onHead(status, statusLine.slice(13), headers);
    if (this.#halted()) return null;
    if (this.#headOnly || status === 204 || status === 304) {
      this.#end();
      return null;
    }
    if (hasTransferEncoding) {
      // RFC 9112 §6.3: with Transfer-Encoding, Content-Length is ignored and
      // the connection closed after; without chunked last, the body runs to the end.
      if (contentLength !== -1) this.reusable = false;
      if (chunked) {
        this.#state = CHUNK_SIZE;
      } else {
        this.#state = UNTIL_CLOSE;
        this.reusable = false;
      }
    } else if (contentLength !== -1) {
      this.#remaining = contentLength;
      if (contentLength === 0) this.#end();
      else this.#state = FIXED;
    } else {
      this.#state = UNTIL_CLOSE;
      this.reusable = false;
    }
    return null;
  }

  /** The `timeout=` of a Keep-Alive value in ms, or -1; a backend sends the same value every time. */
  #keepAliveHint(value: string): number {
    if (value !== this.#lastKeepAlive) {
      const hint = /(?:^|[ ,])timeout=(\d{1,6})/i.exec(value);
      this.#lastKeepAlive = value;
      this.#lastKeepAliveMs = hint === null ? -1 : Number(hint[1]) * 1000;
    }
    return this.#lastKeepAliveMs;
  }

  #parseChunkSize(data: Buffer, start: number, lf: number): string | null {
    if (lf === start || data[lf - 1] !== 0x0d) return 'chunk size line not ended by CRLF';
    let end = lf - 1;
    const semicolon = data.indexOf(0x3b, start);
    if (semicolon !== -1 && semicolon < end) end = semicolon;
    while (end > start && (data[end - 1] === 0x20 || data[end - 1] === 0x09)) end--;
    const digits = data.toString('latin1', start, end);
    if (digits.length === 0 || digits.length > MAX_CHUNK_DIGITS || !HEX.test(digits)) return 'invalid chunk size';
    const size = Number.parseInt(digits, 16);
    if (size === 0) {
      this.#state = TRAILERS;
    } else {
      this.#remaining = size;
      this.#state = CHUNK_DATA;
    }
    return null;
  }
}

/** A Content-Length value (a list of equal values is allowed, RFC 9110 §8.6), or -1. */
function parseContentLength(value: string): number {
  if (DIGITS.test(value)) return Number(value);
  let length = -1;
  for (const part of value.split(',')) {
    const trimmed = part.trim();
    if (!DIGITS.test(trimmed)) return -1;
    const n = Number(trimmed);
    if (length !== -1 && n !== length) return -1;
    length = n;
  }
  return length;
}

function isDigit(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** `text[from, to)` without the spaces and tabs around it (HTTP's OWS; not String.trim's wider set). */
function trimWhitespace(text: string, from: number, to: number): string {
  let start = from;
  let end = to;
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return text.slice(start, end);
}
