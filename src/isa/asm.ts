// Assembler for the two text forms of eBPF, mixed freely line by line:
//
//  - the LLVM / bpftool form that `llvm-objdump -d` prints and clang's
//    inline asm reads: `r0 = *(u32 *)(r1 + 4)`, `if w1 == w2 goto -3`,
//    `lock *(u64 *)(r0 + 0) += r1`, `r1 = 0 ll`, `call bpf_map_lookup_elem`;
//  - the mnemonic form of the bpf_conformance suite and uBPF:
//    `mov32 %r0, 0`, `ldxdw %r0, [%r1+8]`, `jne %r0, %r1, exit`,
//    `lock fetch add32 [%r10-8], %r1`, `call local func1`.
//
// Mnemonics come from the opcode table (table.ts): nothing here lists opcodes.
// Every failure is an AsmError with a 1-based line and column.

import { AsmError } from '../errors.js';
import { helperId } from './helper-names.js';
import { type Instruction, insn } from './instruction.js';
import { BY_NAME, OPS, type OpSpec } from './table.js';

export interface AsmOptions {
  /**
   * Resolve a jump to the undefined label `exit` to the first `exit`
   * instruction, as the bpf_conformance assembler does (default true).
   */
  readonly implicitExitLabel?: boolean;
}

// ---------------------------------------------------------------------------
// Table indexes (derived from OPS, never written by hand)

function specKey(kind: string, sub: string, is64: boolean, srcReg: boolean, size: number): string {
  return `${kind}|${sub}|${is64 ? 64 : 32}|${srcReg ? 'x' : 'k'}|${size}`;
}

const BY_KEY: ReadonlyMap<string, OpSpec> = (() => {
  const m = new Map<string, OpSpec>();
  for (const s of OPS) {
    m.set(specKey(s.kind, s.alu ?? s.jmp ?? s.atomic ?? s.endian ?? '', s.is64, s.srcReg, s.size), s);
  }
  return m;
})();

function spec(kind: string, sub: string, is64: boolean, srcReg: boolean, size: number): OpSpec {
  const s = BY_KEY.get(specKey(kind, sub, is64, srcReg, size));
  if (!s) throw new Error(`internal: no table entry for ${specKey(kind, sub, is64, srcReg, size)}`);
  return s;
}

/** First words of the table's mnemonics, plus the aliases of the uBPF syntax. */
const MNEMONIC_HEADS: ReadonlySet<string> = (() => {
  const s = new Set<string>();
  for (const name of BY_NAME.keys()) s.add(name.split(' ')[0]!);
  for (const a of ['swap16', 'swap32', 'swap64', 'callx']) s.add(a);
  return s;
})();

// ---------------------------------------------------------------------------
// Lexer

type TokKind = 'reg' | 'num' | 'id' | 'op' | 'lref';

interface Tok {
  readonly k: TokKind;
  readonly s: string;
  /** 0-based column in the source line. */
  readonly col: number;
  readonly reg?: number;
  /** Register written as wN (32-bit view). */
  readonly w?: boolean;
  readonly val?: bigint;
  readonly hex?: boolean;
}

interface Line {
  readonly no: number;
  /** The source line as written (for messages). */
  readonly text: string;
  /** The same line, same length, with llvm-objdump decoration blanked out (for the lexer). */
  readonly src: string;
}

function err(code: string, reason: string, line: Line, col0: number, len = 1): AsmError {
  return new AsmError(code, reason, line.no, col0 + 1, line.text, Math.max(1, len));
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isIdentStart = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 /* _ */ || c === 46 /* . */ || c === 36 /* $ */;
const isIdent = (c: number): boolean => isIdentStart(c) || isDigit(c);
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0xfeff;
const OPS3 = new Set(['<<=', '>>=']);
const OPS2 = new Set(['<<', '>>', '-=', '+=', '*=', '/=', '|=', '&=', '^=', '%=', '==', '!=', '<=', '>=']);
const OPS1 = new Set([...'-+*/|&^%=<>()[],:#~!']);

/** Tokens of line.src[from, to): registers, numbers, identifiers, operators. */
function lex(line: Line, from: number, to: number): Tok[] {
  const out: Tok[] = [];
  const src = line.src;
  let i = from;
  while (i < to) {
    const c = src.charCodeAt(i);
    if (isSpace(c)) { i++; continue; }
    // Register: %?[rw]<digits>, not followed by an identifier character.
    const j = c === 37 /* % */ ? i + 1 : i;
    const r = src.charCodeAt(j);
    if ((r === 114 /* r */ || r === 119 /* w */) && j + 1 < to && isDigit(src.charCodeAt(j + 1))) {
      let k = j + 1;
      while (k < to && isDigit(src.charCodeAt(k))) k++;
      if (k >= to || !isIdent(src.charCodeAt(k))) {
        const text = src.slice(i, k);
        out.push({ k: 'reg', s: text, col: i, reg: Number(src.slice(j + 1, k)), w: r === 119 });
        i = k;
        continue;
      }
    }
    if (isDigit(c)) {
      let k = i;
      const hex = c === 48 && (src[i + 1] === 'x' || src[i + 1] === 'X') && i + 2 < to && isHex(src.charCodeAt(i + 2));
      if (hex) { k = i + 2; while (k < to && isHex(src.charCodeAt(k))) k++; } else { while (k < to && isDigit(src.charCodeAt(k))) k++; }
      const text = src.slice(i, k);
      if (!hex && k < to && (src[k] === 'f' || src[k] === 'b') && (k + 1 >= to || !isIdent(src.charCodeAt(k + 1)))) {
        out.push({ k: 'lref', s: text + src[k], col: i, val: BigInt(text) });
        i = k + 1;
        continue;
      }
      if (k < to && isIdent(src.charCodeAt(k))) {
        throw err('ASM_SYNTAX', `malformed number '${src.slice(i, k + 1)}'`, line, i, k + 1 - i);
      }
      out.push({ k: 'num', s: text, col: i, val: BigInt(text), hex });
      i = k;
      continue;
    }
    if (isIdentStart(c)) {
      let k = i + 1;
      while (k < to && isIdent(src.charCodeAt(k))) k++;
      out.push({ k: 'id', s: src.slice(i, k), col: i });
      i = k;
      continue;
    }
    const o3 = i + 3 <= to ? src.slice(i, i + 3) : '';
    const o2 = i + 2 <= to ? src.slice(i, i + 2) : '';
    const op = OPS3.has(o3) ? o3 : OPS2.has(o2) ? o2 : OPS1.has(src[i]!) ? src[i]! : undefined;
    if (!op) {
      const ch = String.fromCodePoint(src.codePointAt(i)!);
      const shown = /^[\x21-\x7e]$/.test(ch) ? `'${ch}'` : `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      throw err('ASM_SYNTAX', `unexpected character ${shown}`, line, i);
    }
    out.push({ k: 'op', s: op, col: i });
    i += op.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Parsed statements

type Target =
  | { readonly kind: 'rel'; readonly value: number; readonly tok: Tok }
  | { readonly kind: 'label'; readonly name: string; readonly tok: Tok }
  | { readonly kind: 'lref'; readonly n: string; readonly dir: 'f' | 'b'; readonly tok: Tok };

interface Pending {
  readonly spec: OpSpec;
  readonly f: { dst?: number; src?: number; off?: number; imm?: number; imm2?: number };
  /** Field receiving a resolved jump target. */
  readonly target?: { readonly t: Target; readonly field: 'off' | 'imm' };
  readonly line: Line;
  readonly col: number;
  readonly slot: number;
  readonly seq: number;
}

const I32_MIN = -(2n ** 31n);
const I32_MAX = 2n ** 31n - 1n;
const U32_MAX = 2n ** 32n - 1n;

class Cursor {
  i = 0;
  /** bpftool printed opcode 0x18 before the instruction: `rN = 0x...` is an lddw. */
  lddwHint = false;
  constructor(readonly toks: readonly Tok[], readonly line: Line, readonly endCol: number) {}
  peek(o = 0): Tok | undefined { return this.toks[this.i + o]; }
  done(): boolean { return this.i >= this.toks.length; }
  next(): Tok | undefined { return this.toks[this.i++]; }
  is(s: string, o = 0): boolean { const t = this.peek(o); return !!t && (t.k === 'op' || t.k === 'id') && t.s === s; }
  here(): number { return this.peek()?.col ?? this.endCol; }
  fail(what: string): never {
    const t = this.peek();
    if (!t) throw err('ASM_SYNTAX', `expected ${what} at end of statement`, this.line, this.endCol);
    throw err('ASM_SYNTAX', `expected ${what}, found '${t.s}'`, this.line, t.col, t.s.length);
  }
  expect(s: string): Tok {
    if (!this.is(s)) this.fail(`'${s}'`);
    return this.next()!;
  }
  end(): void {
    if (!this.done()) {
      const t = this.peek()!;
      throw err('ASM_SYNTAX', `unexpected '${t.s}' after the instruction`, this.line, t.col, t.s.length);
    }
  }
  reg(): Tok {
    const t = this.peek();
    if (!t || t.k !== 'reg') this.fail('a register');
    this.i++;
    checkReg(t, this.line);
    return t;
  }
  /** A signed integer: optional `-`/`+` then a number. */
  int(): { val: bigint; hex: boolean; col: number; len: number } {
    const start = this.peek();
    let neg = false;
    if (this.is('-') || this.is('+')) { neg = this.next()!.s === '-'; }
    const t = this.peek();
    if (!t || t.k !== 'num') this.fail('a number');
    this.i++;
    const col = start!.col;
    return { val: neg ? -t.val! : t.val!, hex: !!t.hex, col, len: t.col + t.s.length - col };
  }
}

function checkReg(t: Tok, line: Line): void {
  if (t.reg! > 10) throw err('ASM_REGISTER', `Invalid register: ${t.s} (r0..r10)`, line, t.col, t.s.length);
}

/** A number for a message, shortened when huge. */
function show(v: bigint): string {
  const s = v.toString();
  return s.length > 24 ? `${s.slice(0, 10)}...${s.slice(-6)} (${s.replace('-', '').length} digits)` : s;
}

function imm32(v: { val: bigint; hex: boolean; col: number; len: number }, line: Line, what = 'immediate'): number {
  const max = v.hex ? U32_MAX : I32_MAX;
  if (v.val < I32_MIN || v.val > max) {
    throw err('ASM_IMM_RANGE', `${what} ${show(v.val)} does not fit in 32 bits` +
      (v.hex ? '' : ` (signed decimal: ${I32_MIN}..${I32_MAX}; write hex for a bit pattern)`), line, v.col, v.len);
  }
  return Number(BigInt.asIntN(32, v.val));
}

function imm64(v: { val: bigint; hex: boolean; col: number; len: number }, line: Line): [number, number] {
  if (v.val < -(2n ** 63n) || v.val > 2n ** 64n - 1n) {
    throw err('ASM_IMM_RANGE', `immediate ${show(v.val)} does not fit in 64 bits`, line, v.col, v.len);
  }
  const u = BigInt.asUintN(64, v.val);
  return [Number(BigInt.asIntN(32, u)), Number(BigInt.asIntN(32, u >> 32n))];
}

function off16(val: bigint, line: Line, col: number, len: number, what = 'offset'): number {
  if (val < -32768n || val > 32767n) {
    throw err('ASM_OFF_RANGE', `${what} ${show(val)} does not fit in 16 bits (-32768..32767)`, line, col, len);
  }
  return Number(val);
}

// ---------------------------------------------------------------------------
// Statement parser

interface Ctx {
  readonly line: Line;
  readonly col: number;
}

type Parsed = { spec: OpSpec; f: Pending['f']; target?: Pending['target'] };

const SIZE_NAMES: Readonly<Record<string, 1 | 2 | 4 | 8>> = { u8: 1, u16: 2, u32: 4, u64: 8 };
const SSIZE_NAMES: Readonly<Record<string, 1 | 2 | 4>> = { s8: 1, s16: 2, s32: 4 };

const ALU_ASSIGN: Readonly<Record<string, string>> = {
  '+=': 'add', '-=': 'sub', '*=': 'mul', '/=': 'div', '|=': 'or', '&=': 'and', '<<=': 'lsh',
  '>>=': 'rsh', '%=': 'mod', '^=': 'xor',
};
const SIGNED_ASSIGN: Readonly<Record<string, string>> = { '>>=': 'arsh', '/=': 'sdiv', '%=': 'smod' };
const ATOMIC_ASSIGN: Readonly<Record<string, string>> = { '+=': 'add', '|=': 'or', '&=': 'and', '^=': 'xor' };
const JMP_OPS: Readonly<Record<string, string>> = {
  '==': 'jeq', '!=': 'jne', '>': 'jgt', '>=': 'jge', '<': 'jlt', '<=': 'jle', '&': 'jset',
};
const SJMP_OPS: Readonly<Record<string, string>> = { '>': 'jsgt', '>=': 'jsge', '<': 'jslt', '<=': 'jsle' };

function parseTarget(c: Cursor): Target {
  const t = c.peek();
  if (!t) c.fail('a jump target');
  if (t.k === 'id' && t.s === 'pc' && (c.is('+', 1) || c.is('-', 1))) {
    c.next();
    const v = c.int();
    return { kind: 'rel', value: Number(v.val), tok: { ...t, s: 'pc' + c.line.text.slice(v.col, v.col + v.len) } };
  }
  if (t.k === 'id') {
    c.next();
    return { kind: 'label', name: t.s, tok: t };
  }
  if (t.k === 'lref') {
    c.next();
    return { kind: 'lref', n: t.val!.toString(), dir: t.s.endsWith('f') ? 'f' : 'b', tok: t };
  }
  if (t.k === 'num' || c.is('+') || c.is('-')) {
    const v = c.int();
    if (v.val < -(2n ** 31n) || v.val >= 2n ** 31n) {
      throw err('ASM_OFF_RANGE', `jump offset ${show(v.val)} out of range`, c.line, v.col, v.len);
    }
    return { kind: 'rel', value: Number(v.val), tok: { k: 'num', s: c.line.text.slice(v.col, v.col + v.len), col: v.col } };
  }
  return c.fail('a jump target (+N, -N or a label)');
}

function withTarget(s: OpSpec, f: Pending['f'], t: Target, field: 'off' | 'imm', c: Cursor): Parsed {
  if (t.kind === 'rel') {
    if (field === 'off') f.off = off16(BigInt(t.value), c.line, t.tok.col, t.tok.s.length, 'jump offset');
    else f.imm = t.value;
    return { spec: s, f };
  }
  return { spec: s, f, target: { t, field } };
}

/** `(rN + off)` / `(rN - off)` / `(rN +off)`; returns register and offset. */
function parseMemRef(c: Cursor, open: string, close: string): { reg: Tok; off: number } {
  c.expect(open);
  const reg = c.reg();
  if (reg.w) throw err('ASM_REGISTER', `a memory base must be a 64-bit register, not ${reg.s}`, c.line, reg.col, reg.s.length);
  let off = 0;
  if (c.is('+') || c.is('-')) {
    const sign = c.next()!;
    const neg = sign.s === '-';
    // `(r1 - 8)` (llvm), `(r1 -8)` (bpftool); `(r1 + -8)` is accepted too.
    const v = c.int();
    const val = neg ? -v.val : v.val;
    off = off16(val, c.line, sign.col, v.col + v.len - sign.col);
  }
  c.expect(close);
  return { reg, off };
}

function sameWidth(a: Tok, b: Tok, c: Cursor): void {
  if (!!a.w !== !!b.w) {
    throw err('ASM_REGISTER', `register width mismatch: ${a.s} and ${b.s} (use rN with rN, wN with wN)`, c.line, b.col, b.s.length);
  }
}

function notW(r: Tok, c: Cursor, why: string): void {
  if (r.w) throw err('ASM_REGISTER', `${r.s}: ${why} takes a 64-bit register (r${r.reg})`, c.line, r.col, r.s.length);
}

/** The LLVM / bpftool syntax. */
function parseLlvm(c: Cursor): Parsed {
  const t0 = c.peek()!;
  // exit
  if (c.is('exit')) { c.next(); c.end(); return { spec: spec('exit', '', true, false, 0), f: {} }; }
  // goto / gotol / ja
  if (c.is('goto') || c.is('gotol')) {
    const long = c.next()!.s === 'gotol';
    const t = parseTarget(c);
    c.end();
    return long ? withTarget(spec('ja', '', false, false, 0), {}, t, 'imm', c)
      : withTarget(spec('ja', '', true, false, 0), {}, t, 'off', c);
  }
  // callx rN
  if (c.is('callx')) {
    c.next();
    const r = c.reg();
    notW(r, c, 'callx');
    let imm = 0;
    if (c.is(',')) { c.next(); imm = imm32(c.int(), c.line); }
    c.end();
    return { spec: spec('callx', '', true, true, 0), f: { dst: r.reg!, imm } };
  }
  // if rX op rY|imm goto T
  if (c.is('if')) {
    c.next();
    const a = c.reg();
    let signed = false;
    if (c.is('s')) { c.next(); signed = true; }
    const opTok = c.peek();
    const name = opTok && opTok.k === 'op' ? (signed ? SJMP_OPS : JMP_OPS)[opTok.s] : undefined;
    if (!name) c.fail('a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)');
    c.next();
    const f: Pending['f'] = { dst: a.reg! };
    let x = false;
    if (c.peek()?.k === 'reg') {
      const b = c.reg();
      sameWidth(a, b, c);
      f.src = b.reg!;
      x = true;
    } else {
      f.imm = imm32(c.int(), c.line);
    }
    c.expect('goto');
    const t = parseTarget(c);
    c.end();
    return withTarget(spec('jcond', name, !a.w, x, 0), f, t, 'off', c);
  }
  // lock *(u64 *)(rD + off) op= rS
  if (c.is('lock')) {
    c.next();
    c.expect('*');
    const size = parseSizeCast(c, SIZE_NAMES);
    const m = parseMemRef(c, '(', ')');
    const o = c.peek();
    const a = o && o.k === 'op' ? ATOMIC_ASSIGN[o.s] : undefined;
    if (!a) c.fail('an atomic operation (+=, |=, &=, ^=)');
    c.next();
    const r = c.reg();
    c.end();
    if (size !== 4 && size !== 8) throw err('ASM_OPERAND', 'atomic operations are 32 or 64 bits wide', c.line, t0.col);
    if (size === 8) notW(r, c, 'a 64-bit atomic');
    return { spec: spec('atomic', a, size === 8, true, size), f: { dst: m.reg.reg!, src: r.reg!, off: m.off } };
  }
  // call
  if (c.is('call')) return parseCall(c);
  // ld_pseudo rD, src, imm[, imm2]
  if (c.is('ld_pseudo')) {
    c.next();
    const d = c.reg();
    notW(d, c, 'ld_pseudo');
    c.expect(',');
    const sv = c.int();
    if (sv.val < 0n || sv.val > 6n) {
      throw err('ASM_OPERAND', `ld_pseudo kind ${show(sv.val)} is not 0..6 (BPF_PSEUDO_MAP_FD .. BPF_PSEUDO_MAP_IDX_VALUE)`, c.line, sv.col, sv.len);
    }
    c.expect(',');
    // LLVM prints the immediates of ld_pseudo unsigned.
    const imm = imm32({ ...c.int(), hex: true }, c.line);
    let imm2 = 0;
    if (c.is(',')) { c.next(); imm2 = imm32({ ...c.int(), hex: true }, c.line); }
    c.end();
    return { spec: spec('ld_imm64', '', true, false, 8), f: { dst: d.reg!, src: Number(sv.val), imm, imm2 } };
  }
  // *(u32 *)(rD + off) = rS | imm
  if (c.is('*')) {
    c.next();
    const size = parseSizeCast(c, SIZE_NAMES);
    const m = parseMemRef(c, '(', ')');
    c.expect('=');
    if (c.peek()?.k === 'reg') {
      const r = c.reg();
      c.end();
      if (size === 8) notW(r, c, 'a 64-bit store');
      return { spec: spec('stx', '', true, false, size), f: { dst: m.reg.reg!, src: r.reg!, off: m.off } };
    }
    const imm = imm32(c.int(), c.line);
    c.end();
    return { spec: spec('st', '', true, false, size), f: { dst: m.reg.reg!, off: m.off, imm } };
  }
  // Everything else starts with the destination register.
  if (t0.k !== 'reg') return c.fail('an instruction');
  const d = c.reg();
  const is64 = !d.w;
  // rD s>>= / s/= / s%=
  if (c.is('s')) {
    c.next();
    const o = c.peek();
    const name = o && o.k === 'op' ? SIGNED_ASSIGN[o.s] : undefined;
    if (!name) c.fail("'s>>=', 's/=' or 's%='");
    c.next();
    return aluRest(c, d, name);
  }
  const o = c.peek();
  if (o && o.k === 'op' && ALU_ASSIGN[o.s]) {
    c.next();
    return aluRest(c, d, ALU_ASSIGN[o.s]!);
  }
  c.expect('=');
  const n = c.peek();
  if (!n) return c.fail('a value');
  // rD = -rD
  if (n.s === '-' && c.peek(1)?.k === 'reg') {
    c.next();
    const r = c.reg();
    c.end();
    sameReg(d, r, c);
    return { spec: spec('neg', '', is64, false, 0), f: { dst: d.reg! } };
  }
  // rD = rS
  if (n.k === 'reg') {
    const r = c.reg();
    c.end();
    sameWidth(d, r, c);
    return { spec: spec('mov', '', is64, true, 0), f: { dst: d.reg!, src: r.reg! } };
  }
  // rD = (s8)rS
  if (n.s === '(') {
    c.next();
    const st = c.peek();
    const bits = st && st.k === 'id' ? SSIZE_NAMES[st.s] : undefined;
    if (!bits) c.fail('s8, s16 or s32');
    c.next();
    c.expect(')');
    const r = c.reg();
    c.end();
    sameWidth(d, r, c);
    if (!is64 && bits === 4) throw err('ASM_OPERAND', 'a 32-bit move sign-extends from s8 or s16 only', c.line, st!.col, st!.s.length);
    return { spec: spec('movsx', '', is64, true, bits), f: { dst: d.reg!, src: r.reg! } };
  }
  // rD = *(u32 *)(rS + off), rD = *(s8 *)(...), r0 = *(u8 *)skb[...]
  if (n.s === '*') {
    c.next();
    c.expect('(');
    const st = c.peek();
    const usize = st && st.k === 'id' ? SIZE_NAMES[st.s] : undefined;
    const ssize = st && st.k === 'id' ? SSIZE_NAMES[st.s] : undefined;
    if (!usize && !ssize) c.fail('u8, u16, u32, u64, s8, s16 or s32');
    c.next();
    c.expect('*');
    c.expect(')');
    if (c.is('skb')) {
      c.next();
      if (d.reg !== 0 || d.w) throw err('ASM_REGISTER', 'packet loads (skb[...]) always write r0', c.line, d.col, d.s.length);
      if (!usize || usize === 8) throw err('ASM_OPERAND', 'packet loads are u8, u16 or u32', c.line, st!.col, st!.s.length);
      c.expect('[');
      if (c.peek()?.k === 'reg') {
        const r = c.reg();
        notW(r, c, 'a packet index');
        let imm = 0;
        if (c.is('+') || c.is('-')) {
          const neg = c.next()!.s === '-';
          const v = c.int();
          imm = imm32({ ...v, val: neg ? -v.val : v.val }, c.line);
        }
        c.expect(']');
        c.end();
        return { spec: spec('ld_ind', '', true, false, usize), f: { src: r.reg!, imm } };
      }
      const imm = imm32(c.int(), c.line);
      c.expect(']');
      c.end();
      return { spec: spec('ld_abs', '', true, false, usize), f: { imm } };
    }
    const m = parseMemRef(c, '(', ')');
    c.end();
    if (ssize) {
      notW(d, c, 'a sign-extending load');
      return { spec: spec('ldsx', '', true, false, ssize), f: { dst: d.reg!, src: m.reg.reg!, off: m.off } };
    }
    if (usize === 8) notW(d, c, 'a 64-bit load');
    return { spec: spec('ldx', '', true, false, usize!), f: { dst: d.reg!, src: m.reg.reg!, off: m.off } };
  }
  // rD = be16 rD / le32 / bswap64
  if (n.k === 'id') {
    const em = /^(be|le|bswap)(16|32|64)$/.exec(n.s);
    if (em) {
      c.next();
      const r = c.reg();
      c.end();
      sameReg(d, r, c);
      notW(d, c, 'a byte swap');
      return { spec: spec('endian', em[1]!, em[1] === 'bswap', false, Number(em[2]) / 8), f: { dst: d.reg! } };
    }
    // r0 = atomic_fetch_add((u64 *)(r1 + 0), r0)
    const fm = /^atomic_fetch_(add|and|or|xor)$/.exec(n.s);
    if (fm) {
      c.next();
      c.expect('(');
      const size = parseSizeCast(c, SIZE_NAMES);
      const m = parseMemRef(c, '(', ')');
      c.expect(',');
      const r = c.reg();
      c.expect(')');
      c.end();
      return atomicFetch(c, d, r, 'fetch ' + fm[1], size, m);
    }
    // r0 = xchg_64(r1 + 0, r0) / w0 = xchg32_32(r1 + 0, w0)
    // r0 = cmpxchg_64(r1 + 0, r0, r2) / w0 = cmpxchg32_32(r1 + 0, w0, w2)
    // bpftool: r0 = atomic64_xchg((u64 *)(r1 +0), r0), atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)
    const bm = /^atomic(?:64)?_(xchg|cmpxchg)$/.exec(n.s);
    if (bm) {
      c.next();
      c.expect('(');
      const size = parseSizeCast(c, SIZE_NAMES);
      const m = parseMemRef(c, '(', ')');
      c.expect(',');
      if (bm[1] === 'cmpxchg') {
        const r0 = c.reg();
        if (r0.reg !== 0) throw err('ASM_REGISTER', 'cmpxchg compares with r0', c.line, r0.col, r0.s.length);
        if (d.reg !== 0) throw err('ASM_REGISTER', 'cmpxchg writes r0', c.line, d.col, d.s.length);
        c.expect(',');
      }
      const r = c.reg();
      c.expect(')');
      c.end();
      // bpftool writes rN for both widths; the cast gives the size.
      const dd = size === 4 ? { ...d, w: true } : d;
      const rr = size === 4 ? { ...r, w: true } : r;
      if (size === 8 && (d.w || r.w)) notW(d.w ? d : r, c, 'a 64-bit atomic');
      return atomicFetch(c, dd, rr, bm[1]!, size, m, bm[1] === 'cmpxchg');
    }
    const xm = /^(xchg|cmpxchg)(?:_64|32_32)$/.exec(n.s);
    if (xm) {
      c.next();
      const size = n.s.endsWith('_64') ? 8 : 4;
      const m = parseMemRef(c, '(', ',');
      let r: Tok;
      if (xm[1] === 'cmpxchg') {
        const r0 = c.reg();
        if (r0.reg !== 0) throw err('ASM_REGISTER', 'cmpxchg compares with r0', c.line, r0.col, r0.s.length);
        if (d.reg !== 0) throw err('ASM_REGISTER', 'cmpxchg writes r0', c.line, d.col, d.s.length);
        sameWidth(d, r0, c);
        c.expect(',');
      }
      r = c.reg();
      c.expect(')');
      c.end();
      return atomicFetch(c, d, r, xm[1]!, size, m, xm[1] === 'cmpxchg');
    }
  }
  if (n.k === 'id' && n.s === 'map' && c.is('[', 1)) {
    throw err('ASM_OPERAND', "bpftool's map[id:N] names a kernel map id; write `ld_pseudo rN, 1, <fd>` (or a relocation) instead",
      c.line, n.col, 3);
  }
  // rD = imm [ll]
  const v = c.int();
  if (c.is('ll') || c.lddwHint) {
    if (c.is('ll')) c.next();
    c.end();
    notW(d, c, 'a 64-bit immediate load');
    const [lo, hi] = imm64(v, c.line);
    return { spec: spec('ld_imm64', '', true, false, 8), f: { dst: d.reg!, imm: lo, imm2: hi } };
  }
  c.end();
  return { spec: spec('mov', '', is64, false, 0), f: { dst: d.reg!, imm: imm32(v, c.line) } };
}

function sameReg(d: Tok, r: Tok, c: Cursor): void {
  if (d.reg !== r.reg || !!d.w !== !!r.w) {
    throw err('ASM_REGISTER', `operand ${r.s} must be the destination register ${d.s}`, c.line, r.col, r.s.length);
  }
}

function atomicFetch(c: Cursor, d: Tok, r: Tok, op: string, size: number, m: { reg: Tok; off: number }, cmpxchg = false): Parsed {
  if (size !== 4 && size !== 8) throw err('ASM_OPERAND', 'atomic operations are 32 or 64 bits wide', c.line, d.col);
  sameWidth(d, r, c);
  if (size === 8) notW(d, c, 'a 64-bit atomic');
  else if (!d.w) throw err('ASM_REGISTER', `a 32-bit atomic writes a 32-bit register (w${d.reg})`, c.line, d.col, d.s.length);
  if (!cmpxchg && d.reg !== r.reg) {
    throw err('ASM_REGISTER', `operand ${r.s} must be the destination register ${d.s}`, c.line, r.col, r.s.length);
  }
  return { spec: spec('atomic', op, size === 8, true, size), f: { dst: m.reg.reg!, src: r.reg!, off: m.off } };
}

/** `(u32 *)` after `*` has been consumed, or at `(`; returns bytes. */
function parseSizeCast<T extends number>(c: Cursor, names: Readonly<Record<string, T>>): T {
  c.expect('(');
  const st = c.peek();
  const size = st && st.k === 'id' ? names[st.s] : undefined;
  if (!size) c.fail(Object.keys(names).join(', '));
  c.next();
  c.expect('*');
  c.expect(')');
  return size;
}

function aluRest(c: Cursor, d: Tok, name: string): Parsed {
  const is64 = !d.w;
  if (c.peek()?.k === 'reg') {
    const r = c.reg();
    c.end();
    sameWidth(d, r, c);
    return { spec: spec('alu', name, is64, true, 0), f: { dst: d.reg!, src: r.reg! } };
  }
  const imm = imm32(c.int(), c.line);
  c.end();
  return { spec: spec('alu', name, is64, false, 0), f: { dst: d.reg!, imm } };
}

/** `call` in both syntaxes. */
function parseCall(c: Cursor): Parsed {
  const kw = c.next()!;
  const t = c.peek();
  if (!t) throw err('ASM_OPERANDS', 'Invalid number of operands for call: expected a helper, a label or a register', c.line, kw.col, kw.s.length);
  if (t.k === 'id' && (t.s === 'local' || t.s === 'kfunc' || t.s === 'helper') && !c.peek(1)) {
    throw err('ASM_OPERANDS', `Invalid number of operands for call ${t.s}: expected a target after '${t.s}'`, c.line, kw.col, t.col + t.s.length - kw.col);
  }
  // call %r2 (callx, register in dst)
  if (t.k === 'reg') {
    const r = c.reg();
    notW(r, c, 'callx');
    c.end();
    return { spec: spec('callx', '', true, true, 0), f: { dst: r.reg! } };
  }
  // call local <target>
  if (t.k === 'id' && t.s === 'local' && c.peek(1)) {
    c.next();
    const tg = parseTarget(c);
    c.end();
    return withTarget(spec('call_local', '', true, false, 0), {}, tg, 'imm', c);
  }
  // call kfunc <btf id>[, <fd index>]
  if (t.k === 'id' && t.s === 'kfunc' && c.peek(1)) {
    c.next();
    const imm = imm32(c.int(), c.line);
    let off = 0;
    if (c.is(',')) {
      c.next();
      const v = c.int();
      off = off16(v.val, c.line, v.col, v.len);
    }
    c.end();
    return { spec: spec('kfunc_call', '', true, false, 0), f: { imm, off } };
  }
  // call helper <id>
  if (t.k === 'id' && t.s === 'helper' && c.peek(1)) c.next();
  // call pc+N (bpftool's pseudo call)
  if (c.is('pc') && (c.is('+', 1) || c.is('-', 1))) {
    const tg = parseTarget(c);
    // bpftool: `call pc+6#bpf_prog_0123456789abcdef_sub`
    if (c.is('#') && c.peek(1)?.k === 'id') { c.next(); c.next(); }
    c.end();
    return withTarget(spec('call_local', '', true, false, 0), {}, tg, 'imm', c);
  }
  const h = spec('call', '', true, false, 0);
  const n = c.peek()!;
  if (n.k === 'id') {
    c.next();
    // bpf_map_lookup_elem or bpf_map_lookup_elem#1 (bpftool)
    let id = helperId(n.s);
    if (c.is('#')) {
      c.next();
      const v = c.int();
      const given = imm32(v, c.line);
      if (id !== undefined && id !== given) {
        throw err('ASM_OPERAND', `helper ${n.s} is #${id}, not #${given}`, c.line, v.col, v.len);
      }
      id = given;
    }
    c.end();
    if (id !== undefined) return { spec: h, f: { imm: id } };
    // A label: a bpf-to-bpf call (as `call foo` reads in LLVM asm).
    return withTarget(spec('call_local', '', true, false, 0), {}, { kind: 'label', name: n.s, tok: n }, 'imm', c);
  }
  const imm = imm32(c.int(), c.line);
  c.end();
  return { spec: h, f: { imm } };
}

// --- mnemonic (bpf_conformance / uBPF) syntax -------------------------------

type Operand =
  | { readonly k: 'reg'; readonly tok: Tok }
  | { readonly k: 'imm'; readonly v: { val: bigint; hex: boolean; col: number; len: number } }
  | { readonly k: 'mem'; readonly reg: Tok; readonly off: number; readonly col: number }
  | { readonly k: 'target'; readonly t: Target; readonly col: number };

function parseOperand(c: Cursor): Operand {
  const t = c.peek()!;
  if (t.k === 'reg') { c.reg(); return { k: 'reg', tok: t }; }
  if (c.is('[')) {
    const m = parseMemRef(c, '[', ']');
    return { k: 'mem', reg: m.reg, off: m.off, col: t.col };
  }
  if (t.k === 'num' || ((c.is('-') || c.is('+')) && c.peek(1)?.k === 'num')) {
    return { k: 'imm', v: c.int() };
  }
  if (t.k === 'id' || t.k === 'lref') return { k: 'target', t: parseTarget(c), col: t.col };
  return c.fail('an operand');
}

function parseMnemonic(c: Cursor): Parsed {
  const first = c.next()!;
  let name = first.s;
  let nameEnd = first.col + first.s.length;
  if (name === 'call' || name === 'exit') {
    if (name === 'exit') { c.end(); return { spec: spec('exit', '', true, false, 0), f: {} }; }
    c.i--;
    return parseCall(c);
  }
  if (name === 'lock') {
    // lock [fetch] <op>[32] [dst+off], src
    const words: Tok[] = [];
    while (c.peek()?.k === 'id') words.push(c.next()!);
    name = ['lock', ...words.map((w) => w.s)].join(' ');
    if (words.length === 0 || !BY_NAME.has(name)) {
      if (words.length === 0 || (!c.done() && !c.is('['))) {
        throw err('ASM_OPERANDS', 'Invalid number of operands for lock: expected lock [fetch] <op> [dst+off], src',
          c.line, first.col, (c.peek()?.col ?? c.endCol) - first.col);
      }
      const last = words[words.length - 1]!;
      throw err('ASM_MNEMONIC', `Invalid mnemonic: ${name}`, c.line, first.col, last.col + last.s.length - first.col);
    }
    nameEnd = words[words.length - 1]!.col + words[words.length - 1]!.s.length;
  }
  let specs = BY_NAME.get(name);
  if (!specs && /^swap(16|32|64)$/.test(name)) specs = BY_NAME.get('b' + name);
  if (!specs && /^[a-z]+64$/.test(name)) specs = BY_NAME.get(name.slice(0, -2));
  if (!specs && name === 'callx') specs = BY_NAME.get('callx');
  if (!specs) throw err('ASM_MNEMONIC', `Invalid mnemonic: ${name}`, c.line, first.col, first.s.length);
  const ops: Operand[] = [];
  while (!c.done()) {
    ops.push(parseOperand(c));
    if (c.done()) break;
    c.expect(',');
    if (c.done()) c.fail('an operand');
  }
  const s0 = specs[0]!;
  const want = operandShape(s0);
  if (ops.length !== want.length && !(s0.kind === 'callx' && ops.length === 1)) {
    throw err('ASM_OPERANDS', `Invalid number of operands for ${name.startsWith('lock') ? 'lock' : name}: ` +
      `${name} takes ${want.length} (${want.join(', ') || 'none'}), got ${ops.length}`,
    c.line, first.col, (ops.length ? c.endCol : nameEnd) - first.col);
  }
  const bad = (i: number, what: string): never => {
    const o = ops[i]!;
    const col = o.k === 'reg' ? o.tok.col : o.k === 'imm' ? o.v.col : o.col;
    throw err('ASM_OPERAND', `${name}: operand ${i + 1} must be ${what}`, c.line, col);
  };
  const reg = (i: number): number => { const o = ops[i]!; return o.k === 'reg' ? o.tok.reg! : bad(i, 'a register'); };
  const mem = (i: number): { reg: number; off: number } => {
    const o = ops[i]!;
    return o.k === 'mem' ? { reg: o.reg.reg!, off: o.off } : bad(i, 'a memory reference [rN+off]');
  };
  const imm = (i: number): number => { const o = ops[i]!; return o.k === 'imm' ? imm32(o.v, c.line) : bad(i, 'an immediate'); };
  const target = (i: number): Target => {
    const o = ops[i]!;
    if (o.k === 'target') return o.t;
    if (o.k === 'imm') {
      return { kind: 'rel', value: Number(o.v.val), tok: { k: 'num', s: c.line.text.slice(o.v.col, o.v.col + o.v.len), col: o.v.col } };
    }
    return bad(i, 'a jump target (+N, -N or a label)');
  };
  switch (s0.kind) {
    case 'alu': case 'mov': case 'jcond': {
      const x = ops[1]!.k === 'reg';
      const s = specs.find((e) => e.srcReg === x && e.kind === s0.kind);
      if (!s) return bad(1, 'a register or an immediate');
      const f: Pending['f'] = { dst: reg(0) };
      if (x) f.src = reg(1); else f.imm = imm(1);
      if (s.kind === 'jcond') return withTarget(s, f, target(2), 'off', c);
      return { spec: s, f };
    }
    case 'neg': case 'endian':
      return { spec: s0, f: { dst: reg(0) } };
    case 'movsx':
      return { spec: s0, f: { dst: reg(0), src: reg(1) } };
    case 'ld_imm64': {
      const o = ops[1]!;
      if (o.k !== 'imm') return bad(1, 'an immediate');
      const [lo, hi] = imm64(o.v, c.line);
      return { spec: s0, f: { dst: reg(0), imm: lo, imm2: hi } };
    }
    case 'ldx': case 'ldsx': {
      const m = mem(1);
      return { spec: s0, f: { dst: reg(0), src: m.reg, off: m.off } };
    }
    case 'st': {
      const m = mem(0);
      return { spec: s0, f: { dst: m.reg, off: m.off, imm: imm(1) } };
    }
    case 'stx': case 'atomic': {
      const m = mem(0);
      return { spec: s0, f: { dst: m.reg, off: m.off, src: reg(1) } };
    }
    case 'ld_abs':
      return { spec: s0, f: { imm: imm(0) } };
    case 'ld_ind':
      return { spec: s0, f: { src: reg(0), imm: imm(1) } };
    case 'ja':
      return withTarget(s0, {}, target(0), s0.is64 ? 'off' : 'imm', c);
    case 'callx':
      return { spec: s0, f: { dst: reg(0), imm: ops.length > 1 ? imm(1) : 0 } };
    default:
      throw err('ASM_MNEMONIC', `Invalid mnemonic: ${name}`, c.line, first.col, first.s.length);
  }
}

/** Operand names of an entry in the mnemonic syntax, for messages and counts. */
function operandShape(s: OpSpec): string[] {
  switch (s.kind) {
    case 'alu': case 'mov': return ['dst', s.srcReg ? 'src' : 'imm'];
    case 'neg': case 'endian': return ['dst'];
    case 'movsx': return ['dst', 'src'];
    case 'ld_imm64': return ['dst', 'imm64'];
    case 'ldx': case 'ldsx': return ['dst', '[src+off]'];
    case 'st': return ['[dst+off]', 'imm'];
    case 'stx': case 'atomic': return ['[dst+off]', 'src'];
    case 'ld_abs': return ['imm'];
    case 'ld_ind': return ['src', 'imm'];
    case 'ja': return ['target'];
    case 'jcond': return ['dst', 'src|imm', 'target'];
    case 'call': case 'call_local': return ['target'];
    case 'kfunc_call': return ['imm'];
    case 'callx': return ['reg'];
    case 'exit': return [];
  }
}

// ---------------------------------------------------------------------------
// Lines, statements, labels

/** Directives that carry no code and are ignored (as clang -S emits them). */
const IGNORED_DIRECTIVES = new Set(['.text', '.globl', '.global', '.type', '.size', '.p2align', '.align', '.file', '.local', '.hidden', '.weak']);

const BYTES_ONLY = /^\s*(?:[0-9a-fA-F]{2} ){7}[0-9a-fA-F]{2}(?:(?: [0-9a-fA-F]{2}){8})?\s*$/;
const FUNC_HEADER = /^\s*(?:[A-Za-z_]\w*[\s*]+)+?([A-Za-z_]\w*)\([^()]*\)\s*:\s*$/;
const BPFTOOL_OPCODE = /^(\s*(?:\d+:\s*)?)\(([0-9a-fA-F]{2})\)(?=\s)/;
const LISTING = /^(\s*\d+:\s+)((?:[0-9a-fA-F]{2} ){7}[0-9a-fA-F]{2}(?:(?: [0-9a-fA-F]{2}){8})?)(?=\s|$)/;

/** Split a line into statements (`;`-separated), with comments removed. Returns [start, end) ranges. */
function statements(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  let end = text.length;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const prevSpace = i === 0 || isSpace(text.charCodeAt(i - 1));
    if ((ch === '#' && prevSpace) || (ch === '/' && text[i + 1] === '/')) { end = i; break; }
    if (ch === ';') {
      // bpftool prints source lines as `; int x = ...`: a leading `;` starts a comment.
      if (text.slice(0, i).trim() === '') { end = i; break; }
      out.push([start, i]);
      start = i + 1;
    }
  }
  out.push([start, end]);
  return out;
}

/**
 * Assemble text into instructions. Throws an AsmError (code, line, column,
 * excerpt) on the first problem found.
 */
export function assemble(text: string, opts: AsmOptions = {}): Instruction[] {
  const implicitExit = opts.implicitExitLabel ?? true;
  const pending: Pending[] = [];
  const labels = new Map<string, { slot: number; line: Line; col: number }>();
  // Numeric (GNU local) labels, in order; indexed by name only if some `Nf`/`Nb` refers to them.
  const localDefs: Array<{ n: string; slot: number; seq: number }> = [];
  let local: Map<string, Array<{ slot: number; seq: number }>> | undefined;
  let firstExit: number | undefined;
  let slot = 0;
  const lines = text.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    let raw = lines[li]!;
    // llvm-objdump chrome: header lines and the raw bytes of a listing.
    if (/^\S.*:\s+file format /.test(raw) || /^Disassembly of section /.test(raw)) continue;
    const sym = /^(\s*[0-9a-fA-F]+ <)([^<>\s]+)>:\s*$/.exec(raw);
    if (sym) raw = ' '.repeat(sym[1]!.length) + sym[2] + ' :';
    const lm = LISTING.exec(raw);
    if (lm) raw = lm[1]! + ' '.repeat(lm[2]!.length) + raw.slice(lm[0].length);
    // bpftool: `dump xlated ... opcodes` byte lines, function headers `int f(int x):`,
    // and the opcode before each instruction `   6: (18) r1 = ...`.
    if (BYTES_ONLY.test(raw)) continue;
    const fn = FUNC_HEADER.exec(raw);
    if (fn) {
      const at = raw.indexOf(fn[1]!, fn.index + fn[0].indexOf(fn[1]! + '('));
      raw = ' '.repeat(at) + fn[1]! + ' '.repeat(raw.lastIndexOf(':') - at - fn[1]!.length) + ':';
    }
    let lddwHint = false;
    const op = BPFTOOL_OPCODE.exec(raw);
    if (op) {
      lddwHint = op[2]!.toLowerCase() === '18';
      raw = op[1]! + '    ' + raw.slice(op[0].length);
    }
    const line: Line = { no: li + 1, text: lines[li]!, src: raw };
    const trimmed = raw.trimStart();
    if (trimmed.startsWith('--')) {
      const col = raw.length - trimmed.length;
      throw err('ASM_DIRECTIVE', `Unknown directive: ${trimmed}`, line, col, trimmed.length);
    }
    for (const [a, b] of statements(raw)) {
      let toks = lex(line, a, b);
      // symbolization that llvm-objdump appends to branches: `goto +1 <LBB0_2>`
      if (toks.length >= 3 && toks[toks.length - 1]!.s === '>') {
        const lt = toks.map((t) => t.s).lastIndexOf('<');
        if (lt > 0 && toks.slice(0, lt).some((t) => t.s === 'goto' || t.s === 'gotol' || t.s === 'call')) toks = toks.slice(0, lt);
      }
      // Labels: `name:` or `1:` at the start (several allowed).
      while (toks.length >= 2 && toks[1]!.s === ':' && toks[1]!.k === 'op' && (toks[0]!.k === 'id' || toks[0]!.k === 'num')) {
        const t = toks[0]!;
        if (t.k === 'num') {
          localDefs.push({ n: t.s, slot, seq: pending.length });
        } else {
          const prev = labels.get(t.s);
          if (prev) {
            throw err('ASM_LABEL_DUPLICATE', `Duplicate label '${t.s}' (first defined at line ${prev.line.no})`, line, t.col, t.s.length);
          }
          labels.set(t.s, { slot, line, col: t.col });
        }
        toks = toks.slice(2);
      }
      if (toks.length === 0) continue;
      const t0 = toks[0]!;
      if (t0.k === 'id' && t0.s.startsWith('.') && !t0.s.includes('+')) {
        if (IGNORED_DIRECTIVES.has(t0.s)) continue;
        throw err('ASM_DIRECTIVE', `Unknown directive: ${t0.s}`, line, t0.col, t0.s.length);
      }
      const c = new Cursor(toks, line, b);
      c.lddwHint = lddwHint;
      const t = toks[0]!;
      const second = toks[1];
      const mnemonicForm = t.k === 'id' && MNEMONIC_HEADS.has(t.s) && t.s !== 'call' && t.s !== 'exit' &&
        !(t.s === 'lock' && second?.s === '*') &&
        !(second && second.k === 'op' && second.s !== '[' && second.s !== '-' && second.s !== '+');
      let p: Parsed;
      if (mnemonicForm) {
        p = parseMnemonic(c);
      } else if (t.k === 'id' && !isLlvmHead(t.s) && !t.s.startsWith('.')) {
        throw err('ASM_MNEMONIC', `Invalid mnemonic: ${t.s}`, line, t.col, t.s.length);
      } else {
        p = parseLlvm(c);
      }
      if (p.spec.kind === 'exit' && firstExit === undefined) firstExit = slot;
      pending.push({ spec: p.spec, f: p.f, target: p.target, line, col: t.col, slot, seq: pending.length });
      slot += p.spec.kind === 'ld_imm64' ? 2 : 1;
    }
  }
  // Resolve label targets.
  const out: Instruction[] = [];
  for (const p of pending) {
    const f = { dst: p.f.dst, src: p.f.src, off: p.f.off, imm: p.f.imm, imm2: p.f.imm2 };
    if (p.target) {
      const { t, field } = p.target;
      let dest: number | undefined;
      if (t.kind === 'label') {
        dest = labels.get(t.name)?.slot;
        if (dest === undefined && t.name === 'exit' && implicitExit) dest = firstExit;
        if (dest === undefined) {
          throw err('ASM_LABEL_UNDEFINED', `Invalid label: '${t.name}' is not defined`, p.line, t.tok.col, t.tok.s.length);
        }
      } else if (t.kind === 'lref') {
        if (!local) {
          local = new Map();
          for (const d of localDefs) {
            const l = local.get(d.n);
            if (l) l.push(d); else local.set(d.n, [d]);
          }
        }
        const defs = local.get(t.n) ?? [];
        const d = t.dir === 'b' ? defs.filter((x) => x.seq <= p.seq).pop() : defs.find((x) => x.seq > p.seq);
        if (!d) {
          throw err('ASM_LABEL_UNDEFINED', `Invalid label: no ${t.dir === 'b' ? 'earlier' : 'later'} local label ${t.n}:`, p.line, t.tok.col, t.tok.s.length);
        }
        dest = d.slot;
      } else {
        dest = p.slot + 1 + t.value;
      }
      const rel = dest - p.slot - 1;
      if (field === 'off') f.off = off16(BigInt(rel), p.line, t.tok.col, t.tok.s.length, 'jump distance');
      else f.imm = rel;
    }
    out.push(insn(p.spec, f));
  }
  return out;
}

const LLVM_HEADS = new Set(['if', 'goto', 'gotol', 'lock', 'call', 'callx', 'exit', 'ld_pseudo']);
function isLlvmHead(s: string): boolean {
  return LLVM_HEADS.has(s);
}

