import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CaptureParser, PcapWriter, parseCapture, captureRecords, writeCapture, buildPacket, detectFormat,
  LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL,
  type PacketInput, type PacketRecord,
} from '../../src/net/index.js';
import type { PcapError } from '../../src/errors.js';

const T0 = 1_700_000_000_123_456_789n;

function packets(n: number, linkType = LINKTYPE_ETHERNET): PacketInput[] {
  const out: PacketInput[] = [];
  for (let i = 0; i < n; i++) {
    const ip = { ipv4: { src: '192.0.2.1', dst: '192.0.2.2', id: i } };
    const spec = linkType === LINKTYPE_ETHERNET ? { eth: {}, ...ip, udp: { sport: 1000 + i, dport: 53 }, payload: i * 3 }
      : linkType === LINKTYPE_LINUX_SLL ? { sll: { pktType: 4 }, ...ip, udp: { sport: 1000 + i, dport: 53 }, payload: i }
        : linkType === LINKTYPE_LINUX_SLL2 ? { sll2: { ifindex: 3 }, ...ip, udp: { sport: 1000 + i, dport: 53 }, payload: i }
          : linkType === LINKTYPE_IPV6 ? { ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, udp: { sport: 1000 + i, dport: 53 }, payload: i }
            : { ...ip, udp: { sport: 1000 + i, dport: 53 }, payload: i };
    out.push({ data: buildPacket(spec), ts: T0 + BigInt(i) * 1_000_001_001n, linkType });
  }
  return out;
}

function expectPcapError(fn: () => unknown, code: string, record?: number, offset?: number): PcapError {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  assert.ok(err, `expected a PcapError ${code}, got no error`);
  const e = err as PcapError;
  assert.equal(e.name, 'PcapError', String(err));
  assert.equal(e.code, code, e.message);
  if (record !== undefined) assert.equal(e.record, record, e.message);
  if (offset !== undefined) assert.equal(e.offset, offset, e.message);
  return e;
}

/** Records before the error and the error itself, reading lazily. */
function readUntilError(bytes: Uint8Array): { recs: PacketRecord[]; err: PcapError | undefined } {
  const recs: PacketRecord[] = [];
  try {
    for (const r of captureRecords(bytes)) recs.push(r);
  } catch (e) {
    return { recs, err: e as PcapError };
  }
  return { recs, err: undefined };
}

for (const le of [true, false]) {
  for (const resolution of ['us', 'ns'] as const) {
    for (const lt of [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL]) {
      test(`pcap round trip: ${le ? 'little' : 'big'}-endian, ${resolution}, link type ${lt}`, () => {
        const input = lt === LINKTYPE_NULL
          ? [{ data: Uint8Array.of(2, 0, 0, 0, ...buildPacket({ ipv4: { src: '192.0.2.1', dst: '192.0.2.2' } })), ts: T0, linkType: lt }]
          : packets(5, lt);
        const bytes = writeCapture(input, { format: 'pcap', littleEndian: le, resolution, linkType: lt });
        assert.equal(detectFormat(bytes), 'pcap');
        const p = new CaptureParser();
        const out = [...p.feed(bytes), ...p.end()];
        assert.equal(out.length, input.length);
        assert.equal(p.info?.littleEndian, le);
        assert.equal(p.info?.versionMajor, 2);
        assert.equal(p.info?.versionMinor, 4);
        assert.equal(p.interfaces[0]?.tsresol, resolution === 'ns' ? 9 : 6);
        assert.equal(p.interfaces[0]?.linkType, lt);
        out.forEach((r, i) => {
          const want = input[i]!;
          assert.deepEqual(r.data, want.data);
          assert.equal(r.caplen, want.data.length);
          assert.equal(r.origLen, want.data.length);
          assert.equal(r.linkType, lt);
          assert.equal(r.interfaceId, 0);
          const ts = want.ts!;
          assert.equal(r.ts, resolution === 'ns' ? ts : ts - (ts % 1000n));
        });
      });
    }
  }
}

test('pcap: snaplen cuts captured bytes, keeps the original length', () => {
  const input = packets(4);
  const bytes = writeCapture(input, { format: 'pcap', snaplen: 50 });
  const out = parseCapture(bytes);
  out.forEach((r, i) => {
    assert.equal(r.caplen, Math.min(50, input[i]!.data.length));
    assert.equal(r.origLen, input[i]!.data.length);
    assert.deepEqual(r.data, input[i]!.data.subarray(0, r.caplen));
  });
  assert.ok(out.some((r) => r.caplen < r.origLen), 'some packets longer than the snaplen');
  // Records keep an origLen that was already larger than the data.
  const again = parseCapture(writeCapture(out, { format: 'pcap', snaplen: 50 }));
  assert.deepEqual(again.map((r) => [r.caplen, r.origLen]), out.map((r) => [r.caplen, r.origLen]));
});

test('pcap: hand-made big-endian header and record are read field by field', () => {
  const b = Uint8Array.from([
    0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 96, 0, 0, 0, 101, // header: snaplen 96, RAW
    0x65, 0x53, 0xf1, 0x00, 0x00, 0x01, 0xe2, 0x40, 0, 0, 0, 4, 0, 0, 0, 100, 0x45, 0, 0, 100, // ts 1700000000.123456
  ]);
  const [r] = parseCapture(b);
  assert.equal(r!.ts, 1_700_000_000_123_456_000n);
  assert.equal(r!.caplen, 4);
  assert.equal(r!.origLen, 100);
  assert.equal(r!.linkType, LINKTYPE_RAW);
  assert.deepEqual([...r!.data], [0x45, 0, 0, 100]);
});

test('pcap: FCS bits of the link type field are split off', () => {
  const w = new PcapWriter({ linkType: LINKTYPE_ETHERNET });
  const h = w.header();
  new DataView(h.buffer).setUint32(20, 1 | 0x04000000 | (2 << 28), true);
  const p = new CaptureParser();
  [...p.feed(h), ...p.end()];
  assert.equal(p.interfaces[0]!.linkType, 1);
  assert.equal(p.interfaces[0]!.fcsLen, 4);
});

test('pcap: header-only file has no packets; empty input is an error', () => {
  assert.deepEqual(parseCapture(writeCapture([], { format: 'pcap' })), []);
  expectPcapError(() => parseCapture(new Uint8Array(0)), 'PCAP_TRUNCATED', 0, 0);
  expectPcapError(() => parseCapture(Uint8Array.of(0xd4, 0xc3)), 'PCAP_TRUNCATED', 0, 0);
});

test('pcap: bad magic and bad version', () => {
  expectPcapError(() => parseCapture(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n........')), 'PCAP_BAD_MAGIC', 0, 0);
  const h = new PcapWriter().header();
  h[4] = 3;
  expectPcapError(() => parseCapture(h), 'PCAP_VERSION', 0);
});

test('pcap: truncated file yields the packets before the damage, then names the record', () => {
  const input = packets(5);
  const bytes = writeCapture(input, { format: 'pcap' });
  const sizes = input.map((p) => 16 + p.data.length);
  const start3 = 24 + sizes[0]! + sizes[1]! + sizes[2]!;
  // Cut in the middle of record 3's data, of its header, and right after the file header.
  for (const [cut, rec, off, what] of [
    [start3 + 16 + 5, 3, start3, 'packet data'], [start3 + 7, 3, start3, 'record header'], [24 + 3, 0, 24, 'record header'],
    [10, 0, 0, 'file header'],
  ] as const) {
    const { recs, err } = readUntilError(bytes.subarray(0, cut));
    assert.equal(recs.length, rec, `cut at ${cut}`);
    recs.forEach((r, i) => assert.deepEqual(r.data, input[i]!.data));
    assert.ok(err, 'an error after the good packets');
    assert.equal(err.code, 'PCAP_TRUNCATED');
    assert.equal(err.record, rec);
    assert.equal(err.offset, off);
    assert.match(err.message, new RegExp(what));
  }
});

test('pcap: caplen above snaplen, absurd caplen', () => {
  const input = packets(3);
  const bytes = writeCapture(input, { format: 'pcap', snaplen: 100 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const r1 = 24 + 16 + input[0]!.data.length;
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(16, 40, true); // snaplen 40 < caplen of record 0 (42 bytes)
  expectPcapError(() => parseCapture(copy), 'PCAP_CAPLEN_EXCEEDS_SNAPLEN', 0, 24);
  assert.equal(parseCapture(copy, { strictSnaplen: false }).length, 3);
  dv.setUint32(r1 + 8, 300000, true);
  const { recs, err } = readUntilError(bytes);
  assert.equal(recs.length, 1);
  assert.equal(err?.code, 'PCAP_ABSURD_LENGTH');
  assert.equal(err?.record, 1);
  assert.equal(err?.offset, r1);
});

test('pcap: a failed parser keeps failing with the same error', () => {
  const p = new CaptureParser();
  p.push(Uint8Array.of(1, 2, 3, 4, 5));
  const e1 = expectPcapError(() => p.next(), 'PCAP_BAD_MAGIC');
  const e2 = expectPcapError(() => p.next(), 'PCAP_BAD_MAGIC');
  assert.equal(e1, e2);
});

test('pcap writer: link type mismatch, timestamps out of range, origLen below caplen', () => {
  const data = new Uint8Array(20);
  expectPcapError(() => writeCapture([{ data, linkType: 1 }, { data, linkType: 101 }], { format: 'pcap' }), 'PCAP_WRITE_LINKTYPE', 1);
  expectPcapError(() => writeCapture([{ data, ts: -1n }]), 'PCAP_WRITE_TIMESTAMP', 0);
  expectPcapError(() => writeCapture([{ data, ts: 1n << 62n }]), 'PCAP_WRITE_TIMESTAMP', 0);
  expectPcapError(() => writeCapture([{ data, origLen: 10 }]), 'PCAP_WRITE_LENGTH', 0);
  expectPcapError(() => new PcapWriter({ snaplen: 0 }), 'PCAP_WRITE_SNAPLEN');
  // The file's link type follows the first record when not given.
  const [r] = parseCapture(writeCapture([{ data, linkType: LINKTYPE_RAW }]));
  assert.equal(r!.linkType, LINKTYPE_RAW);
});

test('pcap writer: write() emits the header once; end() emits it for an empty capture', () => {
  const w = new PcapWriter({ resolution: 'us' });
  const a = w.write({ data: new Uint8Array(10), ts: 5_000_000_123n });
  const b = w.write({ data: new Uint8Array(3) });
  assert.equal(a.length, 24 + 16 + 10);
  assert.equal(b.length, 16 + 3);
  assert.equal(w.end().length, 0);
  assert.equal(new PcapWriter().end().length, 24);
  const recs = parseCapture(Uint8Array.from([...a, ...b]));
  assert.equal(recs[0]!.ts, 5_000_000_000n);
});
