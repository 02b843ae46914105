// Captures written by the library, read by tshark: same timestamps, lengths,
// interfaces and comments, and every IP/TCP/UDP/ICMP checksum valid.
// Skips when tshark is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildPacket, generateFlows, dnsQueries, synFlood, mergeByTime, parseCapture, writeCapture, readPackets,
  LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_ETHERNET, type PacketInput, type WriterOptions,
} from '../../src/net/index.js';

function has(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore', timeout: 30000 });
    return true;
  } catch {
    return false;
  }
}
const skip = has('tshark') ? false : 'tshark is not installed (apt-get install tshark)';
const skipTcpdump = has('tcpdump') ? false : 'tcpdump is not installed (apt-get install tcpdump)';

const T = 1_700_000_000_000_000_000n;
const extra: PacketInput[] = [
  { data: buildPacket({ eth: {}, ipv4: { src: '192.0.2.1', dst: '192.0.2.2', options: Uint8Array.of(0x94, 4, 0, 0) }, icmp: { id: 9, seq: 1 }, payload: 48 }), ts: T + 1n },
  { data: buildPacket({ eth: { vlan: [{ id: 10, tpid: 0x88a8 }, 20] }, ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, icmpv6: { id: 9, seq: 2 }, payload: 20 }), ts: T + 2n },
  { data: buildPacket({ eth: {}, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, tcp: { sport: 33000, dport: 9999, flags: 'S', options: Uint8Array.of(2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7) } }), ts: T + 3n },
  { data: buildPacket({ eth: {}, ipv6: { src: '2001:db8::1', dst: '2001:db8::2', extensions: [{ type: 0, data: Uint8Array.of(1, 4, 0, 0, 0, 0) }] }, udp: { sport: 1, dport: 9999 }, payload: 7 }), ts: T + 4n },
];
const traffic: PacketInput[] = [...mergeByTime(
  generateFlows({ seed: 21, flows: 15, ipv6Fraction: 0.4, start: T + 10n }),
  generateFlows({ seed: 22, flows: 5, vlan: 100, start: T + 11n }),
  dnsQueries({ count: 10, responses: true, start: T + 12n }),
  synFlood({ count: 10, start: T + 13n }),
)].map((r, i): PacketInput => ({ ...r, ts: r.ts + BigInt((i * 7919) % 1000) })).concat(extra);

const mixedLinks: PacketInput[] = [
  { data: buildPacket({ ipv4: { src: '192.0.2.5', dst: '192.0.2.6' }, udp: { sport: 1, dport: 9999 }, payload: 3 }), ts: T + 100n, linkType: LINKTYPE_RAW, interfaceId: 1, comment: 'raw ip' },
  { data: buildPacket({ sll: { pktType: 4 }, ipv4: { src: '192.0.2.5', dst: '192.0.2.6' }, tcp: { sport: 2, dport: 9999, flags: 'R' } }), ts: T + 200n, linkType: LINKTYPE_LINUX_SLL, interfaceId: 2, flags: 2 },
  { data: buildPacket({ sll2: { ifindex: 3 }, ipv6: { src: '2001:db8::5', dst: '2001:db8::6' }, udp: { sport: 3, dport: 9999 } }), ts: T + 300n, linkType: LINKTYPE_LINUX_SLL2, interfaceId: 3 },
  { data: buildPacket({ eth: {}, ipv4: { src: '192.0.2.5', dst: '192.0.2.6' }, udp: { sport: 4, dport: 9999 } }), ts: T + 400n, linkType: LINKTYPE_ETHERNET, interfaceId: 0, comment: 'ethernet, ünïcode' },
];

const CASES: [string, WriterOptions, PacketInput[]][] = [
  ['pcap-le-us', { format: 'pcap', resolution: 'us' }, traffic],
  ['pcap-be-ns', { format: 'pcap', resolution: 'ns', littleEndian: false }, traffic],
  ['pcap-le-ns-snap64', { format: 'pcap', snaplen: 64 }, traffic],
  ['pcapng-le-ns', { format: 'pcapng' }, traffic],
  ['pcapng-be-us', { format: 'pcapng', littleEndian: false, resolution: 'us' }, traffic],
  ['pcapng-le-2^-24', { format: 'pcapng', resolution: 0x80 | 24 }, traffic],
  ['pcapng-mixed-links', { format: 'pcapng' }, mixedLinks],
];

const FIELDS = ['frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.interface_id', 'frame.comment',
  'ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status', '_ws.malformed', '_ws.expert.severity'];

function epoch(ts: bigint): string {
  return `${ts / 1_000_000_000n}.${(ts % 1_000_000_000n).toString().padStart(9, '0')}`;
}

test('tshark reads what the writers write', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-tshark-'));
  try {
    for (const [name, opts, input] of CASES) {
      const bytes = writeCapture(input, opts);
      const file = join(dir, `${name}.${opts.format}`);
      writeFileSync(file, bytes);
      const out = execFileSync('tshark', [
        '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
        '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...FIELDS.flatMap((f) => ['-e', f]),
      ], { encoding: 'utf8', timeout: 120000, stdio: ['ignore', 'pipe', 'pipe'] });
      const rows = out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
      const ours = parseCapture(bytes);
      assert.equal(rows.length, input.length, `${name}: packet count`);
      ours.forEach((r, i) => {
        const c = rows[i]!;
        const where = `${name} packet ${i + 1}`;
        assert.equal(c[0], epoch(r.ts), `${where}: time`);
        assert.equal(c[1], String(r.origLen), `${where}: len`);
        assert.equal(c[2], String(r.caplen), `${where}: caplen`);
        if (opts.format === 'pcapng') assert.equal(c[3], String(r.interfaceId), `${where}: interface`);
        assert.equal(c[4], r.comment ?? '', `${where}: comment`);
        // Checksum status 1 = good, 0 = bad, 2 = not checked (e.g. a cut-short packet).
        for (let k = 5; k <= 9; k++) {
          for (const s of c[k]!.split(',').filter((x) => x !== '')) {
            assert.ok(s === '1' || (s === '2' && r.caplen < r.origLen), `${where}: ${FIELDS[k]} = ${s}`);
          }
        }
        assert.equal(c[10], '', `${where}: malformed`);
      });
      // Timestamps as written: exact at ns resolution, truncated to the unit otherwise.
      ours.forEach((r, i) => {
        const want = input[i]!.ts!;
        const unit = opts.resolution === 'us' ? 1000n : 1n;
        if (opts.resolution === 'us' || opts.resolution === 'ns' || opts.resolution === undefined) assert.equal(r.ts, want - (want % unit), name);
        else assert.ok(want - r.ts >= 0n && want - r.ts <= 60n, `${name}: ${want} read as ${r.ts}`);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tcpdump -w - piped into readPackets', { skip: skipTcpdump }, async () => {
  const file = new URL('../../../test/fixtures/net/editcap-ns.pcap', import.meta.url);
  const want = parseCapture(new Uint8Array(readFileSync(file)));
  for (const args of [['-r', file.pathname, '-w', '-'], ['--time-stamp-precision=nano', '-r', file.pathname, '-w', '-']]) {
    const child = spawn('tcpdump', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const got = [];
    for await (const r of readPackets(child.stdout)) got.push(r);
    assert.equal(got.length, want.length);
    const nano = args[0]!.startsWith('--time');
    got.forEach((r, i) => {
      assert.deepEqual(r.data, want[i]!.data);
      assert.equal(r.ts, nano ? want[i]!.ts : want[i]!.ts - (want[i]!.ts % 1000n));
    });
  }
});
