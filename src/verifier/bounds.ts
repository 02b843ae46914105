// Numeric abstract domain of a scalar register, as Documentation/bpf/verifier.rst
// describes it: a tnum (known bits) plus unsigned and signed ranges of the
// full 64-bit value and of its low 32 bits. The five views constrain each
// other; `sync()` tightens each from the others after every step, soundly
// (it never drops a concrete value that all five admit).
//
// 64-bit bounds are bigints (umin/umax in [0, 2^64), smin/smax in
// [-2^63, 2^63)); 32-bit bounds are plain numbers (u32 in [0, 2^32), s32 in
// [-2^31, 2^31)).

import type { AluOp, JmpOp } from '../isa/table.js';
import * as T from './tnum.js';
import type { Tnum } from './tnum.js';

export const U64_MAX = (1n << 64n) - 1n;
export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const U32_MAX = 0xffffffff;
export const S32_MIN = -0x80000000;
export const S32_MAX = 0x7fffffff;
const U32N = 0xffffffffn;
const HI32 = U64_MAX ^ U32N;

const big = (n: number): bigint => BigInt(n);
const maxB = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const minB = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: number): number => x | 0;
const u32 = (x: number): number => x >>> 0;

/** Unsigned and signed range of one width, as bigints, for the arithmetic helpers. */
interface Ranges {
  umin: bigint; umax: bigint; smin: bigint; smax: bigint;
}

export class Scalar {
  constructor(
    public var_: Tnum,
    public umin: bigint,
    public umax: bigint,
    public smin: bigint,
    public smax: bigint,
    public u32min: number,
    public u32max: number,
    public s32min: number,
    public s32max: number,
  ) {}

  static unknown(): Scalar {
    return new Scalar(T.TNUM_UNKNOWN, 0n, U64_MAX, S64_MIN, S64_MAX, 0, U32_MAX, S32_MIN, S32_MAX);
  }

  /** A known constant (any bigint, taken modulo 2^64). */
  static const(v: bigint): Scalar {
    const u = u64(v);
    const lo = Number(u & U32N);
    return new Scalar(T.tnumConst(u), u, u, s64(u), s64(u), lo, lo, s32(lo), s32(lo));
  }

  /** Unsigned range [lo, hi] (zero-extended loads: [0, 2^(8n) - 1]). */
  static urange(lo: bigint, hi: bigint): Scalar {
    const s = Scalar.unknown();
    s.umin = lo;
    s.umax = hi;
    s.sync();
    return s;
  }

  /** Signed range [lo, hi] (sign-extending loads). */
  static srange(lo: bigint, hi: bigint): Scalar {
    const s = Scalar.unknown();
    s.smin = lo;
    s.smax = hi;
    s.sync();
    return s;
  }

  clone(): Scalar {
    return new Scalar(this.var_, this.umin, this.umax, this.smin, this.smax,
      this.u32min, this.u32max, this.s32min, this.s32max);
  }

  copyFrom(o: Scalar): void {
    this.var_ = o.var_; this.umin = o.umin; this.umax = o.umax; this.smin = o.smin; this.smax = o.smax;
    this.u32min = o.u32min; this.u32max = o.u32max; this.s32min = o.s32min; this.s32max = o.s32max;
  }

  isConst(): boolean {
    return this.var_.mask === 0n;
  }

  /** Value when constant (unsigned 64-bit). */
  get value(): bigint {
    return this.var_.value;
  }

  isConst32(): boolean {
    return (this.var_.mask & U32N) === 0n;
  }

  isUnknown(): boolean {
    return this.var_.mask === U64_MAX && this.umin === 0n && this.umax === U64_MAX &&
      this.smin === S64_MIN && this.smax === S64_MAX && this.u32min === 0 && this.u32max === U32_MAX &&
      this.s32min === S32_MIN && this.s32max === S32_MAX;
  }

  equals(o: Scalar): boolean {
    return this.var_.value === o.var_.value && this.var_.mask === o.var_.mask &&
      this.umin === o.umin && this.umax === o.umax && this.smin === o.smin && this.smax === o.smax &&
      this.u32min === o.u32min && this.u32max === o.u32max && this.s32min === o.s32min && this.s32max === o.s32max;
  }

  /** Every value this admits, `o` admits too... reversed: every value of `o` is admitted by this. */
  includes(o: Scalar): boolean {
    return this.umin <= o.umin && o.umax <= this.umax && this.smin <= o.smin && o.smax <= this.smax &&
      this.u32min <= o.u32min && o.u32max <= this.u32max && this.s32min <= o.s32min && o.s32max <= this.s32max &&
      T.tnumIn(this.var_, o.var_);
  }

  /** The concrete value x (unsigned 64-bit) satisfies every view. */
  containsValue(x: bigint): boolean {
    const u = u64(x);
    const s = s64(u);
    const lo = Number(u & U32N);
    return T.tnumContains(this.var_, u) && this.umin <= u && u <= this.umax && this.smin <= s && s <= this.smax &&
      this.u32min <= lo && lo <= this.u32max && this.s32min <= s32(lo) && s32(lo) <= this.s32max;
  }

  private containsBounds(u: bigint): boolean {
    const s = s64(u);
    const lo = Number(u & U32N);
    return this.umin <= u && u <= this.umax && this.smin <= s && s <= this.smax &&
      this.u32min <= lo && lo <= this.u32max && this.s32min <= (lo | 0) && (lo | 0) <= this.s32max;
  }

  /** No concrete value satisfies every view (a refinement proved a branch dead). */
  isEmpty(): boolean {
    return this.umin > this.umax || this.smin > this.smax || this.u32min > this.u32max || this.s32min > this.s32max ||
      (this.var_.value & this.var_.mask) !== 0n;
  }

  /** Low 32 bits as a tnum. */
  get var32(): Tnum {
    return T.tnumSubreg(this.var_);
  }

  /** Tighten every view from the others (the kernel's reg_bounds_sync). */
  sync(): void {
    const v = this.var_;
    if (v.mask === 0n && this.containsBounds(v.value)) {
      // A constant: every view is that value.
      const u = v.value;
      const lo = Number(u & U32N);
      this.umin = u; this.umax = u; this.smin = s64(u); this.smax = this.smin;
      this.u32min = lo; this.u32max = lo; this.s32min = lo | 0; this.s32max = lo | 0;
      return;
    }
    this.fromTnum();
    this.deduce();
    this.boundOffset();
    this.fromTnum();
    this.deduce();
  }

  private fromTnum(): void {
    const v = this.var_;
    const SIGN = 1n << 63n;
    this.umin = maxB(this.umin, v.value);
    this.umax = minB(this.umax, v.value | v.mask);
    this.smin = maxB(this.smin, s64(v.value | (v.mask & SIGN)));
    this.smax = minB(this.smax, s64(v.value | (v.mask & ~SIGN & U64_MAX)));
    const lv = Number(v.value & U32N);
    const lm = Number(v.mask & U32N);
    this.u32min = Math.max(this.u32min, lv);
    this.u32max = Math.min(this.u32max, u32(lv | lm));
    this.s32min = Math.max(this.s32min, s32(lv | (lm & 0x80000000)));
    this.s32max = Math.min(this.s32max, s32(lv | (lm & 0x7fffffff)));
  }

  private deduce(): void {
    this.deduce32From64();
    this.deduce32();
    this.deduce64();
    this.deduce64From32();
    this.deduce64();
  }

  /** Low-32-bit ranges from 64-bit ranges whose upper halves agree. */
  private deduce32From64(): void {
    // A value inside the s32 range is its own low half, read as signed.
    if (this.smin >= -0x80000000n && this.smax <= 0x7fffffffn) {
      this.s32min = Math.max(this.s32min, Number(this.smin));
      this.s32max = Math.min(this.s32max, Number(this.smax));
    }
    if ((this.umin >> 32n) === (this.umax >> 32n)) {
      const lo = Number(this.umin & U32N);
      const hi = Number(this.umax & U32N);
      this.u32min = Math.max(this.u32min, lo);
      this.u32max = Math.min(this.u32max, hi);
      if (s32(lo) <= s32(hi)) {
        this.s32min = Math.max(this.s32min, s32(lo));
        this.s32max = Math.min(this.s32max, s32(hi));
      }
    }
    if ((this.smin >> 32n) === (this.smax >> 32n)) {
      const lo = Number(this.smin & U32N);
      const hi = Number(this.smax & U32N);
      this.u32min = Math.max(this.u32min, lo);
      this.u32max = Math.min(this.u32max, hi);
      if (s32(lo) <= s32(hi)) {
        this.s32min = Math.max(this.s32min, s32(lo));
        this.s32max = Math.min(this.s32max, s32(hi));
      }
    }
  }

  /** u32 <-> s32. */
  private deduce32(): void {
    // The signed range does not cross the sign boundary: it is an unsigned range too.
    if (u32(this.s32min) <= u32(this.s32max)) {
      this.u32min = Math.max(this.u32min, u32(this.s32min));
      this.u32max = Math.min(this.u32max, u32(this.s32max));
    } else {
      // Signed range [neg, pos]: unsigned values are in [0, pos] or [u(neg), max].
      if (this.u32max < u32(this.s32min)) this.u32max = Math.min(this.u32max, this.s32max);
      if (this.u32min > this.s32max) this.u32min = Math.max(this.u32min, u32(this.s32min));
    }
    if (s32(this.u32min) <= s32(this.u32max)) {
      this.s32min = Math.max(this.s32min, s32(this.u32min));
      this.s32max = Math.min(this.s32max, s32(this.u32max));
    } else {
      // Unsigned range crossing 2^31: signed values in [s(umin), S32_MAX] or [S32_MIN, s(umax)].
      if (this.s32max < s32(this.u32min)) this.s32max = Math.min(this.s32max, s32(this.u32max));
      if (this.s32min > s32(this.u32max)) this.s32min = Math.max(this.s32min, s32(this.u32min));
    }
  }

  /** u64 <-> s64. */
  private deduce64(): void {
    if (u64(this.smin) <= u64(this.smax)) {
      this.umin = maxB(this.umin, u64(this.smin));
      this.umax = minB(this.umax, u64(this.smax));
    } else {
      if (this.umax < u64(this.smin)) this.umax = minB(this.umax, this.smax);
      if (this.umin > this.smax) this.umin = maxB(this.umin, u64(this.smin));
    }
    if (s64(this.umin) <= s64(this.umax)) {
      this.smin = maxB(this.smin, s64(this.umin));
      this.smax = minB(this.smax, s64(this.umax));
    } else {
      if (this.smax < s64(this.umin)) this.smax = minB(this.smax, s64(this.umax));
      if (this.smin > s64(this.umax)) this.smin = maxB(this.smin, s64(this.umin));
    }
  }

  /** 64-bit ranges from the low-32-bit ranges: move each end to the nearest value whose low half fits. */
  private deduce64From32(): void {
    const lo32 = big(this.u32min);
    const hi32 = big(this.u32max);
    // Unsigned.
    {
      const l = this.umin & U32N;
      if (l < lo32) this.umin = (this.umin & HI32) | lo32;
      else if (l > hi32 && (this.umin >> 32n) < 0xffffffffn) this.umin = (((this.umin >> 32n) + 1n) << 32n) | lo32;
      const h = this.umax & U32N;
      if (h > hi32) this.umax = (this.umax & HI32) | hi32;
      else if (h < lo32 && (this.umax >> 32n) > 0n) this.umax = (((this.umax >> 32n) - 1n) << 32n) | hi32;
    }
    // Signed: the same walk over signed 64-bit values (blocks of 2^32 keep their low halves).
    {
      const l = this.smin & U32N;
      const blk = this.smin >> 32n; // floor division
      if (l < lo32) this.smin = (blk << 32n) | lo32;
      else if (l > hi32 && blk < 0x7fffffffn) this.smin = ((blk + 1n) << 32n) | lo32;
      const h = this.smax & U32N;
      const bh = this.smax >> 32n;
      if (h > hi32) this.smax = (bh << 32n) | hi32;
      else if (h < lo32 && bh > -0x80000000n) this.smax = ((bh - 1n) << 32n) | hi32;
    }
    // A 64-bit signed range inside the s32 range is the sign extension of the low half.
    if (this.smin >= -0x80000000n && this.smax <= 0x7fffffffn) {
      this.smin = maxB(this.smin, big(this.s32min));
      this.smax = minB(this.smax, big(this.s32max));
    }
  }

  /** Known bits from the unsigned ranges. */
  private boundOffset(): void {
    const v64 = T.tnumIntersect(this.var_, T.tnumRange(this.umin, this.umax));
    const v32 = T.tnumIntersect(T.tnumSubreg(v64), T.tnumRange(big(this.u32min), big(this.u32max)));
    this.var_ = T.tnumWithSubreg(v64, v32);
  }

  /** After a 32-bit operation: the upper half is zero, the 64-bit view is the 32-bit one. */
  zext32(): void {
    this.var_ = T.tnumSubreg(this.var_);
    this.umin = big(this.u32min);
    this.umax = big(this.u32max);
    this.smin = this.umin;
    this.smax = this.umax;
    this.sync();
  }

  /** Forget everything about the upper 32 bits, keep the low-32-bit views (for 32-bit results before zext). */
  private set64Unknown(): void {
    this.umin = 0n; this.umax = U64_MAX; this.smin = S64_MIN; this.smax = S64_MAX;
  }

  private set32Unknown(): void {
    this.u32min = 0; this.u32max = U32_MAX; this.s32min = S32_MIN; this.s32max = S32_MAX;
  }

  /** 32-bit ranges as bigints. */
  r32(): Ranges {
    return { umin: big(this.u32min), umax: big(this.u32max), smin: big(this.s32min), smax: big(this.s32max) };
  }

  r64(): Ranges {
    return { umin: this.umin, umax: this.umax, smin: this.smin, smax: this.smax };
  }

  set32(r: Ranges): void {
    this.u32min = Number(r.umin); this.u32max = Number(r.umax);
    this.s32min = Number(r.smin); this.s32max = Number(r.smax);
  }

  set64(r: Ranges): void {
    this.umin = r.umin; this.umax = r.umax; this.smin = r.smin; this.smax = r.smax;
  }

  /** Values known 1 in the low bits and unknown elsewhere: "scalar" with the given var_off only. */
  static fromTnum(t: Tnum): Scalar {
    const s = Scalar.unknown();
    s.var_ = t;
    s.sync();
    return s;
  }

  /** The constant, as a signed 64-bit bigint. */
  get svalue(): bigint {
    return s64(this.var_.value);
  }

  /** Drop the two's-complement alias: -x for 64-bit. */
  toString(): string {
    return `scalar(var=${T.tnumFormat(this.var_)} u=[${this.umin},${this.umax}] s=[${this.smin},${this.smax}] ` +
      `u32=[${this.u32min},${this.u32max}] s32=[${this.s32min},${this.s32max}])`;
  }

  // expose for the transfer functions in this module
  /** @internal */ _set64Unknown(): void { this.set64Unknown(); }
  /** @internal */ _set32Unknown(): void { this.set32Unknown(); }
}

// ---- Range arithmetic at width w (32 or 64), on bigints. ----

function full(w: number): Ranges {
  return w === 64 ? { umin: 0n, umax: U64_MAX, smin: S64_MIN, smax: S64_MAX } : { umin: 0n, umax: U32N, smin: -0x80000000n, smax: 0x7fffffffn };
}

/** The concrete result of an operation the kernel tracks exactly on constants. */
function concreteAlu(op: AluOp, a: bigint, b: bigint, is64: boolean): bigint | undefined {
  const m = is64 ? U64_MAX : U32N;
  const w = is64 ? 64 : 32;
  const x = a & m;
  const y = b & m;
  switch (op) {
    case 'add': return (x + y) & m;
    case 'sub': return (x - y) & m;
    case 'mul': return (x * y) & m;
    case 'and': return x & y;
    case 'or': return x | y;
    case 'xor': return x ^ y;
    case 'lsh': return y < BigInt(w) ? (x << y) & m : undefined;
    case 'rsh': return y < BigInt(w) ? x >> y : undefined;
    case 'arsh': return y < BigInt(w) ? BigInt.asUintN(w, BigInt.asIntN(w, x) >> y) : undefined;
    default: return undefined;
  }
}

function addR(a: Ranges, b: Ranges, w: number): Ranges {
  const M = 1n << BigInt(w);
  const H = M >> 1n;
  const f = full(w);
  let umin = a.umin + b.umin;
  let umax = a.umax + b.umax;
  if (umax < M) { /* no wrap */ } else if (umin >= M) { umin -= M; umax -= M; } else { umin = f.umin; umax = f.umax; }
  let smin = a.smin + b.smin;
  let smax = a.smax + b.smax;
  if (smin >= -H && smax < H) { /* no wrap */ } else if (smin >= H) { smin -= M; smax -= M; } else if (smax < -H) {
    smin += M; smax += M;
  } else { smin = f.smin; smax = f.smax; }
  return { umin, umax, smin, smax };
}

function subR(a: Ranges, b: Ranges, w: number): Ranges {
  const M = 1n << BigInt(w);
  const H = M >> 1n;
  const f = full(w);
  let umin = a.umin - b.umax;
  let umax = a.umax - b.umin;
  if (umin >= 0n) { /* no wrap */ } else if (umax < 0n) { umin += M; umax += M; } else { umin = f.umin; umax = f.umax; }
  let smin = a.smin - b.smax;
  let smax = a.smax - b.smin;
  if (smin >= -H && smax < H) { /* no wrap */ } else if (smin >= H) { smin -= M; smax -= M; } else if (smax < -H) {
    smin += M; smax += M;
  } else { smin = f.smin; smax = f.smax; }
  return { umin, umax, smin, smax };
}

function mulR(a: Ranges, b: Ranges, w: number): Ranges {
  const M = 1n << BigInt(w);
  const H = M >> 1n;
  const f = full(w);
  let umin = f.umin;
  let umax = f.umax;
  if (a.umax * b.umax < M) { umin = a.umin * b.umin; umax = a.umax * b.umax; }
  const c = [a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax];
  let smin = c[0]!;
  let smax = c[0]!;
  for (const x of c) { if (x < smin) smin = x; if (x > smax) smax = x; }
  if (smin < -H || smax >= H) { smin = f.smin; smax = f.smax; }
  return { umin, umax, smin, smax };
}

function andR(a: Ranges, b: Ranges, t: Tnum, w: number): Ranges {
  const f = full(w);
  const r: Ranges = { umin: t.value, umax: minB(a.umax, b.umax), smin: f.smin, smax: f.smax };
  // x & y <= y when y >= 0; negative & negative is negative.
  if (a.smin >= 0n || b.smin >= 0n) {
    r.smin = 0n;
    r.smax = a.smin >= 0n && b.smin >= 0n ? minB(a.smax, b.smax) : a.smin >= 0n ? a.smax : b.smax;
  } else if (a.smax < 0n && b.smax < 0n) {
    r.smin = f.smin;
    r.smax = -1n;
  }
  return r;
}

function orR(a: Ranges, b: Ranges, t: Tnum, w: number): Ranges {
  const f = full(w);
  const r: Ranges = { umin: maxB(a.umin, b.umin), umax: t.value | t.mask, smin: f.smin, smax: f.smax };
  if (a.smax < 0n || b.smax < 0n) {
    // Negative | anything is negative and at least the negative operand.
    r.smax = -1n;
    r.smin = a.smax < 0n && b.smax < 0n ? maxB(a.smin, b.smin) : a.smax < 0n ? a.smin : b.smin;
  }
  return r;
}

function xorR(t: Tnum, w: number): Ranges {
  const f = full(w);
  return { umin: t.value, umax: t.value | t.mask, smin: f.smin, smax: f.smax };
}

/** Result of `dst = dst OP src` on scalars (a new Scalar; the inputs are not changed). */
export function scalarAlu(op: AluOp | 'mov', dst: Scalar, src: Scalar, is64: boolean): Scalar {
  if (op !== 'mov' && dst.var_.mask === 0n && src.var_.mask === 0n) {
    const v = concreteAlu(op, dst.var_.value, src.var_.value, is64);
    if (v !== undefined) return Scalar.const(v);
  }
  const r = dst.clone();
  if (op === 'mov') {
    r.copyFrom(src);
    if (!is64) r.zext32();
    return r;
  }
  if (is64) alu64(op, r, dst, src);
  else alu32(op, r, dst, src);
  return r;
}

function alu64(op: AluOp, r: Scalar, a: Scalar, b: Scalar): void {
  const w = 64;
  const A = a.r64();
  const B = b.r64();
  const A32 = a.r32();
  const B32 = b.r32();
  switch (op) {
    case 'add':
      r.var_ = T.tnumAdd(a.var_, b.var_);
      r.set64(addR(A, B, w));
      r.set32(addR(A32, B32, 32));
      break;
    case 'sub':
      r.var_ = T.tnumSub(a.var_, b.var_);
      r.set64(subR(A, B, w));
      r.set32(subR(A32, B32, 32));
      break;
    case 'mul':
      r.var_ = T.tnumMul(a.var_, b.var_);
      r.set64(mulR(A, B, w));
      r.set32(mulR(A32, B32, 32));
      break;
    case 'and':
      r.var_ = T.tnumAnd(a.var_, b.var_);
      r.set64(andR(A, B, r.var_, w));
      r.set32(andR(A32, B32, T.tnumSubreg(r.var_), 32));
      break;
    case 'or':
      r.var_ = T.tnumOr(a.var_, b.var_);
      r.set64(orR(A, B, r.var_, w));
      r.set32(orR(A32, B32, T.tnumSubreg(r.var_), 32));
      break;
    case 'xor':
      r.var_ = T.tnumXor(a.var_, b.var_);
      r.set64(xorR(r.var_, w));
      r.set32(xorR(T.tnumSubreg(r.var_), 32));
      break;
    case 'lsh': case 'rsh': case 'arsh': {
      if (!b.isConst() || b.value >= 64n) { unknownInto(r); return; }
      const k = Number(b.value);
      r._set32Unknown();
      if (op === 'lsh') {
        r.var_ = T.tnumLshift(a.var_, k);
        const f = full(64);
        const R: Ranges = { ...f };
        if ((A.umax >> BigInt(64 - k)) === 0n || k === 0) { R.umin = A.umin << BigInt(k); R.umax = A.umax << BigInt(k); }
        const lim = k === 0 ? S64_MAX + 1n : 1n << BigInt(63 - k);
        if (A.smin >= -lim && A.smax < lim) { R.smin = A.smin << BigInt(k); R.smax = A.smax << BigInt(k); }
        if (k === 32) {
          // (x << 32) read as signed is the low half, sign-extended, times 2^32.
          R.smin = maxB(R.smin, A32.smin << 32n);
          R.smax = minB(R.smax, A32.smax << 32n);
        }
        r.set64(R);
        if (k < 32) {
          const R32 = full(32);
          if ((A32.umax >> BigInt(32 - k)) === 0n || k === 0) { R32.umin = A32.umin << BigInt(k); R32.umax = A32.umax << BigInt(k); }
          r.set32(R32);
        } else {
          r.set32({ umin: 0n, umax: 0n, smin: 0n, smax: 0n });
        }
      } else if (op === 'rsh') {
        r.var_ = T.tnumRshift(a.var_, k);
        const f = full(64);
        r.set64({ umin: A.umin >> BigInt(k), umax: A.umax >> BigInt(k), smin: f.smin, smax: f.smax });
      } else {
        r.var_ = T.tnumArshift(a.var_, k);
        const f = full(64);
        r.set64({ umin: f.umin, umax: f.umax, smin: A.smin >> BigInt(k), smax: A.smax >> BigInt(k) });
      }
      break;
    }
    default:
      // div, sdiv, mod, smod: the kernel tracks nothing for them.
      unknownInto(r);
      return;
  }
  r.sync();
}

function alu32(op: AluOp, r: Scalar, a: Scalar, b: Scalar): void {
  const A = a.r32();
  const B = b.r32();
  const ta = a.var32;
  const tb = b.var32;
  let t: Tnum;
  switch (op) {
    case 'add': t = T.tnumAdd(ta, tb, 32); r.set32(addR(A, B, 32)); break;
    case 'sub': t = T.tnumSub(ta, tb, 32); r.set32(subR(A, B, 32)); break;
    case 'mul': t = T.tnumMul(ta, tb, 32); r.set32(mulR(A, B, 32)); break;
    case 'and': t = T.tnumAnd(ta, tb); r.set32(andR(A, B, t, 32)); break;
    case 'or': t = T.tnumOr(ta, tb); r.set32(orR(A, B, t, 32)); break;
    case 'xor': t = T.tnumXor(ta, tb); r.set32(xorR(t, 32)); break;
    case 'lsh': case 'rsh': case 'arsh': {
      if (!b.isConst32() || (b.value & U32N) >= 32n) { unknownInto(r); r.zext32(); return; }
      const k = Number(b.value & U32N);
      const f = full(32);
      if (op === 'lsh') {
        t = T.tnumLshift(ta, k, 32);
        const R = { ...f };
        if ((A.umax >> BigInt(32 - k)) === 0n || k === 0) { R.umin = A.umin << BigInt(k); R.umax = A.umax << BigInt(k); }
        const lim = k === 0 ? 1n << 31n : 1n << BigInt(31 - k);
        if (A.smin >= -lim && A.smax < lim) { R.smin = A.smin << BigInt(k); R.smax = A.smax << BigInt(k); }
        r.set32(R);
      } else if (op === 'rsh') {
        t = T.tnumRshift(ta, k);
        r.set32({ umin: A.umin >> BigInt(k), umax: A.umax >> BigInt(k), smin: f.smin, smax: f.smax });
      } else {
        t = T.tnumArshift(ta, k, 32);
        r.set32({ umin: f.umin, umax: f.umax, smin: A.smin >> BigInt(k), smax: A.smax >> BigInt(k) });
      }
      break;
    }
    default:
      // div, sdiv, mod, smod: Linux tracks nothing, not even the zero upper half.
      unknownInto(r);
      return;
  }
  r.var_ = t;
  r._set64Unknown();
  // The 64-bit ranges are recomputed from the 32-bit ones by zext32 (which syncs).
  r.zext32();
}

function unknownInto(r: Scalar): void {
  r.copyFrom(Scalar.unknown());
}

/** dst = -dst. */
export function scalarNeg(a: Scalar, is64: boolean): Scalar {
  return scalarAlu('sub', Scalar.const(0n), a, is64);
}

/** Byte swaps: le16/le32 truncate (zero-extend), be/bswap reverse the low bytes. The host is little-endian. */
export function scalarEndian(a: Scalar, kind: 'le' | 'be' | 'bswap', size: number): Scalar {
  if (kind === 'le' && size === 8) return a.clone();
  let t = T.tnumCast(a.var_, size);
  if (kind !== 'le') t = T.tnumBswap(t, size);
  if (kind === 'le') {
    // Truncation keeps ranges that fit.
    const m = (1n << BigInt(size * 8)) - 1n;
    if (a.umax <= m) return a.clone();
  }
  return Scalar.fromTnum(t);
}

/** Sign extension of the low `bytes` bytes (movsx, ldsx), to 64 bits or (is64 false) to 32 bits then zero-extended. */
export function scalarSext(a: Scalar, bytes: 1 | 2 | 4, is64: boolean): Scalar {
  const n = BigInt(bytes * 8);
  const m = (1n << n) - 1n;
  const half = 1n << (n - 1n);
  // Tnum: truncate, then replicate bit n-1.
  const tv = a.var_.value & m;
  const tm = a.var_.mask & m;
  const ext = U64_MAX ^ m;
  let t: Tnum;
  if (tm & half) t = { value: tv, mask: tm | ext };
  else if (tv & half) t = { value: tv | ext, mask: tm };
  else t = { value: tv, mask: tm };
  let r: Scalar;
  if (a.smin >= -half && a.smax < half) {
    // Already the sign extension of its low bytes: unchanged.
    r = a.clone();
  } else {
    r = Scalar.fromTnum(t);
    r.smin = maxB(r.smin, -half);
    r.smax = minB(r.smax, half - 1n);
    r.sync();
  }
  if (!is64) {
    // 32-bit destination: take the low half of the 64-bit sign extension, then zero-extend.
    const z = r.clone();
    z.zext32();
    return z;
  }
  return r;
}

// ---- Branches ----

/** 1: always taken, 0: never taken, -1: unknown. Both operands scalars. */
export function branchTaken(op: JmpOp, a: Scalar, b: Scalar, is64: boolean): 0 | 1 | -1 {
  let umin: bigint, umax: bigint, smin: bigint, smax: bigint;
  let vumin: bigint, vumax: bigint, vsmin: bigint, vsmax: bigint;
  let ta: Tnum, tb: Tnum;
  if (is64) {
    ({ umin, umax, smin, smax } = a); ta = a.var_;
    ({ umin: vumin, umax: vumax, smin: vsmin, smax: vsmax } = b); tb = b.var_;
  } else {
    umin = big(a.u32min); umax = big(a.u32max); smin = big(a.s32min); smax = big(a.s32max); ta = a.var32;
    vumin = big(b.u32min); vumax = big(b.u32max); vsmin = big(b.s32min); vsmax = big(b.s32max); tb = b.var32;
  }
  switch (op) {
    case 'jeq': case 'jne': {
      let r: 0 | 1 | -1 = -1;
      if (ta.mask === 0n && tb.mask === 0n) r = ta.value === tb.value ? 1 : 0;
      else if (umin > vumax || umax < vumin || smin > vsmax || smax < vsmin) r = 0;
      else if (((ta.value ^ tb.value) & ~(ta.mask | tb.mask)) !== 0n) r = 0;
      if (op === 'jne' && r !== -1) r = r === 1 ? 0 : 1;
      return r;
    }
    case 'jset':
      if ((ta.value & tb.value) !== 0n) return 1;
      if (((ta.value | ta.mask) & (tb.value | tb.mask)) === 0n) return 0;
      return -1;
    case 'jgt': return umin > vumax ? 1 : umax <= vumin ? 0 : -1;
    case 'jge': return umin >= vumax ? 1 : umax < vumin ? 0 : -1;
    case 'jlt': return umax < vumin ? 1 : umin >= vumax ? 0 : -1;
    case 'jle': return umax <= vumin ? 1 : umin > vumax ? 0 : -1;
    case 'jsgt': return smin > vsmax ? 1 : smax <= vsmin ? 0 : -1;
    case 'jsge': return smin >= vsmax ? 1 : smax < vsmin ? 0 : -1;
    case 'jslt': return smax < vsmin ? 1 : smin >= vsmax ? 0 : -1;
    case 'jsle': return smax <= vsmin ? 1 : smin > vsmax ? 0 : -1;
  }
}

/** The condition that holds on the other edge. */
export function negateJmp(op: JmpOp): JmpOp {
  switch (op) {
    case 'jeq': return 'jne';
    case 'jne': return 'jeq';
    case 'jgt': return 'jle';
    case 'jle': return 'jgt';
    case 'jge': return 'jlt';
    case 'jlt': return 'jge';
    case 'jsgt': return 'jsle';
    case 'jsle': return 'jsgt';
    case 'jsge': return 'jslt';
    case 'jslt': return 'jsge';
    case 'jset': return 'jset'; // the false edge of jset is handled apart
  }
}

/** The same condition with operands swapped (a OP b  <=>  b SWAP(OP) a). */
export function swapJmp(op: JmpOp): JmpOp {
  switch (op) {
    case 'jgt': return 'jlt';
    case 'jlt': return 'jgt';
    case 'jge': return 'jle';
    case 'jle': return 'jge';
    case 'jsgt': return 'jslt';
    case 'jslt': return 'jsgt';
    case 'jsge': return 'jsle';
    case 'jsle': return 'jsge';
    default: return op;
  }
}

/**
 * Refine a and b (in place) assuming `a OP b` holds (or, for jset with
 * `holds` false, that `a & b == 0`). Returns false when no values satisfy it.
 */
export function refine(op: JmpOp, a: Scalar, b: Scalar, is64: boolean, holds = true): boolean {
  if (!holds) {
    if (op === 'jset') {
      // a & b == 0: bits known 1 in one are known 0 in the other.
      if (is64) {
        if (b.isConst()) a.var_ = T.tnumAnd(a.var_, T.tnumConst(~b.value & U64_MAX));
        if (a.isConst()) b.var_ = T.tnumAnd(b.var_, T.tnumConst(~a.value & U64_MAX));
      } else {
        if (b.isConst32()) a.var_ = T.tnumAnd(a.var_, T.tnumConst(~(b.value & U32N) & U64_MAX));
        if (a.isConst32()) b.var_ = T.tnumAnd(b.var_, T.tnumConst(~(a.value & U32N) & U64_MAX));
      }
      a.sync(); b.sync();
      return !a.isEmpty() && !b.isEmpty();
    }
    op = negateJmp(op);
  }
  if (!(is64 ? refine64(op, a, b) : refine32(op, a, b))) return false;
  if (a.isEmpty() || b.isEmpty()) return false;
  a.sync();
  b.sync();
  return !a.isEmpty() && !b.isEmpty();
}

function refine64(op: JmpOp, a: Scalar, b: Scalar): boolean {
  switch (op) {
    case 'jeq': {
      const umin = maxB(a.umin, b.umin); const umax = minB(a.umax, b.umax);
      const smin = maxB(a.smin, b.smin); const smax = minB(a.smax, b.smax);
      const u32min = Math.max(a.u32min, b.u32min); const u32max = Math.min(a.u32max, b.u32max);
      const s32min = Math.max(a.s32min, b.s32min); const s32max = Math.min(a.s32max, b.s32max);
      if (((a.var_.value ^ b.var_.value) & ~(a.var_.mask | b.var_.mask)) !== 0n) return false;
      const t = T.tnumIntersect(a.var_, b.var_);
      for (const s of [a, b]) {
        s.umin = umin; s.umax = umax; s.smin = smin; s.smax = smax;
        s.u32min = u32min; s.u32max = u32max; s.s32min = s32min; s.s32max = s32max; s.var_ = t;
      }
      break;
    }
    case 'jne':
      // Only a constant at one end of the other's range tightens it.
      if (b.isConst()) neConst64(a, b.value);
      if (a.isConst()) neConst64(b, a.value);
      break;
    case 'jset':
      if (b.isConst() && (b.value & (b.value - 1n)) === 0n && b.value !== 0n) {
        a.var_ = T.tnumOr(a.var_, T.tnumConst(b.value));
      }
      break;
    case 'jgt': // a > b
      a.umin = maxB(a.umin, b.umin + 1n); b.umax = minB(b.umax, a.umax - 1n); break;
    case 'jge':
      a.umin = maxB(a.umin, b.umin); b.umax = minB(b.umax, a.umax); break;
    case 'jlt':
      a.umax = minB(a.umax, b.umax - 1n); b.umin = maxB(b.umin, a.umin + 1n); break;
    case 'jle':
      a.umax = minB(a.umax, b.umax); b.umin = maxB(b.umin, a.umin); break;
    case 'jsgt':
      a.smin = maxB(a.smin, b.smin + 1n); b.smax = minB(b.smax, a.smax - 1n); break;
    case 'jsge':
      a.smin = maxB(a.smin, b.smin); b.smax = minB(b.smax, a.smax); break;
    case 'jslt':
      a.smax = minB(a.smax, b.smax - 1n); b.smin = maxB(b.smin, a.smin + 1n); break;
    case 'jsle':
      a.smax = minB(a.smax, b.smax); b.smin = maxB(b.smin, a.smin); break;
  }
  return true;
}

function neConst64(a: Scalar, v: bigint): void {
  if (a.umin === v) a.umin = v + 1n;
  if (a.umax === v) a.umax = v - 1n;
  const sv = s64(v);
  if (a.smin === sv) a.smin = sv + 1n;
  if (a.smax === sv) a.smax = sv - 1n;
  if (a.isConst() && a.value === v) a.umin = a.umax + 1n; // empty
}

function refine32(op: JmpOp, a: Scalar, b: Scalar): boolean {
  switch (op) {
    case 'jeq': {
      const u32min = Math.max(a.u32min, b.u32min); const u32max = Math.min(a.u32max, b.u32max);
      const s32min = Math.max(a.s32min, b.s32min); const s32max = Math.min(a.s32max, b.s32max);
      const ta = a.var32; const tb = b.var32;
      if (((ta.value ^ tb.value) & ~(ta.mask | tb.mask)) !== 0n) return false;
      const t = T.tnumIntersect(ta, tb);
      for (const s of [a, b]) {
        s.u32min = u32min; s.u32max = u32max; s.s32min = s32min; s.s32max = s32max;
        s.var_ = T.tnumWithSubreg(s.var_, t);
      }
      break;
    }
    case 'jne':
      if (b.isConst32()) neConst32(a, Number(b.value & U32N));
      if (a.isConst32()) neConst32(b, Number(a.value & U32N));
      break;
    case 'jset':
      if (b.isConst32()) {
        const v = b.value & U32N;
        if (v !== 0n && (v & (v - 1n)) === 0n) a.var_ = T.tnumOr(a.var_, T.tnumConst(v));
      }
      break;
    case 'jgt':
      a.u32min = Math.max(a.u32min, b.u32min + 1); b.u32max = Math.min(b.u32max, a.u32max - 1); break;
    case 'jge':
      a.u32min = Math.max(a.u32min, b.u32min); b.u32max = Math.min(b.u32max, a.u32max); break;
    case 'jlt':
      a.u32max = Math.min(a.u32max, b.u32max - 1); b.u32min = Math.max(b.u32min, a.u32min + 1); break;
    case 'jle':
      a.u32max = Math.min(a.u32max, b.u32max); b.u32min = Math.max(b.u32min, a.u32min); break;
    case 'jsgt':
      a.s32min = Math.max(a.s32min, b.s32min + 1); b.s32max = Math.min(b.s32max, a.s32max - 1); break;
    case 'jsge':
      a.s32min = Math.max(a.s32min, b.s32min); b.s32max = Math.min(b.s32max, a.s32max); break;
    case 'jslt':
      a.s32max = Math.min(a.s32max, b.s32max - 1); b.s32min = Math.max(b.s32min, a.s32min + 1); break;
    case 'jsle':
      a.s32max = Math.min(a.s32max, b.s32max); b.s32min = Math.max(b.s32min, a.s32min); break;
  }
  return true;
}

function neConst32(a: Scalar, v: number): void {
  if (a.u32min === v) a.u32min = v + 1;
  if (a.u32max === v) a.u32max = v - 1;
  const sv = s32(v);
  if (a.s32min === sv) a.s32min = sv + 1;
  if (a.s32max === sv) a.s32max = sv - 1;
  if (a.isConst32() && Number(a.value & U32N) === v) a.u32min = a.u32max + 1;
}
