// BTF: the parser against bpftool's dumps, type names, value rendering,
// .BTF.ext records, and malformed blobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Btf, parseElf, parseBtfExt, loadObject, readBtf, type ElfError } from '../../src/core.js';
import { read, path, objects, has } from './helpers.js';

const rawBtf = (obj: string): Btf => Btf.parse(parseElf(read(obj)).sectionByName('.BTF')!.data);

test('dumpRaw of every object equals `bpftool btf dump file` (committed outputs)', () => {
  let n = 0;
  for (const obj of objects()) {
    const golden = path(obj.replace(/\.o$/, '.btf.txt'));
    if (!parseElf(read(obj)).sectionByName('.BTF')) continue;
    assert.ok(existsSync(golden), `${golden} exists (run examples/build.sh)`);
    assert.equal(rawBtf(obj).dumpRaw(), readFileSync(golden, 'utf8'), obj);
    n++;
  }
  assert.ok(n >= 8, `${n} objects compared`);
});

test('committed tool outputs are up to date with the committed objects', { skip: !has('llvm-objdump') && 'llvm-objdump not installed' }, () => {
  for (const obj of objects()) {
    const dir = path(obj.replace(/[^/]+$/, ''));
    const name = obj.split('/').pop()!;
    const now = execFileSync('llvm-objdump', ['-dr', name], { cwd: dir, encoding: 'utf8' }).split('\n').slice(2).join('\n');
    assert.equal(now, readFileSync(path(obj.replace(/\.o$/, '.objdump.txt')), 'utf8'), `${obj}: objdump output (rerun examples/build.sh)`);
    if (has('bpftool') && existsSync(path(obj.replace(/\.o$/, '.btf.txt')))) {
      const b = execFileSync('bpftool', ['btf', 'dump', 'file', path(obj)], { encoding: 'utf8' });
      assert.equal(b, readFileSync(path(obj.replace(/\.o$/, '.btf.txt')), 'utf8'), `${obj}: bpftool output`);
    }
  }
});

test('the running kernel\'s vmlinux BTF parses, every kind, and dumps exactly like bpftool',
  { skip: (!existsSync('/sys/kernel/btf/vmlinux') && 'no /sys/kernel/btf/vmlinux') || (!has('bpftool') && 'bpftool not installed') }, () => {
    const raw = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
    const t0 = performance.now();
    const btf = readBtf(raw);
    const ms = performance.now() - t0;
    assert.ok(btf.types.length > 10000, `${btf.types.length} types`);
    const kinds = new Set(btf.types.map((t) => t.kind));
    for (const k of ['int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const', 'func', 'func_proto', 'var', 'datasec']) {
      assert.ok(kinds.has(k as never), `vmlinux has ${k}`);
    }
    const want = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const got = btf.dumpRaw();
    if (got !== want) {
      const a = got.split('\n'), b = want.split('\n');
      const i = a.findIndex((l, k) => l !== b[k]);
      assert.fail(`first difference at line ${i + 1}:\n ours:    ${a[i]}\n bpftool: ${b[i]}`);
    }
    const task = btf.find('task_struct', 'struct')!;
    assert.ok(task.size > 1000);
    assert.equal(btf.formatType(btf.find('list_head', 'struct')!.members[0]!.type), 'struct list_head *');
    console.log(`# vmlinux: ${btf.types.length} types parsed in ${ms.toFixed(0)} ms`);
  });

test('formatType writes C declarators', () => {
  const btf = rawBtf('examples/global_data.o');
  const byName = (n: string) => btf.types.find((t) => t.name === n)!;
  const varType = (n: string) => (byName(n) as { type: number }).type;
  assert.equal(btf.formatType(varType('cfg_port')), 'const volatile __u32');
  assert.equal(btf.formatType(varType('cfg_name')), 'const volatile char[8]');
  assert.equal(btf.formatType(varType('histogram')), '__u32[8]');
  assert.equal(btf.formatType(byName('classify').id), '__u32 classify(__u32)'.replace('__u32 classify', 'int classify'));
  assert.equal(btf.formatType(byName('__sk_buff').id), 'struct __sk_buff');
  const fw = rawBtf('examples/xdp_firewall.o');
  const maps = fw.find('.maps', 'datasec')!;
  const rules = fw.type(maps.vars[0]!.type) as { type: number; name: string };
  assert.equal(rules.name, 'fw_rules');
  const def = fw.resolve(rules.type) as unknown as { members: { name: string; type: number }[] };
  assert.equal(fw.formatType(def.members.find((m) => m.name === 'type')!.type), 'int (*)[11]');
  assert.equal(fw.formatType(def.members.find((m) => m.name === 'key')!.type), 'struct v4_prefix *');
  const proto = fw.types.find((t) => t.kind === 'func_proto' && t.params.length === 4)!;
  assert.equal(fw.formatType(proto.id), 'void (__u32, __u32, __u16, __u8)');
  assert.match(fw.formatDefinition(fw.find('hit_counter', 'struct')!.id), /struct hit_counter \{ \/\* size 16 \*\/\n\t__u64 packets; \/\* offset 0 \*\/\n\t__u64 bytes; \/\* offset 8 \*\/\n\}/);
});

test('formatValue renders bytes like bpftool map dump: structs, arrays, char[], enums, bitfields', () => {
  const btf = rawBtf('examples/core_access.o');
  const conn = btf.find('conn_info', 'struct')!;
  const b = new Uint8Array(conn.size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 7, true);            // id
  dv.setUint16(4, 1234, true);         // sport
  dv.setUint16(6, 53, true);           // dport
  dv.setBigUint64(8, 1n << 40n, true); // stats.bytes
  b[16] = 0b10101 << 3 | 0b101;        // flags = 5, level = 0b10101 = -11 as s5
  dv.setUint32(24, 7, true);           // state = CONN_CLOSED
  b.set(new TextEncoder().encode('eth0'), 28);
  assert.deepEqual(btf.formatValue(conn.id, b), {
    id: 7, sport: 1234, dport: 53, stats: { bytes: 1n << 40n, flags: 5, level: -11 }, state: 'CONN_CLOSED', name: 'eth0',
  });
  dv.setUint32(24, 99, true);
  assert.equal((btf.formatValue(conn.id, b) as { state: unknown }).state, 99, 'unknown enum value stays a number');
  b[31] = 0xff;
  assert.deepEqual((btf.formatValue(conn.id, b) as { name: unknown }).name, [101, 116, 104, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
    'non-printable char array stays bytes');
  assert.throws(() => btf.formatValue(conn.id, b.subarray(0, 10)), (e: ElfError) => e.name === 'ElfError');
  // A map key through a spec: the firewall's LPM key.
  const spec = loadObject(read('examples/xdp_firewall.o'));
  const key = new Uint8Array([24, 0, 0, 0, 10, 0, 0, 1]);
  assert.deepEqual(spec.btf!.formatValue(spec.map('fw_rules')!.btfKeyTypeId, key), { prefixlen: 24, addr: 16777226 });
});

test('.BTF.ext: func_info, line_info and CO-RE records as written by clang', () => {
  const elf = parseElf(read('examples/global_data.o'));
  const btf = Btf.parse(elf.sectionByName('.BTF')!.data);
  const ext = parseBtfExt(elf.sectionByName('.BTF.ext')!.data, btf);
  assert.deepEqual([...ext.funcInfo.keys()], ['.text', 'socket']);
  assert.deepEqual(ext.funcInfo.get('socket')!.map((f) => [f.insnOff, btf.type(f.typeId).name]), [[0, 'data_user'], [0x130, 'name_user']]);
  assert.deepEqual(ext.funcInfo.get('.text')!.map((f) => btf.type(f.typeId).name), ['classify', 'mix', 'over_limit']);
  const li = ext.lineInfo.get('.text')!;
  assert.equal(li[0]!.insnOff, 0);
  assert.match(li[0]!.fileName, /global_data\.c$/);
  assert.equal(li[0]!.line, '__noinline int classify(__u32 len)');
  assert.equal(ext.coreRelos.size, 0);
  const core = parseElf(read('examples/core_access.o'));
  const cbtf = Btf.parse(core.sectionByName('.BTF')!.data);
  const cext = parseBtfExt(core.sectionByName('.BTF.ext')!.data, cbtf);
  const relos = cext.coreRelos.get('raw_tp/sys_enter')!;
  assert.equal(relos.length, 21);
  assert.deepEqual(relos[0], { insnOff: 0, typeId: 5, access: '0:2', kind: 'field_byte_offset' });
});

test('malformed BTF: typed errors', () => {
  const good = parseElf(read('examples/tc_mark.o')).sectionByName('.BTF')!.data;
  const bad = (f: (b: Uint8Array) => void, code: string): void => {
    const c = good.slice();
    f(c);
    assert.throws(() => Btf.parse(c), (e: ElfError) => e.name === 'ElfError' && e.code === code, code);
  };
  bad((c) => { c[0] = 0; }, 'BTF_MAGIC');
  bad((c) => { c[2] = 2; }, 'BTF_VERSION');
  bad((c) => { c[4] = 8; }, 'BTF_HEADER');
  bad((c) => { new DataView(c.buffer).setUint32(12, 0xffffff, true); }, 'ELF_TRUNCATED');
  // First type's kind -> 31 (unknown).
  bad((c) => { c[24 + 7] = 31; }, 'BTF_KIND');
  // First type refers to a type id beyond the table.
  bad((c) => { new DataView(c.buffer).setUint32(24 + 8, 0xfffff, true); }, 'BTF_TYPE_ID');
  assert.throws(() => Btf.parse(good.subarray(0, 10)), (e: ElfError) => e.code === 'ELF_TRUNCATED');
  assert.throws(() => readBtf(read('examples/socket_filter.o')), (e: ElfError) => e.code === 'BTF_MISSING');
  // A modifier loop is caught, not followed forever.
  const loop = new Uint8Array(24 + 24 + 1);
  const dv = new DataView(loop.buffer);
  dv.setUint16(0, 0xeb9f, true); loop[2] = 1; dv.setUint32(4, 24, true);
  dv.setUint32(8, 0, true); dv.setUint32(12, 24, true); dv.setUint32(16, 24, true); dv.setUint32(20, 1, true);
  dv.setUint32(24 + 4, 9 << 24, true); dv.setUint32(24 + 8, 2, true);      // [1] volatile -> 2
  dv.setUint32(36 + 4, 10 << 24, true); dv.setUint32(36 + 8, 1, true);     // [2] const -> 1
  const lb = Btf.parse(loop);
  assert.throws(() => lb.sizeOf(1), (e: ElfError) => e.code === 'BTF_LOOP');
  assert.match(lb.formatType(1), /\.\.\./);
});

test('every kind clang emits: float, tags, union, bitfields, restrict, fwd, flexible array', () => {
  const spec = loadObject(read('test/fixtures/elf/btf_kinds.o'));
  const btf = spec.btf!;
  const kinds = new Set(btf.types.map((t) => t.kind));
  for (const k of ['float', 'decl_tag', 'type_tag', 'union', 'restrict', 'fwd', 'enum', 'func_proto', 'volatile', 'const']) assert.ok(kinds.has(k as never), k);
  const k = btf.find('kinds', 'struct')!;
  assert.deepEqual(k.members.map((m) => `${btf.formatType(m.type)} ${m.name}${m.bitSize ? `:${m.bitSize}` : ''}@${m.bitOffset}`), [
    'union number n@0', 'enum signed_values e@64', 'unsigned int low:4@96', 'unsigned int mid:12@100', 'unsigned int high:16@112',
    'int (*)(struct kinds *, long) callback@128', 'const volatile char *restrict label@192', 'int * tagged@256',
    'struct opaque * hidden@320', 'long double wide@384', 'unsigned char[0] tail@448',
  ]);
  assert.equal(btf.formatType(btf.find('helper', 'func')!.id), 'int helper(struct kinds *, int)');
  const tags = btf.types.filter((t) => t.kind === 'decl_tag').map((t) => [t.name, btf.type((t as { type: number }).type).name, (t as { componentIdx: number }).componentIdx]);
  assert.deepEqual(tags, [['kinds_struct', 'kinds', -1], ['param_tag', 'helper', 0], ['func_tag', 'helper', -1], ['global_var', 'the_kinds', -1]]);
  const v = spec.variables.get('the_kinds')!;
  const b = new Uint8Array(v.size);
  const dv = new DataView(b.buffer);
  dv.setFloat64(0, 1.5, true);
  dv.setInt32(8, -2, true);
  dv.setUint32(12, 0xabcd << 16 | 0x123 << 4 | 0x9, true);
  dv.setBigUint64(16, 0xffffffff81000000n, true);
  dv.setFloat64(48, -0.25, true);
  v.set(b);
  const got = v.value() as Record<string, unknown>;
  assert.deepEqual(got['n'], { i: 0x3ff8000000000000n, d: 1.5, f: [0, 1.9375] });
  assert.deepEqual([got['e'], got['low'], got['mid'], got['high'], got['callback'], got['wide'], got['tail']],
    ['NEG', 0x9, 0x123, 0xabcd, 0xffffffff81000000n, -0.25, '']);
});
