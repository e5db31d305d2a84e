import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  encodeReportStatus,
  FLUSH_PKT,
  MAX_PKT_LENGTH,
  PktLineReader,
  packetLines,
  pktLine,
  readPackets,
  rejectRefs,
  sideband,
} from '../../src/source/git-pkt-line.ts';
import { deployTarget } from '../../src/source/git-push.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('pkt-line', () => {
  test('a packet is its total length in 4 hex digits, then the payload', () => {
    assert.equal(pktLine('unpack ok\n').toString(), '000eunpack ok\n');
    assert.equal(pktLine('').toString(), '0004');
    assert.throws(() => pktLine(Buffer.alloc(MAX_PKT_LENGTH)), /too long/);
  });

  test('the reader returns whole packets however the bytes are chunked', () => {
    const bytes = Buffer.concat([pktLine('first\n'), FLUSH_PKT, pktLine('second\n'), Buffer.from('0001')]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = new PktLineReader();
      const packets = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
      assert.deepEqual(
        packets.map((p) => (p.kind === 'data' ? p.payload.toString() : p.kind)),
        ['first\n', 'flush', 'second\n', 'delim'],
        `cut at ${cut}`,
      );
      assert.equal(reader.buffered, 0);
    }
  });

  test('garbage and truncated streams are refused', () => {
    assert.throws(() => readPackets(Buffer.from('zzzzhello')), /invalid pkt-line length/);
    assert.throws(() => readPackets(Buffer.from('000ahel')), /truncated/);
  });

  test('side-band data longer than one packet is split, each packet tagged with its band', () => {
    const big = Buffer.alloc(150_000, 'x');
    const packets = readPackets(sideband(2, big));
    assert.equal(packets.length, 3);
    const payloads = packets.map((p) => (p.kind === 'data' ? p.payload : Buffer.alloc(0)));
    assert.ok(payloads.every((p) => p[0] === 2 && p.length + 4 <= MAX_PKT_LENGTH));
    assert.deepEqual(Buffer.concat(payloads.map((p) => p.subarray(1))), big);
  });

  test('report-status: lines round-trip, and a rejected ref becomes ng with its v2 options dropped', () => {
    const report = [
      'unpack ok',
      'ok refs/heads/main',
      `option old-oid ${A}`,
      `option new-oid ${B}`,
      'ok refs/heads/feature',
      `option new-oid ${B}`,
    ];
    assert.deepEqual(packetLines(readPackets(encodeReportStatus(report))), report);
    assert.deepEqual(rejectRefs(report, new Set(['refs/heads/main']), 'deployment failed'), [
      'unpack ok',
      'ng refs/heads/main deployment failed',
      'ok refs/heads/feature',
      `option new-oid ${B}`,
    ]);
  });
});

describe('which pushed branch deploys', () => {
  const update = (ref: string, newSha: string | null = B) => ({ ref, oldSha: A, newSha });

  test('main deploys; other branches do not', () => {
    assert.equal(deployTarget([update('refs/heads/feature'), update('refs/heads/main')])?.ref, 'refs/heads/main');
    assert.equal(deployTarget([update('refs/heads/feature')]), null);
    assert.equal(deployTarget([update('refs/heads/main', null)]), null, 'deleting main deploys nothing');
  });

  test('master deploys only when the repository has no main', () => {
    assert.equal(deployTarget([update('refs/heads/master')], false)?.ref, 'refs/heads/master');
    assert.equal(deployTarget([update('refs/heads/master')], true), null);
    assert.equal(deployTarget([update('refs/heads/master'), update('refs/heads/main')])?.ref, 'refs/heads/main');
  });
});
