// Captures written by real tools (tcpdump, editcap, mergecap) and by hand
// (test/fixtures/net/make-fixtures.sh regenerates them), each with what tshark
// read from it (*.tsv). The library must read the same packets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import {
  CaptureParser, dissect, type PacketRecord, type CaptureInfo, type InterfaceInfo,
} from '../../src/net/index.js';
import type { PcapError } from '../../src/errors.js';

const DIR = new URL('../../../test/fixtures/net/', import.meta.url);
const files = readdirSync(DIR).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

interface Read {
  recs: PacketRecord[];
  err: PcapError | undefined;
  info: CaptureInfo | undefined;
  ifaces: (readonly InterfaceInfo[])[];
}

function read(bytes: Uint8Array, chunk: number): Read {
  const p = new CaptureParser();
  const recs: PacketRecord[] = [];
  const ifaces: (readonly InterfaceInfo[])[] = [];
  try {
    for (let i = 0; i < bytes.length; i += chunk) {
      for (const r of p.feed(bytes.subarray(i, i + chunk))) { recs.push(r); ifaces.push(p.interfaces); }
    }
    for (const r of p.end()) { recs.push(r); ifaces.push(p.interfaces); }
  } catch (e) {
    return { recs, err: e as PcapError, info: p.info, ifaces };
  }
  return { recs, err: undefined, info: p.info, ifaces };
}

function epoch(ts: bigint): string {
  const s = ts / 1_000_000_000n;
  return `${s}.${(ts % 1_000_000_000n).toString().padStart(9, '0')}`;
}

const status = (ok: boolean | undefined): string => (ok === undefined ? '2' : ok ? '1' : '0');

const DAMAGED: Record<string, [string, number]> = {
  'truncated.pcap': ['PCAP_TRUNCATED', -1], // -1: after all the packets tshark read
  'corrupt.pcap': ['PCAP_ABSURD_LENGTH', 4],
};

test('fixtures are present', () => {
  assert.ok(files.length >= 10, `found ${files.join(', ')}`);
});

for (const f of files) {
  test(`fixture ${f}: same packets as tshark read`, () => {
    const bytes = new Uint8Array(readFileSync(new URL(f, DIR)));
    const rows = readFileSync(new URL(`${f}.tsv`, DIR), 'utf8').split('\n').filter((l) => l.length > 0)
      .map((l) => l.split('\t'))
      .filter((c) => !(c[0] === 'data' && c[1] === '')); // non-packet records tshark shows (custom blocks)
    const whole = read(bytes, bytes.length);
    const bytewise = read(bytes, 97);
    assert.equal(bytewise.recs.length, whole.recs.length);
    const { recs, err } = whole;
    const damaged = DAMAGED[f];
    if (damaged) {
      assert.equal(err?.name, 'PcapError', `${f}: expected an error`);
      assert.equal(err.code, damaged[0], err.message);
      assert.equal(err.record, damaged[1] < 0 ? rows.length : damaged[1]);
      assert.equal(bytewise.err?.code, err.code);
    } else {
      assert.equal(err, undefined, `${f}: ${err?.message}`);
    }
    assert.equal(recs.length, rows.length, `${f}: packet count`);
    recs.forEach((r, i) => {
      const c = rows[i]!;
      const where = `${f} packet ${i + 1}`;
      assert.equal(r.ts === 0n ? '' : epoch(r.ts), c[1], `${where}: time`);
      assert.equal(String(r.origLen), c[2], `${where}: len`);
      assert.equal(String(r.caplen), c[3], `${where}: caplen`);
      if (c[4] !== '') assert.equal(String(r.interfaceId), c[4], `${where}: interface`);
      assert.equal(r.comment ?? '', c[5], `${where}: comment`);
      const d = dissect(r.data, r.linkType, { verify: true });
      assert.equal(d.sllPktType === undefined ? '' : String(d.sllPktType), c[6], `${where}: sll packet type`);
      assert.equal(d.vlans[0] ? String(d.vlans[0].id) : '', c[7], `${where}: vlan`);
      assert.deepEqual([d.ipv4?.src ?? '', d.ipv4?.dst ?? '', d.ipv6?.src ?? '', d.ipv6?.dst ?? ''], c.slice(8, 12), `${where}: addresses`);
      const tcp = d.l4Protocol === 6 ? d.ports : undefined;
      const udp = d.l4Protocol === 17 ? d.ports : undefined;
      assert.deepEqual([tcp?.sport, tcp?.dport, udp?.sport, udp?.dport].map((x) => (x === undefined ? '' : String(x))), c.slice(12, 16), `${where}: ports`);
      if (c[16] !== '') assert.equal(status(d.ipChecksumOk), c[16], `${where}: ip checksum`);
      const l4 = d.tcp ? c[17] : d.udp ? c[18] : d.icmp && d.ipv4 ? c[19] : '';
      if (l4 === '1' || l4 === '0') assert.equal(status(d.l4ChecksumOk), l4, `${where}: l4 checksum`);
    });
  });
}

test('fixture details: headers, interfaces, sections', () => {
  const get = (f: string): Read => read(new Uint8Array(readFileSync(new URL(f, DIR))), 1 << 20);
  const be = get('be.pcap');
  assert.equal(be.info?.littleEndian, false);
  assert.equal(get('tcpdump-us.pcap').ifaces[0]![0]!.tsresol, 6);
  assert.equal(get('tcpdump-ns.pcap').ifaces[0]![0]!.tsresol, 9);
  assert.equal(get('editcap-ns.pcap').ifaces[0]![0]!.tsresol, 9);
  const snap = get('editcap-snap60.pcap');
  assert.equal(snap.ifaces[0]![0]!.snaplen, 60);
  assert.ok(snap.recs.some((r) => r.caplen === 60 && r.origLen > 60));
  const ng = get('editcap.pcapng');
  assert.equal(ng.info?.format, 'pcapng');
  assert.equal(ng.info?.comment, 'made by editcap');
  assert.equal(ng.recs[1]!.comment, 'second packet');
  const merged = get('mergecap-3if.pcapng');
  assert.deepEqual(merged.ifaces.at(-1)!.map((i) => i.linkType), [1, 101, 276, 113]);
  assert.deepEqual([...new Set(merged.recs.map((r) => `${r.interfaceId}:${r.linkType}`))].sort(), ['0:1', '1:101', '2:276', '3:113']);
  const hm = get('handmade.pcapng');
  assert.equal(hm.info?.section, 1);
  assert.equal(hm.info?.littleEndian, true);
  assert.deepEqual(hm.ifaces[0]!.map((i) => [i.name, i.tsresol, i.tsOffset]), [['eth-be', 0x80 | 20, 10n]]);
  assert.deepEqual(hm.ifaces.at(-1)!.map((i) => i.name), ['eth-le0', 'eth-le1']);
  assert.equal(hm.recs[0]!.flags, 1);
});
