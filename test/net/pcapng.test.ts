import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CaptureParser, PcapngWriter, parseCapture, captureRecords, writeCapture, buildPacket, detectFormat,
  LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL2, type PacketInput, type PacketRecord,
} from '../../src/net/index.js';
import type { PcapError } from '../../src/errors.js';

const T0 = 1_700_000_000_123_456_789n;
const enc = new TextEncoder();

// An independent little block builder (not the library's writer) for hand-made files.
function u16(v: number, le: boolean): number[] {
  return le ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff];
}
function u32(v: number, le: boolean): number[] {
  const b = [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  return le ? b.reverse() : b;
}
function pad(b: number[]): number[] {
  return [...b, ...new Array((4 - (b.length % 4)) % 4).fill(0)];
}
function opt(code: number, value: number[] | string, le: boolean): number[] {
  const v = typeof value === 'string' ? [...enc.encode(value)] : value;
  return [...u16(code, le), ...u16(v.length, le), ...pad(v)];
}
function opts(le: boolean, ...o: number[][]): number[] {
  return o.length ? [...o.flat(), 0, 0, 0, 0] : [];
}
function blk(type: number, body: number[], le: boolean, lenOverride?: number, trailerOverride?: number): number[] {
  const len = 12 + body.length;
  return [...u32(type, le), ...u32(lenOverride ?? len, le), ...body, ...u32(trailerOverride ?? lenOverride ?? len, le)];
}
function shb(le: boolean, options: number[][] = [], major = 1): number[] {
  return blk(0x0a0d0d0a, [...u32(0x1a2b3c4d, le), ...u16(major, le), ...u16(0, le), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...opts(le, ...options)], le);
}
function idb(le: boolean, linkType: number, snaplen: number, options: number[][] = []): number[] {
  return blk(1, [...u16(linkType, le), 0, 0, ...u32(snaplen, le), ...opts(le, ...options)], le);
}
function epb(le: boolean, iface: number, hi: number, lo: number, data: number[], origLen = data.length, options: number[][] = []): number[] {
  return blk(6, [...u32(iface, le), ...u32(hi, le), ...u32(lo, le), ...u32(data.length, le), ...u32(origLen, le), ...pad(data), ...opts(le, ...options)], le);
}
function spb(le: boolean, origLen: number, data: number[]): number[] {
  return blk(3, [...u32(origLen, le), ...pad(data)], le);
}
function opb(le: boolean, iface: number, hi: number, lo: number, data: number[]): number[] {
  return blk(2, [...u16(iface, le), ...u16(0, le), ...u32(hi, le), ...u32(lo, le), ...u32(data.length, le), ...u32(data.length, le), ...pad(data)], le);
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

function readUntilError(bytes: Uint8Array): { recs: PacketRecord[]; err: PcapError | undefined } {
  const recs: PacketRecord[] = [];
  try {
    for (const r of captureRecords(bytes)) recs.push(r);
  } catch (e) {
    return { recs, err: e as PcapError };
  }
  return { recs, err: undefined };
}

function mixed(n: number): PacketInput[] {
  const out: PacketInput[] = [];
  for (let i = 0; i < n; i++) {
    const raw = i % 3 === 2;
    const data = buildPacket(raw
      ? { ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 2 }, payload: i }
      : { eth: {}, ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, tcp: { sport: 1, dport: 2, seq: i }, payload: i * 5 });
    out.push({
      data, ts: T0 + BigInt(i) * 987_654_321n, linkType: raw ? LINKTYPE_RAW : LINKTYPE_ETHERNET, interfaceId: i % 2,
      ...(i % 4 === 1 ? { comment: `packet ${i} ✓` } : {}), ...(i % 5 === 0 ? { flags: 1 + i } : {}),
    });
  }
  return out;
}

for (const le of [true, false]) {
  for (const resolution of ['us', 'ns', 0x80 | 20, 0x80 | 30, 3] as const) {
    test(`pcapng round trip: ${le ? 'little' : 'big'}-endian, tsresol ${resolution}`, () => {
      const input = mixed(12);
      const bytes = writeCapture(input, { format: 'pcapng', littleEndian: le, resolution });
      assert.equal(detectFormat(bytes), 'pcapng');
      const p = new CaptureParser();
      const out = [...p.feed(bytes), ...p.end()];
      assert.equal(p.info?.format, 'pcapng');
      assert.equal(p.info?.littleEndian, le);
      assert.equal(p.info?.userAppl, 'tsbpf');
      // Auto interfaces: one per (interfaceId, linkType) in order of appearance.
      assert.deepEqual(p.interfaces.map((i) => i.linkType), [1, 1, 101, 101]);
      assert.equal(out.length, input.length);
      const tsresol = resolution === 'us' ? 6 : resolution === 'ns' ? 9 : resolution;
      out.forEach((r, i) => {
        const w = input[i]!;
        assert.deepEqual(r.data, w.data);
        assert.equal(r.linkType, w.linkType);
        assert.equal(r.origLen, w.data.length);
        assert.equal(r.comment, w.comment);
        assert.equal(r.flags, w.flags);
        // The timestamp is the input truncated to the resolution: within one unit, never later.
        const unitNs = tsresol & 0x80 ? 1e9 / 2 ** (tsresol & 0x7f) : 10 ** (9 - tsresol);
        assert.ok(r.ts <= w.ts! && Number(w.ts! - r.ts) <= Math.ceil(unitNs), `ts ${r.ts} vs ${w.ts}`);
        if (tsresol === 9) assert.equal(r.ts, w.ts);
      });
      // Interface ids map back to the interfaces by link type.
      out.forEach((r) => assert.equal(p.interfaces[r.interfaceId]!.linkType, r.linkType));
    });
  }
}

test('pcapng writer: declared interfaces with names and snaplens', () => {
  const w = new PcapngWriter({
    interfaces: [{ linkType: LINKTYPE_ETHERNET, name: 'eth0', snaplen: 64 }, { linkType: LINKTYPE_LINUX_SLL2, name: 'any', description: 'all' }],
    hardware: 'hw', os: 'os', comment: 'hello',
  });
  const data = buildPacket({ eth: {}, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 2 }, payload: 100 });
  const sll = buildPacket({ sll2: {}, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 2 } });
  const parts = [w.write({ data, ts: 1n }), w.write({ data: sll, interfaceId: 1, ts: 2n }), w.end()];
  const p = new CaptureParser();
  const out = parts.flatMap((c) => [...p.feed(c)]).concat([...p.end()]);
  assert.deepEqual(p.interfaces.map((i) => [i.linkType, i.name, i.snaplen, i.description]),
    [[1, 'eth0', 64, undefined], [276, 'any', 0, 'all']]);
  assert.deepEqual([p.info?.hardware, p.info?.os, p.info?.comment], ['hw', 'os', 'hello']);
  assert.equal(out[0]!.caplen, 64);
  assert.equal(out[0]!.origLen, data.length);
  assert.equal(out[1]!.linkType, LINKTYPE_LINUX_SLL2);
  expectPcapError(() => w.write({ data, interfaceId: 2 }), 'PCAPNG_UNKNOWN_INTERFACE');
  expectPcapError(() => w.write({ data, interfaceId: 0, linkType: 101 }), 'PCAPNG_WRITE_LINKTYPE');
  expectPcapError(() => new PcapngWriter({ resolution: 77 }), 'PCAPNG_WRITE_TSRESOL');
  // An empty capture with declared interfaces is a section header and the interfaces.
  const empty = new PcapngWriter({ interfaces: [{ linkType: 1 }] }).end();
  const q = new CaptureParser();
  assert.equal([...q.feed(empty), ...q.end()].length, 0);
  assert.equal(q.interfaces.length, 1);
});

for (const le of [true, false]) {
  test(`pcapng hand-made (${le ? 'LE' : 'BE'}): options, tsresol 2^-n and 10^-3, tsoffset, skipped blocks, SPB, OPB, two sections`, () => {
    const data = [1, 2, 3, 4, 5, 6, 7];
    const other = !le;
    const bytes = Uint8Array.from([
      ...shb(le, [opt(2, 'hardware x', le), opt(3, 'os y', le), opt(4, 'app z', le), opt(1, 'sec comment', le)]),
      ...idb(le, LINKTYPE_ETHERNET, 0, [opt(2, 'eth0\0', le), opt(9, [0x80 | 10], le), opt(11, [0, ...enc.encode('tcp')], le)]),
      ...idb(le, LINKTYPE_RAW, 5, [opt(9, [3], le), opt(14, le ? [10, 0, 0, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0, 0, 10], le), opt(13, [4], le)]),
      ...blk(4, [...u16(1, le), ...u16(8, le), 192, 0, 2, 1, ...enc.encode('a.b\0'), 0, 0, 0, 0], le), // name resolution
      ...blk(5, [...u32(0, le), ...u32(0, le), ...u32(0, le)], le), // interface statistics
      ...blk(0xbad, [0, 0, 0x7e, 0x4f, 1, 2, 3, 4], le), // custom
      ...blk(0x12345678, new Array(40).fill(0xee), le), // unknown type
      ...epb(le, 0, 0, 3 * 1024 + 512, data, 60, [opt(1, 'first', le), opt(2, u32(0x2, le), le), opt(1, 'second', le)]),
      ...epb(le, 1, 0, 2500, data.slice(0, 5), 20),
      ...opb(le, 0, 0, 1024, data),
      ...spb(le, 7, data), // interface 0: no snaplen, caplen = origLen
      ...shb(other),
      ...idb(other, LINKTYPE_RAW, 4),
      ...spb(other, 7, data.slice(0, 4)), // caplen = min(origLen 7, snaplen 4)
      ...epb(other, 0, 0x0006_0a24, 0x181e_7d5a, data.slice(0, 4), 7), // default tsresol: microseconds
    ]);
    const p = new CaptureParser();
    const recs: PacketRecord[] = [];
    const sections: unknown[] = [];
    const ifaces: unknown[] = [];
    for (let i = 0; i < bytes.length; i += 4) {
      for (const r of p.feed(bytes.subarray(i, i + 4))) {
        recs.push(r);
        sections.push(p.info?.section);
        ifaces.push(p.interfaces.map((x) => x.name ?? x.linkType));
      }
    }
    for (const r of p.end()) recs.push(r);
    assert.equal(recs.length, 6);
    const [a, b, c, d, e, f, g] = recs as [PacketRecord, PacketRecord, PacketRecord, PacketRecord, PacketRecord, PacketRecord, PacketRecord];
    // 3.5 * 1024 units of 2^-10 s = 3.5 s
    assert.equal(a.ts, 3_500_000_000n);
    assert.deepEqual([...a.data], data);
    assert.equal(a.origLen, 60);
    assert.equal(a.comment, 'first\nsecond');
    assert.equal(a.flags, 2);
    assert.equal(a.interfaceId, 0);
    // 2500 ms + if_tsoffset 10 s
    assert.equal(b.ts, 12_500_000_000n);
    assert.equal(b.interfaceId, 1);
    assert.equal(b.linkType, LINKTYPE_RAW);
    assert.equal(b.caplen, 5);
    assert.equal(c.ts, 1_000_000_000n);
    assert.deepEqual([d.ts, d.caplen, d.origLen, [...d.data]], [0n, 7, 7, data]);
    assert.deepEqual([e.caplen, e.origLen, e.linkType, [...e.data]], [4, 7, LINKTYPE_RAW, data.slice(0, 4)]);
    // default if_tsresol 6: units are microseconds
    assert.equal(f.ts, ((0x0006_0a24n << 32n) | 0x181e_7d5an) * 1000n);
    assert.equal(g, undefined);
    assert.deepEqual(sections, [0, 0, 0, 0, 1, 1]);
    assert.deepEqual(ifaces[0], ['eth0', 101]);
    assert.deepEqual(ifaces[5], [101]);
    assert.equal(p.info?.littleEndian, other);
  });
}

test('pcapng: interface options are parsed', () => {
  const le = true;
  const p = new CaptureParser();
  [...p.feed(Uint8Array.from([...shb(le), ...idb(le, 1, 1514, [opt(2, 'en0', le), opt(3, 'desc', le), opt(12, 'Linux', le), opt(11, [0, ...enc.encode('port 53')], le), opt(13, [4], le), opt(9, [9], le)])])), ...p.end()];
  assert.deepEqual(p.interfaces[0], { linkType: 1, snaplen: 1514, tsresol: 9, tsOffset: 0n, name: 'en0', description: 'desc', os: 'Linux', filter: 'port 53', fcsLen: 4 });
});

test('pcapng errors name the record and the block offset', () => {
  const le = true;
  const head = [...shb(le), ...idb(le, 1, 0)];
  const good = epb(le, 0, 0, 1, [1, 2, 3, 4]);
  const at = head.length + 2 * good.length; // offset of the third block after the interface
  const cases: [string, number[], string, number?][] = [
    ['length mismatch', blk(6, [...u32(0, le), 0, 0, 0, 0, 0, 0, 0, 0, ...u32(0, le), ...u32(0, le)], le, undefined, 36), 'PCAPNG_BLOCK_LENGTH_MISMATCH'],
    ['skipped block mismatch', blk(0x99, [1, 2, 3, 4], le, undefined, 20), 'PCAPNG_BLOCK_LENGTH_MISMATCH'],
    ['length not a multiple of 4', [...u32(6, le), ...u32(34, le), ...new Array(30).fill(0)], 'PCAPNG_BLOCK_LENGTH'],
    ['length below the minimum', [...u32(6, le), ...u32(8, le)], 'PCAPNG_BLOCK_LENGTH'],
    ['unknown interface', epb(le, 3, 0, 0, [1]), 'PCAPNG_UNKNOWN_INTERFACE'],
    ['caplen past the block', blk(6, [...u32(0, le), ...u32(0, le), ...u32(0, le), ...u32(40, le), ...u32(40, le), 1, 2, 3, 4], le), 'PCAPNG_BLOCK_LENGTH'],
    ['absurd caplen', blk(6, [...u32(0, le), ...u32(0, le), ...u32(0, le), ...u32(1 << 20, le), ...u32(40, le), 1, 2, 3, 4], le), 'PCAPNG_ABSURD_LENGTH'],
    ['absurd block length', [...u32(6, le), ...u32(1 << 24, le), 0, 0, 0, 0], 'PCAPNG_ABSURD_LENGTH'],
    ['option past the end', epb(le, 0, 0, 0, [1], 1, [[...u16(1, le), ...u16(200, le), 0, 0, 0, 0]]), 'PCAPNG_BAD_OPTION'],
    ['bad byte-order magic', [0x0a, 0x0d, 0x0d, 0x0a, ...u32(28, le), 1, 2, 3, 4, ...new Array(16).fill(0)], 'PCAPNG_BAD_MAGIC'],
    ['unsupported version', shb(le, [], 2), 'PCAPNG_VERSION'],
    ['truncated block', good.slice(0, 21), 'PCAP_TRUNCATED'],
    ['truncated skipped block', blk(0x99, new Array(400).fill(1), le).slice(0, 100), 'PCAP_TRUNCATED'],
  ];
  for (const [what, bad, code] of cases) {
    const bytes = Uint8Array.from([...head, ...good, ...good, ...bad, ...(code === 'PCAP_TRUNCATED' ? [] : good)]);
    const { recs, err } = readUntilError(bytes);
    assert.equal(recs.length, 2, what);
    assert.ok(err, `${what}: no error`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    assert.equal(err.record, 2, what);
    assert.equal(err.offset, at, `${what}: ${err.message}`);
  }
  expectPcapError(() => parseCapture(Uint8Array.from(idb(le, 1, 0))), 'PCAP_BAD_MAGIC', 0, 0);
  // A first block that is not a section header, after a valid magic... only the SHB magic is pcapng.
  expectPcapError(() => parseCapture(Uint8Array.from([...shb(le), ...good])), 'PCAPNG_UNKNOWN_INTERFACE', 0, 28);
  const strict = Uint8Array.from([...shb(le), ...idb(le, 1, 2), ...good]);
  expectPcapError(() => parseCapture(strict), 'PCAPNG_CAPLEN_EXCEEDS_SNAPLEN', 0);
  assert.equal(parseCapture(strict, { strictSnaplen: false }).length, 1);
});

test('pcapng: a huge unknown block is skipped without being buffered', () => {
  const le = true;
  const big = 8 << 20;
  const p = new CaptureParser();
  const chunks = [Uint8Array.from([...shb(le), ...idb(le, 1, 0), ...u32(0x4000_0bad, le), ...u32(big + 12, le)])];
  for (let i = 0; i < big; i += 1 << 20) chunks.push(new Uint8Array(1 << 20));
  chunks.push(Uint8Array.from([...u32(big + 12, le), ...epb(le, 0, 0, 7, [9, 9])]));
  const recs: PacketRecord[] = [];
  for (const c of chunks) recs.push(...p.feed(c));
  recs.push(...p.end());
  assert.equal(recs.length, 1);
  assert.deepEqual([...recs[0]!.data], [9, 9]);
  assert.equal(recs[0]!.ts, 7000n);
});
