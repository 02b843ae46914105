// loadObject over the committed objects: programs, linking, maps,
// relocations, line info and variables, checked against llvm-objdump's view
// of the same bytes and against pinned expectations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  loadObject, readBtf, encode, ObjectSpec, BPF_PROG_TYPE, BPF_ATTACH_TYPE, BPF_MAP_TYPE, BPF_F_XDP_HAS_FRAGS,
  BPF_F_SLEEPABLE, BPF_F_RDONLY_PROG, BPF_F_MMAPABLE, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
  matchSection, slotIndices, annotate, type ElfError, type ProgramSpec,
} from '../../src/core.js';
import { read, path, objects, objdumpOf } from './helpers.js';

const load = (obj: string): ObjectSpec => loadObject(read(obj));

function throwsElf(f: () => unknown, code: string, re?: RegExp): void {
  assert.throws(f, (e: ElfError) => {
    assert.equal(e.name, 'ElfError', e.message);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Slot -> encoded 8-byte slots of a program. */
function slotsOf(p: ProgramSpec): Uint8Array[] {
  const b = encode(p.insns);
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += 8) out.push(b.subarray(i, i + 8));
  return out;
}

test('every object loads, and every linked function matches llvm-objdump byte for byte outside relocations', () => {
  let checked = 0;
  for (const obj of objects()) {
    const spec = load(obj);
    const dump = objdumpOf(obj);
    assert.ok(dump, `${obj}: objdump golden file`);
    for (const p of spec.programs) {
      const slots = slotsOf(p);
      const starts = new Set(slotIndices(p.insns).slice(0, -1));
      const refSlots = new Set([...p.mapRefs, ...p.externRefs].map((r) => r.slot));
      p.funcs.forEach((f, k) => {
        const end = k + 1 < p.funcs.length ? p.funcs[k + 1]!.slot : slots.length;
        const sec = dump.get(k === 0 ? p.section : p.funcs[k]!.name === f.name ? sectionOfFunc(dump, f.name) : '')!;
        assert.ok(sec, `${obj}: section of ${f.name}`);
        const base = k === 0 && !sec.labels.has(f.name) ? 0 : sec.labels.get(f.name)!;
        const relocated = new Set(sec.relocs.map((r) => r.offset / 8));
        for (let s = f.slot; s < end; s++) {
          const golden = sec.insns.find((x) => x.slot === base + s - f.slot);
          if (!golden) continue; // second slot of an lddw: objdump prints both halves on one line
          const ours = golden.bytes.length === 16 ? concat(slots[s]!, slots[s + 1]!) : slots[s]!;
          const isCall = ours[0] === 0x85 && (ours[1]! >> 4) === BPF_PSEUDO_CALL;
          const isFuncAddr = ours[0] === 0x18 && (ours[1]! >> 4) === BPF_PSEUDO_FUNC;
          if (relocated.has(base + s - f.slot) || isCall || isFuncAddr) {
            assert.equal(ours[0], golden.bytes[0], `${obj} ${p.name} slot ${s}: opcode`);
            assert.equal(ours[1]! & 0xf, golden.bytes[1]! & 0xf, `${obj} ${p.name} slot ${s}: dst`);
            if (ours[0] === 0x18 && !isFuncAddr) assert.ok(refSlots.has(s), `${obj} ${p.name} slot ${s}: relocated lddw has a map or extern ref`);
          } else {
            assert.deepEqual(ours, golden.bytes, `${obj} ${p.name} slot ${s} (${golden.asm})`);
          }
          assert.ok(starts.has(s), `${obj} ${p.name}: slot ${s} starts an instruction`);
          checked++;
        }
      });
    }
  }
  assert.ok(checked > 500, `${checked} instructions compared`);
});

function sectionOfFunc(dump: Map<string, { labels: Map<string, number> }>, name: string): string {
  for (const [k, v] of dump) if (v.labels.has(name)) return k;
  return '';
}
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

test('map relocations: one mapRef per relocated lddw of a map or global variable, with src set', () => {
  for (const obj of objects()) {
    const spec = load(obj);
    const dump = objdumpOf(obj)!;
    for (const p of spec.programs) {
      const sec = dump.get(p.section)!;
      const entryEnd = p.funcs[1]?.slot ?? slotIndices(p.insns).at(-1)!;
      const base = sec.labels.get(p.name) ?? 0;
      const golden = sec.relocs.filter((r) => r.type === 'R_BPF_64_64' && r.offset / 8 >= base && r.offset / 8 - base < entryEnd &&
        (spec.map(r.symbol) || spec.maps.some((m) => m.origin === 'data' && (m.name === r.symbol || spec.variables.get(r.symbol)?.map === m.name))));
      const ours = p.mapRefs.filter((r) => r.slot < entryEnd);
      assert.deepEqual(ours.map((r) => r.slot), golden.map((r) => r.offset / 8 - base), `${obj} ${p.name}`);
      const idx = slotIndices(p.insns);
      for (const r of p.mapRefs) {
        const insn = p.insns[idx.indexOf(r.slot)]!;
        assert.equal(insn.op.kind, 'ld_imm64');
        assert.equal(insn.src, r.kind === 'map' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE);
        assert.equal(insn.imm2, r.offset);
        assert.ok(spec.map(r.map), `${obj}: map ${r.map} exists`);
      }
    }
  }
});

test('xdp_firewall: BTF maps, LPM trie, per-CPU counters, ring buffer, .rodata/.bss, subprograms', () => {
  const spec = load('examples/xdp_firewall.o');
  assert.equal(spec.license, 'Dual MIT/GPL');
  assert.equal(spec.programs.length, 1);
  const p = spec.programs[0]!;
  assert.equal(p.name, 'xdp_firewall');
  assert.equal(p.type, BPF_PROG_TYPE.XDP);
  assert.equal(p.attachType, BPF_ATTACH_TYPE.XDP);
  assert.deepEqual(p.funcs.map((f) => f.name), ['xdp_firewall', 'account', 'report_drop']);
  assert.deepEqual(p.funcs.map((f) => f.slot), [0, 52, 69]);
  assert.ok(p.funcs.every((f) => f.btfTypeId > 0 && spec.btf!.type(f.btfTypeId).name === f.name));
  const m = (n: string) => spec.map(n)!;
  assert.deepEqual([m('fw_rules').type, m('fw_rules').keySize, m('fw_rules').valueSize, m('fw_rules').maxEntries, m('fw_rules').flags],
    [BPF_MAP_TYPE.LPM_TRIE, 8, 8, 1024, 1]);
  assert.equal(spec.btf!.formatType(m('fw_rules').btfKeyTypeId), 'struct v4_prefix');
  assert.equal(spec.btf!.formatType(m('rule_hits').btfValueTypeId), 'struct hit_counter');
  assert.deepEqual([m('rule_hits').type, m('rule_hits').valueSize, m('rule_hits').maxEntries], [BPF_MAP_TYPE.PERCPU_ARRAY, 16, 256]);
  assert.deepEqual([m('drop_events').type, m('drop_events').maxEntries], [BPF_MAP_TYPE.RINGBUF, 4096]);
  assert.equal(m('.rodata').readonly, true);
  assert.equal(m('.rodata').flags, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE);
  assert.equal(spec.btf!.type(m('.rodata').btfValueTypeId).name, '.rodata');
  assert.deepEqual(spec.btf!.formatValue(m('.rodata').btfValueTypeId, m('.rodata').data!), { cfg_default_action: 2, cfg_report_drops: 1 });
  assert.deepEqual([...m('.rodata').data!], [2, 0, 0, 0, 1]);
  assert.equal(m('.bss').valueSize, 8);
  // Every call lands on a function start.
  const idx = slotIndices(p.insns);
  const starts = new Set(p.funcs.map((f) => f.slot));
  p.insns.forEach((x, i) => {
    if (x.op.kind === 'call_local') assert.ok(starts.has(idx[i]! + x.imm + 1), `call at slot ${idx[i]}`);
  });
  assert.equal(p.insns.filter((x) => x.op.kind === 'call_local').length, 2);
});

test('line info maps to the right C source lines, for every object with BTF', () => {
  let n = 0;
  for (const obj of objects()) {
    const spec = load(obj);
    for (const p of spec.programs) {
      if (!spec.btf) { assert.equal(p.lineInfo.length, 0); continue; }
      assert.ok(p.lineInfo.length > 0, `${obj} ${p.name} has line info`);
      const starts = new Set(slotIndices(p.insns).slice(0, -1));
      for (const f of p.funcs) assert.ok(p.lineInfo.some((l) => l.slot === f.slot), `${obj}: line info at the start of ${f.name}`);
      for (const l of p.lineInfo) {
        assert.ok(starts.has(l.slot), `${obj} ${p.name}: line info slot ${l.slot} is an instruction`);
        const file = obj.replace(/[^/]+$/, '') + l.file.split('/').pop();
        const lines = readFileSync(path(file), 'utf8').split('\n');
        if (l.line > 0) assert.equal(lines[l.line - 1], l.source, `${obj} ${p.name} slot ${l.slot}: ${l.file}:${l.line}`);
        if (l.line === 0) assert.equal(l.source, '', 'line 0: compiler-generated code has no text');
        else assert.ok(l.column >= 0 && l.column <= lines[l.line - 1]!.length + 1, `column ${l.column}`);
        n++;
      }
      for (let i = 1; i < p.lineInfo.length; i++) assert.ok(p.lineInfo[i - 1]!.slot <= p.lineInfo[i]!.slot);
    }
  }
  assert.ok(n > 200, `${n} line records checked`);
  const fw = load('examples/xdp_firewall.o').programs[0]!;
  const look = fw.lineInfo.find((l) => l.source.includes('bpf_map_lookup_elem(&fw_rules, &key)'))!;
  assert.ok(look, 'line of the trie lookup');
  assert.ok(fw.mapRefs.some((r) => r.map === 'fw_rules' && r.slot >= look.slot));
});

test('global_data: .data/.rodata/.bss/.data.*/.rodata.* maps, variables by name, bpf-to-bpf calls', () => {
  const spec = load('examples/global_data.o');
  assert.deepEqual(spec.maps.map((m) => [m.name, m.valueSize, m.readonly]), [
    ['.rodata', 33, true], ['.data', 4, false], ['.data.stats', 8, false], ['.rodata.tables', 4, true], ['.bss', 40, false],
  ]);
  const v = (n: string) => spec.variables.get(n)!;
  assert.deepEqual([v('cfg_port').map, v('cfg_port').offset, v('cfg_port').size, v('cfg_port').value()], ['.rodata', 0, 4, 8080]);
  assert.equal(v('cfg_limit').value(), 1000000n);
  assert.equal(v('cfg_name').value(), 'tsbpf');
  assert.equal(v('hits').value(), 7);
  assert.deepEqual([v('drops').map, v('drops').offset], ['.bss', 32]);
  assert.deepEqual(v('histogram').value(), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(v('table_seed').value(), 0x9e3779b9);
  assert.equal(v('cfg_port').typeName, 'const volatile __u32');
  assert.equal(v('cfg_port').readonly, true);
  // set before load: bytes land in the map's initial value.
  v('cfg_port').set(9090);
  assert.deepEqual([...spec.map('.rodata')!.data!.subarray(0, 4)], [0x82, 0x23, 0, 0]);
  v('cfg_limit').set(0x1122334455667788n);
  assert.equal(v('cfg_limit').value(), 0x1122334455667788n);
  v('drops').set(-1);
  assert.deepEqual([...v('drops').get()], [255, 255, 255, 255, 255, 255, 255, 255]);
  v('cfg_name').set(new TextEncoder().encode('abcdefg\0'));
  assert.equal(v('cfg_name').value(), 'abcdefg');
  throwsElf(() => v('cfg_port').set(1n << 32n), 'VARIABLE_VALUE', /cfg_port/);
  throwsElf(() => v('cfg_port').set(new Uint8Array(3)), 'VARIABLE_SIZE');
  throwsElf(() => v('histogram').set(1), 'VARIABLE_SIZE');
  // Both programs call classify (global, .text) which calls mix (static, pc-relative call).
  const du = spec.program('data_user')!, nu = spec.program('name_user')!;
  assert.deepEqual(du.funcs.map((f) => f.name), ['data_user', 'over_limit', 'classify', 'mix']);
  assert.deepEqual(nu.funcs.map((f) => f.name), ['name_user', 'classify', 'mix']);
  assert.deepEqual(du.mapRefs.map((r) => [r.map, r.offset]),
    [['.data', 0], ['.data.stats', 0], ['.bss', 32], ['.rodata', 8], ['.rodata', 0], ['.bss', 0], ['.rodata.tables', 0]]);
  assert.ok(nu.mapRefs.some((r) => r.map === '.rodata' && r.offset === 24), 'name_user.fmt (static, via section symbol + imm)');
});

test('loop_callback: bpf_loop callbacks become BPF_PSEUDO_FUNC addresses of appended subprograms', () => {
  const p = load('examples/loop_callback.o').programs[0]!;
  assert.deepEqual(p.funcs.map((f) => f.name), ['sum_loop', 'add_index', 'add_square']);
  const idx = slotIndices(p.insns);
  const addrs = p.insns.map((x, i) => ({ x, slot: idx[i]! })).filter(({ x }) => x.op.kind === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC);
  assert.equal(addrs.length, 2);
  assert.deepEqual(addrs.map(({ x, slot }) => p.funcs.find((f) => f.slot === slot + x.imm + 1)?.name), ['add_index', 'add_square']);
  assert.ok(addrs.every(({ x }) => x.imm2 === 0));
  // .rodata.cst16 (clang's constant pool for the struct initialiser) is a read-only data map.
  const spec = load('examples/loop_callback.o');
  assert.equal(spec.maps.find((m) => m.name.startsWith('.rodata'))?.readonly, true);
});

test('tail_calls: prog array and map-in-map filled by values initialisers', () => {
  const spec = load('examples/tail_calls.o');
  assert.deepEqual(spec.programs.map((p) => p.name), ['stage_one', 'stage_two', 'dispatch']);
  const stages = spec.map('stages')!;
  assert.equal(stages.type, BPF_MAP_TYPE.PROG_ARRAY);
  assert.deepEqual(stages.slots, [{ index: 1, program: 'stage_one' }, { index: 3, program: 'stage_two' }]);
  const tables = spec.map('count_tables')!;
  assert.equal(tables.type, BPF_MAP_TYPE.ARRAY_OF_MAPS);
  assert.deepEqual(tables.slots, [{ index: 0, map: 'counts_a' }, { index: 1, map: 'counts_b' }]);
  assert.deepEqual([tables.innerMap?.type, tables.innerMap?.maxEntries, tables.innerMap?.valueSize], [BPF_MAP_TYPE.ARRAY, 4, 8]);
  assert.equal(tables.valueSize, 4);
});

test('btf_maps: every BTF map attribute', () => {
  const spec = load('test/fixtures/elf/btf_maps.o');
  const sized = spec.map('sized')!;
  assert.deepEqual([sized.keySize, sized.valueSize, sized.maxEntries, sized.pinning, sized.numaNode, sized.flags, sized.btfKeyTypeId],
    [6, 10, 32, 1, 1, 4, 0]);
  const bloom = spec.map('bloom')!;
  assert.deepEqual([bloom.type, bloom.keySize, bloom.valueSize, bloom.mapExtra], [BPF_MAP_TYPE.BLOOM_FILTER, 0, 4, 5n]);
  const rings = spec.map('rings')!;
  assert.deepEqual([rings.type, rings.innerMap?.name, rings.innerMap?.type, rings.innerMap?.maxEntries],
    [BPF_MAP_TYPE.HASH_OF_MAPS, 'rings.inner', BPF_MAP_TYPE.RINGBUF, 8192]);
  assert.deepEqual([spec.map('queue')!.type, spec.map('queue')!.keySize], [BPF_MAP_TYPE.QUEUE, 0]);
  // The __ulong form of newer libbpf headers: an enum whose one value is map_extra.
  const e = load('test/fixtures/elf/map_extra_enum.o').map('bloom64')!;
  assert.deepEqual([e.type, e.valueSize, e.mapExtra], [BPF_MAP_TYPE.BLOOM_FILTER, 8, 3n]);
});

test('legacy maps section: 20, 28 and 36-byte definitions, inner_map_idx, numa_node; no BTF', () => {
  const s20 = load('test/fixtures/elf/legacy_maps20.o');
  assert.equal(s20.btf, undefined);
  assert.deepEqual(s20.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
    [['first', BPF_MAP_TYPE.ARRAY, 4, 8, 2, 0], ['second', BPF_MAP_TYPE.HASH, 4, 4, 10, 1]]);
  assert.deepEqual(s20.programs[0]!.mapRefs.map((r) => r.map), ['second', 'first']);
  const s28 = load('test/fixtures/elf/legacy_maps.o');
  const outer = s28.map('outer')!;
  assert.deepEqual([outer.type, outer.innerMap?.type, outer.innerMap?.maxEntries, outer.innerMap?.name],
    [BPF_MAP_TYPE.HASH_OF_MAPS, BPF_MAP_TYPE.ARRAY, 16, 'outer.inner']);
  assert.deepEqual([s28.map('on_node')!.numaNode, s28.map('on_node')!.keySize], [1, 8]);
  const s36 = load('test/fixtures/elf/legacy_maps36.o');
  assert.deepEqual(s36.maps.map((m) => [m.name, m.type, m.maxEntries]), [['only', BPF_MAP_TYPE.PERCPU_HASH, 100]]);
  assert.deepEqual(s36.warnings, []);
  assert.equal(s36.programs[0]!.type, BPF_PROG_TYPE.KPROBE);
  assert.equal(s36.programs[0]!.attachTo, 'do_nanosleep');
});

test('socket_filter: LD_ABS program, legacy maps, version section, no -g', () => {
  const spec = load('examples/socket_filter.o');
  assert.equal(spec.kernelVersion, 0x050a00);
  assert.equal(spec.license, 'GPL');
  const p = spec.programs[0]!;
  assert.deepEqual([p.name, p.type, p.attachType], ['count_protocols', BPF_PROG_TYPE.SOCKET_FILTER, undefined]);
  assert.deepEqual(p.insns.filter((x) => x.op.kind === 'ld_abs').map((x) => [x.op.name, x.imm]), [['ldabsh', 12], ['ldabsb', 23]]);
  assert.deepEqual(p.lineInfo, []);
  assert.deepEqual(p.funcs, [{ name: 'count_protocols', slot: 0, btfTypeId: 0 }]);
  assert.deepEqual(spec.maps.map((m) => m.name), ['proto_packets', 'proto_bytes']);
});

test('an object without FUNC symbols: the section is one program', () => {
  const spec = load('test/fixtures/elf/nofunc.o');
  assert.deepEqual(spec.programs.map((p) => [p.name, p.section, p.type, p.attachTo]), [['xdp/legacy', 'xdp/legacy', BPF_PROG_TYPE.XDP, 'legacy']]);
  assert.equal(spec.programs[0]!.insns.length, 2);
});

test('section names -> program and attach types (libbpf table)', () => {
  const spec = load('test/fixtures/elf/sections.o');
  const T = BPF_PROG_TYPE, A = BPF_ATTACH_TYPE;
  const want: Record<string, [number, number | undefined, string | undefined]> = {
    xdp: [T.XDP, A.XDP, undefined], 'xdp.frags': [T.XDP, A.XDP, undefined], 'xdp/devmap': [T.XDP, A.XDP_DEVMAP, undefined],
    tc: [T.SCHED_CLS, undefined, undefined], 'tcx/ingress': [T.SCHED_CLS, A.TCX_INGRESS, undefined],
    'tcx/egress': [T.SCHED_CLS, A.TCX_EGRESS, undefined], 'tc/egress': [T.SCHED_CLS, A.TCX_EGRESS, undefined], classifier: [T.SCHED_CLS, undefined, undefined],
    action: [T.SCHED_ACT, undefined, undefined], socket: [T.SOCKET_FILTER, undefined, undefined],
    socket1: [T.SOCKET_FILTER, undefined, undefined], 'sk_skb/stream_verdict': [T.SK_SKB, A.SK_SKB_STREAM_VERDICT, undefined],
    sk_msg: [T.SK_MSG, A.SK_MSG_VERDICT, undefined],
    'tracepoint/syscalls/sys_enter_openat': [T.TRACEPOINT, undefined, 'syscalls/sys_enter_openat'],
    'tp/sched/sched_switch': [T.TRACEPOINT, undefined, 'sched/sched_switch'],
    'kprobe/do_unlinkat': [T.KPROBE, undefined, 'do_unlinkat'], 'kretprobe/do_unlinkat': [T.KPROBE, undefined, 'do_unlinkat'],
    'uprobe//bin/sh:main': [T.KPROBE, undefined, '/bin/sh:main'],
    'raw_tracepoint/sys_enter': [T.RAW_TRACEPOINT, undefined, 'sys_enter'], 'raw_tp/sys_exit': [T.RAW_TRACEPOINT, undefined, 'sys_exit'],
    perf_event: [T.PERF_EVENT, undefined, undefined],
    'cgroup_skb/ingress': [T.CGROUP_SKB, A.CGROUP_INET_INGRESS, undefined], 'cgroup_skb/egress': [T.CGROUP_SKB, A.CGROUP_INET_EGRESS, undefined],
    'cgroup/skb': [T.CGROUP_SKB, undefined, undefined], 'cgroup/sock': [T.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, undefined],
    'cgroup/connect4': [T.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, undefined],
    'cgroup/sendmsg6': [T.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, undefined], sockops: [T.SOCK_OPS, A.CGROUP_SOCK_OPS, undefined],
    'fentry/do_unlinkat': [T.TRACING, A.TRACE_FENTRY, 'do_unlinkat'], 'fexit/do_unlinkat': [T.TRACING, A.TRACE_FEXIT, 'do_unlinkat'],
    'lsm/file_open': [T.LSM, A.LSM_MAC, 'file_open'], 'struct_ops/test_1': [T.STRUCT_OPS, undefined, 'test_1'],
    syscall: [T.SYSCALL, undefined, undefined], sk_lookup: [T.SK_LOOKUP, A.SK_LOOKUP, undefined],
    flow_dissector: [T.FLOW_DISSECTOR, A.FLOW_DISSECTOR, undefined], 'cgroup/dev': [T.CGROUP_DEVICE, A.CGROUP_DEVICE, undefined],
    lwt_xmit: [T.LWT_XMIT, undefined, undefined], 'iter/task': [T.TRACING, A.TRACE_ITER, 'task'],
    'fentry.s/do_unlinkat': [T.TRACING, A.TRACE_FENTRY, 'do_unlinkat'], 'tp_btf/sched_switch': [T.TRACING, A.TRACE_RAW_TP, 'sched_switch'],
  };
  assert.equal(spec.programs.length, Object.keys(want).length);
  for (const p of spec.programs) {
    assert.deepEqual([p.type, p.attachType, p.attachTo], want[p.section], p.section);
  }
  assert.equal(spec.program('p_xdp_frags')!.flags, BPF_F_XDP_HAS_FRAGS);
  assert.equal(spec.program('p_fentry_s')!.flags, BPF_F_SLEEPABLE);
  assert.equal(spec.program('p_xdp')!.flags, 0);
  // Names libbpf would not know, and a few more of the table.
  assert.equal(matchSection('.text'), undefined);
  assert.equal(matchSection('foo/bar'), undefined);
  assert.equal(matchSection('xdp_legacy_name')?.type, T.XDP);
  assert.equal(matchSection('tc/ingress')?.attachType, A.TCX_INGRESS);
  assert.equal(matchSection('netkit/peer')?.attachType, A.NETKIT_PEER);
  assert.equal(matchSection('kprobe.multi/vfs_*')?.attachType, A.TRACE_KPROBE_MULTI);
  assert.equal(matchSection('uprobe.multi.s/x')?.flags, BPF_F_SLEEPABLE);
  assert.equal(matchSection('cgroup/sock_release')?.attachType, A.CGROUP_INET_SOCK_RELEASE);
  assert.equal(matchSection('raw_tp.w/x')?.type, T.RAW_TRACEPOINT_WRITABLE);
  assert.equal(matchSection('netfilter')?.type, T.NETFILTER);
});

test('tc_mark: two SEC("tc") programs, hash and LRU maps', () => {
  const spec = load('examples/tc_mark.o');
  assert.deepEqual(spec.programs.map((p) => [p.name, p.type, p.attachType]),
    [['tc_mark', BPF_PROG_TYPE.SCHED_CLS, undefined], ['tc_drop_marked', BPF_PROG_TYPE.SCHED_CLS, undefined]]);
  assert.deepEqual(spec.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize]),
    [['port_marks', BPF_MAP_TYPE.HASH, 2, 4], ['marked', BPF_MAP_TYPE.LRU_HASH, 4, 16]]);
  assert.deepEqual(spec.program('tc_mark')!.mapRefs.map((r) => r.map), ['port_marks', 'marked', 'marked']);
});

test('ObjectSpec is deterministic and survives JSON', () => {
  for (const obj of objects()) {
    const a = JSON.stringify(load(obj));
    assert.equal(JSON.stringify(load(obj)), a, `${obj}: deterministic`);
    const back = ObjectSpec.fromJSON(a);
    assert.equal(JSON.stringify(back), a, `${obj}: round trip`);
  }
  const spec = ObjectSpec.fromJSON(JSON.stringify(load('examples/global_data.o')));
  spec.variables.get('cfg_port')!.set(1234);
  assert.equal(spec.variables.get('cfg_port')!.value(), 1234);
  assert.equal(spec.map('.rodata')!.data![0], 1234 & 0xff);
  assert.equal(spec.program('data_user')!.insns[0]!.op.name, 'mov');
  assert.throws(() => ObjectSpec.fromJSON('{"format":"x"}'), (e: ElfError) => e.code === 'ELF_JSON');
  assert.throws(() => ObjectSpec.fromJSON('not json'), (e: ElfError) => e.code === 'ELF_JSON');
});

test('malformed objects: typed errors naming the pass and the place', () => {
  // A call that lands in the middle of nowhere.
  const b = read('examples/global_data.o');
  const c = b.slice();
  // .text slot 1 is `call 18` (pc-relative to mix at slot 20); make it 17.
  const text = 0x40;
  assert.equal(c[text + 8], 0x85);
  c[text + 8 + 4] = 17;
  throwsElf(() => loadObject(c), 'ELF_RELOC_TARGET', /load relocations: call targets slot 19 of '.text'/);
  // A .maps without BTF.
  throwsElf(() => loadObject(stripSection(read('examples/tc_mark.o'), '.BTF')), 'MAPS_BTF', /no BTF/);
  // An undecodable instruction.
  const d = b.slice();
  d[text + 8 * 3] = 0xff;
  throwsElf(() => loadObject(d), 'ELF_DECODE', /load functions/);
});

/** Rename a section so the loader no longer sees it. */
function stripSection(bytes: Uint8Array, name: string): Uint8Array {
  const c = bytes.slice();
  const dv = new DataView(c.buffer);
  const shoff = Number(dv.getBigUint64(40, true)), shstrndx = dv.getUint16(62, true);
  const strOff = Number(dv.getBigUint64(shoff + shstrndx * 64 + 24, true));
  const n = dv.getUint16(60, true);
  for (let i = 0; i < n; i++) {
    const nameOff = dv.getUint32(shoff + i * 64, true);
    const s = new TextDecoder().decode(c.subarray(strOff + nameOff, strOff + nameOff + name.length + 1));
    if (s === name + '\0') c[strOff + nameOff + 1] = 'X'.charCodeAt(0);
  }
  return c;
}

test('CO-RE: against the object\'s own BTF every relocation is the identity', () => {
  const spec = load('examples/core_access.o');
  const p = spec.programs[0]!;
  assert.equal(p.coreRelos.length, 21);
  for (const r of p.coreRelos) assert.equal(r.local, r.target, `${r.kind} ${r.access}`);
  const raw = readFileSync(path('examples/core_access.objdump.txt'), 'utf8');
  assert.ok(raw.includes('r6 = *(u64 *)(r6 + 8)'));
  const kinds = new Set(p.coreRelos.map((r) => r.kind));
  for (const k of ['field_byte_offset', 'field_byte_size', 'field_exists', 'field_signed', 'field_lshift_u64', 'field_rshift_u64',
    'type_size', 'type_exists', 'enumval_exists', 'enumval_value', 'type_id_local']) assert.ok(kinds.has(k as never), k);
});

test('CO-RE: against another layout the instructions are patched to the target', () => {
  const target = readBtf(read('test/fixtures/elf/core_target.o'));
  const spec = loadObject(read('examples/core_access.o'), { targetBtf: target });
  const p = spec.programs[0]!;
  const got = p.coreRelos.map((r) => `${r.kind} ${r.access} ${r.local}->${r.target}`);
  for (const want of [
    'field_byte_offset 0:2 6->12', // dport
    'field_byte_offset 0:3:0 8->40', // stats.bytes, now a __u32 in a 4-aligned stats
    'field_byte_size 0:5 12->20', // name
    'field_exists 0:4 1->0', // state is gone
    'field_byte_offset 0:3:2 16->36', // stats.level storage unit (4 bytes now)
    'field_byte_size 0:3:2 8->4',
    'field_lshift_u64 0:3:2 56->56',
    'field_rshift_u64 0:3:1 61->61',
    'type_size 0 40->48',
    'enumval_value 2 7->3',
  ]) assert.ok(got.includes(want), `${want} in\n${got.join('\n')}`);
  const idx = slotIndices(p.insns);
  const at = (slot: number) => p.insns[idx.indexOf(slot)]!;
  const ldx = p.coreRelos.find((r) => r.access === '0:3:0')!;
  assert.equal(at(ldx.slot).off, 40);
  assert.equal(at(ldx.slot).op.name, 'ldxw', 'the u64 load of a field that is u32 in the target shrinks');
  const size = p.coreRelos.find((r) => r.kind === 'type_size')!;
  assert.equal(at(size.slot).imm, 48);
  // Unsatisfiable: a target without struct conn_info.
  throwsElf(() => loadObject(read('examples/core_access.o'), { targetBtf: readBtf(read('examples/tc_mark.o')) }),
    'CORE_RELO', /apply CO-RE relocations: CO-RE relocation field_byte_offset on struct conn_info.dport access '0:2': type 'conn_info' not found|no matching field/);
});

test('CO-RE against the running kernel: task_struct fields, its size, an enum value, a missing field', { skip: !existsVmlinux() && 'no /sys/kernel/btf/vmlinux' }, () => {
  const vmlinux = readBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
  const task = vmlinux.find('task_struct', 'struct')!;
  const off = (name: string) => task.members.find((m) => m.name === name)!.bitOffset / 8;
  const p = loadObject(read('test/fixtures/elf/core_kernel.o'), { targetBtf: vmlinux }).programs[0]!;
  const got = new Map(p.coreRelos.map((r) => [`${r.kind} ${r.typeName} ${r.access}`, r.target]));
  assert.equal(got.get('field_byte_offset struct task_struct 0:0'), BigInt(off('pid')));
  assert.equal(got.get('field_byte_offset struct task_struct 0:1'), BigInt(off('tgid')));
  assert.equal(got.get('field_byte_offset struct task_struct 0:2'), BigInt(off('comm')));
  assert.equal(got.get('field_byte_offset struct task_struct 0:3'), BigInt(off('real_parent')));
  assert.equal(got.get('type_size struct task_struct 0'), BigInt(task.size));
  assert.equal(got.get('enumval_value enum pid_type 1'), 1n);
  assert.equal(got.get('field_exists struct task_struct___gone 0:0'), 0n);
});

test('CO-RE against the running kernel\'s BTF: a local type it lacks is an error, not a silent patch', { skip: !existsVmlinux() && 'no /sys/kernel/btf/vmlinux' }, () => {
  const vmlinux = readBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
  throwsElf(() => loadObject(read('examples/core_access.o'), { targetBtf: vmlinux }), 'CORE_RELO', /conn_info/);
});

function existsVmlinux(): boolean {
  try { readFileSync('/sys/kernel/btf/vmlinux', { flag: 'r' }).subarray(0, 1); return true; } catch { return false; }
}

test('string literals: .rodata.str1.1 is a read-only data map addressed with offsets', () => {
  const spec = load('test/fixtures/elf/strings.o');
  const m = spec.map('.rodata.str1.1')!;
  assert.deepEqual([m.readonly, m.flags, m.btfValueTypeId], [true, BPF_F_RDONLY_PROG, 0]);
  assert.equal(new TextDecoder().decode(m.data!), 'long packet %u\n\0short\n\0');
  assert.deepEqual(spec.programs[0]!.mapRefs.map((r) => [r.slot, r.kind, r.offset]), [[3, 'map_value', 0], [8, 'map_value', 16]]);
  assert.equal(spec.variables.size, 0);
});

test('externs: .kconfig map laid out like libbpf, kfunc calls and kernel variables', () => {
  const spec = loadObject(read('test/fixtures/elf/externs.o'), { kconfig: { LINUX_KERNEL_VERSION: 0x060c00, CONFIG_BPF_SYSCALL: true } });
  const kc = spec.map('.kconfig')!;
  assert.deepEqual([kc.valueSize, kc.readonly, kc.flags], [9, true, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE]);
  const v = (n: string) => spec.variables.get(n)!;
  assert.deepEqual(['CONFIG_HZ', 'LINUX_KERNEL_VERSION', 'CONFIG_BPF_SYSCALL'].map((n) => [v(n).offset, v(n).size]), [[0, 4], [4, 4], [8, 1]]);
  assert.equal(v('LINUX_KERNEL_VERSION').value(), 0x060c00);
  assert.equal(v('CONFIG_BPF_SYSCALL').value(), true);
  v('CONFIG_HZ').set(250);
  assert.deepEqual([...kc.data!.subarray(0, 4)], [250, 0, 0, 0]);
  const p = spec.programs[0]!;
  assert.deepEqual(p.mapRefs.map((r) => [r.map, r.offset]), [['.kconfig', 4], ['.kconfig', 8], ['.kconfig', 0]]);
  assert.deepEqual(p.externRefs.map((r) => [r.name, r.kind, r.btfId]), [['bpf_task_acquire', 'kfunc', 0], ['bpf_task_release', 'kfunc', 0]]);
  const idx = slotIndices(p.insns);
  for (const r of p.externRefs) {
    const x = p.insns[idx.indexOf(r.slot)]!;
    assert.deepEqual([x.op.kind, x.src, x.imm], ['kfunc_call', 2, 0]);
  }
  throwsElf(() => loadObject(read('test/fixtures/elf/externs.o'), { kconfig: { CONFIG_NOPE: 1 } }), 'ELF_EXTERN', /CONFIG_NOPE/);
  throwsElf(() => loadObject(read('test/fixtures/elf/externs.o'), { kconfig: { CONFIG_BPF_SYSCALL: 256 } }), 'ELF_EXTERN', /does not fit 1 bytes/);
  const ks = loadObject(read('test/fixtures/elf/ksym_var.o')).programs[0]!;
  assert.deepEqual(ks.externRefs, [{ slot: 0, name: 'bpf_prog_active', kind: 'ksym', btfId: 0 }]);
  assert.equal(ks.insns[0]!.src, 3, 'BPF_PSEUDO_BTF_ID');
  const back = ObjectSpec.fromJSON(JSON.stringify(spec));
  assert.equal(back.variables.get('CONFIG_HZ')!.value(), 250);
});

test('externs resolved against the running kernel\'s BTF', { skip: !existsVmlinux() && 'no /sys/kernel/btf/vmlinux' }, () => {
  const vmlinux = readBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
  const p = loadObject(read('test/fixtures/elf/externs.o'), { targetBtf: vmlinux }).programs[0]!;
  for (const r of p.externRefs) {
    assert.ok(r.btfId > 0);
    assert.deepEqual([vmlinux.type(r.btfId).kind, vmlinux.type(r.btfId).name], ['func', r.name]);
  }
  const ks = loadObject(read('test/fixtures/elf/ksym_var.o'), { targetBtf: vmlinux }).programs[0]!;
  assert.equal(vmlinux.type(ks.externRefs[0]!.btfId).name, 'bpf_prog_active');
  assert.equal(ks.insns[0]!.imm, ks.externRefs[0]!.btfId);
});

test('annotate: source lines, function labels, map/subprogram/kfunc names', () => {
  const text = annotate(load('examples/loop_callback.o').programs[0]!);
  for (const want of [
    'sum_loop:', '; bpf_loop(16, add_index, &c, 0); @ loop_callback.c:30', '   7: r2 = &add_index ll',
    '  11: call bpf_loop#181', 'add_index:', 'add_square:',
  ]) assert.ok(text.split('\n').includes(want), `${want}\n${text}`);
  const fw = annotate(load('examples/xdp_firewall.o').programs[0]!);
  assert.ok(fw.includes('  24: r1 = map[fw_rules] ll\n  26: call bpf_map_lookup_elem#1\n'), fw);
  assert.ok(fw.includes('r1 = map[.rodata][0]+4 ll'));
  assert.match(fw, /call account\n/);
  const ex = annotate(load('test/fixtures/elf/externs.o').programs[0]!);
  assert.match(ex, /call bpf_task_acquire#0\n/);
  // Without line info: instructions only.
  const sf = annotate(load('examples/socket_filter.o').programs[0]!);
  assert.ok(!sf.includes(';') && sf.startsWith('count_protocols:\n   0: r6 = r1\n'), sf);
});

test('a static function in a program section is a subprogram, with a warning', () => {
  const spec = load('test/fixtures/elf/static_prog.o');
  assert.deepEqual(spec.programs.map((p) => p.name), ['visible']);
  assert.deepEqual(spec.programs[0]!.funcs.map((f) => [f.name, f.slot]), [['visible', 0], ['hidden', 6], ['twice', 9]]);
  assert.match(spec.warnings[0]!, /static function 'hidden'/);
});
