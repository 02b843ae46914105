// The object commands: prog list, disasm FILE.o, test-run, map dump (run
// in-process through main() with captured output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Io, main } from '../../src/cli/main.js';
import { PACKETS, hex } from '../runtime-load/helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fx = (p: string): string => join(root, p);
const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-prog-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function tsbpf(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: (s) => { out += typeof s === 'string' ? s : Buffer.from(s).toString('latin1'); },
    stderr: (s) => { err += s; },
    stdoutIsTty: false,
    env: {},
  };
  const code = await main(args, io);
  return { code, out, err };
}

const XDP_COUNT = fx('test/fixtures/progs/xdp_count.o');
const TC = fx('test/fixtures/progs/tc_rewrite.o');

test('prog list: programs, types, sections, instruction counts, maps (text and JSON)', async () => {
  const r = await tsbpf('prog', 'list', TC);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^NAME\s+TYPE\s+SECTION\s+INSNS\s+MAPS$/m);
  assert.match(r.out, /^tc_rewrite\s+sched_cls\s+tc\s+90\s+\.rodata, port_map, mark_hits$/m);
  const j = await tsbpf('prog', 'list', fx('examples/global_data.o'), '--json');
  assert.equal(j.code, 0, j.err);
  const rows = JSON.parse(j.out) as { name: string; type: string; type_id: number; section: string; insns: number; funcs: string[]; maps: string[] }[];
  const d = rows.find((x) => x.name === 'data_user')!;
  assert.equal(d.type, 'socket_filter');
  assert.equal(d.type_id, 1);
  assert.deepEqual(d.funcs.slice().sort(), ['classify', 'data_user', 'mix', 'over_limit'].sort());
  assert.ok(d.maps.includes('.data') && d.maps.includes('.bss'));
});

test('prog list: an object that cannot be read exits 1 with the loader error on one line', async () => {
  const bad = join(tmp, 'cut.o');
  writeFileSync(bad, readFileSync(TC).subarray(0, 200));
  const r = await tsbpf('prog', 'list', bad);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /^tsbpf: error: .*cut\.o: .*(section|ELF)/);
  const txt = join(tmp, 'x.o');
  writeFileSync(txt, 'not an object');
  assert.equal((await tsbpf('prog', 'list', txt)).code, 1);
  assert.equal((await tsbpf('prog', 'list', join(tmp, 'missing.o'))).code, 1);
  assert.equal((await tsbpf('prog', 'frobnicate', TC)).code, 2);
});

test('disasm FILE.o: C source lines interleaved, maps and helpers by name, --program', async () => {
  const r = await tsbpf('disasm', fx('test/fixtures/progs/loop.o'), '--program', 'xdp_sum');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^xdp_sum: xdp program, section xdp, \d+ insns$/m);
  assert.match(r.out, /^; long n = bpf_loop\(2048, add_byte, &c, 0\);  \[loop\.c:\d+\]$/m);
  assert.match(r.out, /^\s+\d+:\tr2 = func\[add_byte\] ll$/m);
  assert.match(r.out, /call bpf_loop#181/);
  assert.match(r.out, /= map_value\[\.bss\](\+\d+)? ll/);
  assert.match(r.out, /^add_byte:$/m);
  assert.doesNotMatch(r.out, /xdp_fmt/);
  const all = await tsbpf('disasm', XDP_COUNT, '--bytes');
  assert.match(all.out, /r1 = map\[proto_stats\] ll/);
  assert.match(all.out, /\t18 \d2 00 00 /);
  const bySection = await tsbpf('disasm', fx('examples/tail_calls.o'), '--program', 'xdp');
  assert.equal((bySection.out.match(/xdp program/g) ?? []).length, 3, 'a section name selects all its programs');
  const none = await tsbpf('disasm', XDP_COUNT, '--program', 'nope');
  assert.equal(none.code, 2);
  assert.match(none.err, /no program or section named 'nope'.*xdp_count \(xdp\)/);
});

test('test-run: text and JSON like bpftool prog run; maps with --dump-maps', async () => {
  const pkt = hex(PACKETS['udp_dns']!);
  const r = await tsbpf('test-run', XDP_COUNT, '--data', pkt);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^retval: 2 \(XDP_PASS\)$/m);
  assert.match(r.out, /^duration: \d+ ns, \d+ insns$/m);
  assert.match(r.out, /^data_out \(68 bytes\):$/m);
  for (const engine of ['interp', 'jit']) {
    const j = await tsbpf('test-run', XDP_COUNT, '--data', pkt, '--json', '--repeat', '3', '--engine', engine, '--dump-maps');
    assert.equal(j.code, 0, j.err);
    const o = JSON.parse(j.out) as { retval: number; duration_ns: number; data_out: string; ctx_out: string; verdict: string; maps: Record<string, unknown[]> };
    assert.equal(o.retval, 2);
    assert.equal(o.verdict, 'XDP_PASS');
    assert.equal(o.data_out, pkt);
    assert.equal(o.ctx_out.length, 48);
    assert.ok(o.duration_ns >= 0);
    const udp = (o.maps['proto_stats'] as { formatted: { key: number; value: { packets: number } } }[]).find((e) => e.formatted.key === 17)!;
    assert.equal(udp.formatted.value.packets, 3, 'three repeats');
  }
  const f = join(tmp, 'pkt.bin');
  writeFileSync(f, PACKETS['tcp_syn']!);
  const t = await tsbpf('test-run', TC, '--program', 'tc_police', '--data-file', f, '--ctx', '00000000 00000000 0d000000' + '00'.repeat(180), '--json');
  assert.equal(t.code, 0, t.err);
  assert.equal(JSON.parse(t.out).retval, 2, 'mark 13: TC_ACT_SHOT');
  assert.equal(JSON.parse(t.out).verdict, 'TC_ACT_SHOT');
});

test('test-run: --update seeds a map, --set-var sets a .rodata constant, --type overrides', async () => {
  const pkt = hex(PACKETS['udp_dns']!);
  const key = '3500';
  const value = 'e914' + '0000' + '07000000'; // 53 -> 5353, mark 7
  const r = await tsbpf('test-run', TC, '--program', 'tc_rewrite', '--data', pkt, '--update', `port_map=${key}:${value}`, '--json', '--dump-maps');
  assert.equal(r.code, 0, r.err);
  const o = JSON.parse(r.out) as { data_out: string; maps: Record<string, unknown> };
  assert.equal(o.data_out.slice(72, 76), '14e9', 'destination port rewritten to 5353');
  const v = await tsbpf('test-run', fx('test/fixtures/progs/xdp_tx.o'), '--data', hex(PACKETS['udp_dns']!), '--set-var', 'echo_port=53', '--json');
  assert.equal(JSON.parse(v.out).retval, 3, 'echo on port 53 now: XDP_TX');
  const w = await tsbpf('test-run', fx('test/fixtures/progs/xdp_tx.o'), '--data', hex(PACKETS['udp_dns']!), '--json');
  assert.equal(JSON.parse(w.out).retval, 2);
  const bad = await tsbpf('test-run', TC, '--program', 'tc_police', '--data', pkt, '--type', 'bogus');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown program type 'bogus'/);
  const typed = await tsbpf('test-run', TC, '--program', 'tc_police', '--data', pkt, '--type', 'sched_act', '--json');
  assert.equal(JSON.parse(typed.out).type, 'sched_act');
});

test('test-run: errors are one line, exit 1 (bad input, faults, several programs); usage errors exit 2', async () => {
  const short = await tsbpf('test-run', XDP_COUNT, '--data', 'aabb');
  assert.equal(short.code, 1);
  assert.match(short.err, /^tsbpf: error: .*shorter than an Ethernet header/);
  assert.equal(short.err.trim().split('\n').length, 1);
  const many = await tsbpf('test-run', TC, '--data', hex(PACKETS['udp_dns']!));
  assert.equal(many.code, 2);
  assert.match(many.err, /3 programs \(tc_rewrite, tc_police, tc_csum\); choose one with --program/);
  assert.equal((await tsbpf('test-run', XDP_COUNT, '--data', 'zz')).code, 2);
  assert.equal((await tsbpf('test-run', XDP_COUNT, '--data', '00', '--data-file', 'x')).code, 2);
  assert.equal((await tsbpf('test-run', XDP_COUNT, '--engine', 'v8')).code, 2);
  assert.equal((await tsbpf('test-run', XDP_COUNT, '--repeat', '0')).code, 2);
  const fault = await tsbpf('test-run', fx('test/fixtures/progs/loop.o'), '--program', 'xdp_sum', '--data', hex(PACKETS['udp_dns']!), '--set-var', 'nope=1');
  assert.equal(fault.code, 1);
  assert.match(fault.err, /no global variable 'nope'/);
});

test('map dump: initial contents of a loaded object', async () => {
  const r = await tsbpf('map', 'dump', fx('test/fixtures/progs/loop.o'), '--map', '.data', '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { value: unknown }[];
  assert.equal(j.length, 1);
  const all = await tsbpf('map', 'dump', fx('examples/tail_calls.o'));
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /^map stages:$/m);
  const none = await tsbpf('map', 'dump', XDP_COUNT, '--map', 'nope');
  assert.equal(none.code, 1);
  assert.match(none.err, /no map 'nope' \(the object has: .*proto_stats/);
});

test('test-run --verify: a refusal names the C line and the fix; checked runs catch the same access', async () => {
  const bad = fx('test/fixtures/progs/xdp_bad.o');
  const eth = hex(PACKETS['eth_only']!);
  const v = await tsbpf('test-run', bad, '--data', eth, '--verify');
  assert.equal(v.code, 1);
  assert.equal(v.err.trim().split('\n').length, 1);
  assert.match(v.err, /verifier: insn 1: invalid access to packet.*\(xdp_bad\.c:12: return data\[40\];\)/);
  const f = await tsbpf('test-run', bad, '--data', eth);
  assert.equal(f.code, 1);
  assert.match(f.err, /xdp_unchecked: insn 1: load of 1 bytes at 0x[0-9a-f]+: outside region 'packet'.*\(xdp_bad\.c:12/);
  const ok = await tsbpf('test-run', XDP_COUNT, '--data', hex(PACKETS['udp_dns']!), '--verify', '--json');
  assert.equal(ok.code, 0, ok.err);
  assert.equal(JSON.parse(ok.out).retval, 2);
});

test('every example object: prog list, disasm (with source lines when built with -g) and test-run work', async () => {
  const { readdirSync } = await import('node:fs');
  const objs = readdirSync(fx('examples')).filter((f) => f.endsWith('.o')).sort();
  assert.ok(objs.length >= 8);
  let ran = 0;
  for (const o of objs) {
    const file = fx(`examples/${o}`);
    const l = await tsbpf('prog', 'list', file, '--json');
    assert.equal(l.code, 0, `${o}: ${l.err}`);
    const progs = JSON.parse(l.out) as { name: string; type: string }[];
    const d = await tsbpf('disasm', file);
    assert.equal(d.code, 0, `${o}: ${d.err}`);
    if (o !== 'socket_filter.o') assert.match(d.out, /^; .*\[\w+\.c:\d+\]$/m, `${o}: source lines`);
    for (const p of progs) {
      const input = p.type === 'raw_tracepoint' ? ['--ctx', '00'.repeat(16)] : ['--data', hex(PACKETS['udp_dns']!)];
      const r = await tsbpf('test-run', file, '--program', p.name, ...input, '--json');
      assert.equal(r.code, 0, `${o} ${p.name}: ${r.err}`);
      assert.equal(typeof JSON.parse(r.out).retval, 'number');
      ran++;
    }
  }
  assert.ok(ran >= 12, `${ran} programs run`);
});
