// The verifier log in the Linux kernel's format, so that people who read the
// kernel's log read ours at once:
//
//   0: (b7) r0 = 0                        ; R0=0
//   4: (2d) if r4 > r3 goto pc+6          ; R3=pkt_end() R4=pkt(off=14,r=14)
//   processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
//
// Instructions print in the kernel's dialect (not llvm-objdump's: `(r1 +0)`,
// `goto pc+6`, `if r0 == 0x0`), registers in its notation. The formats were
// taken from the log of Linux 6.18 for the same programs.

import { type Instruction, imm64 } from '../isa/instruction.js';
import { helperName } from '../isa/helper-names.js';
import type { Scalar } from './bounds.js';
import { S64_MIN, S64_MAX, U64_MAX, S32_MIN, S32_MAX, U32_MAX } from './bounds.js';
import {
  type Frame, type Reg, NOT_INIT, SCALAR, PTR_STACK, PTR_CTX, MAP_PTR, MAP_VALUE, MAP_KEY, PKT, PKT_END, PKT_META, MEM, FUNC,
  STACK_INVALID, STACK_MISC, STACK_ZERO, STACK_SPILL, SLOTS, typeName,
} from './state.js';
import { tnumFormat } from './tnum.js';

export interface MapDesc {
  readonly name?: string;
  readonly keySize: number;
  readonly valueSize: number;
}

const SIZE_NAME: Record<number, string> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };
const SSIZE_NAME: Record<number, string> = { 1: 's8', 2: 's16', 4: 's32', 8: 's64' };
const ALU_SYM: Record<string, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', sdiv: 's/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=',
  mod: '%=', smod: 's%=', xor: '^=', arsh: 's>>=',
};
const JMP_SYM: Record<string, string> = {
  jeq: '==', jgt: '>', jge: '>=', jset: '&', jne: '!=', jsgt: 's>', jsge: 's>=', jlt: '<', jle: '<=',
  jslt: 's<', jsle: 's<=',
};

function off(o: number): string {
  return o < 0 ? `-${-o}` : `+${o}`;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** One instruction in the kernel log's dialect (without the `N: (op) ` prefix). */
export function formatKernelInsn(x: Instruction): string {
  const op = x.op;
  const r = (n: number): string => (op.is64 ? `r${n}` : `w${n}`);
  switch (op.kind) {
    case 'alu': return `${r(x.dst)} ${ALU_SYM[op.alu!]} ${op.srcReg ? r(x.src) : x.imm}`;
    case 'neg': return `${r(x.dst)} = -${r(x.dst)}`;
    case 'mov': return `${r(x.dst)} = ${op.srcReg ? r(x.src) : x.imm}`;
    case 'movsx': return `${r(x.dst)} = (s${op.size * 8})${r(x.src)}`;
    case 'endian': {
      const name = op.endian === 'bswap' ? 'bswap' : op.endian;
      return `r${x.dst} = ${name}${op.size * 8} r${x.dst}`;
    }
    case 'ld_imm64':
      switch (x.src) {
        case 1: return `r${x.dst} = map[id:${x.imm}]`;
        case 2: return `r${x.dst} = map[id:${x.imm}][0]+${x.imm2}`;
        case 4: return `r${x.dst} = func pc${off(x.imm)}`;
        default: return `r${x.dst} = ${hex(imm64(x))}`;
      }
    case 'ldx': return `r${x.dst} = *(${SIZE_NAME[op.size]} *)(r${x.src} ${off(x.off)})`;
    case 'ldsx': return `r${x.dst} = *(${SSIZE_NAME[op.size]} *)(r${x.src} ${off(x.off)})`;
    case 'st': return `*(${SIZE_NAME[op.size]} *)(r${x.dst} ${off(x.off)}) = ${x.imm}`;
    case 'stx': return `*(${SIZE_NAME[op.size]} *)(r${x.dst} ${off(x.off)}) = r${x.src}`;
    case 'atomic': {
      const a = op.atomic!;
      const w = op.size === 8 ? 'r' : 'w';
      const p = `(${SIZE_NAME[op.size]} *)(r${x.dst} ${off(x.off)})`;
      const f = op.size === 8 ? 'atomic64' : 'atomic';
      if (a === 'xchg') return `${w}${x.src} = ${f}_xchg(${p}, ${w}${x.src})`;
      if (a === 'cmpxchg') return `${w}0 = ${f}_cmpxchg(${p}, ${w}0, ${w}${x.src})`;
      if (a.startsWith('fetch ')) return `${w}${x.src} = ${f}_fetch_${a.slice(6)}(${p}, ${w}${x.src})`;
      const sym = a === 'add' ? '+=' : a === 'or' ? '|=' : a === 'and' ? '&=' : '^=';
      return `lock *${p} ${sym} ${w}${x.src}`;
    }
    case 'ld_abs': return `r0 = *(${SIZE_NAME[op.size]} *)skb[${x.imm}]`;
    case 'ld_ind': return `r0 = *(${SIZE_NAME[op.size]} *)skb[r${x.src} + ${x.imm}]`;
    case 'ja': return `${op.is64 ? 'goto' : 'gotol'} pc${off(op.is64 ? x.off : x.imm)}`;
    case 'jcond':
      return `if ${r(x.dst)} ${JMP_SYM[op.jmp!]} ${op.srcReg ? r(x.src) : hex(BigInt(op.is64 ? x.imm : x.imm >>> 0) & (op.is64 ? U64_MAX : 0xffffffffn))} goto pc${off(x.off)}`;
    case 'call': {
      const n = helperName(x.imm);
      return `call ${n ?? 'unknown'}#${x.imm}`;
    }
    case 'call_local': return `call pc${off(x.imm)}`;
    case 'kfunc_call': return `call kernel-function#${x.imm}`;
    case 'callx': return `callx r${x.dst}`;
    case 'exit': return 'exit';
  }
}

/** The `N: (op) text` prefix line the kernel prints before an instruction's effect. */
export function insnLine(pc: number, x: Instruction): string {
  return `${pc}: (${x.op.opcode.toString(16).padStart(2, '0')}) ${formatKernelInsn(x)}`;
}

/** Pad an instruction line to the column where the kernel starts `; R0=...`. */
export function withEffect(line: string, effect: string): string {
  if (!effect) return line;
  return `${line.padEnd(37)} ; ${effect}`;
}

// ---- Numbers and ranges ----

/** A 64-bit value as the kernel prints it: decimal in the s16 range, else hex of the u64. */
export function num64(v: bigint): string {
  const s = BigInt.asIntN(64, v);
  if (s >= -32768n && s <= 32767n) return s.toString();
  return hex(BigInt.asUintN(64, v));
}

function num32(v: number, signed: boolean): string {
  const s = signed ? v | 0 : v >>> 0;
  if (s >= -32768 && s <= 32767) return String(s);
  return `0x${(v >>> 0).toString(16)}`;
}

interface RangeEntry { name: string; v: bigint; w: 32 | 64; signed: boolean; dflt: boolean; text: string }

function rangeEq(a: RangeEntry, b: RangeEntry): boolean {
  // Lower bounds merge with lower bounds, upper with upper.
  if (a.name.includes('min') !== b.name.includes('min')) return false;
  // Merged when they are the same number; a 32-bit bound also merges with a 64-bit one
  // that equals its unsigned reading (as Linux prints smin=umin=smin32=umin32=0xfffe7960).
  if (a.v === b.v) return true;
  if (a.w === 32 && b.w === 32) return BigInt.asUintN(32, a.v) === BigInt.asUintN(32, b.v);
  if (a.w === 64 && b.w === 64) return false;
  const [w64, w32] = a.w === 64 ? [a, b] : [b, a];
  return w64.v >= 0n && w64.v <= 0xffffffffn && w64.v === BigInt.asUintN(32, w32.v);
}

/** `smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff)`; empty for an unknown value. */
export function formatRanges(s: Scalar): string {
  const e: RangeEntry[] = [
    { name: 'smin', v: s.smin, w: 64, signed: true, dflt: s.smin === S64_MIN, text: num64(s.smin) },
    { name: 'smax', v: s.smax, w: 64, signed: true, dflt: s.smax === S64_MAX, text: num64(s.smax) },
    { name: 'umin', v: s.umin, w: 64, signed: false, dflt: s.umin === 0n, text: num64u(s.umin) },
    { name: 'umax', v: s.umax, w: 64, signed: false, dflt: s.umax === U64_MAX, text: num64u(s.umax) },
    { name: 'smin32', v: BigInt(s.s32min), w: 32, signed: true, dflt: s.s32min === S32_MIN, text: num32(s.s32min, true) },
    { name: 'smax32', v: BigInt(s.s32max), w: 32, signed: true, dflt: s.s32max === S32_MAX, text: num32(s.s32max, true) },
    { name: 'umin32', v: BigInt(s.u32min), w: 32, signed: false, dflt: s.u32min === 0, text: num32(s.u32min, false) },
    { name: 'umax32', v: BigInt(s.u32max), w: 32, signed: false, dflt: s.u32max === U32_MAX, text: num32(s.u32max, false) },
  ];
  const done = new Array<boolean>(e.length).fill(false);
  const parts: string[] = [];
  for (let i = 0; i < e.length; i++) {
    if (done[i] || e[i]!.dflt) continue;
    const names = [e[i]!.name];
    for (let j = i + 1; j < e.length; j++) {
      if (!done[j] && !e[j]!.dflt && rangeEq(e[i]!, e[j]!)) { names.push(e[j]!.name); done[j] = true; }
    }
    parts.push(`${names.join('=')}=${e[i]!.text}`);
  }
  const t = s.var_;
  if (t.mask !== 0n && t.mask !== U64_MAX) parts.push(`var_off=${tnumFormat(t)}`);
  return parts.join(',');
}

function num64u(v: bigint): string {
  return v <= 32767n ? v.toString() : hex(v);
}

// ---- Registers and stack ----

/** A register's value in kernel notation: `0`, `scalar(umax=255)`, `pkt(off=14,r=14)`, `fp-8`, `map_value(ks=4,vs=8)`. */
export function formatReg(r: Reg, maps: readonly MapDesc[], showPrecise = true): string {
  const P = r.precise && showPrecise ? 'P' : '';
  if (r.type === NOT_INIT) return '?';
  if (r.type === SCALAR) {
    if (r.s.isConst() && r.id === 0) return P + num64(r.s.value);
    const parts: string[] = [];
    if (r.id) parts.push(`id=${r.id}${r.idOff ? (r.idOff > 0n ? `+${r.idOff}` : `${r.idOff}`) : ''}`);
    const rg = r.s.isConst() ? '' : formatRanges(r.s);
    if (r.s.isConst()) return P + num64(r.s.value);
    if (rg) parts.push(rg);
    return `${P}scalar(${parts.join(',')})`;
  }
  if (r.type === PTR_STACK && r.fixedOff()) return `fp${r.off === 0 ? '0' : r.off}`;
  const parts: string[] = [];
  if (r.id && r.type !== PTR_STACK) parts.push(`id=${r.id}`);
  if (r.refId) parts.push(`ref_obj_id=${r.refId}`);
  if (r.off) parts.push(`off=${r.off}`);
  if (r.type === MAP_PTR || r.type === MAP_VALUE || r.type === MAP_KEY) {
    const m = maps[r.map];
    if (m?.name) parts.push(`map=${m.name}`);
    if (m) parts.push(`ks=${m.keySize},vs=${m.valueSize}`);
  }
  if (r.type === PKT || r.type === PKT_META) parts.push(`r=${r.range >= 0 ? r.range : hex(BigInt.asUintN(64, BigInt(r.range)))}`);
  if (r.type === MEM) parts.push(`sz=${r.memSize}`);
  if (!r.fixedOff()) {
    const rg = formatRanges(r.s);
    if (rg) parts.push(rg);
  }
  let name = typeName(r.type, r.maybeNull, r.ringbuf);
  if (r.type === FUNC) name = 'func';
  if (r.type === PTR_CTX || r.type === PKT_END || r.type === PTR_STACK || r.type === FUNC) {
    return `${name}(${parts.join(',')})`;
  }
  return `${name}(${parts.join(',')})`;
}

/** `fp-8=0000????`, `fp-16=map_value(...)`, or undefined for an untouched slot. */
export function formatSlot(f: Frame, slot: number, maps: readonly MapDesc[], showPrecise = true): string | undefined {
  const base = slot * 8;
  const name = `fp-${(SLOTS - slot) * 8}`;
  const sp = f.spill[slot];
  if (sp && sp.size === 8) return `${name}=${formatReg(sp.reg, maps, showPrecise)}`;
  let s = '';
  let any = false;
  if (sp && sp.at === 0) {
    // A narrow spill: the other bytes, then the register (`????scalar(...)`, `???????7`).
    for (let i = 7; i >= sp.size; i--) {
      const k = f.kind[base + i]!;
      s += k === STACK_MISC ? 'm' : k === STACK_ZERO ? '0' : '?';
    }
    return `${name}=${s}${formatReg(sp.reg, maps, showPrecise)}`;
  }
  for (let i = 7; i >= 0; i--) {
    const k = f.kind[base + i]!;
    if (k !== STACK_INVALID) any = true;
    s += k === STACK_MISC ? 'm' : k === STACK_ZERO ? '0' : k === STACK_SPILL ? 'r' : '?';
  }
  return any ? `${name}=${s}` : undefined;
}

/** `R1=ctx() R10=fp0 fp-8=mmmmmmmm` for the registers in `mask` and the slots in `slots` (all when undefined). */
export function formatFrame(f: Frame, maps: readonly MapDesc[], mask = 0x7ff, slots?: Iterable<number>, showPrecise = true): string {
  const parts: string[] = [];
  for (let i = 0; i <= 10; i++) {
    if (!(mask & (1 << i))) continue;
    const r = f.regs[i]!;
    if (r.type === NOT_INIT) continue;
    parts.push(`R${i}=${formatReg(r, maps, showPrecise)}`);
  }
  const list = slots ? [...slots].sort((a, b) => b - a) : [...Array(SLOTS).keys()].reverse();
  for (const sl of list) {
    const t = formatSlot(f, sl, maps, showPrecise);
    if (t) parts.push(t);
  }
  return parts.join(' ');
}

export { PTR_CTX, PKT_END, MAP_KEY };
