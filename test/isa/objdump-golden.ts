// Shared by the disassembler tests and test/fixtures/isa/gen-objdump-golden.mjs:
// representative instructions for every entry of the opcode table, a minimal
// ELF64 relocatable (EM_BPF) around raw bytecode so that llvm-objdump can read
// it, and the golden-file format. Importing this module has no side effects.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Instruction, type OpSpec, OPS, encode, insn } from '../../src/isa/index.js';

export type Mode = 'default' | 'alu32';

export interface GoldenEntry {
  readonly mode: Mode;
  /** Instruction bytes, hex pairs separated by spaces. */
  readonly bytes: string;
  /** What LLVM prints (llvm-objdump -d), or newer LLVM where 14 lacks the instruction. */
  readonly text: string;
  /** Where `text` comes from, and what LLVM 14 printed when that differs. */
  readonly origin: string;
}

const I32_MAX = 2147483647;
const I32_MIN = -2147483648;

/** A few instructions per table entry: negative and extreme offsets and immediates, 32 and 64 bit. */
export function representatives(): Instruction[] {
  const out: Instruction[] = [];
  const add = (s: OpSpec, f: Partial<Omit<Instruction, 'op'>>): void => { out.push(insn(s, f)); };
  for (const s of OPS) {
    switch (s.kind) {
      case 'alu': case 'mov': case 'jcond': {
        const offs = s.kind === 'jcond' ? [1, -3, 0, 32767, -32768] : [0, 0, 0, 0, 0];
        if (s.srcReg) {
          [[1, 2], [0, 10], [9, 0]].forEach(([d, r], i) => add(s, { dst: d, src: r, off: offs[i] }));
        } else {
          [[3, 60], [1, -1], [0, I32_MAX], [9, I32_MIN], [10, 0]].forEach(([d, v], i) => add(s, { dst: d, imm: v, off: offs[i] }));
        }
        break;
      }
      case 'neg': case 'endian': add(s, { dst: 1 }); add(s, { dst: 0 }); add(s, { dst: 9 }); break;
      case 'movsx': add(s, { dst: 1, src: 2 }); add(s, { dst: 0, src: 9 }); break;
      case 'ld_imm64': {
        for (const v of [0n, 42n, -1n, 0x123456789abcdef0n, 0x100000000n, 1n << 63n, (1n << 63n) - 1n, 0xffffffffn, -0x80000000n]) {
          const u = BigInt.asUintN(64, v);
          add(s, { dst: v === 42n ? 9 : 1, imm: Number(BigInt.asIntN(32, u)), imm2: Number(BigInt.asIntN(32, u >> 32n)) });
        }
        for (let src = 1; src <= 6; src++) add(s, { dst: 2, src, imm: 5 });
        break;
      }
      case 'ldx': case 'ldsx':
        [[0, 1, 4], [1, 10, -8], [9, 2, 32767], [2, 3, -32768], [3, 4, 0]].forEach(([d, r, o]) => add(s, { dst: d, src: r, off: o }));
        break;
      case 'st':
        [[10, -8, 5], [1, 0, -1], [2, 32767, I32_MAX], [3, -32768, I32_MIN]].forEach(([d, o, v]) => add(s, { dst: d, off: o, imm: v }));
        break;
      case 'stx': case 'atomic':
        [[10, 1, -8], [1, 2, 0], [0, 9, -32768], [2, 0, 32767]].forEach(([d, r, o]) => add(s, { dst: d, src: r, off: o }));
        break;
      case 'ld_abs': for (const v of [12, 0, I32_MAX, -1]) add(s, { imm: v }); break;
      case 'ld_ind': [[1, 0], [9, 12], [2, -4]].forEach(([r, v]) => add(s, { src: r, imm: v })); break;
      case 'ja':
        for (const v of [5, -3, 0, 32767, -32768]) add(s, s.is64 ? { off: v } : { imm: v });
        if (!s.is64) { add(s, { imm: I32_MAX }); add(s, { imm: I32_MIN }); }
        break;
      case 'call': for (const v of [1, 12, 211, 1000]) add(s, { imm: v }); break;
      case 'call_local': for (const v of [-3, 5, 0]) add(s, { imm: v }); break;
      case 'kfunc_call': add(s, { imm: 100 }); add(s, { imm: 7, off: 2 }); break;
      case 'callx': for (const d of [1, 0, 9]) add(s, { dst: d }); break;
      case 'exit': add(s, {}); break;
    }
  }
  return out;
}

/** Text LLVM prints lossily (the default form differs on purpose; see disasm.ts). */
export function lossy(x: Instruction): boolean {
  const k = x.op.kind;
  return k === 'call_local' || k === 'kfunc_call' || (k === 'ld_ind' && x.imm !== 0) ||
    (k === 'ld_imm64' && x.src !== 0 && x.imm2 !== 0) || (k === 'callx' && x.imm !== 0);
}

/**
 * Instructions that LLVM 14 cannot print (`<unknown>`) or prints wrongly
 * because it predates them (ISA v4, BPF_ST, BPF_MOD, BPF_JSET, the
 * dst-register callx, 32-bit atomics other than add without +alu32). Their
 * golden text is what newer LLVM prints.
 */
export function llvm14Lacks(x: Instruction, mode: Mode): boolean {
  const s = x.op;
  switch (s.kind) {
    case 'movsx': case 'ldsx': case 'st': case 'callx': return true;
    case 'endian': return s.endian === 'bswap';
    case 'ja': return !s.is64;
    case 'alu': return s.alu === 'sdiv' || s.alu === 'smod' || s.alu === 'mod';
    case 'jcond': return s.jmp === 'jset';
    case 'atomic': return mode === 'default' && s.size === 4 && s.atomic !== 'add';
    default: return false;
  }
}

/**
 * The text newer LLVM (>= 18; callx: >= 19) prints for the instructions LLVM
 * 14 lacks, written from LLVM's own assembler/disassembler tests
 * (llvm/test/CodeGen/BPF/assembler-disassembler-v4.s) with LLVM 14's decimal
 * offsets. 32-bit fetch atomics in default mode print as LLVM 14 prints them
 * with +alu32 (they exist only there).
 */
export function newerLlvmText(x: Instruction): string {
  const s = x.op;
  const R = s.is64 ? 'r' : 'w';
  const m = (r: number, o: number): string => `r${r} ${o < 0 ? '-' : '+'} ${Math.abs(o)}`;
  switch (s.kind) {
    case 'movsx': return `${R}${x.dst} = (s${s.size * 8})${R}${x.src}`;
    case 'ldsx': return `r${x.dst} = *(s${s.size * 8} *)(${m(x.src, x.off)})`;
    case 'st': return `*(u${s.size * 8} *)(${m(x.dst, x.off)}) = ${x.imm}`;
    case 'callx': return `callx r${x.dst}`;
    case 'endian': return `r${x.dst} = bswap${s.size * 8} r${x.dst}`;
    case 'ja': return `gotol ${x.imm >= 0 ? '+' : ''}${x.imm}`;
    case 'alu': return `${R}${x.dst} ${{ sdiv: 's/=', smod: 's%=', mod: '%=' }[s.alu as string]} ${s.srcReg ? R + x.src : x.imm}`;
    case 'jcond': return `if ${R}${x.dst} & ${s.srcReg ? R + x.src : x.imm} goto ${x.off >= 0 ? '+' : ''}${x.off}`;
    // Non-fetching 32-bit atomics print with an rN value register, as LLVM 14 prints `lock ... += rN`.
    case 'atomic': return `lock *(u32 *)(${m(x.dst, x.off)}) ${{ or: '|=', and: '&=', xor: '^=' }[s.atomic as string]} r${x.src}`;
    default: throw new Error(`no newer-LLVM text for ${s.name}`);
  }
}

// --- ELF wrapper --------------------------------------------------------------

/** A minimal ELF64 little-endian relocatable, machine EM_BPF (247), with one `.text` section. */
export function wrapElf(code: Uint8Array): Uint8Array {
  const shstr = new TextEncoder().encode('\0.text\0.shstrtab\0');
  const textOff = 64;
  const strOff = textOff + code.length;
  const shoff = (strOff + shstr.length + 7) & ~7;
  const buf = new Uint8Array(shoff + 64 * 3);
  const dv = new DataView(buf.buffer);
  buf.set([0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* LSB */, 1 /* EV_CURRENT */], 0);
  dv.setUint16(16, 1, true); // ET_REL
  dv.setUint16(18, 247, true); // EM_BPF
  dv.setUint32(20, 1, true);
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(52, 64, true); // e_ehsize
  dv.setUint16(58, 64, true); // e_shentsize
  dv.setUint16(60, 3, true); // e_shnum
  dv.setUint16(62, 2, true); // e_shstrndx
  buf.set(code, textOff);
  buf.set(shstr, strOff);
  const sh = (i: number, name: number, type: number, flags: number, off: number, size: number, align: number): void => {
    const b = shoff + 64 * i;
    dv.setUint32(b, name, true);
    dv.setUint32(b + 4, type, true);
    dv.setBigUint64(b + 8, BigInt(flags), true);
    dv.setBigUint64(b + 24, BigInt(off), true);
    dv.setBigUint64(b + 32, BigInt(size), true);
    dv.setBigUint64(b + 48, BigInt(align), true);
  };
  sh(1, 1, 1 /* PROGBITS */, 6 /* ALLOC|EXECINSTR */, textOff, code.length, 8);
  sh(2, 7, 3 /* STRTAB */, 0, strOff, shstr.length, 1);
  return buf;
}

/** Path of llvm-objdump (env LLVM_OBJDUMP overrides), or undefined. */
export function findObjdump(): string | undefined {
  const cands = [process.env['LLVM_OBJDUMP'], '/usr/bin/llvm-objdump', '/usr/bin/llvm-objdump-14', '/usr/local/bin/llvm-objdump'];
  for (const c of cands) if (c && existsSync(c)) return c;
  return undefined;
}

/**
 * llvm-objdump's text for each instruction (symbolization such as
 * ` <.text+0x98>` after branch targets removed).
 */
export function objdumpTexts(objdump: string, insns: readonly Instruction[], mode: Mode): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-objdump-'));
  try {
    const file = join(dir, 'prog.o');
    writeFileSync(file, wrapElf(encode(insns)));
    const args = ['-d', '--no-show-raw-insn', ...(mode === 'alu32' ? ['--mattr=+alu32'] : []), file];
    const text = execFileSync(objdump, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    const bySlot = new Map<number, string>();
    for (const l of text.split('\n')) {
      const m = /^\s*(\d+):\t(.*)$/.exec(l);
      if (m) bySlot.set(Number(m[1]), m[2]!.replace(/ <[^<>]*>$/, ''));
    }
    const out: string[] = [];
    let slot = 0;
    for (const x of insns) {
      out.push(bySlot.get(slot) ?? '<missing>');
      slot += x.op.kind === 'ld_imm64' ? 2 : 1;
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Build the golden entries by running llvm-objdump. */
export function generate(objdump: string): GoldenEntry[] {
  const reps = representatives();
  const out: GoldenEntry[] = [];
  for (const mode of ['default', 'alu32'] as const) {
    const texts = objdumpTexts(objdump, reps, mode);
    const alu32Texts = mode === 'default' ? objdumpTexts(objdump, reps, 'alu32') : texts;
    reps.forEach((x, i) => {
      const got = texts[i]!;
      let text = got;
      let origin = mode === 'alu32' ? 'llvm-objdump-14 --mattr=+alu32' : 'llvm-objdump-14';
      if (llvm14Lacks(x, mode)) {
        if (x.op.kind === 'atomic' && x.op.atomic !== 'or' && x.op.atomic !== 'and' && x.op.atomic !== 'xor') {
          text = alu32Texts[i]!;
          origin = `llvm-objdump-14 --mattr=+alu32 (plain llvm-objdump-14 prints: ${got})`;
        } else {
          text = newerLlvmText(x);
          origin = `newer LLVM (llvm-objdump-14 prints: ${got})`;
        }
      }
      out.push({ mode, bytes: hex(encode([x])), text, origin: origin.replace(/\t/g, ' ') });
    });
  }
  return out;
}

const HEADER = '# Golden disassembly: mode<TAB>bytes<TAB>llvm-objdump text<TAB>origin.\n' +
  '# Regenerate: npx tsc -p tsconfig.json && node test/fixtures/isa/gen-objdump-golden.mjs\n';

export function formatGolden(entries: readonly GoldenEntry[]): string {
  return HEADER + entries.map((e) => `${e.mode}\t${e.bytes}\t${e.text}\t${e.origin}`).join('\n') + '\n';
}

export function parseGolden(text: string): GoldenEntry[] {
  const out: GoldenEntry[] = [];
  for (const l of text.split('\n')) {
    if (!l || l.startsWith('#')) continue;
    // The text may itself hold a tab (`ld_pseudo\tr1, 1, 5`): mode and bytes
    // are the first two fields, origin the last.
    const f = l.split('\t');
    if (f.length < 4) throw new Error(`bad golden line: ${l}`);
    out.push({ mode: f[0] as Mode, bytes: f[1]!, text: f.slice(2, -1).join('\t'), origin: f[f.length - 1]! });
  }
  return out;
}

/** llvm-mc and llvm-objcopy next to llvm-objdump, or undefined. */
export function findLlvmMc(objdump: string): { mc: string; objcopy: string } | undefined {
  const dir = objdump.slice(0, objdump.lastIndexOf('/') + 1);
  const suffix = /-\d+$/.exec(objdump)?.[0] ?? '';
  const mc = `${dir}llvm-mc${suffix}`;
  const objcopy = `${dir}llvm-objcopy${suffix}`;
  return existsSync(mc) && existsSync(objcopy) ? { mc, objcopy } : undefined;
}

/** Assemble LLVM-syntax text with llvm-mc and return the bytes of .text. */
export function llvmMcBytes(tools: { mc: string; objcopy: string }, text: string, alu32: boolean): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-mc-'));
  try {
    writeFileSync(join(dir, 'a.s'), text);
    execFileSync(tools.mc, ['-triple', 'bpfel', ...(alu32 ? ['-mattr=+alu32'] : []), '-filetype=obj', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync(tools.objcopy, ['-O', 'binary', '--only-section=.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
