// Disassembler in the syntax of `llvm-objdump -d` (LLVM's BPF instruction
// printer), which is also what bpftool and clang's inline asm use:
//
//   r0 = *(u32 *)(r1 + 4)      *(u64 *)(r10 - 8) = r1     if r3 s> 60 goto +1
//   w0 += 1                    lock *(u64 *)(r0 + 0) += r1
//   r1 = 0 ll                  r0 = be16 r0               call 1
//
// For instructions LLVM 14 does not know (ISA v4), the text is what newer
// LLVM prints: `r0 = (s8)r1`, `r0 = *(s8 *)(r1 + 0)`, `gotol +5`,
// `r0 = bswap16 r0`, `r0 s/= r1`, `r0 s%= r1`, `callx r1`,
// `*(u32 *)(r10 - 8) = 5`.
//
// LLVM's text loses information in a few places; by default the printer adds
// just enough to make the text assemble back to the same bytes:
//
//   bpf-to-bpf call   llvm: `call -3`             default: `call pc-3` (bpftool's form)
//   kfunc call        llvm: `call 5`              default: `call kfunc 5` (`, off` if off != 0)
//   ld_ind            llvm: `r0 = *(u8 *)skb[r1]` default: `... skb[r1 + 12]` when imm != 0
//   ld_pseudo         llvm: `ld_pseudo r1, 2, 5`  default: `, imm2` appended when the upper half != 0
//   callx (imm set)   llvm: `callx r1`            default: `callx r1, imm` when imm != 0
//
// `llvmExact: true` prints LLVM's lossy text instead.

import { type Instruction, decode, encode, imm64 } from './instruction.js';
import { helperName } from './helper-names.js';

export interface FormatOptions {
  /** Print `call bpf_map_lookup_elem#1` (bpftool) instead of `call 1`. */
  readonly helperNames?: boolean;
  /**
   * Print sub-64-bit loads, stores and 32-bit atomics with wN registers, as
   * `llvm-objdump --mattr=+alu32` (or -mcpu=v3) does: `w0 = *(u32 *)(r1 + 4)`.
   */
  readonly alu32?: boolean;
  /** Print exactly what LLVM prints, even where that loses information (see above). */
  readonly llvmExact?: boolean;
  /**
   * `llvm` (default) or `mnemonic`: the bpf_conformance / uBPF syntax
   * (`mov32 %r0, 1`, `ldxw %r0, [%r1+4]`, `jne %r0, 0, +2`). LD_IMM64 with a
   * pseudo source has no mnemonic form and prints as `ld_pseudo`.
   */
  readonly syntax?: 'llvm' | 'mnemonic';
}

export interface DisasmOptions extends FormatOptions {
  /** Prefix each line with the slot index, right-aligned as llvm-objdump does (default true). */
  readonly showIndex?: boolean;
  /** Print the instruction bytes after the index (default false). */
  readonly showRaw?: boolean;
}

const ALU_SYM: Readonly<Record<string, string>> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=',
  mod: '%=', xor: '^=', arsh: 's>>=', sdiv: 's/=', smod: 's%=',
};
const JMP_SYM: Readonly<Record<string, string>> = {
  jeq: '==', jgt: '>', jge: '>=', jset: '&', jne: '!=', jsgt: 's>', jsge: 's>=', jlt: '<',
  jle: '<=', jslt: 's<', jsle: 's<=',
};
const SIZE: Readonly<Record<number, string>> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };
const SSIZE: Readonly<Record<number, string>> = { 1: 's8', 2: 's16', 4: 's32' };

function mem(base: number, off: number): string {
  return off >= 0 ? `r${base} + ${off}` : `r${base} - ${-off}`;
}

function rel(n: number): string {
  return n >= 0 ? `+${n}` : `${n}`;
}

function memRef(base: number, off: number): string {
  return `[%r${base}${off >= 0 ? '+' : ''}${off}]`;
}

/** One instruction in the mnemonic syntax of bpf_conformance. */
function formatMnemonic(x: Instruction, opts: FormatOptions): string {
  const s = x.op;
  const n = s.name;
  const v = s.srcReg ? `%r${x.src}` : `${x.imm}`;
  switch (s.kind) {
    case 'alu': case 'mov': return `${n} %r${x.dst}, ${v}`;
    case 'neg': case 'endian': return `${n} %r${x.dst}`;
    case 'movsx': return `${n} %r${x.dst}, %r${x.src}`;
    case 'ld_imm64':
      if (x.src !== 0) return formatInstruction(x, { ...opts, syntax: 'llvm' });
      return `${n} %r${x.dst}, 0x${imm64(x).toString(16)}`;
    case 'ldx': case 'ldsx': return `${n} %r${x.dst}, ${memRef(x.src, x.off)}`;
    case 'st': return `${n} ${memRef(x.dst, x.off)}, ${x.imm}`;
    case 'stx': case 'atomic': return `${n} ${memRef(x.dst, x.off)}, %r${x.src}`;
    case 'ld_abs': return `${n} ${x.imm}`;
    case 'ld_ind': return `${n} %r${x.src}, ${x.imm}`;
    case 'ja': return `${n} ${rel(s.is64 ? x.off : x.imm)}`;
    case 'jcond': return `${n} %r${x.dst}, ${v}, ${rel(x.off)}`;
    case 'call': return `call ${x.imm}`;
    case 'call_local': return `call local ${rel(x.imm)}`;
    case 'kfunc_call': return x.off === 0 ? `call kfunc ${x.imm}` : `call kfunc ${x.imm}, ${x.off}`;
    case 'callx': return x.imm === 0 ? `call %r${x.dst}` : `callx %r${x.dst}, ${x.imm}`;
    case 'exit': return 'exit';
  }
}

/** One instruction in LLVM's syntax (no index, no bytes), or the mnemonic syntax. */
export function formatInstruction(x: Instruction, opts: FormatOptions = {}): string {
  if (opts.syntax === 'mnemonic') return formatMnemonic(x, opts);
  const s = x.op;
  const R = s.is64 ? 'r' : 'w';
  const d = `${R}${x.dst}`;
  switch (s.kind) {
    case 'alu':
      return `${d} ${ALU_SYM[s.alu!]} ${s.srcReg ? `${R}${x.src}` : x.imm}`;
    case 'neg':
      return `${d} = -${d}`;
    case 'mov':
      return `${d} = ${s.srcReg ? `${R}${x.src}` : x.imm}`;
    case 'movsx':
      return `${d} = (${SSIZE[s.size]})${R}${x.src}`;
    case 'endian':
      return `r${x.dst} = ${s.endian}${s.size * 8} r${x.dst}`;
    case 'ld_imm64': {
      if (x.src === 0) return `r${x.dst} = ${BigInt.asIntN(64, imm64(x))} ll`;
      // LLVM prints the immediate unsigned here.
      const extra = x.imm2 !== 0 && !opts.llvmExact ? `, ${x.imm2 >>> 0}` : '';
      return `ld_pseudo\tr${x.dst}, ${x.src}, ${x.imm >>> 0}${extra}`;
    }
    case 'ldx': {
      const w = opts.alu32 && s.size !== 8 ? 'w' : 'r';
      return `${w}${x.dst} = *(${SIZE[s.size]} *)(${mem(x.src, x.off)})`;
    }
    case 'ldsx':
      return `r${x.dst} = *(${SSIZE[s.size]} *)(${mem(x.src, x.off)})`;
    case 'st':
      return `*(${SIZE[s.size]} *)(${mem(x.dst, x.off)}) = ${x.imm}`;
    case 'stx': {
      const w = opts.alu32 && s.size !== 8 ? 'w' : 'r';
      return `*(${SIZE[s.size]} *)(${mem(x.dst, x.off)}) = ${w}${x.src}`;
    }
    case 'atomic': {
      const a = s.atomic!;
      const w = s.size === 8 ? 'r' : 'w';
      if (!a.startsWith('fetch') && a !== 'xchg' && a !== 'cmpxchg') {
        const v = s.size === 8 || !opts.alu32 ? 'r' : 'w';
        return `lock *(${SIZE[s.size]} *)(${mem(x.dst, x.off)}) ${ALU_SYM[a]} ${v}${x.src}`;
      }
      if (a === 'xchg') {
        return s.size === 8 ? `r${x.src} = xchg_64(${mem(x.dst, x.off)}, r${x.src})`
          : `w${x.src} = xchg32_32(${mem(x.dst, x.off)}, w${x.src})`;
      }
      if (a === 'cmpxchg') {
        return s.size === 8 ? `r0 = cmpxchg_64(${mem(x.dst, x.off)}, r0, r${x.src})`
          : `w0 = cmpxchg32_32(${mem(x.dst, x.off)}, w0, w${x.src})`;
      }
      return `${w}${x.src} = atomic_${a.replace(' ', '_')}((${SIZE[s.size]} *)(${mem(x.dst, x.off)}), ${w}${x.src})`;
    }
    case 'ld_abs':
      return `r0 = *(${SIZE[s.size]} *)skb[${x.imm}]`;
    case 'ld_ind': {
      const extra = x.imm === 0 || opts.llvmExact ? '' : x.imm > 0 ? ` + ${x.imm}` : ` - ${-x.imm}`;
      return `r0 = *(${SIZE[s.size]} *)skb[r${x.src}${extra}]`;
    }
    case 'ja':
      return s.is64 ? `goto ${rel(x.off)}` : `gotol ${rel(x.imm)}`;
    case 'jcond':
      return `if ${d} ${JMP_SYM[s.jmp!]} ${s.srcReg ? `${R}${x.src}` : x.imm} goto ${rel(x.off)}`;
    case 'call': {
      const n = opts.helperNames ? helperName(x.imm) : undefined;
      return n ? `call ${n}#${x.imm}` : `call ${x.imm}`;
    }
    case 'call_local':
      return opts.llvmExact ? `call ${x.imm}` : `call pc${rel(x.imm)}`;
    case 'kfunc_call':
      if (opts.llvmExact) return `call ${x.imm}`;
      return x.off === 0 ? `call kfunc ${x.imm}` : `call kfunc ${x.imm}, ${x.off}`;
    case 'callx':
      return x.imm !== 0 && !opts.llvmExact ? `callx r${x.dst}, ${x.imm}` : `callx r${x.dst}`;
    case 'exit':
      return 'exit';
  }
}

function hexBytes(x: Instruction): string {
  return Array.from(encode([x]), (v) => v.toString(16).padStart(2, '0')).join(' ');
}

/**
 * A program as llvm-objdump lines: `       0:\tr0 = 0` (with `showRaw`,
 * `       0:\tb7 00 00 00 00 00 00 00\tr0 = 0`). The index is the slot, so
 * it advances by 2 over `lddw`. Accepts decoded instructions or raw bytes.
 */
export function disassemble(prog: readonly Instruction[] | Uint8Array, opts: DisasmOptions = {}): string {
  const insns = prog instanceof Uint8Array ? decode(prog) : prog;
  const showIndex = opts.showIndex ?? true;
  const showRaw = opts.showRaw ?? false;
  let slot = 0;
  let out = '';
  for (const x of insns) {
    let line = '';
    if (showIndex) line += `${String(slot).padStart(8)}:\t`;
    if (showRaw) line += `${hexBytes(x)}\t`;
    out += line + formatInstruction(x, opts) + '\n';
    slot += x.op.kind === 'ld_imm64' ? 2 : 1;
  }
  return out;
}
