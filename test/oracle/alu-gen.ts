// Seeded generator of small straight-line ALU/ALU64/JMP/JMP32 programs for
// the differential test against the Linux kernel, and the wrapper that makes
// such a program observable through BPF_PROG_TEST_RUN.
//
// A generated program:
//   - initialises r0-r9 with interesting constants (lddw, mov, mov32), so the
//     kernel verifier sees no uninitialised register;
//   - runs 4-40 operations drawn from every ALU op (add ... arsh, sdiv, smod,
//     neg, mov, movsx, le/be/bswap, lddw) in both widths and both source
//     forms, and conditional forward jumps (JMP and JMP32, K and X);
//   - ends with its only `exit`; every jump lands at or before it.
// It uses no memory and never reads r10, so the only observable is R0.
//
// The kernel's BPF_PROG_TEST_RUN reports a 32-bit retval for every program
// type, so the kernel variant (`kernelVariant`) is loaded as
// BPF_PROG_TYPE_SYSCALL (sleepable), whose context is a plain user buffer
// copied back after the run: the prologue spills the ctx pointer to fp-8, the
// final `exit` becomes `r1 = *(u64 *)(r10 - 8); *(u64 *)(r1 + 0) = r0; exit`,
// and ctx[0..8) is the full 64-bit R0. Jumps keep their offsets: the
// prologue shifts every slot by one and the epilogue starts where `exit` was.
//
// Encodings the verifier refuses outright are not generated: division or
// modulo by an immediate 0 ("div by zero") and shifts by an immediate >= the
// operand width ("invalid shift"). The same corners with the value in a
// register are generated and run (docs/kernel-semantics.md).

import { BY_NAME, encode, insn, type Instruction, type OpSpec } from '../../src/isa/index.js';

/** sfc32: small, fast, seeded; good enough to pick programs. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  u64(): bigint {
    return (BigInt(this.next()) << 32n) | BigInt(this.next());
  }
}

const M64 = (1n << 64n) - 1n;

/** 64-bit constants worth trying: edges of every width and sign. */
export const INTERESTING_64: readonly bigint[] = [
  0n, 1n, 2n, 3n, M64, M64 - 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0xffffffff80000000n, 0xffffffff7fffffffn, 0x8000000000000000n, 0x7fffffffffffffffn,
  0x8000000000000001n, 31n, 32n, 33n, 63n, 64n, 65n, 127n, 0x80n, 0xffn, 0x8000n, 0xffffn,
  0x7fffn, 0xff00ff00ff00ff00n, 0x0123456789abcdefn, 0xfedcba9876543210n, 7n, 10n, 0xffffffffffff8000n,
];

/** 32-bit immediates worth trying (signed, as the imm field holds them). */
export const INTERESTING_32: readonly number[] = [
  0, 1, 2, 3, -1, -2, 0x7fffffff, -0x80000000, 0x7fff, 0x8000, 0xffff, -0x8000, 0x80, 0xff, -0x80,
  31, 32, 33, 63, 64, 7, 10, 0x12345678, -0x12345678,
];

function spec(name: string, srcReg: boolean): OpSpec {
  const l = BY_NAME.get(name);
  const s = l?.length === 1 ? l[0] : l?.find((x) => x.srcReg === srcReg);
  if (!s) throw new Error(`alu-gen: no table entry ${name}/${srcReg ? 'X' : 'K'}`);
  return s;
}

/** The values that make corners: zero divisors, INT_MIN / -1, sign edges. */
const CORNER_64: readonly bigint[] = [0n, 1n, M64, 0x8000000000000000n, 0x80000000n, 0xffffffff80000000n, 0xffffffffn];
const CORNER_32: readonly number[] = [0, 1, -1, -0x80000000];

function imm32(r: Rng): number {
  const k = r.int(8);
  if (k === 0) return r.pick(CORNER_32);
  return k < 3 ? r.next() | 0 : r.pick(INTERESTING_32);
}

function val64(r: Rng): bigint {
  const k = r.int(5);
  if (k === 4) return r.pick(CORNER_64);
  if (k === 0) return r.u64();
  if (k === 1) return BigInt(r.int(100)) - 50n & M64;
  return r.pick(INTERESTING_64);
}

function lddw(dst: number, v: bigint): Instruction {
  const lo = Number(v & 0xffffffffn) | 0;
  const hi = Number((v >> 32n) & 0xffffffffn) | 0;
  return insn(spec('lddw', false), { dst, imm: lo, imm2: hi });
}

const ALU = ['add', 'sub', 'mul', 'div', 'sdiv', 'or', 'and', 'lsh', 'rsh', 'mod', 'smod', 'xor', 'arsh'] as const;
const JMP = ['jeq', 'jgt', 'jge', 'jset', 'jne', 'jsgt', 'jsge', 'jlt', 'jle', 'jslt', 'jsle'] as const;
const ENDIAN = ['le16', 'le32', 'le64', 'be16', 'be32', 'be64', 'bswap16', 'bswap32', 'bswap64'] as const;

export interface GenOptions {
  /** Operations after the register set-up (default: 4 to 40). */
  readonly minOps?: number;
  readonly maxOps?: number;
}

/** One program as logical instructions, its single `exit` last. */
export function generate(seed: number, opts: GenOptions = {}): Instruction[] {
  const r = new Rng(seed);
  const minOps = opts.minOps ?? 4;
  const maxOps = opts.maxOps ?? 40;
  // Registers in play: a few, so that results feed each other and R0.
  const regs = [0, ...[1, 2, 3, 4, 5, 6, 7, 8, 9].filter(() => r.int(2) === 0)];
  if (regs.length < 3) regs.push(6, 7);
  const reg = (): number => (r.int(3) === 0 ? 0 : r.pick(regs));

  const body: Array<{ x: Instruction; target?: number }> = [];
  for (let i = 0; i < INIT_LENGTH; i++) {
    const k = r.int(3);
    if (k === 0) body.push({ x: lddw(i, val64(r)) });
    else body.push({ x: insn(spec(k === 1 ? 'mov' : 'mov32', false), { dst: i, imm: imm32(r) }) });
  }
  const n = minOps + r.int(maxOps - minOps + 1);
  for (let i = 0; i < n; i++) {
    const k = r.int(100);
    const is64 = r.int(2) === 0;
    const sfx = is64 ? '' : '32';
    const dst = reg();
    if (k < 55) {
      const op = r.pick(ALU);
      const x = r.int(2) === 0;
      if (x) {
        body.push({ x: insn(spec(op + sfx, true), { dst, src: reg() }) });
      } else {
        let imm = imm32(r);
        const width = is64 ? 64 : 32;
        if ((op === 'lsh' || op === 'rsh' || op === 'arsh') && (imm < 0 || imm >= width)) imm = (imm >>> 0) % width;
        if ((op === 'div' || op === 'sdiv' || op === 'mod' || op === 'smod') && imm === 0) imm = r.pick([1, -1, 3, -0x80000000]);
        body.push({ x: insn(spec(op + sfx, false), { dst, imm }) });
      }
    } else if (k < 60) {
      body.push({ x: insn(spec('neg' + sfx, false), { dst }) });
    } else if (k < 66) {
      if (r.int(2) === 0) body.push({ x: insn(spec('mov' + sfx, true), { dst, src: reg() }) });
      else body.push({ x: insn(spec('mov' + sfx, false), { dst, imm: imm32(r) }) });
    } else if (k < 73) {
      const name = is64 ? r.pick(['movsx864', 'movsx1664', 'movsx3264']) : r.pick(['movsx832', 'movsx1632']);
      body.push({ x: insn(spec(name, true), { dst, src: reg() }) });
    } else if (k < 80) {
      body.push({ x: insn(spec(r.pick(ENDIAN), false), { dst }) });
    } else if (k < 84) {
      body.push({ x: lddw(dst, val64(r)) });
    } else {
      const op = r.pick(JMP);
      const x = r.int(2) === 0;
      const target = i + 1 + r.int(Math.min(8, n - i)) + 10; // logical index in body, <= exit
      if (x) body.push({ x: insn(spec(op + sfx, true), { dst, src: reg() }), target });
      else body.push({ x: insn(spec(op + sfx, false), { dst, imm: imm32(r) }), target });
    }
  }
  const all = [...body.map((b) => b.x), insn(spec('exit', false))];
  // Resolve jump targets (logical indices; LD_IMM64 is two slots).
  const slot: number[] = [];
  let s = 0;
  for (const x of all) {
    slot.push(s);
    s += x.op.kind === 'ld_imm64' ? 2 : 1;
  }
  return all.map((x, i) => {
    const t = body[i]?.target;
    if (t === undefined) return x;
    const to = Math.min(t, all.length - 1);
    return { ...x, off: slot[to]! - slot[i]! - 1 };
  });
}

/** Number of leading instructions of a generated program that set r0..r9 (in order). */
export const INIT_LENGTH = 10;

/** The value an initialising instruction (mov, mov32 or lddw with an immediate) gives. */
function initValue(x: Instruction): bigint {
  if (x.op.kind === 'ld_imm64') return (BigInt(x.imm2 >>> 0) << 32n) | BigInt(x.imm >>> 0);
  return x.op.is64 ? BigInt.asUintN(64, BigInt(x.imm)) : BigInt(x.imm >>> 0);
}

export interface KernelProgram {
  readonly insns: Uint8Array;
  /** ctx_in: 8 bytes for R0 out, then (inputs mode) the initial r0..r9. */
  readonly ctx: Uint8Array;
}

/**
 * The program as BPF_PROG_TYPE_SYSCALL bytecode that writes its final R0 to
 * ctx[0..8) (see the header). The program's only `exit` must be its last
 * instruction.
 *
 * With `inputsFromCtx`, the first INIT_LENGTH instructions (which must set
 * r0..r9 from immediates, as `generate` makes them) become loads from
 * ctx[8 + 8 i]: the verifier then knows nothing of the values, keeps every
 * instruction and both sides of every branch, and the JIT computes all of it.
 * Without it, the verifier sees constants, tracks them exactly, and rewrites
 * the branches whose outcome it knows into plain jumps: that checks the
 * verifier's own arithmetic as much as the JIT's.
 */
export function kernelVariant(prog: readonly Instruction[], opts: { inputsFromCtx?: boolean } = {}): KernelProgram {
  const last = prog[prog.length - 1];
  if (!last || last.op.kind !== 'exit' || prog.slice(0, -1).some((x) => x.op.kind === 'exit')) {
    throw new Error('kernelVariant: the program must end with its only exit');
  }
  const pre = insn(spec('stxdw', true), { dst: 10, src: 1, off: -8 });
  const post = [
    insn(spec('ldxdw', true), { dst: 1, src: 10, off: -8 }),
    insn(spec('stxdw', true), { dst: 1, src: 0, off: 0 }),
    last,
  ];
  let body = prog.slice(0, -1);
  let ctx = new Uint8Array(8);
  if (opts.inputsFromCtx) {
    const init = body.slice(0, INIT_LENGTH);
    if (init.length !== INIT_LENGTH || init.some((x, i) => x.dst !== i || x.op.srcReg || (x.op.kind !== 'mov' && x.op.kind !== 'ld_imm64'))) {
      throw new Error('kernelVariant: inputsFromCtx needs r0..r9 set from immediates first');
    }
    ctx = new Uint8Array(8 + 8 * INIT_LENGTH);
    const dv = new DataView(ctx.buffer);
    init.forEach((x, i) => dv.setBigUint64(8 + 8 * i, initValue(x), true));
    // r1 (the ctx pointer) is loaded last. No jump targets the init block,
    // so the body's offsets stay valid although lddw (2 slots) becomes ldxdw.
    const order = [0, 2, 3, 4, 5, 6, 7, 8, 9, 1];
    const loads = order.map((i) => insn(spec('ldxdw', true), { dst: i, src: 1, off: 8 + 8 * i }));
    body = [...loads, ...body.slice(INIT_LENGTH)];
  }
  return { insns: encode([pre, ...body, ...post]), ctx };
}
