// Tristate numbers ("tnums"): a 64-bit value where each bit is known 0,
// known 1 or unknown. `value` holds the known-1 bits, `mask` the unknown
// bits; a bit set in both is not allowed (value & mask === 0).
//
// Operators follow "Sound, Precise, and Fast Abstract Interpretation with
// Tristate Numbers" (Vishwanathan, Shachnai, Narayana, Nagarakatte; CGO 2022)
// and the kernel's Documentation/bpf/verifier.rst. Every operator is sound:
// for concrete x in a and y in b, op(x, y) is in op(a, b). The property tests
// in test/verifier/tnum.test.ts check this exhaustively at 8-bit width.
//
// Values are unsigned 64-bit bigints. Functions take an optional width (in
// bits, default 64) so the same code is exercised at 8 bits by the tests.

export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

export const U64 = (1n << 64n) - 1n;
export const U32 = 0xffffffffn;

function wmask(bits: number): bigint {
  return bits === 64 ? U64 : (1n << BigInt(bits)) - 1n;
}

export function tnum(value: bigint, mask: bigint): Tnum {
  return { value, mask };
}

export const TNUM_UNKNOWN: Tnum = { value: 0n, mask: U64 };
export const TNUM_ZERO: Tnum = { value: 0n, mask: 0n };

export function tnumConst(v: bigint, bits = 64): Tnum {
  return { value: v & wmask(bits), mask: 0n };
}

export function tnumUnknown(bits = 64): Tnum {
  return { value: 0n, mask: wmask(bits) };
}

/** Bit length of x (position of the highest set bit, 1-based; 0 for 0). */
function fls(x: bigint): number {
  if (x === 0n) return 0;
  if (x > 0xffffffffffffffffn) return x.toString(2).length;
  const hi = Number(x >> 32n);
  if (hi) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(Number(x));
}

/** The smallest tnum containing every value of [min, max] (unsigned). */
export function tnumRange(min: bigint, max: bigint, bits = 64): Tnum {
  const chi = min ^ max;
  const n = fls(chi);
  if (n >= bits) return tnumUnknown(bits);
  const delta = (1n << BigInt(n)) - 1n;
  return { value: min & ~delta & wmask(bits), mask: delta };
}

export function tnumLshift(a: Tnum, shift: number, bits = 64): Tnum {
  const m = wmask(bits);
  const s = BigInt(shift);
  return { value: (a.value << s) & m, mask: (a.mask << s) & m };
}

export function tnumRshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift);
  return { value: a.value >> s, mask: a.mask >> s };
}

/** Arithmetic right shift of a `bits`-wide tnum (the sign bit is replicated, known or not). */
export function tnumArshift(a: Tnum, shift: number, bits = 64): Tnum {
  const m = wmask(bits);
  const s = BigInt(shift);
  const sv = BigInt.asIntN(bits, a.value) >> s;
  const sm = BigInt.asIntN(bits, a.mask) >> s;
  return { value: sv & m, mask: sm & m };
}

export function tnumAdd(a: Tnum, b: Tnum, bits = 64): Tnum {
  const m = wmask(bits);
  const sm = a.mask + b.mask;
  const sv = a.value + b.value;
  const sigma = sm + sv;
  const chi = sigma ^ sv;
  const mu = (chi | a.mask | b.mask) & m;
  return { value: sv & ~mu & m, mask: mu };
}

export function tnumSub(a: Tnum, b: Tnum, bits = 64): Tnum {
  const m = wmask(bits);
  const dv = a.value - b.value;
  const alpha = dv + a.mask;
  const beta = dv - b.mask;
  const chi = (alpha ^ beta) & m;
  const mu = chi | a.mask | b.mask;
  return { value: dv & ~mu & m, mask: mu };
}

export function tnumNeg(a: Tnum, bits = 64): Tnum {
  return tnumSub(TNUM_ZERO, a, bits);
}

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return { value: v, mask: alpha & beta & ~v };
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return { value: v, mask: mu & ~v };
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return { value: v & ~mu, mask: mu };
}

/**
 * Multiplication ("our_mul" of the tnum paper): walk the bits of `a`; a
 * known-1 bit adds the unknown part of the shifted `b`, an unknown bit adds
 * all of the shifted `b` as unknown; the known product is added at the end.
 */
export function tnumMul(a: Tnum, b: Tnum, bits = 64): Tnum {
  const m = wmask(bits);
  const accV = (a.value * b.value) & m;
  let accM: Tnum = TNUM_ZERO;
  let x = a;
  let y = b;
  while (x.value !== 0n || x.mask !== 0n) {
    if (x.value & 1n) accM = tnumAdd(accM, { value: 0n, mask: y.mask }, bits);
    else if (x.mask & 1n) accM = tnumAdd(accM, { value: 0n, mask: y.value | y.mask }, bits);
    x = tnumRshift(x, 1);
    y = tnumLshift(y, 1, bits);
  }
  return tnumAdd({ value: accV, mask: 0n }, accM, bits);
}

/** Values in both a and b (a ∩ b); only meaningful when they overlap. */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return { value: v & ~mu, mask: mu };
}

/** The smallest tnum containing every value of a and of b. */
export function tnumUnion(a: Tnum, b: Tnum): Tnum {
  const mu = a.mask | b.mask | (a.value ^ b.value);
  return { value: a.value & ~mu, mask: mu };
}

/** Truncate to the low `size` bytes. */
export function tnumCast(a: Tnum, size: number): Tnum {
  const m = size >= 8 ? U64 : (1n << BigInt(size * 8)) - 1n;
  return { value: a.value & m, mask: a.mask & m };
}

export function tnumIsConst(a: Tnum): boolean {
  return a.mask === 0n;
}

export function tnumEqualsConst(a: Tnum, v: bigint): boolean {
  return a.mask === 0n && a.value === v;
}

export function tnumIsUnknown(a: Tnum, bits = 64): boolean {
  return a.mask === wmask(bits);
}

/** Every value of b is a value of a (b ⊆ a). */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask) return false;
  return a.value === (b.value & ~a.mask);
}

/** A concrete value is a member of a. */
export function tnumContains(a: Tnum, x: bigint): boolean {
  return (x & ~a.mask) === a.value;
}

export function tnumEq(a: Tnum, b: Tnum): boolean {
  return a.value === b.value && a.mask === b.mask;
}

/** Every value is a multiple of `size` (a power of two). */
export function tnumIsAligned(a: Tnum, size: number): boolean {
  if (!size) return true;
  return ((a.value | a.mask) & BigInt(size - 1)) === 0n;
}

export function tnumMin(a: Tnum): bigint {
  return a.value;
}

export function tnumMax(a: Tnum): bigint {
  return a.value | a.mask;
}

/** Low 32 bits. */
export function tnumSubreg(a: Tnum): Tnum {
  return tnumCast(a, 4);
}

/** High 32 bits kept, low 32 bits zeroed. */
export function tnumClearSubreg(a: Tnum): Tnum {
  return { value: a.value & ~U32 & U64, mask: a.mask & ~U32 & U64 };
}

/** High 32 bits of a, low 32 bits of sub. */
export function tnumWithSubreg(a: Tnum, sub: Tnum): Tnum {
  return tnumOr(tnumClearSubreg(a), tnumSubreg(sub));
}

/** High 32 bits of a, low 32 bits the constant v. */
export function tnumConstSubreg(a: Tnum, v: bigint): Tnum {
  return tnumWithSubreg(a, tnumConst(v & U32));
}

/** Reverse the byte order of the low `size` bytes (exact: bytes of value and mask move together). */
export function tnumBswap(a: Tnum, size: number): Tnum {
  let v = 0n;
  let m = 0n;
  for (let i = 0; i < size; i++) {
    const sh = BigInt(i * 8);
    const to = BigInt((size - 1 - i) * 8);
    v |= ((a.value >> sh) & 0xffn) << to;
    m |= ((a.mask >> sh) & 0xffn) << to;
  }
  return { value: v, mask: m };
}

/** `(0x1; 0x2)` style, as the kernel log prints var_off. */
export function tnumFormat(a: Tnum): string {
  return `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
}

/** Bit string: 0, 1 or x per bit, most significant first. */
export function tnumBits(a: Tnum, bits = 64): string {
  let s = '';
  for (let i = bits - 1; i >= 0; i--) {
    const b = 1n << BigInt(i);
    s += a.mask & b ? 'x' : a.value & b ? '1' : '0';
  }
  return s;
}
