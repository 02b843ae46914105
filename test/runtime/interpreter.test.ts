// The reference interpreter, instruction class by instruction class, with
// the corner cases of RFC 9669 / Linux, plus a differential check of every
// ALU and jump operation against an independent BigInt model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { type Instruction, insn } from '../../src/isa/instruction.js';
import { BY_NAME, type OpSpec } from '../../src/isa/table.js';
import { runRaw } from '../../src/runtime/raw.js';
import { HelperRegistry } from '../../src/runtime/helpers.js';

const U64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const hex = (v: bigint): string => '0x' + v.toString(16);

function op(name: string, srcReg?: boolean): OpSpec {
  const l = BY_NAME.get(name);
  assert.ok(l, `no op ${name}`);
  const s = srcReg === undefined ? l[0]! : l.find((x) => x.srcReg === srcReg);
  assert.ok(s, `no ${srcReg ? 'X' : 'K'} form of ${name}`);
  return s;
}

/** lddw dst, v (full 64-bit). */
function lddw(dst: number, v: bigint): Instruction {
  const u = u64(v);
  return insn(op('lddw'), { dst, imm: Number(BigInt.asIntN(32, u & 0xffffffffn)), imm2: Number(BigInt.asIntN(32, u >> 32n)) });
}

function run(src: string | Instruction[], mem?: Uint8Array): bigint {
  const insns = typeof src === 'string' ? assemble(src) : src;
  return runRaw(insns, { mem }).r0;
}

// ---- an independent model of ALU and jumps (BigInt, straight from RFC 9669) ----

const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

function modelAlu(name: string, is64: boolean, a: bigint, b: bigint): bigint {
  if (is64) {
    switch (name) {
      case 'add': return u64(a + b);
      case 'sub': return u64(a - b);
      case 'mul': return u64(a * b);
      case 'div': return b === 0n ? 0n : a / b;
      case 'mod': return b === 0n ? a : a % b;
      case 'sdiv': return b === 0n ? 0n : u64(s64(a) / s64(b));
      case 'smod': return b === 0n ? a : u64(s64(a) % s64(b));
      case 'or': return a | b;
      case 'and': return a & b;
      case 'xor': return a ^ b;
      case 'lsh': return u64(a << (b & 63n));
      case 'rsh': return a >> (b & 63n);
      case 'arsh': return u64(s64(a) >> (b & 63n));
    }
  } else {
    const x = u32(a);
    const y = u32(b);
    switch (name) {
      case 'add': return u32(x + y);
      case 'sub': return u32(x - y);
      case 'mul': return u32(x * y);
      case 'div': return y === 0n ? 0n : x / y;
      case 'mod': return y === 0n ? x : x % y;
      case 'sdiv': return y === 0n ? 0n : u32(s32(x) / s32(y));
      case 'smod': return y === 0n ? x : u32(s32(x) % s32(y));
      case 'or': return x | y;
      case 'and': return x & y;
      case 'xor': return x ^ y;
      case 'lsh': return u32(x << (y & 31n));
      case 'rsh': return x >> (y & 31n);
      case 'arsh': return u32(s32(x) >> (y & 31n));
    }
  }
  throw new Error(name);
}

function modelJmp(name: string, is64: boolean, a: bigint, b: bigint): boolean {
  const [x, y, sx, sy] = is64 ? [a, b, s64(a), s64(b)] : [u32(a), u32(b), s32(a), s32(b)];
  switch (name) {
    case 'jeq': return x === y;
    case 'jne': return x !== y;
    case 'jgt': return x > y;
    case 'jge': return x >= y;
    case 'jlt': return x < y;
    case 'jle': return x <= y;
    case 'jset': return (x & y) !== 0n;
    case 'jsgt': return sx > sy;
    case 'jsge': return sx >= sy;
    case 'jslt': return sx < sy;
    case 'jsle': return sx <= sy;
  }
  throw new Error(name);
}

// Deterministic PRNG (xorshift) and interesting 64-bit values.
let seed = 0x2545f491n;
function rnd64(): bigint {
  seed ^= (seed << 13n) & U64;
  seed ^= seed >> 7n;
  seed ^= (seed << 17n) & U64;
  return seed & U64;
}
const EDGES = [0n, 1n, 2n, 3n, 7n, 31n, 32n, 33n, 63n, 64n, 65n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, U64, U64 - 1n,
  u64(-2n), u64(-7n), 0xffffffff00000000n, 0x00000001ffffffffn];
function values(n: number): bigint[] {
  const out = [...EDGES];
  for (let i = 0; i < n; i++) {
    const r = rnd64();
    out.push(r, r & 0xffffffffn, u64(s64(BigInt.asIntN(32, r))), r >> BigInt(Number(r & 63n)));
  }
  return out;
}

const ALU_NAMES = ['add', 'sub', 'mul', 'div', 'mod', 'sdiv', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh'];

test('ALU: every operation, 32 and 64 bit, register and immediate forms, agrees with the BigInt model', () => {
  const vals = values(12);
  let checked = 0;
  for (const name of ALU_NAMES) {
    for (const is64 of [true, false]) {
      const mn = is64 ? name : name + '32';
      // Batch many pairs into one program: r0 |= (result != expected) per pair via a jump to fail.
      for (const srcReg of [true, false]) {
        const prog: Instruction[] = [];
        const expected: bigint[] = [];
        for (let i = 0; i < vals.length; i += 1) {
          const a = vals[i]!;
          const b = srcReg ? vals[(i * 7 + 3) % vals.length]! : u64(BigInt(Number(BigInt.asIntN(32, vals[(i * 5 + 1) % vals.length]!))));
          const bImm = Number(BigInt.asIntN(32, b));
          const want = modelAlu(name, is64, a, is64 || srcReg ? b : u64(BigInt(bImm)));
          expected.push(want);
          prog.length = 0;
          prog.push(lddw(0, a));
          if (srcReg) {
            prog.push(lddw(1, b));
            prog.push(insn(op(mn, true), { dst: 0, src: 1 }));
          } else {
            prog.push(insn(op(mn, false), { dst: 0, imm: bImm }));
          }
          prog.push(insn(op('exit')));
          const got = runRaw(prog).r0;
          assert.equal(hex(got), hex(want), `${mn} ${srcReg ? 'X' : 'K'}: ${hex(a)} op ${hex(b)}`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 1000);
});

test('jumps: every condition, 32 and 64 bit, both forms, agrees with the BigInt model', () => {
  const vals = values(6);
  for (const name of ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jset', 'jsgt', 'jsge', 'jslt', 'jsle']) {
    for (const is64 of [true, false]) {
      for (const srcReg of [true, false]) {
        for (let i = 0; i < vals.length; i++) {
          const a = vals[i]!;
          const raw = vals[(i * 11 + 5) % vals.length]!;
          const imm = Number(BigInt.asIntN(32, raw));
          const b = srcReg ? raw : u64(BigInt(imm)); // K: imm sign-extended to 64 bits
          const jop = insn(op(is64 ? name : name + '32', srcReg), { dst: 1, src: srcReg ? 2 : 0, imm: srcReg ? 0 : imm, off: 2 });
          const prog = [lddw(1, a), lddw(2, raw), jop, insn(op('mov', false), { dst: 0, imm: 0 }), insn(op('exit')),
            insn(op('mov', false), { dst: 0, imm: 1 }), insn(op('exit'))];
          const got = runRaw(prog).r0 === 1n;
          assert.equal(got, modelJmp(name, is64, a, b), `${name}${is64 ? '' : '32'} ${srcReg ? 'X' : 'K'} ${hex(a)}, ${hex(b)}`);
        }
      }
    }
  }
});

test('division and modulo by zero: div -> 0, mod -> dst unchanged (32-bit forms zero-extend)', () => {
  const base = 'lddw %r0, 0xffffffff00000005\nmov %r1, 0\n';
  assert.equal(run(base + 'div %r0, %r1\nexit'), 0n);
  assert.equal(run(base + 'div32 %r0, %r1\nexit'), 0n);
  assert.equal(run(base + 'mod %r0, %r1\nexit'), 0xffffffff00000005n);
  assert.equal(run(base + 'mod32 %r0, %r1\nexit'), 5n);
  assert.equal(run(base + 'sdiv %r0, %r1\nexit'), 0n);
  assert.equal(run(base + 'smod %r0, %r1\nexit'), 0xffffffff00000005n);
  assert.equal(run(base + 'smod32 %r0, %r1\nexit'), 5n);
  assert.equal(run(base + 'div %r0, 0\nexit'), 0n);
  assert.equal(run(base + 'mod32 %r0, 0\nexit'), 5n);
});

test('signed division overflow: INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0', () => {
  assert.equal(run('lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit'), 0x8000000000000000n);
  assert.equal(run('lddw %r0, 0x8000000000000000\nsmod %r0, -1\nexit'), 0n);
  assert.equal(run('mov32 %r0, 0x80000000\nsdiv32 %r0, -1\nexit'), 0x80000000n);
  assert.equal(run('mov32 %r0, 0x80000000\nsmod32 %r0, -1\nexit'), 0n);
  assert.equal(run('mov %r0, -7\nsdiv %r0, 2\nexit'), u64(-3n));
  assert.equal(run('mov %r0, -7\nsmod %r0, 2\nexit'), u64(-1n));
  assert.equal(run('mov %r0, 7\nsmod %r0, -2\nexit'), 1n);
  // 64-bit int32-range fast path: INT32_MIN / -1 is +2^31 in 64 bits
  assert.equal(run('mov %r0, 0x80000000\nlsh %r0, 32\narsh %r0, 32\nsdiv %r0, -1\nexit'), 0x80000000n);
});

test('shift amounts are masked to 31 / 63', () => {
  assert.equal(run('mov %r0, 1\nlsh %r0, 65\nexit'), 2n);
  assert.equal(run('mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit'), 2n);
  assert.equal(run('mov32 %r0, 1\nmov %r1, 33\nlsh32 %r0, %r1\nexit'), 2n);
  assert.equal(run('mov %r0, -1\nmov %r1, 63\narsh %r0, %r1\nexit'), U64);
  assert.equal(run('mov32 %r0, 0x80000000\nmov %r1, 31\narsh32 %r0, %r1\nexit'), 0xffffffffn);
  assert.equal(run('mov %r0, -1\nrsh %r0, 64\nexit'), U64); // 64 & 63 = 0
});

test('ALU32 zero-extends into 64 bits; mov32 and neg32 too', () => {
  assert.equal(run('mov %r0, -1\nadd32 %r0, 1\nexit'), 0n);
  assert.equal(run('mov %r0, -1\nmov32 %r0, %r0\nexit'), 0xffffffffn);
  assert.equal(run('mov %r0, 1\nneg32 %r0\nexit'), 0xffffffffn);
  assert.equal(run('mov %r0, 1\nneg %r0\nexit'), U64);
  assert.equal(run('mov %r0, 0\nneg %r0\nexit'), 0n);
  assert.equal(run('mov32 %r0, -1\nexit'), 0xffffffffn);
  assert.equal(run('mov %r0, -1\nexit'), U64); // mov64 imm sign-extends
});

test('movsx sign-extends 8/16/32 bits into 64 and 8/16 into 32', () => {
  assert.equal(run('mov %r1, 0x180\nmovsx864 %r0, %r1\nexit'), u64(-128n));
  assert.equal(run('mov %r1, 0x18000\nmovsx1664 %r0, %r1\nexit'), u64(-32768n));
  assert.equal(run('lddw %r1, 0x180000000\nmovsx3264 %r0, %r1\nexit'), u64(-2147483648n));
  assert.equal(run('mov %r1, 0x80\nmovsx832 %r0, %r1\nexit'), 0xffffff80n);
  assert.equal(run('mov %r1, 0x8000\nmovsx1632 %r0, %r1\nexit'), 0xffff8000n);
  assert.equal(run('mov %r1, 0x7f\nmovsx864 %r0, %r1\nexit'), 0x7fn);
});

test('byte order: le truncates, be and bswap swap', () => {
  const v = 'lddw %r0, 0x0102030405060708\n';
  assert.equal(run(v + 'le16 %r0\nexit'), 0x0708n);
  assert.equal(run(v + 'le32 %r0\nexit'), 0x05060708n);
  assert.equal(run(v + 'le64 %r0\nexit'), 0x0102030405060708n);
  assert.equal(run(v + 'be16 %r0\nexit'), 0x0807n);
  assert.equal(run(v + 'be32 %r0\nexit'), 0x08070605n);
  assert.equal(run(v + 'be64 %r0\nexit'), 0x0807060504030201n);
  assert.equal(run(v + 'bswap16 %r0\nexit'), 0x0807n);
  assert.equal(run(v + 'bswap32 %r0\nexit'), 0x08070605n);
  assert.equal(run(v + 'bswap64 %r0\nexit'), 0x0807060504030201n);
});

test('lddw loads the full 64-bit immediate', () => {
  assert.equal(run('lddw %r0, 0x8000000000000001\nexit'), 0x8000000000000001n);
  assert.equal(run([lddw(3, 0xdeadbeefcafebaben), insn(op('mov', true), { dst: 0, src: 3 }), insn(op('exit'))]), 0xdeadbeefcafebaben);
});

test('loads, sign-extending loads and stores of every size, little-endian', () => {
  const mem = Uint8Array.from([0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88]);
  assert.equal(run('ldxb %r0, [%r1]\nexit', mem), 0x81n);
  assert.equal(run('ldxh %r0, [%r1]\nexit', mem), 0x8281n);
  assert.equal(run('ldxw %r0, [%r1]\nexit', mem), 0x84838281n);
  assert.equal(run('ldxdw %r0, [%r1]\nexit', mem), 0x8887868584838281n);
  assert.equal(run('ldxsb %r0, [%r1]\nexit', mem), u64(BigInt.asIntN(8, 0x81n)));
  assert.equal(run('ldxsh %r0, [%r1]\nexit', mem), u64(BigInt.asIntN(16, 0x8281n)));
  assert.equal(run('ldxsw %r0, [%r1]\nexit', mem), u64(BigInt.asIntN(32, 0x84838281n)));
  const r = runRaw(assemble('stb [%r1+0], 0x11\nsth [%r1+2], 0x2233\nstw [%r1+4], -1\nmov %r0, 0\nexit'), { mem: new Uint8Array(8) });
  assert.deepEqual([...r.mem], [0x11, 0, 0x33, 0x22, 0xff, 0xff, 0xff, 0xff]);
  const r2 = runRaw(assemble('stdw [%r1+0], -2\nlddw %r2, 0x0102030405060708\nstxdw [%r1+8], %r2\nstxw [%r1+16], %r2\nstxh [%r1+20], %r2\nstxb [%r1+22], %r2\nmov %r0, 0\nexit'), { mem: new Uint8Array(24) });
  assert.deepEqual([...r2.mem.subarray(0, 8)], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]); // stdw sign-extends imm
  assert.deepEqual([...r2.mem.subarray(8, 24)], [8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 8, 7, 8, 0]);
  // the stack: write below R10, read back
  assert.equal(run('mov %r1, 0x1234\nstxh [%r10-2], %r1\nldxh %r0, [%r10-2]\nexit'), 0x1234n);
});

test('atomics, 64-bit: add/or/and/xor, fetch forms return the old value, xchg, cmpxchg compares with R0', () => {
  const pre = 'lddw %r2, 0x00000000f0f0f0f0\nstxdw [%r10-8], %r2\nlddw %r1, 0x100000000f0f0f0f\n';
  const mem = (s: string) => run(pre + s + '\nldxdw %r0, [%r10-8]\nexit');
  assert.equal(mem('lock add [%r10-8], %r1'), 0x00000000f0f0f0f0n + 0x100000000f0f0f0fn);
  assert.equal(mem('lock or [%r10-8], %r1'), 0x10000000ffffffffn);
  assert.equal(mem('lock and [%r10-8], %r1'), 0n);
  assert.equal(mem('lock xor [%r10-8], %r1'), 0x10000000ffffffffn);
  for (const [f, want] of [['fetch add', 0x100000000f0f0f0fn + 0xf0f0f0f0n], ['fetch or', 0x10000000ffffffffn], ['fetch and', 0n], ['fetch xor', 0x10000000ffffffffn]] as const) {
    assert.equal(mem(`lock ${f} [%r10-8], %r1`), want, f);
    assert.equal(run(pre + `lock ${f} [%r10-8], %r1\nmov %r0, %r1\nexit`), 0xf0f0f0f0n, `${f} returns old`);
  }
  assert.equal(mem('lock xchg [%r10-8], %r1'), 0x100000000f0f0f0fn);
  assert.equal(run(pre + 'lock xchg [%r10-8], %r1\nmov %r0, %r1\nexit'), 0xf0f0f0f0n);
  // cmpxchg: equal -> store; R0 = old either way
  assert.equal(mem('mov %r0, %r2\nlock cmpxchg [%r10-8], %r1'), 0x100000000f0f0f0fn);
  assert.equal(mem('mov %r0, 1\nlock cmpxchg [%r10-8], %r1'), 0xf0f0f0f0n);
  assert.equal(run(pre + 'mov %r0, 1\nlock cmpxchg [%r10-8], %r1\nexit'), 0xf0f0f0f0n);
});

test('atomics, 32-bit: operate on the low word, fetch/xchg/cmpxchg zero-extend the old value', () => {
  const pre = 'lddw %r2, 0x11111111f0f0f0f0\nstxdw [%r10-8], %r2\nlddw %r1, 0xffffffff0f0f0f0f\n';
  const mem = (s: string) => run(pre + s + '\nldxdw %r0, [%r10-8]\nexit');
  assert.equal(mem('lock add32 [%r10-8], %r1'), 0x11111111ffffffffn);
  assert.equal(mem('lock or32 [%r10-8], %r1'), 0x11111111ffffffffn);
  assert.equal(mem('lock and32 [%r10-8], %r1'), 0x1111111100000000n);
  assert.equal(mem('lock xor32 [%r10-8], %r1'), 0x11111111ffffffffn);
  assert.equal(run(pre + 'lock fetch add32 [%r10-8], %r1\nmov %r0, %r1\nexit'), 0xf0f0f0f0n);
  assert.equal(run(pre + 'lock xchg32 [%r10-8], %r1\nmov %r0, %r1\nexit'), 0xf0f0f0f0n);
  assert.equal(mem('lock xchg32 [%r10-8], %r1'), 0x111111110f0f0f0fn);
  // cmpxchg32 compares the low 32 bits of R0 only
  assert.equal(mem('lddw %r0, 0xabcdef00f0f0f0f0\nlock cmpxchg32 [%r10-8], %r1'), 0x111111110f0f0f0fn);
  assert.equal(run(pre + 'lddw %r0, 0xabcdef00f0f0f0f0\nlock cmpxchg32 [%r10-8], %r1\nexit'), 0xf0f0f0f0n);
  assert.equal(mem('mov %r0, 0\nlock cmpxchg32 [%r10-8], %r1'), 0x11111111f0f0f0f0n);
});

test('LD_ABS / LD_IND read the packet in network byte order; out of range ends the program with R0 = 0', () => {
  const pkt = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a]);
  const ldabs = (size: 'b' | 'h' | 'w', imm: number): Instruction => insn(op('ldabs' + size), { imm });
  const ldind = (size: 'b' | 'h' | 'w', src: number, imm: number): Instruction => insn(op('ldind' + size), { src, imm });
  const exit = insn(op('exit'));
  const set99 = insn(op('mov', false), { dst: 0, imm: 99 });
  assert.equal(runRaw([ldabs('b', 1), exit], { mem: pkt }).r0, 0x34n);
  assert.equal(runRaw([ldabs('h', 1), exit], { mem: pkt }).r0, 0x3456n);
  assert.equal(runRaw([ldabs('w', 1), exit], { mem: pkt }).r0, 0x3456789an);
  assert.equal(runRaw([insn(op('mov', false), { dst: 3, imm: 2 }), ldind('h', 3, 1), exit], { mem: pkt }).r0, 0x789an);
  const r = runRaw([ldabs('w', 2), set99, exit], { mem: pkt });
  assert.equal(r.r0, 0n, 'out of range: R0 = 0');
  assert.equal(r.insnCount, 1, 'and the program ends at once');
  assert.equal(runRaw([insn(op('mov', false), { dst: 3, imm: -1 }), ldind('b', 3, 0), set99, exit], { mem: pkt }).r0, 0n);
});

test('ja and gotol (ja32 with a 32-bit immediate offset)', () => {
  // (the skipped instructions are unreachable: validation would refuse them)
  assert.equal(runRaw(assemble('mov %r0, 1\nja +1\nmov %r0, 2\nexit'), { validate: false }).r0, 1n);
  const prog = [insn(op('mov', false), { dst: 0, imm: 1 }), insn(op('ja32'), { imm: 1 }), insn(op('mov', false), { dst: 0, imm: 2 }), insn(op('exit'))];
  assert.equal(runRaw(prog, { validate: false }).r0, 1n);
  const back = assemble('mov %r0, 0\nja32 fwd\nback:\nexit\nfwd:\nmov %r0, 3\nja32 back');
  assert.equal(runRaw(back).r0, 3n);
});

test('helper calls go through the registry with R1-R5 as unsigned bigints; R0 gets the result', () => {
  const seen: bigint[] = [];
  const helpers = new HelperRegistry([{ id: 77, name: 'test', impl: (a, b, c, d, e) => { seen.push(a, b, c, d, e); return -5; } }]);
  const r = runRaw(assemble('mov %r1, -1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 77\nexit'), { helpers });
  assert.equal(r.r0, u64(-5n));
  assert.deepEqual(seen, [U64, 2n, 3n, 4n, 5n]);
});

test('bpf-to-bpf calls: fresh 512-byte frame, R6-R9 restored on return, caller stack intact', () => {
  const src = `
    mov %r6, 6
    mov %r7, 7
    mov %r8, 8
    mov %r9, 9
    stdw [%r10-8], 0x55
    mov %r1, %r10
    call local f
    ldxdw %r2, [%r10-8]
    jne %r2, 0x55, bad
    jne %r6, 6, bad
    jne %r9, 9, bad
    exit
  bad:
    mov %r0, -1
    exit
  f:
    stdw [%r10-8], 0x66
    mov %r6, 0
    mov %r9, 0
    mov %r0, %r1
    sub %r0, %r10
    exit`;
  assert.equal(run(src), 512n, 'callee R10 is 512 bytes below the caller R10');
});

test('callx: a helper id in a register (uBPF convention), imm-register form, and lddw src=4 function addresses', () => {
  const helpers = new HelperRegistry([{ id: 9, name: 'nine', impl: () => 9 }]);
  assert.equal(runRaw(assemble('mov %r2, 9\ncallx %r2\nexit'), { helpers }).r0, 9n);
  const callxImm = insn(op('callx'), { dst: 0, imm: 2 }); // LLVM < 19 put the register in imm
  assert.equal(runRaw([insn(op('mov', false), { dst: 2, imm: 9 }), callxImm, insn(op('exit'))], { helpers }).r0, 9n);
  // lddw r3, <function at slot 5>; callx r3
  const prog = [
    insn(op('lddw'), { dst: 3, src: 4, imm: 3 }),        // slots 0-1; target = slot 0 + imm 3 + 1 = slot 4
    insn(op('callx'), { dst: 3 }),                         // slot 2
    insn(op('exit')),                                      // slot 3
    insn(op('mov', false), { dst: 0, imm: 42 }),           // slot 4
    insn(op('exit')),                                      // slot 5
  ];
  assert.equal(runRaw(prog).r0, 42n);
});

test('32-bit jumps compare only the low words', () => {
  assert.equal(run('lddw %r1, 0x100000005\nmov %r0, 0\njeq32 %r1, 5, +1\nexit\nmov %r0, 1\nexit'), 1n);
  assert.equal(run('lddw %r1, 0x100000005\nmov %r0, 0\njeq %r1, 5, +1\nexit\nmov %r0, 1\nexit'), 0n);
});

test('a loop runs and counts executed instructions', () => {
  const r = runRaw(assemble('mov %r0, 0\nmov %r1, 10\nl:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, l\nexit'));
  assert.equal(r.r0, 55n);
  assert.equal(r.insnCount, 2 + 3 * 10 + 1);
});
