import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  generateFlows, synFlood, dnsQueries, mergeByTime, dissect, fiveTuple, dnsMessage, Rng, DEFAULT_START,
  TCP_SYN, TCP_ACK, TCP_FIN, DNS_A, type PacketRecord,
} from '../../src/net/index.js';

const digest = (recs: PacketRecord[]): string => recs.map((r) => `${r.ts}:${Buffer.from(r.data).toString('base64')}`).join('|');

test('Rng: deterministic, in range, roughly uniform', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const xs = Array.from({ length: 1000 }, () => a.u32());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b.u32()));
  assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => new Rng(43).u32()));
  const r = new Rng(1);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 40000; i++) {
    const v = r.range(0, 3);
    counts[v]!++;
  }
  for (const c of counts) assert.ok(c > 9000 && c < 11000, `bucket ${c}`);
});

test('generateFlows: same seed same bytes, other seed other bytes; timestamps ordered', () => {
  const a = [...generateFlows({ seed: 9, flows: 20 })];
  const b = [...generateFlows({ seed: 9, flows: 20 })];
  const c = [...generateFlows({ seed: 10, flows: 20 })];
  assert.equal(digest(a), digest(b));
  assert.notEqual(digest(a), digest(c));
  assert.equal(a[0]!.ts, DEFAULT_START);
  for (let i = 1; i < a.length; i++) assert.ok(a[i]!.ts > a[i - 1]!.ts);
  for (const r of a) {
    assert.equal(r.caplen, r.data.length);
    assert.equal(r.origLen, r.data.length);
    assert.equal(r.linkType, 1);
    const d = dissect(r.data, r.linkType, { verify: true });
    assert.equal(d.l4ChecksumOk, true);
  }
});

test('generateFlows: TCP flows have a handshake, consistent sequence numbers and a FIN teardown', () => {
  const recs = [...generateFlows({ seed: 4, flows: 30, tcpFraction: 1, ipv6Fraction: 0.5, packetsPerFlow: [2, 6] })];
  const flows = new Map<string, { flags: number; seq: number; ack: number; len: number; fromClient: boolean }[]>();
  for (const r of recs) {
    const d = dissect(r.data, r.linkType);
    const t = fiveTuple(d)!;
    const k1 = `${t.src} ${t.sport} ${t.dst} ${t.dport}`;
    const k2 = `${t.dst} ${t.dport} ${t.src} ${t.sport}`;
    const k = flows.has(k2) ? k2 : k1;
    if (!flows.has(k)) flows.set(k, []);
    flows.get(k)!.push({ flags: d.tcp!.flags, seq: d.tcp!.seq, ack: d.tcp!.ack, len: r.data.length - d.payloadOffset, fromClient: k === k1 });
  }
  assert.equal(flows.size, 30);
  for (const [k, pkts] of flows) {
    assert.equal(pkts[0]!.flags, TCP_SYN, k);
    assert.equal(pkts[1]!.flags, TCP_SYN | TCP_ACK, k);
    assert.equal(pkts[1]!.ack, (pkts[0]!.seq + 1) >>> 0, k);
    assert.equal(pkts[2]!.ack, (pkts[1]!.seq + 1) >>> 0, k);
    assert.ok(pkts.length >= 8 && pkts.length <= 12, `${k}: ${pkts.length} packets`);
    assert.ok(pkts.at(-3)!.flags & TCP_FIN);
    assert.ok(pkts.at(-2)!.flags & TCP_FIN);
    // Each side's next sequence number is its previous one plus what it sent.
    let cNext = pkts[2]!.seq;
    let sNext = (pkts[1]!.seq + 1) >>> 0;
    for (const p of pkts.slice(2)) {
      if (p.fromClient) { assert.equal(p.seq, cNext, k); cNext = (cNext + p.len + (p.flags & TCP_FIN ? 1 : 0)) >>> 0; }
      else { assert.equal(p.seq, sNext, k); sNext = (sNext + p.len + (p.flags & TCP_FIN ? 1 : 0)) >>> 0; }
    }
  }
});

test('generateFlows: size distributions, VLAN tags, UDP only', () => {
  const fixed = [...generateFlows({ seed: 1, flows: 5, tcpFraction: 0, sizes: 200 })];
  for (const r of fixed) assert.equal(r.data.length, 200);
  const uni = [...generateFlows({ seed: 1, flows: 5, tcpFraction: 0, sizes: { uniform: [100, 120] }, vlan: 42 })];
  for (const r of uni) {
    assert.ok(r.data.length >= 100 && r.data.length <= 120);
    assert.equal(dissect(r.data, 1).vlans[0]?.id, 42);
  }
  const ch = [...generateFlows({ seed: 1, flows: 50, tcpFraction: 0, sizes: { choices: [64, 1500], weights: [1, 0] } })];
  for (const r of ch) assert.equal(r.data.length, 64);
  const small = [...generateFlows({ seed: 1, flows: 2, tcpFraction: 0, sizes: 10 })];
  for (const r of small) assert.equal(r.data.length, 14 + 20 + 8); // headers only
  assert.throws(() => [...generateFlows({ pps: 0 })], { name: 'PcapError' });
});

test('synFlood: SYNs to one port from many sources at the given rate', () => {
  const recs = [...synFlood({ count: 2000, dport: 8080, pps: 1e6, seed: 5 })];
  assert.equal(recs.length, 2000);
  const srcs = new Set<string>();
  for (const r of recs) {
    const d = dissect(r.data, 1, { verify: true });
    assert.equal(d.tcp!.flags, TCP_SYN);
    assert.equal(d.tcp!.dport, 8080);
    assert.equal(d.ipv4!.dst, '203.0.113.10');
    assert.equal(d.l4ChecksumOk, true);
    srcs.add(d.ipv4!.src);
  }
  assert.ok(srcs.size > 200);
  const span = Number(recs.at(-1)!.ts - recs[0]!.ts) / 1e9;
  assert.ok(span > 0.0015 && span < 0.0025, `2000 packets at 1 Mpps took ${span} s`);
  assert.equal(digest(recs), digest([...synFlood({ count: 2000, dport: 8080, pps: 1e6, seed: 5 })]));
});

test('dnsQueries: well-formed questions, answers matching queries', () => {
  const recs = [...dnsQueries({ count: 50, responses: true, seed: 8 })];
  assert.equal(recs.length, 100);
  for (let i = 0; i < recs.length; i += 2) {
    const q = dissect(recs[i]!.data, 1, { verify: true });
    const a = dissect(recs[i + 1]!.data, 1, { verify: true });
    assert.equal(q.udp!.dport, 53);
    assert.equal(a.udp!.sport, 53);
    assert.equal(a.udp!.dport, q.udp!.sport);
    assert.equal(q.l4ChecksumOk, true);
    const qm = recs[i]!.data.subarray(q.payloadOffset);
    const am = recs[i + 1]!.data.subarray(a.payloadOffset);
    assert.equal((qm[0]! << 8) | qm[1]!, (am[0]! << 8) | am[1]!); // same id
    assert.equal(qm[2]! & 0x80, 0);
    assert.equal(am[2]! & 0x80, 0x80);
  }
  // Name encoding.
  const m = dnsMessage(0x1234, 'www.example.com', DNS_A);
  assert.equal(Buffer.from(m).toString('hex'),
    '12340100000100000000000003777777076578616d706c6503636f6d0000010001');
  assert.throws(() => dnsMessage(1, `${'a'.repeat(64)}.com`, DNS_A), { name: 'PcapError' });
});

test('mergeByTime interleaves sources in timestamp order', () => {
  const a = [...synFlood({ count: 50, seed: 1 })];
  const b = [...dnsQueries({ count: 50, seed: 2, pps: 100000 })];
  const m = [...mergeByTime(a, b)];
  assert.equal(m.length, 100);
  for (let i = 1; i < m.length; i++) assert.ok(m[i]!.ts >= m[i - 1]!.ts);
});
