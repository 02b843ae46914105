// `tsbpf run`: replay of captures through XDP, TC and socket-filter programs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { cmdRun } from '../../src/cli/cmd-run.js';
import type { Io } from '../../src/cli/main.js';
import {
  LINKTYPE_RAW, type PacketRecord, buildPacket, dissect, parseCapture, writeCapture,
} from '../../src/net/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const at = (rel: string): string => join(root, rel);
const GUARD = at('examples/xdp_guard.o');
const TRAFFIC = at('examples/traffic.pcap');
const REWRITE = at('test/fixtures/replay/xdp_rewrite.o');
const TC = at('test/fixtures/replay/tc_prio.o');
const SOCK = at('test/fixtures/replay/sock_trunc.o');

const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-replay-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const tmpFile = (name: string): string => join(tmp, name);

const hasTshark = spawnSync('sh', ['-c', 'command -v tshark'], { stdio: 'pipe' }).status === 0;

interface Ran { code: number; out: string; err: string }

async function run(args: string[], stdin?: Uint8Array, env: { stderrIsTty?: boolean; progressAfterMs?: number } = {}): Promise<Ran> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: (s) => { out += typeof s === 'string' ? s : Buffer.from(s).toString('latin1'); },
    stderr: (s) => { err += s; },
    stdoutIsTty: false,
    env: {},
  };
  const code = await cmdRun(args, io, { stderrIsTty: false, ...env, ...(stdin ? { stdin: Readable.from([stdin]) } : {}) });
  return { code, out, err };
}

interface PacketLine { packet: number; ts: string; len: number; verdict: string; ret: number; out?: string; [k: string]: unknown }

function jsonLines(out: string): { packets: PacketLine[]; summary: Record<string, unknown>; maps?: Record<string, unknown> } {
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const last = lines.pop()!;
  return { packets: lines as unknown as PacketLine[], summary: last['summary'] as Record<string, unknown>, maps: last['maps'] as Record<string, unknown> | undefined };
}

const readCap = (file: string): PacketRecord[] => parseCapture(new Uint8Array(readFileSync(file)));

const rec = (data: Uint8Array, ts: bigint, linkType = 1): PacketRecord =>
  ({ data, ts, origLen: data.length, caplen: data.length, linkType, interfaceId: 0 });

function capture(name: string, records: PacketRecord[], opts: Parameters<typeof writeCapture>[1] = {}): string {
  const p = tmpFile(name);
  writeFileSync(p, writeCapture(records, opts));
  return p;
}

const ETH = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' };
const T0 = 1_700_000_000_000_000_000n;

test('xdp_guard on the bundled capture: summary, and each output holds exactly its packets', async () => {
  const outs = { pass: tmpFile('pass.pcap'), drop: tmpFile('drop.pcap'), tx: tmpFile('tx.pcap'), redirect: tmpFile('redir.pcap') };
  const r = await run([GUARD, '--pcap', TRAFFIC, '--out-pass', outs.pass, '--out-drop', outs.drop, '--out-tx', outs.tx, '--out-redirect', outs.redirect]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^xdp_guard \(xdp, jit\) on .*traffic\.pcap\n3,509 packets, 611,170 bytes in [\d.]+ s: [\d.k]+ packets\/s/);
  assert.match(r.out, /XDP_PASS\s+1,733 .*\n\s+XDP_DROP\s+1,436 .*\n\s+XDP_TX\s+40 .*\n\s+XDP_REDIRECT\s+300 /);
  assert.match(r.out, /redirect to ifindex 2: 300/);
  assert.match(r.out, /wrote 1436 packets to .*drop\.pcap \(--out-drop\)/);

  const j = jsonLines((await run([GUARD, '--pcap', TRAFFIC, '--json'])).out);
  const input = readCap(TRAFFIC);
  assert.equal(j.packets.length, input.length);
  for (const [route, file] of Object.entries(outs)) {
    const got = readCap(file);
    const want = j.packets.filter((p) => p.out === route);
    assert.equal(got.length, want.length, route);
    got.forEach((g, i) => {
      const src = input[want[i]!.packet]!;
      assert.equal(g.ts, src.ts, `${route} ${i}: timestamp kept`);
      assert.equal(g.linkType, 1);
      if (route === 'tx') {
        // Echo replies: same length, addresses swapped, type 0.
        const d = dissect(g.data, 1);
        const s = dissect(src.data, 1);
        assert.equal(g.data.length, src.data.length);
        assert.equal(d.ipv4?.src, s.ipv4?.dst);
        assert.equal(g.data[d.l4Offset!], 0);
      } else {
        assert.deepEqual(g.data, src.data, `${route} ${i}: packet as it arrived`);
      }
    });
  }
  // Dropped: SYNs of the flood, beyond 64 in the window.
  const drops = readCap(outs.drop);
  assert.ok(drops.every((p) => dissect(p.data, 1).ipv4?.src.startsWith('198.51.100.')));
});

test('the --out-drop capture read by tshark holds exactly the dropped packets', { skip: !hasTshark && 'tshark not installed' }, async () => {
  const drop = tmpFile('drop-ts.pcap');
  const tx = tmpFile('tx-ts.pcap');
  const r = await run([GUARD, '--pcap', TRAFFIC, '--out-drop', drop, '--out-tx', tx, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = jsonLines(r.out);
  const want = j.packets.filter((p) => p.out === 'drop').map((p) => `${p.ts.slice(0, -9)}.${p.ts.slice(-9)}\t${p.len}`);
  const t = spawnSync('tshark', ['-r', drop, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len'], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  assert.deepEqual(t.stdout.trim().split('\n'), want);
  assert.equal(want.length, 1436);
  // The rewritten echo replies are valid ICMP for tshark.
  const e = spawnSync('tshark', ['-r', tx, '-T', 'fields', '-e', 'icmp.type', '-e', 'icmp.checksum.status'], { encoding: 'utf8' });
  assert.deepEqual([...new Set(e.stdout.trim().split('\n'))], ['0\t1']);
});

test('cat traffic.pcap | tsbpf run ... --pcap - gives the same result as the file', () => {
  const bin = at('bin/tsbpf.js');
  const a = tmpFile('a-drop.pcap');
  const b = tmpFile('b-drop.pcap');
  const file = spawnSync(process.execPath, [bin, 'run', GUARD, '--pcap', TRAFFIC, '--json', '--out-drop', a], { encoding: 'utf8' });
  const pipe = spawnSync('sh', ['-c', `cat '${TRAFFIC}' | '${process.execPath}' '${bin}' run '${GUARD}' --pcap - --json --out-drop '${b}'`], { encoding: 'utf8' });
  assert.equal(file.status, 0, file.stderr);
  assert.equal(pipe.status, 0, pipe.stderr);
  const fa = jsonLines(file.stdout);
  const fb = jsonLines(pipe.stdout);
  assert.deepEqual(fb.packets, fa.packets);
  assert.deepEqual(fb.summary['verdicts'], fa.summary['verdicts']);
  assert.equal(fb.summary['input'], 'stdin');
  assert.deepEqual(readFileSync(b), readFileSync(a));
});

test('a truncated capture: the packets before the damage are run and written, then one line naming the record, exit 1', async () => {
  const bytes = readFileSync(TRAFFIC);
  const recs = parseCapture(bytes);
  // Offsets of records: 24-byte header, then 16 + caplen each. Cut inside record 2000.
  let off = 24;
  for (let i = 0; i < 2000; i++) off += 16 + recs[i]!.data.length;
  const cut = capture('cut.pcap', []);
  writeFileSync(cut, bytes.subarray(0, off + 20));
  const drop = tmpFile('cut-drop.pcap');
  const r = await run([GUARD, '--pcap', cut, '--out-drop', drop]);
  assert.equal(r.code, 1);
  const errLines = r.err.trim().split('\n');
  assert.equal(errLines.length, 1, r.err);
  assert.match(errLines[0]!, /^tsbpf: error: .*cut\.pcap: record 2000 \(byte \d+\): .*cut short/);
  assert.match(r.out, /^2,000 packets/m);
  const full = jsonLines((await run([GUARD, '--pcap', TRAFFIC, '--json'])).out);
  const wantDrops = full.packets.slice(0, 2000).filter((p) => p.out === 'drop').length;
  assert.ok(wantDrops > 0);
  assert.equal(readCap(drop).length, wantDrops);

  // A damaged record length (not a cut): same contract.
  const bad = Buffer.from(bytes);
  bad.writeUInt32LE(0x7fffffff, off + 8);
  const badFile = tmpFile('bad.pcap');
  writeFileSync(badFile, bad);
  const r2 = await run([GUARD, '--pcap', badFile, '--json']);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /record 2000/);
  assert.equal(jsonLines(r2.out).packets.length, 2000);
});

test('--json: one line per packet, then the summary', async () => {
  const r = await run([GUARD, '--pcap', TRAFFIC, '--json', '--dump-maps']);
  assert.equal(r.code, 0, r.err);
  const { packets, summary, maps } = jsonLines(r.out);
  assert.deepEqual(Object.keys(packets[0]!).slice(0, 5), ['packet', 'ts', 'len', 'verdict', 'ret']);
  const redirected = packets.find((p) => p.verdict === 'XDP_REDIRECT')!;
  assert.deepEqual(redirected['redirect'], { helper: 'redirect', ifindex: 2, flags: 0 });
  assert.equal(redirected.out, 'redirect');
  const tx = packets.find((p) => p.verdict === 'XDP_TX')!;
  assert.equal(tx['rewritten'], true);
  assert.equal(summary['packets'], 3509);
  assert.equal(summary['program'], 'xdp_guard');
  assert.deepEqual(summary['verdicts'], {
    XDP_PASS: { packets: 1733, bytes: 507560 }, XDP_DROP: { packets: 1436, bytes: 77544 },
    XDP_TX: { packets: 40, bytes: 3920 }, XDP_REDIRECT: { packets: 300, bytes: 22146 },
  });
  for (const k of ['seconds', 'packets_per_second', 'bytes_per_second', 'time_ms', 'first_ts', 'last_ts']) assert.ok(k in summary, k);
  assert.ok(maps && 'syn_sources' in maps && 'verdicts' in maps);
  const v = maps['verdicts'] as { formatted: { key: number; values: { value: number }[] } }[];
  assert.equal(v.find((e) => e.formatted.key === 1)!.formatted.values[0]!.value, 1436);
});

test('bpf_ktime_get_ns is the capture timestamp: the SYN window follows the packets, not the wall clock', async () => {
  const syn = (i: number): Uint8Array => buildPacket({ eth: ETH, ipv4: { src: `198.51.100.${1 + (i % 200)}`, dst: '203.0.113.1' }, tcp: { sport: 1000 + i, dport: 80, flags: 'S' } });
  const dense = capture('dense.pcap', Array.from({ length: 100 }, (_, i) => rec(syn(i), T0 + BigInt(i) * 10_000_000n)));
  const sparse = capture('sparse.pcap', Array.from({ length: 100 }, (_, i) => rec(syn(i), T0 + BigInt(i) * 1_500_000_000n)));
  const d = jsonLines((await run([GUARD, '--pcap', dense, '--json'])).out);
  const s = jsonLines((await run([GUARD, '--pcap', sparse, '--json'])).out);
  assert.equal(d.packets.filter((p) => p.verdict === 'XDP_DROP').length, 36); // 100 in one second, burst 64
  assert.equal(s.packets.filter((p) => p.verdict === 'XDP_DROP').length, 0);
});

test('rewritten packets: adjust_head, adjust_tail, metadata; ABORTED and invalid verdicts drop', async () => {
  const vlan = buildPacket({ eth: { ...ETH, vlan: [42] }, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 1000 }, payload: 'x' });
  const v6 = buildPacket({ eth: ETH, ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, udp: { sport: 1, dport: 2 }, payload: 'hello' });
  const discard = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 9 } });
  const echo = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 7 } });
  const plain = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, tcp: { sport: 1, dport: 2 } });
  const aborted = plain.slice(); aborted[0] = 0xee;
  const invalid = plain.slice(); invalid[0] = 0xef;
  const runt = plain.slice(0, 10);
  const input = capture('rw.pcap', [vlan, v6, discard, echo, plain, aborted, invalid, runt].map((d, i) => rec(d, T0 + BigInt(i))));
  const outs = { pass: tmpFile('rw-pass.pcap'), tx: tmpFile('rw-tx.pcap'), drop: tmpFile('rw-drop.pcap'), redirect: tmpFile('rw-redir.pcap') };
  for (const engine of ['interp', 'jit']) {
    const r = await run([REWRITE, '--pcap', input, '--json', '--engine', engine, ...Object.entries(outs).flatMap(([k, f]) => [`--out-${k}`, f])]);
    assert.equal(r.code, 0, r.err);
    const j = jsonLines(r.out);
    assert.deepEqual(j.packets.map((p) => p.verdict), ['XDP_PASS', 'XDP_TX', 'XDP_DROP', 'XDP_REDIRECT', 'XDP_PASS', 'XDP_ABORTED', 'XDP_INVALID(7)', 'SKIPPED']);
    assert.deepEqual(j.packets[3]!['redirect'], { helper: 'redirect', ifindex: 5, flags: 0 });
    const pass = readCap(outs.pass);
    assert.deepEqual(pass[0]!.data, Uint8Array.from([...vlan.subarray(0, 12), ...vlan.subarray(16)]), 'tag popped');
    assert.equal(pass[0]!.origLen, vlan.length - 4);
    assert.deepEqual(pass[1]!.data, plain, 'metadata is not part of the packet');
    const tx = readCap(outs.tx);
    assert.deepEqual(tx[0]!.data, Uint8Array.from([...v6, ...new TextEncoder().encode('TAIL')]));
    assert.equal(tx[0]!.origLen, v6.length + 4);
    const drop = readCap(outs.drop);
    assert.deepEqual(drop.map((p) => p.data), [discard, aborted, invalid]);
    assert.match(r.out, /"first_skip":\{"packet":7,"message":"xdp: a packet of 10 bytes is shorter than an Ethernet header/);
  }
});

test('TC: __sk_buff from the packet, mark and priority per packet, SHOT and REDIRECT', async () => {
  const dns = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.53' }, udp: { sport: 5353, dport: 53 }, payload: 'q' });
  const tcp = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, tcp: { sport: 1, dport: 80 } });
  const v6 = buildPacket({ eth: ETH, ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, udp: { sport: 1, dport: 2 } });
  const ts = [T0 + 123n, T0 + 0x1_0000_0005n, T0 + 7n];
  const input = capture('tc.pcap', [dns, tcp, v6].map((d, i) => rec(d, ts[i]!)));
  const redir = tmpFile('tc-redir.pcap');
  const r = await run([TC, '--pcap', input, '--json', '--out-redirect', redir]);
  assert.equal(r.code, 0, r.err);
  const j = jsonLines(r.out);
  assert.deepEqual(j.packets.map((p) => [p.verdict, p.ret, p['mark'], p['priority']]), [
    ['TC_ACT_SHOT', 2, dns.length, Number(ts[0]! & 0xffffffffn)],
    ['TC_ACT_REDIRECT', 7, tcp.length, Number(ts[1]! & 0xffffffffn)],
    ['TC_ACT_OK', 0, v6.length, Number(ts[2]! & 0xffffffffn)],
  ]);
  assert.deepEqual(j.packets[1]!['redirect'], { helper: 'redirect', ifindex: 3, flags: 1 });
  assert.equal(readCap(redir).length, 1);
  const text = await run([TC, '--pcap', input]);
  assert.match(text.out, /TC_ACT_OK\s+1 .*\n\s+TC_ACT_SHOT\s+1 .*\n\s+TC_ACT_REDIRECT\s+1 /);
  assert.match(text.out, /redirect to ifindex 3 ingress: 1/);
});

test('socket filter: the return value truncates, 0 drops (LD_ABS from the MAC header)', async () => {
  const udp = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 2 }, payload: 'u' });
  const tcp = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, tcp: { sport: 1, dport: 2 }, payload: 200 });
  const v6 = buildPacket({ eth: ETH, ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, udp: { sport: 1, dport: 2 }, payload: 'x' });
  const input = capture('sock.pcap', [udp, tcp, v6].map((d, i) => rec(d, T0 + BigInt(i))));
  const pass = tmpFile('sock-pass.pcap');
  const r = await run([SOCK, '--pcap', input, '--json', '--out-pass', pass]);
  assert.equal(r.code, 0, r.err);
  const j = jsonLines(r.out);
  assert.deepEqual(j.packets.map((p) => [p.verdict, p['keep']]), [['DROP', 0], ['ACCEPT', 54], ['ACCEPT', v6.length]]);
  const got = readCap(pass);
  assert.deepEqual(got[0]!.data, tcp.subarray(0, 54));
  assert.equal(got[0]!.origLen, tcp.length, 'the wire length is kept, as with a snap length');
  assert.deepEqual(got[1]!.data, v6);
});

test('other link types: raw IP in, raw IP out, same verdicts as the Ethernet frames', async () => {
  const v6 = buildPacket({ ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, udp: { sport: 1, dport: 2 }, payload: 'hello' });
  const discard = buildPacket({ ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 9 } });
  const plain = buildPacket({ ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, tcp: { sport: 1, dport: 2 } });
  const input = capture('raw.pcap', [v6, discard, plain].map((d, i) => rec(d, T0 + BigInt(i), LINKTYPE_RAW)));
  const tx = tmpFile('raw-tx.pcap');
  const pass = tmpFile('raw-pass.pcap');
  const r = await run([REWRITE, '--pcap', input, '--json', '--out-tx', tx, '--out-pass', pass]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(jsonLines(r.out).packets.map((p) => p.verdict), ['XDP_TX', 'XDP_DROP', 'XDP_PASS']);
  const t = readCap(tx);
  assert.equal(t[0]!.linkType, LINKTYPE_RAW);
  assert.deepEqual(t[0]!.data, Uint8Array.from([...v6, ...new TextEncoder().encode('TAIL')]));
  const p = readCap(pass);
  assert.equal(p[0]!.linkType, LINKTYPE_RAW);
  assert.deepEqual(p[0]!.data, plain);
});

test('pcapng in, pcapng out, microsecond pcap in, microsecond pcap out', async () => {
  const recs = readCap(TRAFFIC).slice(0, 300);
  const ng = capture('in.pcapng', recs, { format: 'pcapng' });
  const out = tmpFile('out.pcapng');
  const r = await run([GUARD, '--pcap', ng, '--out-pass', out]);
  assert.equal(r.code, 0, r.err);
  const bytes = readFileSync(out);
  assert.equal(bytes.readUInt32LE(0), 0x0a0d0d0a);
  const got = parseCapture(bytes);
  assert.ok(got.length > 0);
  assert.ok(got.every((g) => recs.some((x) => x.ts === g.ts)));

  const us = recs.map((x) => ({ ...x, ts: (x.ts / 1000n) * 1000n }));
  const inUs = capture('in-us.pcap', us, { format: 'pcap', resolution: 'us' });
  const outUs = tmpFile('out-us.pcap');
  assert.equal((await run([GUARD, '--pcap', inUs, '--out-pass', outUs])).code, 0);
  const ob = readFileSync(outUs);
  assert.equal(ob.readUInt32LE(0), 0xa1b2c3d4, 'microsecond magic kept');
  const back = parseCapture(ob);
  assert.ok(back.length > 0 && back.every((g) => us.some((x) => x.ts === g.ts && g.ts % 1000n === 0n)), 'timestamps kept');
});

test('the interpreter and the JIT give the same verdicts, packet by packet', async () => {
  const a = jsonLines((await run([GUARD, '--pcap', TRAFFIC, '--json', '--engine', 'interp'])).out);
  const b = jsonLines((await run([GUARD, '--pcap', TRAFFIC, '--json', '--engine', 'jit'])).out);
  assert.deepEqual(b.packets, a.packets);
});

test('command-line errors', async () => {
  const u = await run([GUARD]);
  assert.equal(u.code, 2);
  assert.match(u.err, /missing --pcap/);
  const same = await run([GUARD, '--pcap', TRAFFIC, '--out-pass', tmpFile('x.pcap'), '--out-drop', tmpFile('x.pcap')]);
  assert.equal(same.code, 2);
  assert.match(same.err, /name the same file/);
  const over = await run([GUARD, '--pcap', TRAFFIC, '--out-drop', TRAFFIC]);
  assert.equal(over.code, 2);
  const missing = await run([GUARD, '--pcap', tmpFile('nope.pcap')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.pcap: no such file or directory/);
  const notCap = await run([GUARD, '--pcap', GUARD]);
  assert.equal(notCap.code, 1);
  assert.match(notCap.err, /record 0 \(byte 0\): not a pcap or pcapng capture/);
  const eng = await run([GUARD, '--pcap', TRAFFIC, '--engine', 'fast']);
  assert.equal(eng.code, 2);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /usage: tsbpf run FILE\.o/);
});

test('the progress bar: on a terminal, for files; not for pipes, --json, or a stderr that is not a terminal', async () => {
  const tty = { stderrIsTty: true, progressAfterMs: 0 };
  const shown = await run([GUARD, '--pcap', TRAFFIC], undefined, tty);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.err, /^\r\[#+-*\] +\d+% [\d.]+ KiB\/[\d.]+ KiB [\d.]+[kM] pkt\/s ETA \d+:\d\d\x1b\[K\r\x1b\[K$/);
  assert.doesNotMatch(shown.out, /\r/, 'nothing of it on stdout');
  assert.equal((await run([GUARD, '--pcap', TRAFFIC, '--json'], undefined, tty)).err, '');
  assert.equal((await run([GUARD, '--pcap', '-'], new Uint8Array(readFileSync(TRAFFIC)), tty)).err, '');
  assert.equal((await run([GUARD, '--pcap', TRAFFIC], undefined, { progressAfterMs: 0 })).err, '');
});

test('pcapng with two interfaces of different link types: each packet framed by its own, outputs keep them', async () => {
  const eth = buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 9 } });
  const raw = buildPacket({ ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 9 } });
  const raw6 = buildPacket({ ipv6: { src: '2001:db8::1', dst: '2001:db8::2' }, udp: { sport: 1, dport: 2 } });
  const recs: PacketRecord[] = [
    { ...rec(eth, T0), interfaceId: 0 },
    { ...rec(raw, T0 + 1n, LINKTYPE_RAW), interfaceId: 1 },
    { ...rec(raw6, T0 + 2n, LINKTYPE_RAW), interfaceId: 1 },
  ];
  const input = capture('two.pcapng', recs, { format: 'pcapng' });
  const drop = tmpFile('two-drop.pcapng');
  const tx = tmpFile('two-tx.pcapng');
  const r = await run([REWRITE, '--pcap', input, '--json', '--out-drop', drop, '--out-tx', tx]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(jsonLines(r.out).packets.map((p) => p.verdict), ['XDP_DROP', 'XDP_DROP', 'XDP_TX']);
  const d = readCap(drop);
  assert.deepEqual(d.map((x) => [x.linkType, x.data.length]), [[1, eth.length], [LINKTYPE_RAW, raw.length]]);
  const t = readCap(tx);
  assert.equal(t[0]!.linkType, LINKTYPE_RAW);
  assert.deepEqual(t[0]!.data, Uint8Array.from([...raw6, ...new TextEncoder().encode('TAIL')]));
});
