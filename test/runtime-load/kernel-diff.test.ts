// Test-run equivalence with the Linux kernel: every program of the fixtures
// (test/fixtures/progs) and of examples/ runs on the same packets in tsbpf
// (interpreter and JIT) and in the kernel (the object loaded by libbpf
// through tools/objrun, BPF_PROG_TEST_RUN), one packet after the other with
// the maps carrying over; return values, output packets, output contexts
// and, at the end, every map's contents must agree. Skips where the bpf()
// syscall is not permitted (not root, no libbpf to build objrun).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelTestRun, KERNEL_PROG_TYPE } from '../../src/cli/kernel-oracle.js';
import { encode, slotIndices } from '../../src/isa/instruction.js';
import { loadObject } from '../../src/elf/object.js';
import { TestRunError } from '../../src/errors.js';
import { Runtime, type Engine } from '../../src/runtime/runtime.js';
import { BIG_PACKETS, PACKETS, diffMaps, hex, kernelSession, kernelSkip, read, type RunRequest } from './helpers.js';

const skip = kernelSkip();

interface Case {
  readonly obj: string;
  /** Requests in order: program name and packet name (or bytes), optional ctx. */
  readonly runs: readonly (RunRequest & { packet?: string })[];
  readonly updates?: readonly { map: string; key: Uint8Array; value: Uint8Array }[];
  readonly types?: Record<string, number>;
  /** Maps whose values hold clock readings (compared by keys only). */
  readonly clockMaps?: readonly string[];
}

const all = (prog: string, names: readonly string[], extra: Partial<RunRequest> = {}): (RunRequest & { packet: string })[] =>
  names.map((packet) => ({ prog, packet, ...extra }));

const EVERY = Object.keys(PACKETS);
const u16 = (v: number): Uint8Array => new Uint8Array([v & 0xff, v >> 8]);
const u32 = (v: number): Uint8Array => new Uint8Array([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24]);
const cat = (...b: Uint8Array[]): Uint8Array => { const o = new Uint8Array(b.reduce((n, x) => n + x.length, 0)); let k = 0; for (const x of b) { o.set(x, k); k += x.length; } return o; };

/** __sk_buff with mark (offset 8) and cb[0] set; 192 bytes. */
function skbCtx(mark: number, cb0 = 0, priority = 0): Uint8Array {
  const c = new Uint8Array(192);
  c.set(u32(mark), 8);
  c.set(u32(priority), 32);
  c.set(u32(cb0), 48);
  return c;
}

/** xdp_md with `meta` bytes of metadata (data = meta), data_end = total, ingress_ifindex 1. */
function xdpCtx(meta: number, total: number): Uint8Array {
  return cat(u32(meta), u32(total), u32(0), u32(1), u32(0), u32(0));
}

export const CASES: readonly Case[] = [
  { obj: 'test/fixtures/progs/xdp_count.o', runs: [...all('xdp_count', EVERY), ...all('xdp_count', ['udp_dns', 'tcp_syn'])] },
  { obj: 'test/fixtures/progs/xdp_tx.o', runs: all('xdp_echo', EVERY) },
  {
    obj: 'test/fixtures/progs/xdp_adjust.o',
    runs: [
      ...all('xdp_vlan_push', ['udp_dns', 'tcp_syn', 'arp', 'eth_only', 'vlan_udp']),
      ...all('xdp_vlan_pop', ['vlan_udp', 'qinq_tcp', 'udp_dns', 'eth_only']),
      ...all('xdp_trim', ['udp_dns', 'udp_big', 'eth_only', 'icmp', 'tcp_data']),
      ...all('xdp_meta', ['udp_dns', 'eth_only']),
      { prog: 'xdp_meta', packet: 'icmp', ctx: xdpCtx(0, PACKETS['icmp']!.length) },
      { prog: 'xdp_meta', packet: 'icmp', ctx: xdpCtx(8, PACKETS['icmp']!.length) },
      { prog: 'xdp_vlan_push', packet: 'udp_dns', ctx: xdpCtx(4, PACKETS['udp_dns']!.length) },
      { prog: 'xdp_vlan_push', packet: 'udp_echo', repeat: 5 },
      // ctx_in data_end sets the linear part; the rest of data_in becomes a fragment
      { prog: 'xdp_trim', packet: 'udp_big', ctx: xdpCtx(0, 64) },
      { prog: 'xdp_trim', packet: 'udp_dns', ctx: xdpCtx(0, 0) },
      { prog: 'xdp_trim', packet: 'udp_dns', ctx: xdpCtx(4, 16) },
      { prog: 'xdp_trim', packet: 'udp_dns', ctx: xdpCtx(0, 1000) },
    ],
  },
  {
    obj: 'test/fixtures/progs/tc_rewrite.o',
    updates: [
      { map: 'port_map', key: u16(53), value: cat(u16(5353), u16(0), u32(7)) },
      { map: 'port_map', key: u16(7), value: cat(u16(8), u16(0), u32(13)) },
    ],
    runs: [
      ...all('tc_rewrite', EVERY),
      ...all('tc_rewrite', ['udp_dns', 'udp_echo', 'udp_nocsum'], { ctx: skbCtx(1, 2, 3) }),
      ...all('tc_police', ['udp_dns', 'tcp_syn']),
      ...all('tc_police', ['udp_dns'], { ctx: skbCtx(13) }),
      ...all('tc_police', ['udp_dns'], { ctx: skbCtx(7) }),
      ...all('tc_csum', EVERY),
      ...all('tc_csum', ['icmp'], { ctx: skbCtx(0) }),
    ],
  },
  {
    obj: 'test/fixtures/progs/sock_ldabs.o',
    runs: [...all('dns_filter', EVERY), ...all('src_low', EVERY), ...all('dns_filter', ['udp_dns'], { ctx: skbCtx(5, 6, 7) })],
  },
  { obj: 'test/fixtures/progs/tail.o', runs: [...all('dispatch', EVERY), ...all('recurse', ['udp_dns', 'tcp_syn'])] },
  {
    obj: 'test/fixtures/progs/loop.o',
    runs: [
      ...all('xdp_sum', EVERY),
      ...all('xdp_parse_num', ['udp_num', 'udp_hex', 'udp_neg', 'udp_nonum', 'eth_only', 'udp_dns']),
      ...all('xdp_fmt', ['udp_dns', 'eth_only']),
      ...all('xdp_each', ['udp_dns', 'eth_only', 'tcp_syn', 'udp_dns', 'icmp', 'arp']),
    ],
  },
  {
    obj: 'test/fixtures/progs/skb_helpers.o',
    runs: [
      ...all('tc_encap', ['udp_dns', 'tcp_syn', 'arp']),
      ...all('tc_pad', ['udp_dns', 'udp_big', 'tcp_data', 'arp']),
      ...all('tc_vlan', ['udp_dns', 'vlan_udp']),
      ...all('tc_fields', ['udp_dns', 'bcast_udp', 'host_udp', 'udp6', 'arp']),
      ...all('tc_fields', ['icmp'], { ctx: skbCtx(3, 4, 5) }),
      ...all('tc_fields', ['udp_dns'], { ctx: cat(new Uint8Array(36), u32(77), u32(1), new Uint8Array(148)) }), // ingress_ifindex 77, ifindex 1
      ...all('tc_fields', ['udp_dns'], { ctx: cat(new Uint8Array(40), u32(4242), new Uint8Array(148)) }), // no such device
      ...all('tc_relative', ['udp_dns', 'icmp', 'arp']),
      ...all('cg_fields', ['udp_dns', 'udp6', 'tcp_data', 'arp', 'udp_big']),
      ...all('cg_fields', ['icmp'], { ctx: skbCtx(1, 2, 3) }),
    ],
  },
  {
    obj: 'test/fixtures/progs/xdp_limits.o',
    runs: ['x_len', 'x_meta_len', 'x_ifindex', 'x_head_max', 'x_head_min', 'x_tail_max', 'x_tail_min', 'x_meta_max', 'x_errors', 'x_meta_move', 'x_buff_len']
      .flatMap((p) => [
        ...all(p, ['udp_dns', 'eth_only', 'udp_big', 'jumbo', 'huge']),
        { prog: p, packet: 'udp_dns', ctx: xdpCtx(0, 16) },
        { prog: p, packet: 'udp_dns', ctx: xdpCtx(8, 13) },
        { prog: p, packet: 'jumbo', ctx: xdpCtx(0, 3520) },
        { prog: p, packet: 'udp_dns', ctx: cat(u32(0), u32(68), u32(0), u32(0), u32(0), u32(0)) }, // ingress_ifindex 0: lo
      ]),
  },
  { obj: 'test/fixtures/progs/skb_helpers.o', runs: all('tc_pad', ['skb_max', 'skb_over']) },
  {
    obj: 'test/fixtures/progs/xdp_redirect.o',
    updates: [{ map: 'ports', key: u32(2), value: u32(1) }],
    runs: [...all('xdp_redir_map', EVERY), ...all('xdp_redir', EVERY)],
  },
  {
    // raw_tp is the one tracing type the kernel test-runs: u64 arguments in, no output buffers, repeat 0.
    obj: 'test/fixtures/progs/tracing.o',
    runs: [[5, 6], [0xffffffff, 1], [2 ** 40, 3], [0, 0]].map(([a, b]) => ({
      prog: 'rtp_args', repeat: 0,
      ctx: cat(u32(a! % 2 ** 32), u32(Math.floor(a! / 2 ** 32)), u32(b!), u32(0)),
    })),
  },
  // examples/ (the ELF engineer's objects)
  {
    obj: 'examples/xdp_firewall.o',
    updates: [
      // 10.0.0.3/32 -> rule 1, XDP_DROP; 10.0.0.1/32 -> rule 2, XDP_PASS
      { map: 'fw_rules', key: cat(u32(32), new Uint8Array([10, 0, 0, 3])), value: cat(u32(1), u32(1)) },
      { map: 'fw_rules', key: cat(u32(32), new Uint8Array([10, 0, 0, 1])), value: cat(u32(2), u32(2)) },
    ],
    runs: all('xdp_firewall', EVERY),
  },
  {
    obj: 'examples/tc_mark.o',
    updates: [{ map: 'port_marks', key: u16(53), value: u32(0x35) }, { map: 'port_marks', key: u16(80), value: u32(0xdead) }],
    runs: [...all('tc_mark', EVERY), ...all('tc_drop_marked', ['udp_dns']), ...all('tc_drop_marked', ['udp_dns'], { ctx: skbCtx(0xdead) })],
  },
  { obj: 'examples/tail_calls.o', runs: [...all('dispatch', ['udp_dns', 'tcp_syn']), ...all('stage_one', ['udp_dns']), ...all('stage_two', ['icmp'])] },
  { obj: 'examples/loop_callback.o', runs: all('sum_loop', ['udp_dns', 'eth_only']) },
  { obj: 'examples/xdp_guard.o', runs: [...all('xdp_guard', EVERY), ...all('xdp_guard', ['tcp_syn', 'tcp_syn', 'icmp'])], clockMaps: ['syn_sources'] },
  { obj: 'examples/global_data.o', runs: [...all('data_user', EVERY), ...all('name_user', ['udp_dns', 'eth_only'])] },
];

function packetOf(r: RunRequest & { packet?: string }): Uint8Array | undefined {
  return r.data ?? (r.packet !== undefined ? PACKETS[r.packet] ?? BIG_PACKETS[r.packet] : undefined);
}

type Ours = { retval: number; data: Uint8Array; ctx: Uint8Array } | { error: string; errno: number };

/** Objects tsbpf's verifier accepts run a third time, verified and without run-time checks, on the JIT. */
// xdp_limits.o is left out: its counting loops (up to 8000 rounds) take tsbpf's verifier minutes.
const NO_VERIFY = new Set(['test/fixtures/progs/xdp_limits.o']);
const verdicts = new Map<string, boolean>();
function verifies(obj: string): boolean {
  let v = verdicts.get(obj);
  if (v === undefined) {
    try {
      if (NO_VERIFY.has(obj)) throw new Error('skipped');
      new Runtime().loadObject(read(obj), { verify: true });
      v = true;
    } catch {
      v = false;
    }
    verdicts.set(obj, v);
  }
  return v;
}

function runOurs(c: Case, engine: Engine, verified = false): { results: Ours[]; maps: ReturnType<Runtime['loadObject']>['maps'] } {
  const rt = new Runtime();
  const obj = rt.loadObject(read(c.obj), { verify: verified });
  for (const u of c.updates ?? []) obj.map(u.map)!.update(u.key, u.value);
  const results = c.runs.map((r) => {
    const p = obj.program(r.prog);
    assert.ok(p, `${c.obj}: no program ${r.prog}`);
    const data = packetOf(r);
    try {
      const res = p.run({ ...(data ? { data } : {}), ...(r.ctx ? { ctx: r.ctx } : {}), repeat: r.repeat ?? 1, engine });
      return { retval: Number(res.retval & 0xffffffffn), data: res.data, ctx: res.ctx };
    } catch (e) {
      if (e instanceof TestRunError) return { error: e.message, errno: e.errno };
      throw e;
    }
  });
  return { results, maps: obj.maps };
}

let compared = 0;
let refused = 0;
let verifiedObjects = 0;
const errnoText = (n: number): string => ({ 19: 'No such device', 22: 'Invalid argument', 28: 'No space left on device', 7: 'Argument list too long', 95: 'Operation not supported' } as Record<number, string>)[n] ?? `errno ${n}`;
let programs = new Set<string>();

for (const c of CASES) {
  test(`kernel agrees: ${c.obj}`, { skip }, () => {
    const k = kernelSession(c.obj, c.runs.map((r) => ({ prog: r.prog, ...(packetOf(r) ? { data: packetOf(r)! } : {}), ...(r.ctx ? { ctx: r.ctx } : {}), repeat: r.repeat ?? 1 })), c.updates ?? [], c.types ?? {});
    const modes = [['interp', false], ['jit', false], ...(verifies(c.obj) ? [['jit', true]] : [])] as [Engine, boolean][];
    for (const [engine, verified] of modes) {
      const ours = runOurs(c, engine, verified);
      const diffs: string[] = [];
      c.runs.forEach((r, i) => {
        const kr = k.runs[i]!;
        const o = ours.results[i]!;
        const what = `${engine}${verified ? ' (verified, unchecked)' : ''} #${i} ${r.prog}(${r.packet ?? 'data'}${r.ctx ? ', ctx' : ''})`;
        if ('error' in kr || 'error' in o) {
          // Input the kernel refuses must be refused here too, with the same errno.
          if (!('error' in kr)) diffs.push(`${what}: tsbpf refused the run (${(o as { error: string }).error}), the kernel ran it`);
          else if (!('error' in o)) diffs.push(`${what}: kernel refused the run (${kr.error}), tsbpf ran it`);
          else if (!kr.error.includes(errnoText(o.errno))) diffs.push(`${what}: kernel: ${kr.error}; tsbpf: ${o.error} (errno ${o.errno})`);
          else { refused++; compared++; }
          return;
        }
        if (kr.retval !== o.retval) diffs.push(`${what}: retval tsbpf ${o.retval}, kernel ${kr.retval}`);
        const outs = (r.repeat ?? 1) !== 0; // repeat 0: the kernel returns no data_out / ctx_out (raw_tp)
        if (outs && hex(kr.data) !== hex(o.data)) diffs.push(`${what}: data_out differs\n  tsbpf  ${hex(o.data)}\n  kernel ${hex(kr.data)}`);
        if (outs && r.ctx && hex(kr.ctx) !== hex(o.ctx)) diffs.push(`${what}: ctx_out differs\n  tsbpf  ${hex(o.ctx)}\n  kernel ${hex(kr.ctx)}`);
        compared++;
        programs.add(`${c.obj}:${r.prog}`);
      });
      diffs.push(...diffMaps(k.maps, ours.maps, c.clockMaps).map((d) => `${engine}: ${d}`));
      assert.deepEqual(diffs, [], `${c.obj}:\n${diffs.join('\n')}`);
    }
  });
}

// examples/socket_filter.o uses the legacy `maps` section, which libbpf >= 1.0
// refuses: load its instructions through the raw oracle with the same maps.
test('kernel agrees: examples/socket_filter.o (legacy maps, through the raw oracle)', { skip }, () => {
  const spec = loadObject(read('examples/socket_filter.o'));
  const p = spec.program('count_protocols')!;
  const idx = slotIndices(p.insns);
  const insns = p.insns.map((x, i) => {
    const r = p.mapRefs.find((m) => m.slot === idx[i]);
    return r ? { ...x, imm: spec.maps.findIndex((m) => m.name === r.map) } : x;
  });
  const names = ['udp_dns', 'tcp_syn', 'icmp', 'udp_big', 'arp', 'udp6', 'vlan_udp'];
  for (const name of names) {
    const rt = new Runtime();
    const obj = rt.loadObject(spec);
    const ours = obj.program('count_protocols')!.run({ data: PACKETS[name]! });
    const k = kernelTestRun({
      insns: encode(insns), progType: KERNEL_PROG_TYPE.SOCKET_FILTER, data: PACKETS[name]!,
      maps: spec.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags })),
    });
    assert.equal(Number(ours.retval & 0xffffffffn), k.retval, name);
    assert.equal(hex(ours.data), hex(k.dataOut), name);
    // proto_packets (array): every slot equal; the kernel's per-CPU proto_bytes dump is one CPU's view, skipped.
    const theirs = new Map(k.maps[0]!.entries.map((e) => [hex(e.key), hex(e.value)]));
    for (const [key, value] of obj.map('proto_packets')!.entries()) assert.equal(hex(value), theirs.get(hex(key)), `${name} proto_packets[${hex(key)}]`);
    compared++;
  }
  programs.add('examples/socket_filter.o:count_protocols');
});

test('kernel comparison totals', { skip }, () => {
  assert.ok(compared >= 200, `${compared} runs compared`);
  assert.ok(programs.size >= 25, `${programs.size} programs compared`);
  // Visible in the test output for the record.
  verifiedObjects = new Set(CASES.filter((c) => verifies(c.obj)).map((c) => c.obj)).size;
  process.stdout.write(`# ${compared} runs of ${programs.size} programs agree with the kernel (interpreter and JIT, and verified-unchecked JIT for ${verifiedObjects} of ${new Set(CASES.map((c) => c.obj)).size} objects; ${refused} of them inputs both refuse)\n`);
});
