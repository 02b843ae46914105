// The Runtime without the kernel: loading (maps, references, slots, helper
// checks), test-run semantics pinned from the kernel's (values recorded with
// kernel-diff.test.ts's oracle on Linux 6.18), tail calls, callbacks on
// both engines, tracing contexts with a host-provided kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadError, RuntimeFault, TestRunError } from '../../src/errors.js';
import { loadObject } from '../../src/elf/object.js';
import { assemble } from '../../src/isa/asm.js';
import { KernelMemory } from '../../src/runtime/progtypes/types.js';
import { progTypeByName } from '../../src/runtime/progtypes/index.js';
import { Runtime, MAX_TAIL_CALL_CNT } from '../../src/runtime/runtime.js';
import { PACKETS, hex, read } from './helpers.js';

const ENGINES = ['interp', 'jit'] as const;

test('XDP limits match the values the kernel reports', () => {
  // Recorded from BPF_PROG_TEST_RUN (kernel-diff.test.ts re-checks them live).
  const expected: Record<string, number> = {
    x_len: 68, x_meta_len: 0, x_ifindex: 1000, x_head_max: 216, x_head_min: 54, x_tail_max: 3452, x_tail_min: 54,
    x_meta_max: 54208, x_errors: 370546189, x_meta_move: 8, x_buff_len: 1092,
  };
  for (const engine of ENGINES) {
    const obj = new Runtime().loadObject(read('test/fixtures/progs/xdp_limits.o'));
    for (const [name, want] of Object.entries(expected)) {
      const r = obj.program(name)!.run({ data: PACKETS['udp_dns']!, engine });
      assert.equal(Number(r.retval & 0xffffffffn), want, `${engine} ${name}`);
    }
  }
});

test('XDP: data_out starts at the metadata, ctx_out has offsets; repeats share the buffer', () => {
  const obj = new Runtime().loadObject(read('test/fixtures/progs/xdp_limits.o'));
  const pkt = PACKETS['udp_dns']!;
  const r = obj.program('x_meta_move')!.run({ data: pkt });
  assert.equal(r.data.length, pkt.length + 12);
  assert.equal(hex(r.data.subarray(0, 8)), '8877665544332211');
  assert.deepEqual([...new Uint32Array(r.ctx.slice().buffer)], [8, pkt.length + 12, 0, 1, 0, 0]);
  // ctx_in: data = metadata length
  const ctx = new Uint8Array(24);
  new DataView(ctx.buffer).setUint32(0, 8, true);
  new DataView(ctx.buffer).setUint32(4, pkt.length, true);
  new DataView(ctx.buffer).setUint32(12, 1, true);
  assert.equal(obj.program('x_meta_len')!.run({ data: pkt, ctx }).retval, 8n);
  // repeat: adjust_head(-1) until it fails, 3 times on the same buffer: the later runs find no room
  assert.equal(obj.program('x_head_max')!.run({ data: pkt, repeat: 3 }).retval, 0n);
  assert.equal(obj.program('x_head_max')!.run({ data: pkt, repeat: 3 }).data.length, pkt.length + 216);
});

test('XDP: input the kernel refuses is a TestRunError with its errno', () => {
  const obj = new Runtime().loadObject(read('test/fixtures/progs/xdp_limits.o'));
  const p = obj.program('x_len')!;
  assert.throws(() => p.run({ data: new Uint8Array(13) }), (e: unknown) => e instanceof TestRunError && e.errno === 22 && /Ethernet header/.test(e.message));
  const ctx = new Uint8Array(24);
  ctx[16] = 1; // rx_queue_index
  assert.throws(() => p.run({ data: PACKETS['udp_dns']!, ctx }), /rx_queue_index/);
  ctx[16] = 0;
  ctx[8] = 4; // data_meta
  assert.throws(() => p.run({ data: PACKETS['udp_dns']!, ctx }), /data_meta must be 0/);
  // A run that failed left nothing allocated behind.
  const rt = new Runtime();
  const o2 = rt.loadObject(read('test/fixtures/progs/xdp_limits.o'));
  o2.program('x_len')!.run({ data: PACKETS['udp_dns']! });
  const before = rt.memory.allocatedBytes;
  assert.throws(() => o2.program('x_len')!.run({ data: new Uint8Array(3) }));
  assert.equal(rt.memory.allocatedBytes, before);
});

test('__sk_buff: fields of a test-run skb, socket filters see the network header', () => {
  const rt = new Runtime();
  const obj = rt.loadObject(read('test/fixtures/progs/skb_helpers.o'));
  const pkt = PACKETS['udp_dns']!;
  obj.program('tc_fields')!.run({ data: pkt });
  const v = new Uint32Array(obj.map('seen')!.lookup(new Uint8Array([1, 0, 0, 0]))!.slice().buffer);
  assert.equal(v[2], pkt.length, 'len');
  assert.equal(v[3], 3, 'pkt_type OTHERHOST');
  assert.equal(v[4], 0x0008, 'protocol = htons(ETH_P_IP)');
  assert.equal(v[5], 1, 'ifindex (lo)');
  assert.equal(v[12], pkt.length, 'data_end - data');
  assert.equal(v[19], 0xffffffea, 'change_type to 7: -EINVAL');
  assert.equal(v[20], 0x1234, 'set_hash');
  assert.equal(v[25], 0xfffffff3, 'csum_level query: -EACCES on CHECKSUM_NONE');
  obj.program('cg_fields')!.run({ data: pkt });
  const c = new Uint32Array(obj.map('seen')!.lookup(new Uint8Array([3, 0, 0, 0]))!.slice().buffer);
  assert.equal(c[0], pkt.length - 14, 'cgroup_skb len starts at the network header');
  assert.equal(c[2], 2, 'family AF_INET');
  assert.equal(hex(new Uint8Array(new Uint32Array([c[3]!, c[4]!]).buffer)), '0a0000020a000001', 'remote = destination, local = source');
  assert.equal(c[12], 0x45, 'load_bytes(0) is the IP header');
  const s = new Runtime().loadObject(read('test/fixtures/progs/sock_ldabs.o'));
  const r = s.program('dns_filter')!.run({ data: pkt });
  assert.equal(r.retval, BigInt(pkt.length - 14), 'DNS query: the whole packet (skb->len)');
  assert.equal(hex(r.data.subarray(0, 14)), '00'.repeat(14), 'the kernel zeroes the MAC header it pushes back');
  assert.equal(s.program('src_low')!.run({ data: pkt }).retval, 1n, 'LD_ABS word at 12 = saddr 10.0.0.1');
  assert.throws(() => s.program('src_low')!.run({ data: PACKETS['ip_short']! }), (e: unknown) => e instanceof TestRunError && e.errno === 22);
});

test('__sk_buff ctx_in: accepted fields come back in ctx_out, others are refused', () => {
  const obj = new Runtime().loadObject(read('test/fixtures/progs/tc_rewrite.o'));
  const ctx = new Uint8Array(192);
  const dv = new DataView(ctx.buffer);
  dv.setUint32(8, 5, true); // mark
  dv.setUint32(48, 7, true); // cb[0]
  dv.setUint32(160, 100, true); // wire_len
  const r = obj.program('tc_police')!.run({ data: PACKETS['udp_dns']!, ctx });
  const out = new DataView(r.ctx.slice().buffer);
  assert.equal(out.getUint32(8, true), 5);
  assert.equal(out.getUint32(40, true), 1, 'ifindex filled in');
  assert.equal(out.getUint32(160, true), 100);
  assert.equal(out.getUint32(0, true), 0, 'len is not part of ctx_out');
  dv.setUint32(68, 1, true); // hash: refused
  assert.throws(() => obj.program('tc_police')!.run({ data: PACKETS['udp_dns']!, ctx }), /'hash' must be 0/);
});

test('maps keep their state across runs and global data is initialised', () => {
  for (const engine of ENGINES) {
    const obj = new Runtime().loadObject(read('test/fixtures/progs/xdp_count.o'));
    const p = obj.program('xdp_count')!;
    for (let i = 0; i < 3; i++) p.run({ data: PACKETS['udp_dns']!, engine });
    p.run({ data: PACKETS['tcp_syn']!, engine });
    const udp = obj.map('proto_stats')!.lookup(new Uint8Array([17, 0, 0, 0]))!;
    assert.equal(new DataView(udp.buffer, udp.byteOffset).getBigUint64(0, true), 3n, engine);
    const bss = obj.map('.bss')!.lookup(new Uint8Array(4))!;
    assert.equal(new DataView(bss.buffer, bss.byteOffset).getUint16(0, true), 53, `${engine}: last_ports[0]`);
    assert.equal(obj.map('by_source')!.lookup(new Uint8Array([10, 0, 0, 3]))![0], 1);
  }
  const lp = new Runtime().loadObject(read('test/fixtures/progs/loop.o'));
  const data = lp.map('.data')!.lookup(new Uint8Array(4))!;
  assert.equal(new DataView(data.buffer, data.byteOffset).getUint32(12, true), 17, '.data seed = 17');
});

test('tail calls: dispatch through a prog array, at most MAX_TAIL_CALL_CNT (33), no host recursion', () => {
  for (const engine of ENGINES) {
    const obj = new Runtime().loadObject(read('test/fixtures/progs/tail.o'));
    const d = obj.program('dispatch')!;
    assert.equal(d.run({ data: PACKETS['udp_dns']!, engine }).retval, 2n, 'udp -> handle_udp: XDP_PASS');
    assert.equal(d.run({ data: PACKETS['tcp_syn']!, engine }).retval, 3n, 'tcp -> handle_tcp: XDP_TX');
    const icmp = d.run({ data: PACKETS['icmp']!, engine });
    assert.equal(icmp.retval, 1n, 'empty slot: falls through to XDP_DROP');
    assert.equal(icmp.tailCalls, 0);
    const r = obj.program('recurse')!.run({ data: PACKETS['udp_dns']!, engine });
    assert.equal(r.tailCalls, MAX_TAIL_CALL_CNT);
    assert.equal(r.retval, 34n, 'the program ran 1 + 33 times');
  }
});

test('bpf_loop callbacks and string helpers agree on both engines', () => {
  const results = ENGINES.map((engine) => {
    const obj = new Runtime().loadObject(read('test/fixtures/progs/loop.o'));
    const sum = obj.program('xdp_sum')!.run({ data: PACKETS['udp_dns']!, engine });
    const num = obj.program('xdp_parse_num')!.run({ data: PACKETS['udp_neg']!, engine });
    const fmt = obj.program('xdp_fmt')!.run({ data: PACKETS['udp_dns']!, engine });
    const bss = obj.map('.bss')!.lookup(new Uint8Array(4))!;
    const dv = new DataView(bss.buffer, bss.byteOffset);
    const at = (v: string): number => obj.spec.variables.get(v)!.offset;
    const line = Buffer.from(bss.subarray(at('line'), at('line') + 64)).toString('latin1').replace(/\0.*$/s, '');
    return {
      sum: sum.retval, count: sum.insnCount, num: num.retval, fmt: fmt.retval, lastSum: dv.getBigUint64(at('last_sum'), true),
      lastNum: new DataView(obj.map('.data')!.lookup(new Uint8Array(4))!.buffer).getBigInt64(at('last_num'), true), line,
    };
  });
  assert.deepEqual(results[0], results[1]);
  const expectedSum = PACKETS['udp_dns']!.reduce((a, b) => a + b, 17);
  assert.equal(results[0]!.lastSum, BigInt(expectedSum));
  assert.ok(results[0]!.count > 68 * 5, 'callback instructions are counted');
  assert.equal(results[0]!.line, 'len=68 first=02 name=tsbpf');
  assert.equal(results[0]!.lastNum, -42n, 'strtol("  -42 abc!")');
  assert.equal(results[0]!.fmt, BigInt('len=68 first=02 name=tsbpf'.length + 1));
});

test('load errors: unknown helpers, helpers of another program type, missing maps; nothing is left behind', () => {
  const rt = new Runtime();
  assert.throws(() => rt.loadProgram(assemble('call 9999\nexit')), (e: unknown) => e instanceof LoadError && /unknown helper 9999/.test(e.message) && e.pc === 0);
  assert.throws(() => rt.loadProgram(assemble('r0 = 0\ncall 9\nexit'), { type: 'xdp' }),
    (e: unknown) => e instanceof LoadError && e.code === 'LOAD_HELPER_TYPE' && /bpf_skb_store_bytes \(9\) is not available to xdp programs/.test(e.message) && e.pc === 1);
  assert.throws(() => rt.loadProgram(assemble('call 44\nexit'), { type: 'socket' }), /bpf_xdp_adjust_head \(44\) is not available to socket_filter/);
  assert.throws(() => rt.loadProgram(assemble('call 4\nexit'), { type: 'xdp' }), /bpf_probe_read \(4\) is not available to xdp/);
  assert.throws(() => rt.loadProgram(assemble('exit'), { type: 'no_such_type' }), /unknown or unsupported program type/);
  // An object whose program calls an unknown helper creates no maps.
  const spec = loadObject(read('test/fixtures/progs/xdp_count.o'));
  const p = spec.programs[0]!;
  const i = p.insns.findIndex((x) => x.op.kind === 'call');
  p.insns[i] = { ...p.insns[i]!, imm: 4242 };
  const before = rt.memory.allocatedBytes;
  assert.throws(() => rt.loadObject(spec), /unknown helper 4242/);
  assert.equal(rt.memory.allocatedBytes, before);
  assert.equal(rt.maps.length, 0);
  // A host helper registered before loading is callable.
  rt.registerHelper({ id: 9000, name: 'host_answer', impl: () => 42 });
  assert.equal(rt.loadProgram(assemble('call 9000\nexit')).run().retval, 42n);
});

test('faults name the program\'s own slot, also in programs with the callback prologue', () => {
  const rt = new Runtime();
  const p = rt.loadProgram(assemble('r1 = 0\nr0 = *(u64 *)(r1 + 16)\nexit'), { type: 'xdp' });
  assert.throws(() => p.run({ data: PACKETS['udp_dns']! }), (e: unknown) => e instanceof RuntimeFault && e.pc === 1);
  const obj = rt.loadObject(read('test/fixtures/progs/loop.o'));
  const sum = obj.program('xdp_sum')!;
  assert.equal(sum.prologue, 3);
  assert.equal(sum.insns.length, obj.spec.program('xdp_sum')!.insns.length, 'the prologue is not shown');
  assert.throws(() => sum.run({ data: PACKETS['udp_dns']!, budget: 50 }), (e: unknown) => e instanceof RuntimeFault && e.code === 'FAULT_BUDGET');
});

test('loaded instructions keep their pseudo sources; engines get addresses', () => {
  const rt = new Runtime();
  const obj = rt.loadObject(read('test/fixtures/progs/xdp_tx.o'));
  const p = obj.program('xdp_echo')!;
  const refs = p.insns.filter((x) => x.op.kind === 'ld_imm64' && (x.src === 1 || x.src === 2));
  assert.ok(refs.length >= 2);
  for (const x of refs) assert.ok(rt.maps.some((m) => m.handle === (x.imm >>> 0)), 'imm holds the map handle');
  assert.deepEqual(p.mapNames.slice().sort(), ['.bss', '.rodata']);
  assert.equal(p.sourceAt(0)?.file.endsWith('xdp_tx.c'), true);
});

test('tracing types run against the host\'s kernel memory, task and stack', () => {
  const km = new KernelMemory();
  const rec = new Uint8Array(16);
  new DataView(rec.buffer).setBigUint64(0, 0x8001n, true);
  new DataView(rec.buffer).setBigUint64(8, 0xffff888000002000n, true);
  km.map(0xffff888000001000n, rec);
  km.map(0xffff888000002000n, new TextEncoder().encode('/etc/passwd\0junk'));
  const logs: string[] = [];
  const rt = new Runtime({
    host: {
      kernelMemory: km, log: (l) => logs.push(l),
      task: { pid: 4242, tgid: 4240, uid: 1000, gid: 100, comm: 'cat', cgroupId: 7n, taskAddr: 0xffff888000100000n },
      kernelStack: [0xffffffff81000010n, 0xffffffff81000020n, 0xffffffff81000030n],
    },
  });
  const obj = rt.loadObject(read('test/fixtures/progs/tracing.o'));
  const regs = new Uint8Array(168);
  new DataView(regs.buffer).setBigUint64(112, 0xffff888000001000n, true); // rdi
  for (const engine of ENGINES) {
    const r = obj.program('kp_open')!.run({ ctx: regs, engine });
    assert.equal(r.retval, 0n);
    const e = obj.map('events')!.lookup(new Uint8Array(4))!;
    const dv = new DataView(e.buffer, e.byteOffset);
    assert.equal(dv.getBigUint64(0, true), (4240n << 32n) | 4242n, 'pid_tgid');
    assert.equal(dv.getBigUint64(8, true), (100n << 32n) | 1000n, 'uid_gid');
    assert.equal(Buffer.from(e.subarray(16, 19)).toString(), 'cat');
    assert.equal(dv.getBigUint64(32, true), 0x8001n);
    assert.equal(Buffer.from(e.subarray(40, 52)).toString(), '/etc/passwd\0');
    assert.equal(dv.getBigInt64(72, true), 12n, 'probe_read_kernel_str: length with the NUL');
    assert.equal(dv.getBigInt64(80, true), -14n, 'unmapped: -EFAULT');
    assert.equal(dv.getBigInt64(88, true), 24n, 'get_stack: 3 frames');
    assert.equal(dv.getBigUint64(96, true), 0xffffffff81000010n);
    assert.equal(r.log.length, 1);
    assert.equal(r.log[0], 'open /etc/passwd flags 0', 'the failed read zeroed rec before the print');
  }
  // tracepoint: raw record
  const tp = new Uint8Array(64);
  const tdv = new DataView(tp.buffer);
  tdv.setInt32(24, 11, true); // prev_pid
  tdv.setInt32(56, 22, true); // next_pid
  tdv.setInt32(60, 120, true); // next_prio
  assert.equal(obj.program('tp_switch')!.run({ ctx: tp }).retval, 120n);
  const args = new Uint8Array(16);
  new DataView(args.buffer).setBigUint64(0, 5n, true);
  new DataView(args.buffer).setBigUint64(8, 6n, true);
  obj.program('rtp_args')!.run({ ctx: args });
  const pe = new Uint8Array(184);
  new DataView(pe.buffer).setBigUint64(168, 4000n, true);
  new DataView(pe.buffer).setBigUint64(128, 0xffffffff81234567n, true);
  obj.program('pe_sample')!.run({ ctx: pe });
  const bss = obj.map('.bss')!.lookup(new Uint8Array(4))!;
  const b = new DataView(bss.buffer, bss.byteOffset);
  assert.deepEqual([b.getBigUint64(0, true), b.getBigUint64(8, true), b.getBigUint64(16, true), b.getBigUint64(24, true), b.getBigUint64(32, true)],
    [11n, 22n, 11n, 4000n, 0xffffffff81234567n]);
  // sock_ops writes reply; connect4 rewrites the destination.
  const so = new Uint8Array(216);
  new DataView(so.buffer).setUint32(0, 1, true); // BPF_SOCK_OPS_TIMEOUT_INIT
  const sr = obj.program('sock_timeout')!.run({ ctx: so });
  assert.equal(sr.retval, 1n);
  assert.equal(new DataView(sr.ctx.buffer, sr.ctx.byteOffset).getUint32(4, true), 10);
  const sa = new Uint8Array(72);
  sa.set([10, 0, 0, 1], 4);
  sa.set([0, 80], 24);
  const cr = obj.program('connect4')!.run({ ctx: sa });
  assert.equal(hex(cr.ctx.subarray(4, 8)), '7f000001');
  assert.equal(hex(cr.ctx.subarray(24, 26)), '1f90');
  assert.throws(() => obj.program('kp_open')!.run({ data: new Uint8Array(14) }), /take no data_in/);
});

test('program types by kernel name and alias', () => {
  for (const [n, id] of [['xdp', 6], ['tc', 3], ['sched_cls', 3], ['socket', 1], ['socket_filter', 1], ['kprobe', 2], ['raw_tp', 17], ['BPF_PROG_TYPE_SCHED_ACT', 4], ['cgroup/connect4', 18], ['raw', 0]] as const) {
    assert.equal(progTypeByName(n)?.id, id, n);
  }
  assert.equal(progTypeByName('nope'), undefined);
});

test('raw memory type: R1 = buffer, R2 = length, data_out is the buffer', () => {
  const rt = new Runtime();
  const p = rt.loadProgram(assemble('r0 = r2\n*(u8 *)(r1 + 0) = 0x7f\nexit'));
  const r = p.run({ data: new Uint8Array([1, 2, 3]) });
  assert.equal(r.retval, 3n);
  assert.deepEqual([...r.data], [0x7f, 2, 3]);
});

test('redirects are recorded; fib_lookup answers from the host\'s routes', () => {
  const rt = new Runtime({
    host: {
      fibRoutes: [
        { family: 2, prefix: new Uint8Array([10, 0, 0, 0]), prefixLen: 8, ifindex: 3, gateway: new Uint8Array([10, 0, 0, 254]), smac: new Uint8Array([2, 0, 0, 0, 0, 3]), dmac: new Uint8Array([2, 0, 0, 0, 0, 254]) },
        { family: 2, prefix: new Uint8Array([10, 9, 0, 0]), prefixLen: 16, ifindex: 4 },
        { family: 2, prefix: new Uint8Array([172, 16, 0, 0]), prefixLen: 12, ifindex: 5, kind: 'blackhole' },
      ],
    },
  });
  const obj = rt.loadObject(read('test/fixtures/progs/xdp_redirect.o'));
  obj.map('ports')!.update(new Uint8Array([2, 0, 0, 0]), new Uint8Array([9, 0, 0, 0]));
  const r = obj.program('xdp_redir_map')!.run({ data: PACKETS['udp_dns']! });
  assert.equal(r.retval, 4n);
  assert.deepEqual(r.redirect, { helper: 'redirect_map', ifindex: 9, flags: 2, map: 'ports', key: 2 });
  const miss = obj.program('xdp_redir_map')!.run({ data: PACKETS['bcast_udp']! });
  assert.equal(miss.retval, 2n, 'absent key: the action in the flags');
  assert.equal(miss.redirect, undefined);
  const fib = obj.program('xdp_fib')!;
  const vars = obj.spec.variables;
  const bss = (): DataView => { const b = obj.map('.bss')!.lookup(new Uint8Array(4))!; return new DataView(b.buffer, b.byteOffset); };
  const data = (): DataView => { const b = obj.map('.data')!.lookup(new Uint8Array(4))!; return new DataView(b.buffer, b.byteOffset); };
  const ok = fib.run({ data: PACKETS['udp_dns']! });
  assert.equal(data().getBigInt64(vars.get('fib_ret')!.offset, true), 0n, 'SUCCESS');
  assert.equal(bss().getUint32(vars.get('fib_ifindex')!.offset, true), 3);
  assert.equal(bss().getUint32(vars.get('fib_dst')!.offset, true), 0xfe00000a, 'next hop 10.0.0.254');
  assert.equal(ok.retval, 4n);
  assert.equal(ok.redirect?.ifindex, 3);
  assert.equal(hex(ok.data.subarray(0, 12)), '0200000000fe' + '020000000003', 'MACs rewritten');
  fib.run({ data: PACKETS['icmp']! }); // 10.9.8.7 -> 10.0.0.2 still via /8
  fib.run({ data: PACKETS['udp_big']! }); // 172.16.0.9 -> 10.0.0.2: the destination decides
  assert.equal(data().getBigInt64(vars.get('fib_ret')!.offset, true), 0n);
  const rt2 = new Runtime({ host: { fibRoutes: [{ family: 2, prefix: new Uint8Array([10, 0, 0, 2]), prefixLen: 32, ifindex: 7 }] } });
  const o2 = rt2.loadObject(read('test/fixtures/progs/xdp_redirect.o'));
  assert.equal(o2.program('xdp_fib')!.run({ data: PACKETS['udp_dns']! }).retval, 2n);
  const d2 = o2.map('.data')!.lookup(new Uint8Array(4))!;
  assert.equal(new DataView(d2.buffer, d2.byteOffset).getBigInt64(o2.spec.variables.get('fib_ret')!.offset, true), 7n, 'NO_NEIGH without a neighbour MAC');
  const o3 = new Runtime().loadObject(read('test/fixtures/progs/xdp_redirect.o'));
  o3.program('xdp_fib')!.run({ data: PACKETS['udp_dns']! });
  const d3 = o3.map('.data')!.lookup(new Uint8Array(4))!;
  assert.equal(new DataView(d3.buffer, d3.byteOffset).getBigInt64(o3.spec.variables.get('fib_ret')!.offset, true), 4n, 'NOT_FWDED without a route');
});

test('perf_event_output with BPF_F_CTXLEN_MASK appends the packet\'s first bytes', () => {
  const obj = new Runtime().loadObject(read('test/fixtures/progs/skb_helpers.o'));
  const m = obj.map('samples') as unknown as { open(cpu?: number): void; consume(cb: (r: { cpu: number; data: Uint8Array }) => void): number };
  m.open();
  const pkt = PACKETS['udp_dns']!;
  assert.equal(obj.program('tc_perf')!.run({ data: pkt }).retval, 0n);
  const recs: Uint8Array[] = [];
  m.consume((r) => { recs.push(r.data); });
  assert.equal(recs.length, 1);
  assert.equal(hex(recs[0]!.subarray(0, 4)), hex(new Uint8Array(new Uint32Array([pkt.length]).buffer)));
  assert.equal(hex(recs[0]!.subarray(4, 24)), hex(pkt.subarray(0, 20)));
});
