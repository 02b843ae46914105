// The reference interpreter: every instruction of src/isa/table.ts with the
// semantics of RFC 9669 and Linux (see docs comments per case).
//
// Speed: the program is decoded once (`prepare`) into a flat Int32Array,
// four words per slot:
//   w0 = internal op (low 8 bits) | dst << 8
//   w1 = source index: a register 0..10, or, for immediate (K) forms, an
//        index >= 11 into a constant pool that sits after the registers in
//        the same lo/hi register arrays -- so K and X forms share one case
//   w2 = memory offset, or absolute jump/call target slot
//   w3 = helper id (call), the instruction's own slot for fault sentinels
// Registers are two Int32Arrays (low and high halves); BigInt is used only on
// the slow paths of 64-bit division and modulo and at the helper boundary.
//
// Checked mode (unverified programs): every load, store and atomic is tested
// against the memory's region table; jumps out of the program, falling off
// the end, unknown helpers, too many frames and running past the budget end
// the run with a RuntimeFault. Unchecked mode trusts the verifier and only
// keeps the budget and a net for accesses outside the memory.

import { RuntimeFault, isTsbpfError } from '../errors.js';
import type { Instruction } from '../isa/instruction.js';
import { slotIndices } from '../isa/instruction.js';
import { BPF_PSEUDO_FUNC, MAX_CALL_FRAMES, STACK_SIZE } from '../isa/opcodes.js';
import type { AluOp, AtomicOp, JmpOp } from '../isa/table.js';
import { type HelperContext, HelperRegistry, defaultHelpers } from './helpers.js';
import type { LinearMemory, Region } from './memory.js';

/** Default instruction budget of a run. */
export const DEFAULT_BUDGET = 4_000_000;
/** High word of a code address (what `lddw rX, func` loads); the low word is the slot. */
export const CODE_ADDR_TAG = 0x7c0de000 | 0;
/** Bytes of the stack area a run needs (every frame). */
export const STACK_AREA = STACK_SIZE * MAX_CALL_FRAMES;

// ---- internal operations ----------------------------------------------------

const enum O {
  ADD64, SUB64, MUL64, DIV64, SDIV64, OR64, AND64, LSH64, RSH64, MOD64, SMOD64, XOR64, ARSH64,
  NEG64, MOV64, MOVSX8_64, MOVSX16_64, MOVSX32_64,
  ADD32, SUB32, MUL32, DIV32, SDIV32, OR32, AND32, LSH32, RSH32, MOD32, SMOD32, XOR32, ARSH32,
  NEG32, MOV32, MOVSX8_32, MOVSX16_32,
  LE16, LE32, LE64, BE16, BE32, BE64,
  LDDW,
  LDXB, LDXH, LDXW, LDXDW, LDXSB, LDXSH, LDXSW,
  STB, STH, STW, STDW,
  AADD32, AOR32, AAND32, AXOR32, AFADD32, AFOR32, AFAND32, AFXOR32, AXCHG32, ACMPXCHG32,
  AADD64, AOR64, AAND64, AXOR64, AFADD64, AFOR64, AFAND64, AFXOR64, AXCHG64, ACMPXCHG64,
  LDABSB, LDABSH, LDABSW, LDINDB, LDINDH, LDINDW,
  JA,
  JEQ64, JGT64, JGE64, JSET64, JNE64, JSGT64, JSGE64, JLT64, JLE64, JSLT64, JSLE64,
  JEQ32, JGT32, JGE32, JSET32, JNE32, JSGT32, JSGE32, JLT32, JLE32, JSLT32, JSLE32,
  CALL, CALL_LOCAL, CALLX, EXIT,
  F_JUMP, F_FALLOFF, F_UNSUPPORTED,
}

const ALU64: Record<AluOp, O> = {
  add: O.ADD64, sub: O.SUB64, mul: O.MUL64, div: O.DIV64, sdiv: O.SDIV64, or: O.OR64, and: O.AND64,
  lsh: O.LSH64, rsh: O.RSH64, mod: O.MOD64, smod: O.SMOD64, xor: O.XOR64, arsh: O.ARSH64,
};
const ALU32: Record<AluOp, O> = {
  add: O.ADD32, sub: O.SUB32, mul: O.MUL32, div: O.DIV32, sdiv: O.SDIV32, or: O.OR32, and: O.AND32,
  lsh: O.LSH32, rsh: O.RSH32, mod: O.MOD32, smod: O.SMOD32, xor: O.XOR32, arsh: O.ARSH32,
};
const JMP64: Record<JmpOp, O> = {
  jeq: O.JEQ64, jgt: O.JGT64, jge: O.JGE64, jset: O.JSET64, jne: O.JNE64, jsgt: O.JSGT64,
  jsge: O.JSGE64, jlt: O.JLT64, jle: O.JLE64, jslt: O.JSLT64, jsle: O.JSLE64,
};
const JMP32: Record<JmpOp, O> = {
  jeq: O.JEQ32, jgt: O.JGT32, jge: O.JGE32, jset: O.JSET32, jne: O.JNE32, jsgt: O.JSGT32,
  jsge: O.JSGE32, jlt: O.JLT32, jle: O.JLE32, jslt: O.JSLT32, jsle: O.JSLE32,
};
const ATOMIC: Record<AtomicOp, readonly [O, O]> = {
  'add': [O.AADD32, O.AADD64], 'or': [O.AOR32, O.AOR64], 'and': [O.AAND32, O.AAND64], 'xor': [O.AXOR32, O.AXOR64],
  'fetch add': [O.AFADD32, O.AFADD64], 'fetch or': [O.AFOR32, O.AFOR64], 'fetch and': [O.AFAND32, O.AFAND64],
  'fetch xor': [O.AFXOR32, O.AFXOR64], 'xchg': [O.AXCHG32, O.AXCHG64], 'cmpxchg': [O.ACMPXCHG32, O.ACMPXCHG64],
};

/** A program decoded for the interpreter. Immutable; runs may share it. */
export interface PreparedProgram {
  readonly insns: readonly Instruction[];
  /** Slots of the program (lddw counts 2). */
  readonly slots: number;
  /** 4 words per slot, plus sentinel slots after the program. */
  readonly code: Int32Array;
  /** Initial register file: 11 registers then the constant pool (low / high words). */
  readonly lo0: Int32Array;
  readonly hi0: Int32Array;
  /** 1 at slots where an instruction starts. */
  readonly starts: Uint8Array;
  /** Spare register files of finished runs (internal: saves allocations per run). */
  readonly pool: RegFile[];
}

/** Registers (low and high words, constant pool included) and call frames of one run. */
interface RegFile {
  readonly L: Int32Array;
  readonly H: Int32Array;
  readonly frames: Int32Array;
}

/** Decode a program once for any number of runs. Never throws on odd input: bad targets become faults when reached. */
export function prepare(insns: readonly Instruction[]): PreparedProgram {
  const idx = slotIndices(insns);
  const slots = idx[insns.length]!;
  const starts = new Uint8Array(slots + 1);
  for (let i = 0; i < insns.length; i++) starts[idx[i]!] = 1;

  const consts: number[] = []; // lo, hi pairs
  const constIndex = (lo: number, hi: number): number => {
    consts.push(lo | 0, hi | 0);
    return 11 + consts.length / 2 - 1;
  };
  const sentinels: number[][] = [];
  const code: number[] = new Array<number>(slots * 4).fill(0);
  const lastStart = insns.length ? idx[insns.length - 1]! : 0;
  const put = (slot: number, op: O, dst: number, s: number, w2: number, w3: number): void => {
    code[slot * 4] = op | (dst << 8);
    code[slot * 4 + 1] = s;
    code[slot * 4 + 2] = w2;
    code[slot * 4 + 3] = w3;
  };
  // A target that is not the start of an instruction goes to a sentinel
  // that faults naming the jump (w3) and its target (w2).
  const target = (from: number, t: number): number => {
    if (t >= 0 && t < slots && starts[t]) return t;
    sentinels.push([O.F_JUMP, 0, 0, t, from]);
    return slots + 1 + sentinels.length - 1;
  };
  const unsupported = (slot: number): void => put(slot, O.F_UNSUPPORTED, 0, 0, 0, slot);

  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    const o = x.op;
    const slot = idx[i]!;
    const d = x.dst & 0xf;
    const usesImm = o.kind === 'alu' || o.kind === 'mov' || o.kind === 'jcond' || o.kind === 'st';
    const s = o.srcReg || o.kind === 'stx' ? x.src & 0xf : usesImm ? constIndex(x.imm, x.imm >> 31) : 0;
    switch (o.kind) {
      case 'alu': put(slot, (o.is64 ? ALU64 : ALU32)[o.alu!], d, s, 0, 0); break;
      case 'neg': put(slot, o.is64 ? O.NEG64 : O.NEG32, d, 0, 0, 0); break;
      case 'mov': put(slot, o.is64 ? O.MOV64 : O.MOV32, d, s, 0, 0); break;
      case 'movsx': {
        const op = o.is64 ? (o.size === 1 ? O.MOVSX8_64 : o.size === 2 ? O.MOVSX16_64 : O.MOVSX32_64)
          : (o.size === 1 ? O.MOVSX8_32 : O.MOVSX16_32);
        put(slot, op, d, s, 0, 0);
        break;
      }
      case 'endian': {
        const le = o.endian === 'le';
        const op = o.size === 2 ? (le ? O.LE16 : O.BE16) : o.size === 4 ? (le ? O.LE32 : O.BE32) : (le ? O.LE64 : O.BE64);
        put(slot, op, d, 0, 0, 0);
        break;
      }
      case 'ld_imm64': {
        if (x.src === 0) {
          put(slot, O.LDDW, d, constIndex(x.imm, x.imm2), 0, 0);
        } else if (x.src === BPF_PSEUDO_FUNC) {
          const t = slot + x.imm + 1;
          if (t >= 0 && t < slots && starts[t]) put(slot, O.LDDW, d, constIndex(t, CODE_ADDR_TAG), 0, 0);
          else put(slot, O.F_JUMP, 0, 0, t, slot);
        } else {
          unsupported(slot);
        }
        put(slot + 1, O.F_JUMP, 0, 0, slot + 1, slot + 1);
        break;
      }
      case 'ldx': put(slot, [O.LDXB, O.LDXH, 0, O.LDXW, 0, 0, 0, O.LDXDW][o.size - 1]!, d, x.src & 0xf, x.off, 0); break;
      case 'ldsx': put(slot, [O.LDXSB, O.LDXSH, 0, O.LDXSW][o.size - 1]!, d, x.src & 0xf, x.off, 0); break;
      case 'st': case 'stx': put(slot, [O.STB, O.STH, 0, O.STW, 0, 0, 0, O.STDW][o.size - 1]!, d, s, x.off, 0); break;
      case 'atomic': put(slot, ATOMIC[o.atomic!][o.size === 8 ? 1 : 0], d, x.src & 0xf, x.off, 0); break;
      case 'ld_abs': put(slot, [O.LDABSB, O.LDABSH, 0, O.LDABSW][o.size - 1]!, 0, 0, x.imm, 0); break;
      case 'ld_ind': put(slot, [O.LDINDB, O.LDINDH, 0, O.LDINDW][o.size - 1]!, 0, x.src & 0xf, x.imm, 0); break;
      case 'ja': put(slot, O.JA, 0, 0, target(slot, slot + 1 + (o.is64 ? x.off : x.imm)), 0); break;
      case 'jcond': put(slot, (o.is64 ? JMP64 : JMP32)[o.jmp!], d, s, target(slot, slot + 1 + x.off), 0); break;
      case 'call': put(slot, O.CALL, 0, 0, 0, x.imm); break;
      case 'call_local': put(slot, O.CALL_LOCAL, 0, 0, target(slot, slot + 1 + x.imm), 0); break;
      case 'callx': {
        // Register in dst (LLVM >= 19, GCC, RFC 9669 errata) or in imm (older LLVM).
        const r = d !== 0 ? d : x.imm;
        if (r < 0 || r > 10) unsupported(slot);
        else put(slot, O.CALLX, 0, r, 0, 0);
        break;
      }
      case 'exit': put(slot, O.EXIT, 0, 0, 0, 0); break;
      default: unsupported(slot); // kfunc calls need a loader
    }
  }
  // Sentinel after the last slot: falling off the end.
  const all = new Int32Array((slots + 1 + sentinels.length) * 4);
  all.set(code);
  all[slots * 4] = O.F_FALLOFF;
  all[slots * 4 + 3] = lastStart;
  sentinels.forEach(([op, , , t, from], k) => {
    const b = (slots + 1 + k) * 4;
    all[b] = op!;
    all[b + 2] = t!;
    all[b + 3] = from!;
  });
  const n = 11 + consts.length / 2;
  const lo0 = new Int32Array(n);
  const hi0 = new Int32Array(n);
  for (let k = 0; k < consts.length / 2; k++) {
    lo0[11 + k] = consts[2 * k]!;
    hi0[11 + k] = consts[2 * k + 1]!;
  }
  return { insns, slots, code: all, lo0, hi0, starts, pool: [] };
}

// ---- running ----------------------------------------------------------------

export interface RunEnv {
  readonly memory: LinearMemory;
  /** Lowest address of the stack area (STACK_AREA bytes); frame 0's R10 is its end. */
  readonly stack: number;
  /** R1..R5 at entry (unsigned or signed 64-bit values). */
  readonly args?: ReadonlyArray<bigint | number>;
  /** Executed-instruction budget (default 4,000,000). */
  readonly budget?: number;
  /** Check every memory access against the region table (default true). */
  readonly checked?: boolean;
  /** The packet that LD_ABS / LD_IND read. Without one they end the program with R0 = 0. */
  readonly packet?: { readonly start: number; readonly length: number };
  readonly helpers?: HelperRegistry;
  readonly now?: () => bigint;
  readonly random?: () => number;
  readonly cpu?: number;
  readonly log?: (line: string) => void;
  readonly host?: unknown;
}

export interface RunResult {
  readonly r0: bigint;
  readonly insnCount: number;
}

const TWO32 = 4294967296;

function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function defaultNow(): bigint {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return BigInt(Math.round((p ? p.now() : Date.now()) * 1e6));
}

function defaultRandom(): number {
  return (Math.random() * TWO32) >>> 0;
}

let sharedDefaultHelpers: HelperRegistry | undefined;

class Ctx implements HelperContext {
  pc = 0;
  stopped = false;
  stopR0 = 0n;
  returning = false;
  callDepth = 0;
  constructor(
    readonly memory: LinearMemory,
    readonly checked: boolean,
    readonly cpu: number,
    readonly host: unknown,
    private readonly nowFn: () => bigint,
    private readonly randomFn: () => number,
    private readonly logFn: (line: string) => void,
  ) {}
  now(): bigint { return this.nowFn(); }
  random(): number { return this.randomFn(); }
  log(line: string): void { this.logFn(line); }
  stop(r0: bigint | number): void {
    this.stopped = true;
    this.stopR0 = BigInt.asUintN(64, BigInt(r0));
  }
  ret(r0: bigint | number): void {
    this.returning = true;
    this.stopR0 = BigInt.asUintN(64, BigInt(r0));
  }
  checkAccess(addr: bigint | number, size: number, write: boolean): number {
    return helperAccess(this.memory, this.checked, this.pc, addr, size, write);
  }
}

function newCtx(env: RunEnv, mem: LinearMemory, checked: boolean): Ctx {
  return new Ctx(mem, checked, env.cpu ?? 0, env.host, env.now ?? defaultNow, env.random ?? defaultRandom, env.log ?? (() => {}));
}

function hex(a: number): string {
  return a < 0 ? '-0x' + (-a).toString(16) : '0x' + a.toString(16);
}

/**
 * A helper's access to [addr, addr+size): in checked mode it must lie in one
 * region (writable for a write); unchecked, inside the memory. Shared by both
 * engines' HelperContext.checkAccess.
 */
export function helperAccess(m: LinearMemory, checked: boolean, pc: number, addr: bigint | number, size: number, write: boolean): number {
  const a = typeof addr === 'bigint' ? Number(BigInt.asUintN(64, addr)) : addr;
  if (checked) {
    const r = m.findRegion(a, size);
    if (!r) throw memFault(m, pc, a, size, write ? 'helper write' : 'helper read', a);
    if (write && !r.writable) throw roFault(r, pc, a, size);
  } else if (!(a >= 0 && a + size <= m.size)) {
    throw new RuntimeFault('FAULT_MEMORY', `helper access of ${size} bytes at 0x${a.toString(16)} is outside the memory`, pc, a);
  }
  return a;
}

/** The fault of an access outside every region (both engines report it alike). */
export function memFault(m: LinearMemory, pc: number, a: number, size: number, what: string, base: number): RuntimeFault {
  // Name the region the base pointer is in (or just past the end of, like R10), else the one hit.
  const at = (x: number): Region | undefined => (x >= 0 && x < TWO32 ? m.regionAt(x) : undefined);
  const r = at(base) ?? at(base - 1) ?? at(a);
  const where = r ? `outside region '${r.name}' [${hex(r.start)}, ${hex(r.end)})` : 'not in any region';
  return new RuntimeFault('FAULT_MEMORY', `${what} of ${size} bytes at ${hex(a)}: ${where}`, pc, a, r?.name);
}

/** The fault of a write to a read-only region. */
export function roFault(r: Region, pc: number, a: number, size: number): RuntimeFault {
  return new RuntimeFault('FAULT_READONLY', `write of ${size} bytes at ${hex(a)}: region '${r.name}' is read-only`, pc, a, r.name);
}

function writeR0(lo: Int32Array, hi: Int32Array, v: bigint | number | void): void {
  if (v === undefined) { lo[0] = 0; hi[0] = 0; return; }
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) {
      lo[0] = v | 0;
      hi[0] = v < 0 ? -1 : 0;
      return;
    }
    v = BigInt(Math.trunc(Number.isFinite(v) ? v : 0));
  }
  const u = BigInt.asUintN(64, v);
  lo[0] = Number(u & 0xffffffffn) | 0;
  hi[0] = Number(u >> 32n) | 0;
}

// 64-bit arithmetic on (lo, hi) pairs held in the register arrays.

function mul64(L: Int32Array, H: Int32Array, d: number, s: number): void {
  const al = L[d]!, ah = H[d]!, bl = L[s]!, bh = H[s]!;
  // High word of the unsigned 32x32 product from 16-bit limbs (all integer ops).
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p01 = a0 * b1, p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  L[d] = Math.imul(al, bl);
  H[d] = (hi + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
}

function big(L: Int32Array, H: Int32Array, r: number): bigint {
  return (BigInt(H[r]!) << 32n) | BigInt(L[r]! >>> 0);
}

function setBig(L: Int32Array, H: Int32Array, d: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  L[d] = Number(u & 0xffffffffn) | 0;
  H[d] = Number(u >> 32n) | 0;
}

/** Unsigned 64-bit div (mod = false) or mod. Division by zero: div -> 0, mod -> dst unchanged. */
function udivmod64(L: Int32Array, H: Int32Array, d: number, s: number, mod: boolean): void {
  const bl = L[s]!, bh = H[s]!;
  if (bl === 0 && bh === 0) {
    if (!mod) { L[d] = 0; H[d] = 0; }
    return;
  }
  if (H[d] === 0 && bh === 0) {
    const a = L[d]! >>> 0, b = bl >>> 0;
    L[d] = (mod ? a % b : Math.floor(a / b)) | 0;
    return;
  }
  const a = BigInt.asUintN(64, big(L, H, d));
  const b = BigInt.asUintN(64, big(L, H, s));
  setBig(L, H, d, mod ? a % b : a / b);
}

/** Signed 64-bit div/mod, truncating; INT64_MIN / -1 = INT64_MIN, INT64_MIN % -1 = 0. */
function sdivmod64(L: Int32Array, H: Int32Array, d: number, s: number, mod: boolean): void {
  const bl = L[s]!, bh = H[s]!;
  if (bl === 0 && bh === 0) {
    if (!mod) { L[d] = 0; H[d] = 0; }
    return;
  }
  const al = L[d]!, ah = H[d]!;
  if (ah === al >> 31 && bh === bl >> 31) { // both fit in int32: exact in doubles
    const r = mod ? al % bl : Math.trunc(al / bl);
    L[d] = r | 0;
    H[d] = r < 0 ? -1 : 0;
    return;
  }
  const a = big(L, H, d);
  const b = big(L, H, s);
  setBig(L, H, d, mod ? a % b : a / b);
}

/** An atomic on a shared memory: real Atomics, naturally aligned addresses only. */
function atomicShared(mem: LinearMemory, op: O, a: number, L: Int32Array, H: Int32Array, s: number, pc: number): void {
  const wide = op >= O.AADD64;
  if (a % (wide ? 8 : 4) !== 0) {
    throw new RuntimeFault('FAULT_MISALIGNED', `atomic access of ${wide ? 8 : 4} bytes at ${hex(a)} is not naturally aligned`, pc, a);
  }
  if (!wide) {
    const i = a >>> 2, v = L[s]!, m = mem.i32;
    let old: number;
    switch (op) {
      case O.AADD32: case O.AFADD32: old = Atomics.add(m, i, v); break;
      case O.AOR32: case O.AFOR32: old = Atomics.or(m, i, v); break;
      case O.AAND32: case O.AFAND32: old = Atomics.and(m, i, v); break;
      case O.AXOR32: case O.AFXOR32: old = Atomics.xor(m, i, v); break;
      case O.AXCHG32: old = Atomics.exchange(m, i, v); break;
      default: L[0] = Atomics.compareExchange(m, i, L[0]!, v); H[0] = 0; return;
    }
    if (op >= O.AFADD32) { L[s] = old; H[s] = 0; }
    return;
  }
  const i = a >>> 3, v = big(L, H, s), m = mem.i64;
  let old: bigint;
  switch (op) {
    case O.AADD64: case O.AFADD64: old = Atomics.add(m, i, v); break;
    case O.AOR64: case O.AFOR64: old = Atomics.or(m, i, v); break;
    case O.AAND64: case O.AFAND64: old = Atomics.and(m, i, v); break;
    case O.AXOR64: case O.AFXOR64: old = Atomics.xor(m, i, v); break;
    case O.AXCHG64: old = Atomics.exchange(m, i, v); break;
    default: setBig(L, H, 0, Atomics.compareExchange(m, i, big(L, H, 0), v)); return;
  }
  if (op >= O.AFADD64) setBig(L, H, s, old);
}

function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Region of a checked access that missed the cache; throws the fault. */
function regionFor(
  mem: LinearMemory, a: number, size: number, write: boolean, baseLo: number, baseHi: number, pc: number, what: string,
  stackFloor: number, stackTop: number,
): Region {
  let r = mem.findRegion(a, size);
  // Only the frames in use are stack: [floor of the deepest frame, top of frame 0).
  if (r && r.end === stackTop && r.start < stackFloor) {
    r = a >= stackFloor ? { start: stackFloor, end: r.end, name: r.name, writable: r.writable } : undefined;
    if (!r) {
      throw new RuntimeFault('FAULT_MEMORY', `${what} of ${size} bytes at ${hex(a)}: below the stack frames in use [${hex(stackFloor)}, ${hex(stackTop)})`, pc, a, 'stack');
    }
  }
  if (!r) throw memFault(mem, pc, a, size, what, baseHi === 0 ? baseLo >>> 0 : -1);
  if (write && !r.writable) throw roFault(r, pc, a, size);
  return r;
}

/**
 * Call helper `id`; returns true when the helper asked the program to stop
 * (ctx.stop), or to return from the calling function (ctx.ret: then
 * ctx.returning is set and R0 holds the value; the caller clears it).
 */
function callHelper(helpers: HelperRegistry, ctx: Ctx, id: number, L: Int32Array, H: Int32Array, pc: number): boolean {
  const h = helpers.get(id);
  if (!h) throw new RuntimeFault('FAULT_UNKNOWN_HELPER', `call to unknown helper ${id}`, pc);
  ctx.pc = pc;
  let ret: bigint | number | void;
  try {
    ret = h.impl(toBig(L[1]!, H[1]!), toBig(L[2]!, H[2]!), toBig(L[3]!, H[3]!), toBig(L[4]!, H[4]!), toBig(L[5]!, H[5]!), ctx);
  } catch (e) {
    if (isTsbpfError(e)) throw e;
    throw new RuntimeFault('FAULT_HELPER', `helper ${h.name} (${id}) failed: ${e instanceof Error ? e.message : String(e)}`, pc);
  }
  ctx.memory.refresh();
  writeR0(L, H, ret);
  if (ctx.stopped || ctx.returning) {
    writeR0(L, H, ctx.stopR0);
    return true;
  }
  return false;
}

/** Leave a bpf-to-bpf call early (ctx.ret): restore R6-R10; returns the new depth (its frame holds the return slot). */
function popFrame(frames: Int32Array, depth: number, L: Int32Array, H: Int32Array): number {
  const d = depth - 1;
  const f = d * 12;
  for (let r = 6; r <= 10; r++) {
    L[r] = frames[f + 1 + (r - 6) * 2]!;
    H[r] = frames[f + 2 + (r - 6) * 2]!;
  }
  return d;
}

/** Enter a bpf-to-bpf call: save R6-R10 and the return slot, give the callee a fresh zeroed frame. */
function pushFrame(frames: Int32Array, depth: number, ret: number, L: Int32Array, H: Int32Array, stackTop: number, u8: Uint8Array, pc: number): void {
  if (depth === MAX_CALL_FRAMES - 1) {
    throw new RuntimeFault('FAULT_CALL_DEPTH', `call depth exceeds ${MAX_CALL_FRAMES} frames`, pc);
  }
  const f = depth * 12;
  frames[f] = ret;
  for (let r = 6; r <= 10; r++) {
    frames[f + 1 + (r - 6) * 2] = L[r]!;
    frames[f + 2 + (r - 6) * 2] = H[r]!;
  }
  const top = stackTop - (depth + 1) * STACK_SIZE;
  L[10] = top;
  H[10] = 0;
  u8.fill(0, top - STACK_SIZE, top);
}

/**
 * Run a prepared program. Returns R0 and the number of executed
 * instructions; throws RuntimeFault (and only that) when the program faults.
 */
export function execute(p: PreparedProgram, env: RunEnv): RunResult {
  const rf = p.pool.pop() ?? { L: new Int32Array(p.lo0.length), H: new Int32Array(p.lo0.length), frames: new Int32Array(MAX_CALL_FRAMES * 12) };
  try {
    return run(p, env, rf);
  } finally {
    if (p.pool.length < 4) p.pool.push(rf);
  }
}

function run(p: PreparedProgram, env: RunEnv, rf: RegFile): RunResult {
  const mem = env.memory;
  const checked = env.checked ?? true;
  const budget = env.budget ?? DEFAULT_BUDGET;
  const helpers = env.helpers ?? (sharedDefaultHelpers ??= defaultHelpers());
  const stackTop = env.stack + STACK_AREA;
  const L = rf.L;
  const H = rf.H;
  L.set(p.lo0);
  H.set(p.hi0);
  const args = env.args;
  if (args) {
    for (let i = 0; i < 5 && i < args.length; i++) {
      const a = args[i]!;
      if (typeof a === 'number' && a >= 0 && a <= 0xffffffff && Number.isInteger(a)) {
        L[i + 1] = a | 0;
      } else {
        const v = BigInt.asUintN(64, BigInt(a));
        L[i + 1] = Number(v & 0xffffffffn) | 0;
        H[i + 1] = Number(v >> 32n) | 0;
      }
    }
  }
  L[10] = stackTop | 0;
  mem.refresh();
  if (stackTop > mem.size || env.stack < 0) {
    throw new RuntimeFault('FAULT_MEMORY', `stack area ${hex(env.stack)} is outside the memory`, 0, env.stack, 'stack');
  }
  mem.u8.fill(0, stackTop - STACK_SIZE, stackTop);
  let ctx: Ctx | undefined;
  const shared = mem.shared;
  const pktStart = env.packet?.start ?? 0;
  const pktLen = env.packet?.length ?? 0;

  const code = p.code;
  let u8 = mem.u8;
  let dv = mem.view;
  // Cached region of the last checked access.
  let rs = 0, re = 0, rw = false;
  // Call frames: return slot, R6..R10 (lo, hi).
  const frames = rf.frames;
  let depth = 0;
  let pc = 0;
  let count = 0;
  let b = 0;

  try {
    for (;;) {
      b = pc << 2;
      const w0 = code[b]!;
      const d = w0 >>> 8;
      const s = code[b + 1]!;
      if (++count > budget) {
        throw new RuntimeFault('FAULT_BUDGET', `instruction budget of ${budget} exhausted`, pc);
      }
      pc++;
      switch (w0 & 0xff) {
        // ---- ALU64 ----
        case O.ADD64: {
          const al = L[d]!;
          const lo = (al + L[s]!) | 0;
          H[d] = (H[d]! + H[s]! + ((lo >>> 0) < (al >>> 0) ? 1 : 0)) | 0;
          L[d] = lo;
          break;
        }
        case O.SUB64: {
          const al = L[d]!, bl = L[s]!;
          H[d] = (H[d]! - H[s]! - ((al >>> 0) < (bl >>> 0) ? 1 : 0)) | 0;
          L[d] = (al - bl) | 0;
          break;
        }
        case O.MUL64: mul64(L, H, d, s); break;
        case O.DIV64: udivmod64(L, H, d, s, false); break;
        case O.MOD64: udivmod64(L, H, d, s, true); break;
        case O.SDIV64: sdivmod64(L, H, d, s, false); break;
        case O.SMOD64: sdivmod64(L, H, d, s, true); break;
        case O.OR64: L[d] = L[d]! | L[s]!; H[d] = H[d]! | H[s]!; break;
        case O.AND64: L[d] = L[d]! & L[s]!; H[d] = H[d]! & H[s]!; break;
        case O.XOR64: L[d] = L[d]! ^ L[s]!; H[d] = H[d]! ^ H[s]!; break;
        case O.LSH64: {
          const n = L[s]! & 63;
          if (n === 0) break;
          if (n < 32) { H[d] = (H[d]! << n) | (L[d]! >>> (32 - n)); L[d] = L[d]! << n; } else { H[d] = L[d]! << (n - 32); L[d] = 0; }
          break;
        }
        case O.RSH64: {
          const n = L[s]! & 63;
          if (n === 0) break;
          if (n < 32) { L[d] = (L[d]! >>> n) | (H[d]! << (32 - n)); H[d] = H[d]! >>> n; } else { L[d] = H[d]! >>> (n - 32); H[d] = 0; }
          break;
        }
        case O.ARSH64: {
          const n = L[s]! & 63;
          if (n === 0) break;
          if (n < 32) { L[d] = (L[d]! >>> n) | (H[d]! << (32 - n)); H[d] = H[d]! >> n; } else { L[d] = H[d]! >> (n - 32); H[d] = H[d]! >> 31; }
          break;
        }
        case O.NEG64: {
          const lo = L[d]!;
          L[d] = -lo | 0;
          H[d] = (~H[d]! + (lo === 0 ? 1 : 0)) | 0;
          break;
        }
        case O.MOV64: L[d] = L[s]!; H[d] = H[s]!; break;
        case O.MOVSX8_64: { const v = (L[s]! << 24) >> 24; L[d] = v; H[d] = v >> 31; break; }
        case O.MOVSX16_64: { const v = (L[s]! << 16) >> 16; L[d] = v; H[d] = v >> 31; break; }
        case O.MOVSX32_64: { const v = L[s]!; L[d] = v; H[d] = v >> 31; break; }

        // ---- ALU32: the result is zero-extended into the 64-bit register ----
        case O.ADD32: L[d] = (L[d]! + L[s]!) | 0; H[d] = 0; break;
        case O.SUB32: L[d] = (L[d]! - L[s]!) | 0; H[d] = 0; break;
        case O.MUL32: L[d] = Math.imul(L[d]!, L[s]!); H[d] = 0; break;
        case O.DIV32: { const v = L[s]! >>> 0; L[d] = v === 0 ? 0 : Math.floor((L[d]! >>> 0) / v) | 0; H[d] = 0; break; }
        case O.MOD32: { const v = L[s]! >>> 0; if (v !== 0) L[d] = ((L[d]! >>> 0) % v) | 0; H[d] = 0; break; }
        case O.SDIV32: { const v = L[s]!; L[d] = v === 0 ? 0 : Math.trunc(L[d]! / v) | 0; H[d] = 0; break; }
        case O.SMOD32: { const v = L[s]!; if (v !== 0) L[d] = (L[d]! % v) | 0; H[d] = 0; break; }
        case O.OR32: L[d] = L[d]! | L[s]!; H[d] = 0; break;
        case O.AND32: L[d] = L[d]! & L[s]!; H[d] = 0; break;
        case O.XOR32: L[d] = L[d]! ^ L[s]!; H[d] = 0; break;
        case O.LSH32: L[d] = L[d]! << (L[s]! & 31); H[d] = 0; break;
        case O.RSH32: L[d] = (L[d]! >>> (L[s]! & 31)) | 0; H[d] = 0; break;
        case O.ARSH32: L[d] = L[d]! >> (L[s]! & 31); H[d] = 0; break;
        case O.NEG32: L[d] = -L[d]! | 0; H[d] = 0; break;
        case O.MOV32: L[d] = L[s]!; H[d] = 0; break;
        case O.MOVSX8_32: L[d] = (L[s]! << 24) >> 24; H[d] = 0; break;
        case O.MOVSX16_32: L[d] = (L[s]! << 16) >> 16; H[d] = 0; break;

        // ---- byte order: le = truncate (host is little-endian), be/bswap = swap ----
        case O.LE16: L[d] = L[d]! & 0xffff; H[d] = 0; break;
        case O.LE32: H[d] = 0; break;
        case O.LE64: break;
        case O.BE16: { const x = L[d]!; L[d] = ((x & 0xff) << 8) | ((x >>> 8) & 0xff); H[d] = 0; break; }
        case O.BE32: L[d] = bswap32(L[d]!); H[d] = 0; break;
        case O.BE64: { const t = bswap32(L[d]!); L[d] = bswap32(H[d]!); H[d] = t; break; }

        case O.LDDW: L[d] = L[s]!; H[d] = H[s]!; pc++; break;

        // ---- loads and stores ----
        case O.LDXB: case O.LDXSB: {
          const a = (L[s]! >>> 0) + code[b + 2]!;
          if (checked && (H[s] !== 0 || a < rs || a + 1 > re)) { const r = regionFor(mem, a + H[s]! * TWO32, 1, false, L[s]!, H[s]!, pc - 1, 'load', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          const v = dv.getUint8(a);
          if ((w0 & 0xff) === O.LDXB) { L[d] = v; H[d] = 0; } else { const x = (v << 24) >> 24; L[d] = x; H[d] = x >> 31; }
          break;
        }
        case O.LDXH: {
          const a = (L[s]! >>> 0) + code[b + 2]!;
          if (checked && (H[s] !== 0 || a < rs || a + 2 > re)) { const r = regionFor(mem, a + H[s]! * TWO32, 2, false, L[s]!, H[s]!, pc - 1, 'load', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          L[d] = dv.getUint16(a, true); H[d] = 0;
          break;
        }
        case O.LDXSH: {
          const a = (L[s]! >>> 0) + code[b + 2]!;
          if (checked && (H[s] !== 0 || a < rs || a + 2 > re)) { const r = regionFor(mem, a + H[s]! * TWO32, 2, false, L[s]!, H[s]!, pc - 1, 'load', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          const x = dv.getInt16(a, true); L[d] = x; H[d] = x >> 31;
          break;
        }
        case O.LDXW: {
          const a = (L[s]! >>> 0) + code[b + 2]!;
          if (checked && (H[s] !== 0 || a < rs || a + 4 > re)) { const r = regionFor(mem, a + H[s]! * TWO32, 4, false, L[s]!, H[s]!, pc - 1, 'load', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          L[d] = dv.getInt32(a, true); H[d] = 0;
          break;
        }
        case O.LDXSW: {
          const a = (L[s]! >>> 0) + code[b + 2]!;
          if (checked && (H[s] !== 0 || a < rs || a + 4 > re)) { const r = regionFor(mem, a + H[s]! * TWO32, 4, false, L[s]!, H[s]!, pc - 1, 'load', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          const x = dv.getInt32(a, true); L[d] = x; H[d] = x >> 31;
          break;
        }
        case O.LDXDW: {
          const a = (L[s]! >>> 0) + code[b + 2]!;
          if (checked && (H[s] !== 0 || a < rs || a + 8 > re)) { const r = regionFor(mem, a + H[s]! * TWO32, 8, false, L[s]!, H[s]!, pc - 1, 'load', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          const lo = dv.getInt32(a, true); H[d] = dv.getInt32(a + 4, true); L[d] = lo;
          break;
        }
        case O.STB: {
          const a = (L[d]! >>> 0) + code[b + 2]!;
          if (checked && (H[d] !== 0 || a < rs || a + 1 > re || !rw)) { const r = regionFor(mem, a + H[d]! * TWO32, 1, true, L[d]!, H[d]!, pc - 1, 'store', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          dv.setUint8(a, L[s]! & 0xff);
          break;
        }
        case O.STH: {
          const a = (L[d]! >>> 0) + code[b + 2]!;
          if (checked && (H[d] !== 0 || a < rs || a + 2 > re || !rw)) { const r = regionFor(mem, a + H[d]! * TWO32, 2, true, L[d]!, H[d]!, pc - 1, 'store', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          dv.setInt16(a, L[s]!, true);
          break;
        }
        case O.STW: {
          const a = (L[d]! >>> 0) + code[b + 2]!;
          if (checked && (H[d] !== 0 || a < rs || a + 4 > re || !rw)) { const r = regionFor(mem, a + H[d]! * TWO32, 4, true, L[d]!, H[d]!, pc - 1, 'store', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          dv.setInt32(a, L[s]!, true);
          break;
        }
        case O.STDW: {
          const a = (L[d]! >>> 0) + code[b + 2]!;
          if (checked && (H[d] !== 0 || a < rs || a + 8 > re || !rw)) { const r = regionFor(mem, a + H[d]! * TWO32, 8, true, L[d]!, H[d]!, pc - 1, 'store', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          dv.setInt32(a, L[s]!, true);
          dv.setInt32(a + 4, H[s]!, true);
          break;
        }

        // ---- atomics: read-modify-write, or Atomics.* on a shared memory ----
        case O.AADD32: case O.AOR32: case O.AAND32: case O.AXOR32:
        case O.AFADD32: case O.AFOR32: case O.AFAND32: case O.AFXOR32:
        case O.AXCHG32: case O.ACMPXCHG32: {
          const a = (L[d]! >>> 0) + code[b + 2]!;
          if (checked && (H[d] !== 0 || a < rs || a + 4 > re || !rw)) { const r = regionFor(mem, a + H[d]! * TWO32, 4, true, L[d]!, H[d]!, pc - 1, 'atomic access', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          if (shared) { atomicShared(mem, w0 & 0xff, a, L, H, s, pc - 1); break; }
          const old = dv.getInt32(a, true);
          const v = L[s]!;
          switch (w0 & 0xff) {
            case O.AADD32: dv.setInt32(a, (old + v) | 0, true); break;
            case O.AOR32: dv.setInt32(a, old | v, true); break;
            case O.AAND32: dv.setInt32(a, old & v, true); break;
            case O.AXOR32: dv.setInt32(a, old ^ v, true); break;
            case O.AFADD32: dv.setInt32(a, (old + v) | 0, true); L[s] = old; H[s] = 0; break;
            case O.AFOR32: dv.setInt32(a, old | v, true); L[s] = old; H[s] = 0; break;
            case O.AFAND32: dv.setInt32(a, old & v, true); L[s] = old; H[s] = 0; break;
            case O.AFXOR32: dv.setInt32(a, old ^ v, true); L[s] = old; H[s] = 0; break;
            case O.AXCHG32: dv.setInt32(a, v, true); L[s] = old; H[s] = 0; break;
            default: // cmpxchg32: compare with the low 32 bits of R0; R0 = old, zero-extended
              if (old === L[0]) dv.setInt32(a, v, true);
              L[0] = old; H[0] = 0;
          }
          break;
        }
        case O.AADD64: case O.AOR64: case O.AAND64: case O.AXOR64:
        case O.AFADD64: case O.AFOR64: case O.AFAND64: case O.AFXOR64:
        case O.AXCHG64: case O.ACMPXCHG64: {
          const a = (L[d]! >>> 0) + code[b + 2]!;
          if (checked && (H[d] !== 0 || a < rs || a + 8 > re || !rw)) { const r = regionFor(mem, a + H[d]! * TWO32, 8, true, L[d]!, H[d]!, pc - 1, 'atomic access', stackTop - (depth + 1) * STACK_SIZE, stackTop); rs = r.start; re = r.end; rw = r.writable; }
          if (shared) { atomicShared(mem, w0 & 0xff, a, L, H, s, pc - 1); break; }
          const ol = dv.getInt32(a, true), oh = dv.getInt32(a + 4, true);
          const vl = L[s]!, vh = H[s]!;
          let nl = 0, nh = 0;
          const op = w0 & 0xff;
          switch (op) {
            case O.AADD64: case O.AFADD64: nl = (ol + vl) | 0; nh = (oh + vh + ((nl >>> 0) < (ol >>> 0) ? 1 : 0)) | 0; break;
            case O.AOR64: case O.AFOR64: nl = ol | vl; nh = oh | vh; break;
            case O.AAND64: case O.AFAND64: nl = ol & vl; nh = oh & vh; break;
            case O.AXOR64: case O.AFXOR64: nl = ol ^ vl; nh = oh ^ vh; break;
            case O.AXCHG64: nl = vl; nh = vh; break;
            default: // cmpxchg
              if (ol === L[0] && oh === H[0]) { nl = vl; nh = vh; } else { nl = ol; nh = oh; }
          }
          dv.setInt32(a, nl, true);
          dv.setInt32(a + 4, nh, true);
          if (op === O.ACMPXCHG64) { L[0] = ol; H[0] = oh; } else if (op >= O.AFADD64) { L[s] = ol; H[s] = oh; }
          break;
        }

        // ---- legacy packet loads: network byte order into R0; out of range ends the program with R0 = 0 ----
        case O.LDABSB: case O.LDABSH: case O.LDABSW: case O.LDINDB: case O.LDINDH: case O.LDINDW: {
          const op = w0 & 0xff;
          const off = op >= O.LDINDB ? (L[s]! + code[b + 2]!) | 0 : code[b + 2]!;
          const size = op === O.LDABSB || op === O.LDINDB ? 1 : op === O.LDABSH || op === O.LDINDH ? 2 : 4;
          if (off < 0 || off + size > pktLen) { L[0] = 0; H[0] = 0; return { r0: 0n, insnCount: count }; }
          const a = pktStart + off;
          L[0] = size === 1 ? dv.getUint8(a) : size === 2 ? dv.getUint16(a, false) : dv.getInt32(a, false);
          H[0] = 0;
          break;
        }

        // ---- jumps ----
        case O.JA: pc = code[b + 2]!; break;
        case O.JEQ64: if (L[d] === L[s] && H[d] === H[s]) pc = code[b + 2]!; break;
        case O.JNE64: if (L[d] !== L[s] || H[d] !== H[s]) pc = code[b + 2]!; break;
        case O.JSET64: if ((L[d]! & L[s]!) !== 0 || (H[d]! & H[s]!) !== 0) pc = code[b + 2]!; break;
        case O.JGT64: { const x = H[d]! >>> 0, y = H[s]! >>> 0; if (x > y || (x === y && (L[d]! >>> 0) > (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JGE64: { const x = H[d]! >>> 0, y = H[s]! >>> 0; if (x > y || (x === y && (L[d]! >>> 0) >= (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JLT64: { const x = H[d]! >>> 0, y = H[s]! >>> 0; if (x < y || (x === y && (L[d]! >>> 0) < (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JLE64: { const x = H[d]! >>> 0, y = H[s]! >>> 0; if (x < y || (x === y && (L[d]! >>> 0) <= (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JSGT64: { const x = H[d]!, y = H[s]!; if (x > y || (x === y && (L[d]! >>> 0) > (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JSGE64: { const x = H[d]!, y = H[s]!; if (x > y || (x === y && (L[d]! >>> 0) >= (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JSLT64: { const x = H[d]!, y = H[s]!; if (x < y || (x === y && (L[d]! >>> 0) < (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JSLE64: { const x = H[d]!, y = H[s]!; if (x < y || (x === y && (L[d]! >>> 0) <= (L[s]! >>> 0))) pc = code[b + 2]!; break; }
        case O.JEQ32: if (L[d] === L[s]) pc = code[b + 2]!; break;
        case O.JNE32: if (L[d] !== L[s]) pc = code[b + 2]!; break;
        case O.JSET32: if ((L[d]! & L[s]!) !== 0) pc = code[b + 2]!; break;
        case O.JGT32: if ((L[d]! >>> 0) > (L[s]! >>> 0)) pc = code[b + 2]!; break;
        case O.JGE32: if ((L[d]! >>> 0) >= (L[s]! >>> 0)) pc = code[b + 2]!; break;
        case O.JLT32: if ((L[d]! >>> 0) < (L[s]! >>> 0)) pc = code[b + 2]!; break;
        case O.JLE32: if ((L[d]! >>> 0) <= (L[s]! >>> 0)) pc = code[b + 2]!; break;
        case O.JSGT32: if (L[d]! > L[s]!) pc = code[b + 2]!; break;
        case O.JSGE32: if (L[d]! >= L[s]!) pc = code[b + 2]!; break;
        case O.JSLT32: if (L[d]! < L[s]!) pc = code[b + 2]!; break;
        case O.JSLE32: if (L[d]! <= L[s]!) pc = code[b + 2]!; break;

        // ---- calls ----
        case O.CALL:
          ctx ??= newCtx(env, mem, checked);
          ctx.callDepth = depth;
          if (callHelper(helpers, ctx, code[b + 3]!, L, H, pc - 1)) {
            if (!ctx.returning || depth === 0) return { r0: toBig(L[0]!, H[0]!), insnCount: count };
            ctx.returning = false;
            depth = popFrame(frames, depth, L, H);
            pc = frames[depth * 12]!;
            rs = 0; re = 0;
          }
          u8 = mem.u8; dv = mem.view;
          break;
        case O.CALL_LOCAL:
          pushFrame(frames, depth, pc, L, H, stackTop, u8, pc - 1);
          depth++;
          pc = code[b + 2]!;
          break;
        case O.CALLX: {
          const lo = L[s]!, hi = H[s]!;
          if (hi === CODE_ADDR_TAG && lo >= 0 && lo < p.slots && p.starts[lo]) {
            pushFrame(frames, depth, pc, L, H, stackTop, u8, pc - 1);
            depth++;
            pc = lo;
          } else if (hi === 0 && lo >= 0) {
            ctx ??= newCtx(env, mem, checked);
            ctx.callDepth = depth;
            if (callHelper(helpers, ctx, lo, L, H, pc - 1)) {
              if (!ctx.returning || depth === 0) return { r0: toBig(L[0]!, H[0]!), insnCount: count };
              ctx.returning = false;
              depth = popFrame(frames, depth, L, H);
              pc = frames[depth * 12]!;
              rs = 0; re = 0;
            }
            u8 = mem.u8; dv = mem.view;
          } else {
            throw new RuntimeFault('FAULT_CALL_TARGET', `callx r${s}: 0x${toBig(lo, hi).toString(16)} is neither a helper id nor a function address`, pc - 1);
          }
          break;
        }
        case O.EXIT: {
          if (depth === 0) return { r0: toBig(L[0]!, H[0]!), insnCount: count };
          depth--;
          rs = 0; re = 0; // the popped frame is no longer stack
          const f = depth * 12;
          pc = frames[f]!;
          for (let r = 6; r <= 10; r++) {
            L[r] = frames[f + 1 + (r - 6) * 2]!;
            H[r] = frames[f + 2 + (r - 6) * 2]!;
          }
          break;
        }

        // ---- faults placed by prepare() ----
        case O.F_JUMP: {
          const from = code[b + 3]!;
          count--;
          throw new RuntimeFault('FAULT_JUMP', `jump to slot ${code[b + 2]!}: not the start of an instruction of this program`, from);
        }
        case O.F_FALLOFF:
          count--;
          throw new RuntimeFault('FAULT_FALL_THROUGH', 'execution fell off the end of the program', code[b + 3]!);
        default:
          throw new RuntimeFault('FAULT_UNSUPPORTED', `${describe(p, code[b + 3]!)} cannot run without a loader`, pc - 1);
      }
    }
  } catch (e) {
    if (isTsbpfError(e)) throw e;
    if (e instanceof RangeError) {
      throw new RuntimeFault('FAULT_MEMORY', `memory access outside the linear memory (${e.message})`, pc - 1);
    }
    throw new RuntimeFault('FAULT_INTERNAL', `internal error: ${e instanceof Error ? e.message : String(e)}`, pc - 1);
  }
}

function describe(p: PreparedProgram, slot: number): string {
  const idx = slotIndices(p.insns);
  const i = idx.indexOf(slot);
  const x = i >= 0 ? p.insns[i] : undefined;
  if (!x) return 'this instruction';
  if (x.op.kind === 'ld_imm64') return `lddw with src ${x.src}`;
  if (x.op.kind === 'callx') return `callx through invalid register ${x.imm}`;
  return x.op.name;
}

/** An interpreter bound to one program: prepare once, run many times. */
export class Interpreter {
  readonly program: PreparedProgram;
  constructor(insns: readonly Instruction[]) {
    this.program = prepare(insns);
  }
  run(env: RunEnv): RunResult {
    return execute(this.program, env);
  }
}

