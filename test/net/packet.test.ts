import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildPacket, dissect, fiveTuple, summarize, internetChecksum, checksumAdd, checksumFold, tcpFlags, formatTcpFlags,
  parseIPv4, parseIPv6, formatIPv6, formatIPv4, parseMac, formatMac, linkTypeOf,
  LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_IPV4, LINKTYPE_IPV6,
  ETH_P_IP, ETH_P_IPV6, ETH_P_8021AD, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, TCP_SYN, TCP_ACK,
} from '../../src/net/index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('internet checksum: RFC 1071 example and a known IPv4 header', () => {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (one's complement), checksum 220d.
  const b = hex('0001f203f4f5f6f7');
  assert.equal(checksumFold(checksumAdd(0, b)), 0xddf2);
  assert.equal(internetChecksum(b), 0x220d);
  // A textbook IPv4 header whose checksum field is b861.
  const ip = hex('450000730000400040110000c0a80001c0a800c7');
  assert.equal(internetChecksum(ip), 0xb861);
  ip[10] = 0xb8; ip[11] = 0x61;
  assert.equal(internetChecksum(ip), 0);
  // Odd length: the last byte is padded with zero.
  assert.equal(internetChecksum(hex('01')), 0xfeff);
  // Large input stays exact.
  const big = new Uint8Array(200000).fill(0xff);
  assert.equal(internetChecksum(big), 0);
});

test('addresses parse and format', () => {
  assert.deepEqual([...parseIPv4('192.0.2.255')], [192, 0, 2, 255]);
  assert.equal(formatIPv4(parseIPv4('10.1.2.3')), '10.1.2.3');
  for (const [i, o] of [
    ['2001:db8::1', '2001:db8::1'], ['::', '::'], ['::1', '::1'], ['fe80::', 'fe80::'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['FE80::1%eth0', 'fe80::1'],
  ]) assert.equal(formatIPv6(parseIPv6(i!)), o, i);
  assert.equal(formatMac(parseMac('02:00:5E:00:53:01')), '02:00:5e:00:53:01');
  for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d']) assert.throws(() => parseIPv4(bad), { name: 'PcapError', code: 'NET_BAD_ADDRESS' });
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3']) assert.throws(() => parseIPv6(bad), { name: 'PcapError', code: 'NET_BAD_ADDRESS' });
  assert.throws(() => parseMac('01:02'), { name: 'PcapError' });
});

test('ethernet/IPv4/UDP: exact bytes of a small packet', () => {
  const p = buildPacket({
    eth: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
    ipv4: { src: '192.0.2.1', dst: '192.0.2.2', id: 0x1234, ttl: 64, df: true },
    udp: { sport: 1234, dport: 53 },
    payload: 'abcd',
  });
  // Header fields byte for byte; the checksums are checked independently below.
  assert.equal(toHex(p.subarray(0, 14)), '020000000002' + '020000000001' + '0800');
  assert.equal(toHex(p.subarray(14, 34)).slice(0, 20), '4500002012344000401100'.slice(0, 20));
  assert.equal(p.length, 14 + 20 + 8 + 4);
  const d = dissect(p, LINKTYPE_ETHERNET, { verify: true });
  assert.equal(d.ipChecksumOk, true);
  assert.equal(d.l4ChecksumOk, true);
  assert.deepEqual(d.udp, { sport: 1234, dport: 53, length: 12, checksum: (p[40]! << 8) | p[41]! });
  assert.deepEqual([d.l3Offset, d.l4Offset, d.payloadOffset, d.protocol, d.l4Protocol], [14, 34, 42, ETH_P_IP, IPPROTO_UDP]);
  assert.equal(new TextDecoder().decode(p.subarray(d.payloadOffset)), 'abcd');
  // An independent check of the UDP checksum: pseudo-header + segment sums to 0xffff.
  const pseudo = Uint8Array.from([...parseIPv4('192.0.2.1'), ...parseIPv4('192.0.2.2'), 0, 17, 0, 12]);
  assert.equal(checksumFold(checksumAdd(checksumAdd(0, pseudo), p, 34)), 0xffff);
});

test('TCP over IPv4 with options; flags, seq/ack, checksum', () => {
  const p = buildPacket({
    eth: {}, ipv4: { src: '198.51.100.7', dst: '203.0.113.9', options: Uint8Array.of(1, 1, 1) },
    tcp: { sport: 40000, dport: 443, seq: 0xfffffff0, ack: 42, flags: 'SA', window: 1000, options: Uint8Array.of(2, 4, 5, 0xb4) },
    payload: 9,
  });
  const d = dissect(p, LINKTYPE_ETHERNET, { verify: true });
  assert.equal(d.ipv4!.ihl, 24);
  assert.deepEqual(d.tcp, { sport: 40000, dport: 443, seq: 0xfffffff0, ack: 42, dataOffset: 24, flags: TCP_SYN | TCP_ACK, window: 1000, checksum: d.tcp!.checksum, urgent: 0 });
  assert.equal(d.ipChecksumOk, true);
  assert.equal(d.l4ChecksumOk, true);
  assert.equal(d.payloadOffset, 14 + 24 + 24);
  assert.equal(p.length - d.payloadOffset, 9);
  assert.deepEqual(fiveTuple(d), { src: '198.51.100.7', dst: '203.0.113.9', sport: 40000, dport: 443, protocol: IPPROTO_TCP });
  assert.equal(summarize(p, LINKTYPE_ETHERNET), 'IP 198.51.100.7.40000 > 203.0.113.9.443: Flags [S.], seq 4294967280, ack 42, win 1000, length 9');
  // A wrong checksum is caught.
  const bad = buildPacket({ ipv4: { src: '1.2.3.4', dst: '5.6.7.8', checksum: 0x1234 }, tcp: { sport: 1, dport: 2, checksum: 0xbeef } });
  const e = dissect(bad, LINKTYPE_RAW, { verify: true });
  assert.equal(e.ipChecksumOk, false);
  assert.equal(e.l4ChecksumOk, false);
});

test('IPv6: UDP, TCP, ICMPv6 checksums; extension headers walked', () => {
  const base = { eth: { vlan: [{ id: 100, tpid: ETH_P_8021AD, pcp: 3 }, 200] }, ipv6: { src: '2001:db8::1', dst: '2001:db8::2', flowLabel: 0x12345, trafficClass: 0xb8 } };
  for (const l4 of [{ udp: { sport: 5, dport: 6 } }, { tcp: { sport: 5, dport: 6, flags: 'PA', ack: 1 } }, { icmpv6: { id: 7, seq: 8 } }]) {
    const p = buildPacket({ ...base, ...l4, payload: 33 });
    const d = dissect(p, LINKTYPE_ETHERNET, { verify: true });
    assert.equal(d.vlans.length, 2);
    assert.deepEqual(d.vlans[0], { tpid: ETH_P_8021AD, tci: (3 << 13) | 100, id: 100, pcp: 3, dei: false });
    assert.equal(d.vlans[1]!.id, 200);
    assert.equal(d.protocol, ETH_P_IPV6);
    assert.equal(d.l3Offset, 22);
    assert.equal(d.l4Offset, 62);
    assert.equal(d.ipv6!.flowLabel, 0x12345);
    assert.equal(d.ipv6!.trafficClass, 0xb8);
    assert.equal(d.l4ChecksumOk, true, JSON.stringify(l4));
  }
  const ext = buildPacket({
    ipv6: { src: '2001:db8::1', dst: '2001:db8::2', extensions: [{ type: 0 }, { type: 60, data: new Uint8Array(14) }] },
    udp: { sport: 1, dport: 2 }, payload: 4,
  });
  const d = dissect(ext, LINKTYPE_RAW, { verify: true });
  assert.deepEqual(d.ipv6!.extensions, [0, 60]);
  assert.equal(d.ipv6!.nextHeader, 0);
  assert.equal(d.l4Protocol, IPPROTO_UDP);
  assert.equal(d.l4Offset, 40 + 8 + 16);
  assert.equal(d.l4ChecksumOk, true);
  // A non-first fragment: no transport header.
  const frag = buildPacket({ ipv6: { src: '2001:db8::1', dst: '2001:db8::2', nextHeader: 17, extensions: [{ type: 44, data: Uint8Array.of(0, 0x10, 0, 0, 0, 1) }] }, payload: 16 });
  const f = dissect(frag, LINKTYPE_IPV6);
  assert.equal(f.fragment, true);
  assert.equal(f.l4Offset, -1);
  assert.equal(f.udp, undefined);
});

test('ICMP echo over IPv4; IPv4 fragments', () => {
  const p = buildPacket({ ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, icmp: { id: 0x42, seq: 7 }, payload: 56 });
  const d = dissect(p, LINKTYPE_IPV4, { verify: true });
  assert.deepEqual(d.icmp, { type: 8, code: 0, checksum: d.icmp!.checksum, id: 0x42, seq: 7 });
  assert.equal(d.l4Protocol, IPPROTO_ICMP);
  assert.equal(d.l4ChecksumOk, true);
  assert.equal(summarize(p, LINKTYPE_RAW), 'IP 192.0.2.1 > 192.0.2.2: ICMP echo request, id 66, seq 7, length 64');
  const first = dissect(buildPacket({ ipv4: { src: '192.0.2.1', dst: '192.0.2.2', mf: true }, udp: { sport: 1, dport: 2 }, payload: 8 }), LINKTYPE_RAW, { verify: true });
  assert.equal(first.fragment, true);
  assert.equal(first.udp?.sport, 1); // the first fragment still has the header
  assert.equal(first.l4ChecksumOk, undefined);
  const later = dissect(buildPacket({ ipv4: { src: '192.0.2.1', dst: '192.0.2.2', fragOffset: 3, protocol: 17 }, payload: 8 }), LINKTYPE_RAW);
  assert.equal(later.l4Offset, -1);
  assert.equal(later.l4Protocol, 17);
  const v6 = buildPacket({ eth: {}, ipv6: { src: '::1', dst: '::2' }, icmpv6: { type: 129, id: 1, seq: 2 } });
  assert.equal(dissect(v6, 1).l4Protocol, IPPROTO_ICMPV6);
  assert.equal(summarize(v6, 1), 'IP6 ::1 > ::2: ICMP6, echo reply, id 1, seq 2, length 8');
});

test('link types: SLL, SLL2, NULL, raw', () => {
  const ip = { ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 9, dport: 10 } } as const;
  const sll = buildPacket({ sll: { pktType: 4 }, ...ip });
  assert.equal(linkTypeOf({ sll: {} }), LINKTYPE_LINUX_SLL);
  let d = dissect(sll, LINKTYPE_LINUX_SLL, { verify: true });
  assert.deepEqual([d.sllPktType, d.protocol, d.l3Offset, d.l4Offset, d.l4ChecksumOk], [4, ETH_P_IP, 16, 36, true]);
  const sll2 = buildPacket({ sll2: { pktType: 0, ifindex: 7 }, ...ip });
  d = dissect(sll2, LINKTYPE_LINUX_SLL2);
  assert.deepEqual([d.sllPktType, d.protocol, d.l3Offset, d.l4Offset], [0, ETH_P_IP, 20, 40]);
  assert.equal(new DataView(sll2.buffer).getUint32(4), 7);
  const raw = buildPacket(ip);
  for (const [hdr, what] of [[[2, 0, 0, 0], 'LE'], [[0, 0, 0, 2], 'BE']] as const) {
    d = dissect(Uint8Array.from([...hdr, ...raw]), LINKTYPE_NULL);
    assert.deepEqual([d.protocol, d.l3Offset, d.l4Offset], [ETH_P_IP, 4, 24], what);
  }
  d = dissect(buildPacket({ ipv6: { src: '::1', dst: '::2' }, udp: { sport: 1, dport: 2 } }), LINKTYPE_RAW);
  assert.equal(d.protocol, ETH_P_IPV6);
  assert.deepEqual(dissect(raw, 147).l3Offset, -1); // a link type the dissector does not know
});

test('the dissector never throws on truncated or garbage input', () => {
  const full = buildPacket({ eth: { vlan: 5 }, ipv6: { src: '::1', dst: '::2', extensions: [{ type: 0 }] }, tcp: { sport: 1, dport: 2, options: new Uint8Array(12) }, payload: 20 });
  for (let n = 0; n <= full.length; n++) {
    const d = dissect(full.subarray(0, n), LINKTYPE_ETHERNET, { verify: true });
    assert.equal(d.truncated, n < 18 + 40 + 8 + 32, `length ${n}`);
    summarize(full.subarray(0, n), LINKTYPE_ETHERNET);
  }
  let x = 12345;
  for (let i = 0; i < 3000; i++) {
    const n = i % 120;
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) { x = (x * 1103515245 + 12345) >>> 0; b[j] = x >>> 24; }
    if (n > 14) { b[12] = 0x08; b[13] = i % 2 ? 0x00 : 0xdd; b[14] = i % 2 ? 0x45 : 0x60; }
    for (const lt of [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL]) {
      dissect(b, lt, { verify: true });
      summarize(b, lt);
    }
  }
});

test('TCP flag letters', () => {
  assert.equal(tcpFlags('S'), TCP_SYN);
  assert.equal(tcpFlags('SA'), TCP_SYN | TCP_ACK);
  assert.equal(tcpFlags('FSRPAUEW'), 0xff);
  assert.equal(formatTcpFlags(tcpFlags('PA')), 'P.');
  assert.throws(() => tcpFlags('X'), { name: 'PcapError', code: 'NET_BUILD' });
});

test('builder rejects impossible specs with a typed error', () => {
  const v4 = { src: '192.0.2.1', dst: '192.0.2.2' };
  for (const spec of [
    { eth: {}, sll: {} }, { ipv4: v4, ipv6: { src: '::1', dst: '::2' } }, { ipv4: v4, tcp: { sport: 1, dport: 2 }, udp: { sport: 1, dport: 2 } },
    { tcp: { sport: 1, dport: 2 } }, { ipv4: v4, icmpv6: {} }, { eth: {} }, { eth: { vlan: 5000 }, ipv4: v4 },
    { ipv4: v4, udp: { sport: 70000, dport: 1 } }, { ipv4: { ...v4, options: new Uint8Array(44) } }, { ipv4: v4, payload: 70000 },
  ]) assert.throws(() => buildPacket(spec), { name: 'PcapError' }, JSON.stringify(spec));
});
