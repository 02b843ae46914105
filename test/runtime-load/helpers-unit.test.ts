// The pure parts of the helpers: strtol/strtoul parsing, the printf
// formatter of bpf_snprintf / trace_vprintk, checksum arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bprintf, parseInteger } from '../../src/runtime/helpers-misc.js';
import { csumAdd, csumDiff, csumFold, csumFrom32to16, csumPartial } from '../../src/runtime/progtypes/skb.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('strtol / strtoul: white space, sign, bases, prefixes, errors', () => {
  const ok = (s: string, flags: number, signed: boolean, consumed: number, value: bigint): void => {
    assert.deepEqual(parseInteger(enc(s), flags, signed), { consumed, value: BigInt.asUintN(64, value) }, JSON.stringify(s));
  };
  ok(' -12x', 0, true, 4, -12n);
  ok('123 abc', 10, true, 3, 123n);
  ok('0x1f!', 0, true, 4, 31n);
  ok('0x1f!', 16, false, 4, 31n);
  ok('017', 0, false, 3, 15n);
  ok('0', 0, false, 1, 0n);
  ok('0xg', 0, false, 1, 0n); // "0" in octal, the x is not a prefix without a hex digit after it
  ok('ff', 16, false, 2, 255n);
  ok('9223372036854775807', 10, true, 19, 9223372036854775807n);
  ok('-9223372036854775808', 10, true, 20, -9223372036854775808n);
  ok('18446744073709551615', 10, false, 20, 18446744073709551615n);
  assert.equal(parseInteger(enc('9223372036854775808'), 10, true), -34);
  assert.equal(parseInteger(enc('18446744073709551616'), 10, false), -34);
  assert.equal(parseInteger(enc('-1'), 10, false), -22, 'strtoul refuses a sign');
  assert.equal(parseInteger(enc('abc'), 10, true), -22, 'no digits');
  assert.equal(parseInteger(enc('12'), 7, true), -22, 'base 7');
  assert.equal(parseInteger(enc('12'), 0x20, true), -22, 'flags beyond the base');
  assert.equal(parseInteger(new Uint8Array(0), 0, true), -22);
});

test('bprintf: the conversions bpf_snprintf accepts', () => {
  const str = (a: bigint): string => (a === 1n ? 'tsbpf' : '?');
  const bytes = (a: bigint, n: number): Uint8Array | undefined => (a === 2n ? new Uint8Array([10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]).subarray(0, n) : undefined);
  const f = (fmt: string, ...args: bigint[]): string | undefined => bprintf(fmt, args, str, bytes);
  assert.equal(f('%d %u %x %X %o', -5n, 5n, 255n, 255n, 8n), '-5 5 ff FF 10');
  assert.equal(f('%lld %llu %llx', -1n, 2n ** 64n - 1n, 2n ** 40n), '-1 18446744073709551615 10000000000');
  assert.equal(f('%d', 2n ** 32n + 7n), '7', 'int conversions take the low 32 bits');
  assert.equal(f('[%5d|%-5d|%05d|%+d]', 42n, 42n, -42n, 42n), '[   42|42   |-0042|+42]');
  assert.equal(f('%s=%.3s %c%%', 1n, 1n, 65n), 'tsbpf=tsb A%');
  assert.equal(f('%pI4 %pi4', 2n, 2n), '10.0.0.1 010.000.000.001');
  assert.equal(f('%pI6', 2n), 'a00:1:0:0:0:0:0:1');
  assert.equal(f('%#x %#o', 255n, 8n), '0xff 010');
  assert.equal(f('%d %d', 1n), undefined, 'too few arguments');
  assert.equal(f('%q', 1n), undefined, 'unknown conversion');
});

test('checksums: RFC 1071 sums, folding, csum_diff as Linux >= 6.13', () => {
  assert.equal(csumAdd(0xffffffff, 1), 1);
  assert.equal(csumAdd(0x80000000, 0x80000000), 1);
  assert.equal(csumFold(0), 0xffff);
  assert.equal(csumFold(0x0001fffe), 0);
  assert.equal(csumFrom32to16(0xffff0000), 0xffff);
  assert.equal(csumFrom32to16(0x00010000), 1);
  assert.equal(csumPartial(new Uint8Array(8), 0), 0);
  assert.equal(csumPartial(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0), 0xffffffff);
  // Values the kernel returned (test/fixtures-style probes on Linux 6.18):
  assert.equal(csumDiff(new Uint8Array(0), new Uint8Array(0), 0x12345678), 0x68ac);
  assert.equal(csumDiff(new Uint8Array(0), new Uint8Array(8).fill(0xff), 0), 0xffff);
  assert.equal(csumDiff(new Uint8Array(8), new Uint8Array(0), 0), 0);
  assert.equal(csumDiff(new Uint8Array(0), new Uint8Array([0xff, 0xff, 0, 0]), 0xffff0000), 0xffff);
  assert.equal(csumDiff(new Uint8Array(0), new Uint8Array([1, 0, 0]), 0), 1);
  // A diff applied to a header checksum equals recomputing it.
  const hdr = new Uint8Array([0x45, 0, 0, 0x54, 0, 0, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  const sum16 = (b: Uint8Array): number => { let s = 0; for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!; while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); return ~s & 0xffff; };
  const c = sum16(hdr);
  const changed = hdr.slice();
  changed[8] = 0x3f; // ttl 63
  const d = csumDiff(hdr.subarray(8, 12), changed.subarray(8, 12), 0);
  // bytes of the stored checksum as a little-endian word, as the helpers see memory
  const storedLE = ((c & 0xff) << 8) | (c >>> 8);
  const updatedLE = csumFold(csumAdd(d, ~storedLE >>> 0));
  const updated = ((updatedLE & 0xff) << 8) | (updatedLE >>> 8);
  assert.equal(updated, sum16(changed));
});
