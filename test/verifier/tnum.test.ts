// Soundness of the tnum operators, checked exhaustively at small widths:
// for every pair of tnums (a, b) and every concrete x in a, y in b, the
// concrete result is a member of op(a, b). Binary operators are exhaustive at
// 6 bits (531,441 tnum pairs, 16.7M concrete pairs each) and sampled at 8 bits;
// unary operators (shifts, casts, ranges) are exhaustive at 8 bits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/verifier/tnum.js';
import type { Tnum } from '../../src/verifier/tnum.js';

/** Every tnum of the given width. */
function allTnums(bits: number): Tnum[] {
  const out: Tnum[] = [];
  const n = 3 ** bits;
  for (let i = 0; i < n; i++) {
    let v = 0; let m = 0; let k = i;
    for (let b = 0; b < bits; b++) {
      const t = k % 3; k = (k - t) / 3;
      if (t === 1) v |= 1 << b; else if (t === 2) m |= 1 << b;
    }
    out.push({ value: BigInt(v), mask: BigInt(m) });
  }
  return out;
}

/** Concrete members of a small tnum, as numbers. */
function members(a: Tnum): number[] {
  const v = Number(a.value); const m = Number(a.mask);
  const out: number[] = [];
  // Enumerate subsets of the mask bits.
  let sub = 0;
  for (;;) {
    out.push(v | sub);
    if (sub === m) break;
    sub = (sub - m) & m;
  }
  return out;
}

const contains = (rv: number, rm: number, x: number): boolean => (x & ~rm) === rv;

type BinOp = (a: Tnum, b: Tnum, bits: number) => Tnum;
const BIN: Array<[string, BinOp, (x: number, y: number, mask: number) => number]> = [
  ['add', (a, b, w) => T.tnumAdd(a, b, w), (x, y, m) => (x + y) & m],
  ['sub', (a, b, w) => T.tnumSub(a, b, w), (x, y, m) => (x - y) & m],
  ['mul', (a, b, w) => T.tnumMul(a, b, w), (x, y, m) => Math.imul(x, y) & m],
  ['and', (a, b) => T.tnumAnd(a, b), (x, y) => x & y],
  ['or', (a, b) => T.tnumOr(a, b), (x, y) => x | y],
  ['xor', (a, b) => T.tnumXor(a, b), (x, y) => x ^ y],
];

function checkBinary(bits: number, pairs: Iterable<[Tnum, Tnum]>, optimalFor: Set<string>): void {
  const mask = (1 << bits) - 1;
  const memo = new Map<Tnum, number[]>();
  const mem = (t: Tnum): number[] => {
    let r = memo.get(t);
    if (!r) { r = members(t); memo.set(t, r); }
    return r;
  };
  for (const [a, b] of pairs) {
    const xs = mem(a); const ys = mem(b);
    for (const [name, f, c] of BIN) {
      const r = f(a, b, bits);
      const rv = Number(r.value); const rm = Number(r.mask);
      assert.equal(rv & rm, 0, `${name}: value and mask overlap`);
      assert.ok(rv <= mask && rm <= mask, `${name}: result wider than ${bits} bits`);
      let union = -1; let seenV = 0;
      for (const x of xs) {
        for (const y of ys) {
          const z = c(x, y, mask);
          if (!contains(rv, rm, z)) {
            assert.fail(`${name}(${T.tnumBits(a, bits)}, ${T.tnumBits(b, bits)}) = ${T.tnumBits(r, bits)} misses ${x} ${name} ${y} = ${z}`);
          }
          if (union < 0) { union = 0; seenV = z; } else union |= z ^ seenV;
        }
      }
      if (optimalFor.has(name)) {
        // The smallest tnum containing every result: unknown where results differ.
        assert.equal(rm, union, `${name}(${T.tnumBits(a, bits)}, ${T.tnumBits(b, bits)}) is not optimal`);
      }
    }
  }
}

test('binary tnum operators are sound, exhaustively at 6 bits (and, or, xor also optimal)', () => {
  const all = allTnums(6);
  function* pairs(): Generator<[Tnum, Tnum]> {
    for (const a of all) for (const b of all) yield [a, b];
  }
  checkBinary(6, pairs(), new Set(['and', 'or', 'xor']));
});

test('binary tnum operators are sound on 100,000 random pairs at 8 bits', () => {
  const all = allTnums(8);
  let seed = 12345;
  const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 8; };
  function* pairs(): Generator<[Tnum, Tnum]> {
    for (let i = 0; i < 100_000; i++) yield [all[rnd() % all.length]!, all[rnd() % all.length]!];
  }
  checkBinary(8, pairs(), new Set(['and', 'or', 'xor']));
});

test('shifts are sound and exact, exhaustively at 8 bits', () => {
  for (const a of allTnums(8)) {
    const xs = members(a);
    for (let k = 0; k < 8; k++) {
      const l = T.tnumLshift(a, k, 8);
      const r = T.tnumRshift(a, k);
      const s = T.tnumArshift(a, k, 8);
      for (const x of xs) {
        assert.ok(contains(Number(l.value), Number(l.mask), (x << k) & 0xff), `lsh ${T.tnumBits(a, 8)} ${k}`);
        assert.ok(contains(Number(r.value), Number(r.mask), x >>> k), `rsh ${T.tnumBits(a, 8)} ${k}`);
        const sx = ((x << 24) >> 24) >> k;
        assert.ok(contains(Number(s.value), Number(s.mask), sx & 0xff), `arsh ${T.tnumBits(a, 8)} ${k}`);
      }
      // Shifting moves bits: the number of unknown bits never grows.
      assert.ok(popcount(l.mask) <= popcount(a.mask) && popcount(r.mask) <= popcount(a.mask));
    }
  }
});

test('range is sound and the smallest tnum of its form, exhaustively at 8 bits', () => {
  for (let lo = 0; lo < 256; lo++) {
    for (let hi = lo; hi < 256; hi++) {
      const r = T.tnumRange(BigInt(lo), BigInt(hi), 8);
      const rv = Number(r.value); const rm = Number(r.mask);
      for (let x = lo; x <= hi; x++) assert.ok(contains(rv, rm, x), `range(${lo}, ${hi}) misses ${x}`);
      // The mask is a run of low bits no longer than the highest differing bit.
      assert.equal(rm & (rm + 1), 0);
      assert.ok(rm <= 2 * ((lo ^ hi) | 0) + 1 || (lo === hi && rm === 0));
    }
  }
});

test('intersect, union, in, cast and bswap at 6 bits', () => {
  const all = allTnums(6);
  for (const a of all) {
    const xa = new Set(members(a));
    for (const b of all) {
      const xb = members(b);
      const both = xb.filter((x) => xa.has(x));
      const i = T.tnumIntersect(a, b);
      for (const x of both) assert.ok(T.tnumContains(i, BigInt(x)), 'intersect drops a common value');
      const u = T.tnumUnion(a, b);
      for (const x of [...xa, ...xb]) assert.ok(T.tnumContains(u, BigInt(x)), 'union drops a value');
      const isSub = xb.every((x) => xa.has(x));
      assert.equal(T.tnumIn(a, b), isSub, `in(${T.tnumBits(a, 6)}, ${T.tnumBits(b, 6)})`);
    }
  }
  const c = T.tnumCast({ value: 0x1234n, mask: 0xff00ff00n }, 2);
  assert.deepEqual(c, { value: 0x1234n & 0xffffn, mask: 0xff00n });
  const s = T.tnumBswap({ value: 0x12n, mask: 0xff00n }, 4);
  assert.deepEqual(s, { value: 0x12000000n, mask: 0x00ff0000n });
});

test('64-bit corners: add/sub/mul wrap, arsh keeps the sign, subreg helpers', () => {
  const max = T.U64;
  assert.deepEqual(T.tnumAdd(T.tnumConst(max), T.tnumConst(1n)), T.tnumConst(0n));
  assert.deepEqual(T.tnumSub(T.tnumConst(0n), T.tnumConst(1n)), T.tnumConst(max));
  assert.deepEqual(T.tnumMul(T.tnumConst(1n << 63n), T.tnumConst(2n)), T.tnumConst(0n));
  assert.deepEqual(T.tnumArshift(T.tnumConst(1n << 63n), 63), T.tnumConst(max));
  const x = { value: 0x100000000n, mask: 0xffn };
  assert.deepEqual(T.tnumSubreg(x), { value: 0n, mask: 0xffn });
  assert.deepEqual(T.tnumClearSubreg(x), { value: 0x100000000n, mask: 0n });
  assert.deepEqual(T.tnumConstSubreg(x, 7n), { value: 0x100000007n, mask: 0n });
  assert.equal(T.tnumFormat({ value: 0x10n, mask: 0xffn << 8n }), '(0x10; 0xff00)');
  assert.ok(T.tnumIsAligned({ value: 8n, mask: 0xf0n }, 8));
  assert.ok(!T.tnumIsAligned({ value: 8n, mask: 0xf4n }, 8));
});

function popcount(x: bigint): number {
  let n = 0;
  for (; x; x &= x - 1n) n++;
  return n;
}
