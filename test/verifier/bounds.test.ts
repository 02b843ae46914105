// Soundness of the scalar domain (tnum + u64/s64/u32/s32 ranges) with random
// concrete values: build an abstract state around a concrete x, apply a
// transfer function, and check that the concrete result is still admitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Scalar, scalarAlu, scalarNeg, scalarEndian, scalarSext, branchTaken, refine, U64_MAX,
} from '../../src/verifier/bounds.js';
import type { AluOp, JmpOp } from '../../src/isa/table.js';

let seed = 0x2545f491;
function rnd32(): number {
  // xorshift32
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
}
const rnd = (n: number): number => rnd32() % n;
const rnd64 = (): bigint => (BigInt(rnd32()) << 32n) | BigInt(rnd32());

const SPECIAL = [0n, 1n, 2n, 7n, 8n, 0xffn, 0x100n, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, U64_MAX, U64_MAX - 1n, U64_MAX - 0xffn, 0xffffffff80000000n];

/** A value biased towards the interesting corners. */
function value(): bigint {
  switch (rnd(6)) {
    case 0: return SPECIAL[rnd(SPECIAL.length)]!;
    case 1: return BigInt(rnd(64));
    case 2: return BigInt.asUintN(64, -BigInt(rnd(64)));
    case 3: return (SPECIAL[rnd(SPECIAL.length)]! + BigInt(rnd(5)) - 2n) & U64_MAX;
    case 4: return BigInt(rnd32());
    default: return rnd64();
  }
}

/** Random slack below/above a point, clamped. */
function below(x: bigint, lo: bigint): bigint {
  const k = rnd(4);
  const d = k === 0 ? 0n : k === 1 ? BigInt(rnd(16)) : k === 2 ? BigInt(rnd32()) : rnd64();
  return x - d < lo ? lo : x - d;
}
function above(x: bigint, hi: bigint): bigint {
  const k = rnd(4);
  const d = k === 0 ? 0n : k === 1 ? BigInt(rnd(16)) : k === 2 ? BigInt(rnd32()) : rnd64();
  return x + d > hi ? hi : x + d;
}

/** A random abstract state that admits x. */
function around(x: bigint): Scalar {
  const s = Scalar.unknown();
  switch (rnd(5)) {
    case 0: return Scalar.const(x);
    case 1: return s;
    default: break;
  }
  const u = x;
  const sx = BigInt.asIntN(64, x);
  const lo = Number(x & 0xffffffffn);
  const slo = lo | 0;
  if (rnd(2)) { s.umin = below(u, 0n); s.umax = above(u, U64_MAX); }
  if (rnd(2)) { s.smin = below(sx, -(1n << 63n)); s.smax = above(sx, (1n << 63n) - 1n); }
  if (rnd(3) === 0) { s.u32min = Number(below(BigInt(lo), 0n)); s.u32max = Number(above(BigInt(lo), 0xffffffffn)); }
  if (rnd(3) === 0) { s.s32min = Number(below(BigInt(slo), -0x80000000n)); s.s32max = Number(above(BigInt(slo), 0x7fffffffn)); }
  if (rnd(2)) {
    const mask = rnd(2) ? rnd64() : (1n << BigInt(rnd(64))) - 1n;
    s.var_ = { value: x & ~mask & U64_MAX, mask: mask & U64_MAX };
  }
  assert.ok(s.containsValue(x), 'test generator');
  s.sync();
  if (!s.containsValue(x)) assert.fail(`sync dropped ${x}: ${s}`);
  return s;
}

const M64 = U64_MAX;
const M32 = 0xffffffffn;
const sx64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const sx32 = (x: bigint): bigint => BigInt.asIntN(32, x);

/** RFC 9669 semantics of dst OP src at the given width; result zero-extended to 64 bits. */
function concrete(op: AluOp | 'mov', x: bigint, y: bigint, is64: boolean): bigint {
  const m = is64 ? M64 : M32;
  const w = is64 ? 64 : 32;
  const a = x & m;
  const b = y & m;
  const sa = is64 ? sx64(a) : sx32(a);
  const sb = is64 ? sx64(b) : sx32(b);
  const sh = BigInt(Number(b) & (w - 1));
  let r: bigint;
  switch (op) {
    case 'mov': r = b; break;
    case 'add': r = a + b; break;
    case 'sub': r = a - b; break;
    case 'mul': r = a * b; break;
    case 'div': r = b === 0n ? 0n : a / b; break;
    case 'sdiv': r = sb === 0n ? 0n : sa / sb; break;
    case 'mod': r = b === 0n ? a : a % b; break;
    case 'smod': r = sb === 0n ? a : sa % sb; break;
    case 'or': r = a | b; break;
    case 'and': r = a & b; break;
    case 'xor': r = a ^ b; break;
    case 'lsh': r = a << sh; break;
    case 'rsh': r = a >> sh; break;
    case 'arsh': r = sa >> sh; break;
  }
  return r & m;
}

function cond(op: JmpOp, x: bigint, y: bigint, is64: boolean): boolean {
  const m = is64 ? M64 : M32;
  const a = x & m; const b = y & m;
  const sa = is64 ? sx64(a) : sx32(a);
  const sb = is64 ? sx64(b) : sx32(b);
  switch (op) {
    case 'jeq': return a === b;
    case 'jne': return a !== b;
    case 'jgt': return a > b;
    case 'jge': return a >= b;
    case 'jlt': return a < b;
    case 'jle': return a <= b;
    case 'jset': return (a & b) !== 0n;
    case 'jsgt': return sa > sb;
    case 'jsge': return sa >= sb;
    case 'jslt': return sa < sb;
    case 'jsle': return sa <= sb;
  }
}

const ALU: Array<AluOp | 'mov'> = ['mov', 'add', 'sub', 'mul', 'div', 'sdiv', 'mod', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh'];
const JMP: JmpOp[] = ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jset', 'jsgt', 'jsge', 'jslt', 'jsle'];
const N = 4000;

test('sync keeps every admitted value (random states)', () => {
  for (let i = 0; i < 5 * N; i++) around(value());
});

test('ALU transfer functions are sound for every op, 64- and 32-bit', () => {
  for (const op of ALU) {
    for (const is64 of [true, false]) {
      for (let i = 0; i < N; i++) {
        const x = value();
        const y = op === 'lsh' || op === 'rsh' || op === 'arsh' ? (rnd(4) ? BigInt(rnd(is64 ? 64 : 32)) : value()) : value();
        const a = around(x);
        const b = around(y);
        const r = scalarAlu(op, a, b, is64);
        const z = concrete(op, x, y, is64);
        if (!r.containsValue(z)) assert.fail(`${op}${is64 ? '' : '32'} ${x} ${y} = ${z} not in ${r}\n a=${a}\n b=${b}`);
        // Inputs are not modified.
        assert.ok(a.containsValue(x) && b.containsValue(y));
      }
    }
  }
});

test('ALU on constants is exact (where the kernel tracks it)', () => {
  for (const op of ['mov', 'add', 'sub', 'mul', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh'] as const) {
    for (const is64 of [true, false]) {
      for (let i = 0; i < 500; i++) {
        const x = value();
        const y = op.endsWith('sh') ? BigInt(rnd(is64 ? 64 : 32)) : value();
        const r = scalarAlu(op, Scalar.const(x), Scalar.const(y), is64);
        assert.ok(r.isConst(), `${op} of constants is not constant: ${r}`);
        assert.equal(r.value, concrete(op, x, y, is64));
      }
    }
  }
});

test('neg, byte swaps and sign extension are sound', () => {
  const bswap = (x: bigint, n: number): bigint => {
    let r = 0n;
    for (let i = 0; i < n; i++) r |= ((x >> BigInt(8 * i)) & 0xffn) << BigInt(8 * (n - 1 - i));
    return r;
  };
  for (let i = 0; i < N; i++) {
    const x = value();
    const a = around(x);
    for (const is64 of [true, false]) {
      const m = is64 ? M64 : M32;
      assert.ok(scalarNeg(a, is64).containsValue((-x) & m), `neg ${x}`);
    }
    for (const size of [2, 4, 8]) {
      const lo = x & ((1n << BigInt(size * 8)) - 1n);
      assert.ok(scalarEndian(a, 'le', size).containsValue(lo), `le${size * 8} ${x}`);
      assert.ok(scalarEndian(a, 'be', size).containsValue(bswap(lo, size)), `be${size * 8} ${x}`);
      assert.ok(scalarEndian(a, 'bswap', size).containsValue(bswap(lo, size)), `bswap${size * 8} ${x}`);
    }
    for (const bytes of [1, 2, 4] as const) {
      const e = BigInt.asIntN(bytes * 8, x);
      const r = scalarSext(a, bytes, true);
      if (!r.containsValue(e & M64)) assert.fail(`movsx${bytes * 8} ${x} = ${e} not in ${r}\n a=${a}`);
      if (bytes < 4) assert.ok(scalarSext(a, bytes, false).containsValue(e & M32), `movsx${bytes * 8}32 ${x}`);
    }
  }
});

test('branch decisions and refinements are sound for every jcond, both edges, 64- and 32-bit', () => {
  let refinedTrue = 0; let decided = 0;
  for (const op of JMP) {
    for (const is64 of [true, false]) {
      for (let i = 0; i < N; i++) {
        let x = value();
        let y = rnd(3) === 0 ? x + BigInt(rnd(3)) - 1n & M64 : value();
        if (rnd(4) === 0) [x, y] = [y, x];
        const a = around(x);
        const b = rnd(3) === 0 ? Scalar.const(y) : around(y);
        const c = cond(op, x, y, is64);
        const t = branchTaken(op, a, b, is64);
        if (t !== -1) { decided++; assert.equal(t === 1, c, `${op} decided wrongly for ${x}, ${y}\n a=${a}\n b=${b}`); }
        const a2 = a.clone(); const b2 = b.clone();
        const ok = refine(op, a2, b2, is64, c);
        if (!ok) assert.fail(`${op}${is64 ? '' : '32'} edge ${c} declared dead for ${x}, ${y}\n a=${a}\n b=${b}`);
        if (!a2.containsValue(x) || !b2.containsValue(y)) {
          assert.fail(`${op}${is64 ? '' : '32'} edge ${c} refined away ${x}, ${y}:\n a=${a} -> ${a2}\n b=${b} -> ${b2}`);
        }
        if (c && !a2.equals(a)) refinedTrue++;
      }
    }
  }
  // The refinements must actually do something.
  assert.ok(refinedTrue > 1000 && decided > 1000, `refined ${refinedTrue}, decided ${decided}`);
});

test('refinement examples: ranges, constants and 32-bit views', () => {
  // r in [0, 255]; if r > 10: r in [11, 255]; else [0, 10].
  const r = Scalar.urange(0n, 255n);
  const t = r.clone(); refine('jgt', t, Scalar.const(10n), true, true);
  assert.equal(t.umin, 11n); assert.equal(t.umax, 255n);
  const f = r.clone(); refine('jgt', f, Scalar.const(10n), true, false);
  assert.equal(f.umin, 0n); assert.equal(f.umax, 10n);
  // Register-register: a < b with b in [0, 100] gives a <= 99.
  const a = Scalar.unknown(); const b = Scalar.urange(0n, 100n);
  refine('jlt', a, b, true, true);
  assert.equal(a.umax, 99n); assert.equal(b.umin, 1n);
  // jeq to a constant makes it constant; jne excludes an end.
  const e = Scalar.urange(0n, 9n); refine('jeq', e, Scalar.const(4n), true, true);
  assert.ok(e.isConst() && e.value === 4n);
  const n = Scalar.urange(0n, 9n); refine('jne', n, Scalar.const(0n), true, true);
  assert.equal(n.umin, 1n);
  // Signed: x s< 0 on [0, 2^64) yields the negative half.
  const s = Scalar.unknown(); refine('jslt', s, Scalar.const(0n), true, true);
  assert.equal(s.smax, -1n); assert.equal(s.umin, 1n << 63n);
  // 32-bit compare bounds the low half; with the upper half zero, the whole value.
  const w = Scalar.urange(0n, 0xffffffffn); refine('jlt', w, Scalar.const(16n), false, true);
  assert.equal(w.umax, 15n);
  // jset false clears the tested bits.
  const j = Scalar.urange(0n, 255n); refine('jset', j, Scalar.const(1n), true, false);
  assert.equal(j.var_.mask & 1n, 0n); assert.equal(j.var_.value & 1n, 0n);
  // An impossible edge is dead.
  assert.equal(refine('jgt', Scalar.urange(0n, 5n), Scalar.const(10n), true, true), false);
});

test('transfer examples match the kernel log on the same instructions', () => {
  // r2 = *(u32 *)(r1 + 0); r2 &= 255  ->  smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff)
  const r2 = scalarAlu('and', Scalar.urange(0n, 0xffffffffn), Scalar.const(255n), true);
  assert.equal(r2.umax, 255n); assert.equal(r2.smin, 0n); assert.equal(r2.s32max, 255);
  assert.deepEqual(r2.var_, { value: 0n, mask: 0xffn });
  // r2 <<= 32 of an unknown u32 -> smax=0x7fffffff00000000,umax=0xffffffff00000000, var_off=(0x0; 0xffffffff00000000)
  const sh = scalarAlu('lsh', Scalar.urange(0n, 0xffffffffn), Scalar.const(32n), true);
  assert.equal(sh.umax, 0xffffffff00000000n);
  assert.equal(sh.smax, 0x7fffffff00000000n);
  assert.equal(sh.u32max, 0);
  // r2 s>>= 32 -> smin=0xffffffff80000000,smax=0x7fffffff
  const back = scalarAlu('arsh', sh, Scalar.const(32n), true);
  assert.equal(back.smin, -0x80000000n); assert.equal(back.smax, 0x7fffffffn);
  // div and mod: the kernel tracks nothing.
  assert.ok(scalarAlu('div', Scalar.urange(0n, 255n), Scalar.const(3n), true).isUnknown());
});
