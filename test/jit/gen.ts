// Seeded generator of valid random programs for the interpreter/JIT
// differential fuzzer. Programs pass `validate` (every instruction reachable,
// no register read before it is written, r1-r5 re-initialised after calls)
// and exercise: ALU64/ALU32 of every kind with corner operands, movsx, byte
// swaps, lddw, loads/stores/ldsx and atomics on the stack and on the input
// memory (mostly in bounds, sometimes not), LD_ABS/LD_IND, forward
// conditional jumps and if/else diamonds, counted loops (backward jumps),
// irreducible two-entry loops, occasional endless loops (budget faults),
// bpf-to-bpf calls (also through callx), and helper calls.
//
// Register conventions of the generated code: r9 holds the input-memory
// pointer, r8 the loop counter; random ALU writes go to r0-r7.

import { type Instruction, type OpSpec, BY_NAME, insn } from '../../src/isa/index.js';
import { BPF_PSEUDO_FUNC } from '../../src/isa/opcodes.js';
import { HelperRegistry } from '../../src/runtime/helpers.js';

export type Rng = () => number;

/** mulberry32. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function spec(name: string, srcReg?: boolean): OpSpec {
  const l = BY_NAME.get(name);
  if (!l) throw new Error(`no op ${name}`);
  const s = srcReg === undefined ? l[0] : l.find((x) => x.srcReg === srcReg);
  if (!s) throw new Error(`no op ${name} (${srcReg ? 'X' : 'K'})`);
  return s;
}

interface Item {
  readonly op: OpSpec;
  readonly f: { dst?: number; src?: number; off?: number; imm?: number; imm2?: number };
  /** Label whose slot the `field` is relative to (jumps, calls, lddw func). */
  readonly to?: number;
  readonly field?: 'off' | 'imm';
}

/** Instructions with symbolic labels, resolved to slot offsets at the end. */
class Asm {
  readonly items: Array<Item | { label: number }> = [];
  private labels = 0;
  label(): number { return this.labels++; }
  place(l: number): void { this.items.push({ label: l }); }
  emit(op: OpSpec, f: Item['f'] = {}, to?: number, field: 'off' | 'imm' = 'off'): void {
    this.items.push({ op, f, to, field });
  }
  resolve(): Instruction[] {
    const at = new Map<number, number>();
    let slot = 0;
    for (const it of this.items) {
      if ('label' in it) at.set(it.label, slot);
      else slot += it.op.kind === 'ld_imm64' ? 2 : 1;
    }
    const out: Instruction[] = [];
    slot = 0;
    for (const it of this.items) {
      if ('label' in it) continue;
      const f = { ...it.f };
      if (it.to !== undefined) f[it.field!] = at.get(it.to)! - (slot + 1);
      out.push(insn(it.op, f));
      slot += it.op.kind === 'ld_imm64' ? 2 : 1;
    }
    return out;
  }
}

const ALU_OPS = ['add', 'sub', 'mul', 'div', 'sdiv', 'or', 'and', 'lsh', 'rsh', 'mod', 'smod', 'xor', 'arsh'];
const JMP_OPS = ['jeq', 'jgt', 'jge', 'jset', 'jne', 'jsgt', 'jsge', 'jlt', 'jle', 'jslt', 'jsle'];
const ATOMICS = ['add', 'or', 'and', 'xor', 'fetch add', 'fetch or', 'fetch and', 'fetch xor', 'xchg', 'cmpxchg'];

/** Helpers of the generated programs: pure functions of their arguments, one that stops, one that reads memory. */
export function fuzzHelpers(): HelperRegistry {
  return new HelperRegistry([
    { id: 1, name: 'mix', impl: (a, b, c, d, e) => BigInt.asUintN(64, a * 31n + (b ^ c) - d + (e << 3n)) },
    { id: 2, name: 'maybe_stop', impl: (a, b, _c, _d, _e, ctx) => { if ((a & 3n) === 0n) ctx.stop(b); return a + 1n; } },
    { id: 3, name: 'peek', impl: (a, _b, _c, _d, _e, ctx) => {
      const p = ctx.checkAccess(a, 4, false);
      return ctx.memory.view.getUint32(p, true);
    } },
    { id: 4, name: 'small', impl: (a) => Number(a & 0xffffn) - 100 },
  ]);
}

export interface GenOptions {
  /** Approximate number of statements in main. */
  readonly size?: number;
  /** Probability of an out-of-bounds access per memory statement (default 0.01). */
  readonly oob?: number;
  /** Generate two-entry (irreducible) loops (default true). */
  readonly irreducible?: boolean;
}

export interface Generated {
  readonly insns: Instruction[];
  /** Length of the input memory the program was generated for. */
  readonly memLen: number;
}

export function generate(r: Rng, opts: GenOptions = {}): Generated {
  const size = opts.size ?? 30;
  const oob = opts.oob ?? 0.01;
  const a = new Asm();
  const memLen = 8 + (r() % 57);
  const p = (x: number): boolean => r() / 4294967296 < x;
  const pick = <T>(xs: readonly T[]): T => xs[r() % xs.length]!;
  const nFuncs = r() % 4;
  const funcs = Array.from({ length: nFuncs }, () => a.label());
  const called = new Set<number>();

  const imm32 = (): number => {
    switch (r() % 6) {
      case 0: return (r() % 64) - 32;
      case 1: return pick([0, 1, -1, 2, 0x7fffffff, -0x80000000, 0xffff, 63, 64, 31, 32]);
      case 2: return r() % 256;
      default: return r() | 0;
    }
  };
  const anyReg = (): number => r() % 11;
  const wreg = (): number => r() % 8;

  const initRegs = (regs: readonly number[]): void => {
    for (const k of regs) {
      if (p(0.3)) a.emit(spec('lddw'), { dst: k, imm: imm32(), imm2: imm32() });
      else a.emit(spec('mov', false), { dst: k, imm: imm32() });
    }
  };

  const alu = (): void => {
    const k = r() % 20;
    if (k < 12) {
      const is64 = p(0.55);
      const name = pick(ALU_OPS) + (is64 ? '' : '32');
      if (p(0.5)) a.emit(spec(name, true), { dst: wreg(), src: anyReg() });
      else a.emit(spec(name, false), { dst: wreg(), imm: imm32() });
    } else if (k < 14) {
      const is64 = p(0.5);
      if (p(0.5)) a.emit(spec(is64 ? 'mov' : 'mov32', true), { dst: wreg(), src: anyReg() });
      else a.emit(spec(is64 ? 'mov' : 'mov32', false), { dst: wreg(), imm: imm32() });
    } else if (k < 15) {
      a.emit(spec(p(0.5) ? 'neg' : 'neg32'), { dst: wreg() });
    } else if (k < 17) {
      a.emit(spec(pick(['movsx8', 'movsx16', 'movsx32'].map((n) => n + '64').concat(['movsx832', 'movsx1632']))), { dst: wreg(), src: anyReg() });
    } else if (k < 19) {
      a.emit(spec(pick(['le', 'be', 'bswap']) + pick(['16', '32', '64'])), { dst: wreg() });
    } else {
      a.emit(spec('lddw'), { dst: wreg(), imm: imm32(), imm2: imm32() });
    }
  };

  /** Base register and offset of an access of `size` bytes. */
  const place = (size: number, align: boolean): [number, number] => {
    const stack = p(0.5);
    let off: number;
    if (stack) {
      off = -size - (r() % (512 - size + 1));
      if (p(oob)) off = pick([-513, -520, 0, 8, -size + 1, 500]);
    } else {
      off = r() % (memLen - size + 1);
      if (p(oob)) off = pick([memLen, memLen - size + 1, -1, -8, 4096]);
    }
    if (align) off &= ~(size - 1);
    return [stack ? 10 : 9, off];
  };

  const mem = (): void => {
    const size = pick([1, 2, 4, 8]);
    const sfx = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' }[size]!;
    const [base, off] = place(size, p(0.7));
    const k = r() % 4;
    if (k === 0) a.emit(spec('ldx' + sfx), { dst: wreg(), src: base, off });
    else if (k === 1 && size !== 8) a.emit(spec('ldxs' + sfx), { dst: wreg(), src: base, off });
    else if (k === 2) a.emit(spec('st' + sfx), { dst: base, off, imm: imm32() });
    else a.emit(spec('stx' + sfx), { dst: base, src: anyReg(), off });
  };

  const atomic = (): void => {
    const size = p(0.5) ? 4 : 8;
    const [base, off] = place(size, p(0.85));
    a.emit(spec(`lock ${pick(ATOMICS)}${size === 4 ? '32' : ''}`), { dst: base, src: wreg(), off });
  };

  const ldPacket = (): void => {
    const sfx = pick(['b', 'h', 'w']);
    if (p(0.5)) {
      a.emit(spec('ldabs' + sfx), { imm: p(0.9) ? r() % memLen : memLen + (r() % 8) - 2 });
    } else {
      a.emit(spec('mov', false), { dst: 7, imm: r() % 16 });
      a.emit(spec('ldind' + sfx), { src: 7, imm: p(0.9) ? r() % Math.max(1, memLen - 16) : memLen - (r() % 4) });
    }
  };

  const cond = (to: number): void => {
    const is64 = p(0.6);
    const name = pick(JMP_OPS) + (is64 ? '' : '32');
    if (p(0.5)) a.emit(spec(name, true), { dst: anyReg(), src: anyReg() }, to);
    else a.emit(spec(name, false), { dst: anyReg(), imm: imm32() }, to);
  };

  const afterCall = (): void => initRegs([1, 2, 3, 4, 5]);

  const call = (self: number): void => {
    const k = r() % 3;
    if (k === 0) {
      // helper; id 3 reads 4 bytes at r1
      const id = 1 + (r() % 4);
      initRegs([1, 2, 3, 4, 5]);
      if (id === 3) { a.emit(spec('mov', true), { dst: 1, src: pick([9, 10]) }); a.emit(spec('add', false), { dst: 1, imm: pick([0, 4, -8, -16]) }); }
      if (p(0.3)) {
        // through callx: a helper id in a register (sometimes one that is no helper)
        a.emit(spec('mov', false), { dst: 6, imm: p(0.9) ? id : pick([0, 77, -1]) });
        a.emit(spec('callx'), { dst: 6 });
      } else {
        a.emit(spec('call'), { imm: id });
      }
    } else {
      const targets = funcs.slice(self + 1);
      if (!targets.length) return;
      const t = pick(targets);
      called.add(t);
      a.emit(spec('mov', true), { dst: 1, src: 9 });
      if (k === 1) {
        a.emit(spec('call local'), {}, t, 'imm');
      } else {
        a.emit(spec('lddw'), { dst: 6, src: BPF_PSEUDO_FUNC }, t, 'imm');
        a.emit(spec('callx'), { dst: 6 });
      }
    }
    afterCall();
  };

  const segment = (n: number, depth: number, inLoop: boolean, self: number): void => {
    for (let i = 0; i < n; i++) {
      const k = r() % 100;
      if (k < 45) alu();
      else if (k < 60) mem();
      else if (k < 65) atomic();
      else if (k < 68) ldPacket();
      else if (k < 78 && depth < 3) {
        // if / if-else
        const lElse = a.label();
        cond(lElse);
        segment(1 + (r() % 4), depth + 1, inLoop, self);
        if (p(0.5)) {
          const lEnd = a.label();
          if (p(0.2)) a.emit(spec('ja32'), {}, lEnd, 'imm'); else a.emit(spec('ja'), {}, lEnd);
          a.place(lElse);
          segment(1 + (r() % 4), depth + 1, inLoop, self);
          a.place(lEnd);
        } else {
          a.place(lElse);
        }
      } else if (k < 84 && !inLoop && depth < 3) {
        // counted loop, sometimes with a second entry (irreducible)
        a.emit(spec('mov', false), { dst: 8, imm: 1 + (r() % 12) });
        const top = a.label();
        const mid = a.label();
        const twoEntry = (opts.irreducible ?? true) && p(0.25);
        if (twoEntry) cond(mid);
        a.place(top);
        segment(1 + (r() % 5), depth + 1, true, self);
        a.place(mid);
        segment(r() % 3, depth + 1, true, self);
        a.emit(spec('sub', false), { dst: 8, imm: 1 });
        if (p(0.5)) a.emit(spec('jne', false), { dst: 8, imm: 0 }, top);
        else a.emit(spec('jsgt', false), { dst: 8, imm: 0 }, top);
      } else if (k < 92) {
        call(self);
      } else if (k < 93 && p(0.12)) {
        // endless loop (the always-true test keeps the fall-through "reachable")
        const top = a.label();
        a.place(top);
        alu();
        a.emit(spec('jeq', true), { dst: 9, src: 9 }, top);
      } else {
        alu();
      }
    }
  };

  // main
  a.emit(spec('mov', true), { dst: 9, src: 1 });
  initRegs([0, 3, 4, 5, 6, 7, 8]);
  segment(size, 0, false, -1);
  // Every function must be reachable: call the ones nothing references yet.
  for (const f of funcs) {
    if (called.has(f)) continue;
    a.emit(spec('mov', true), { dst: 1, src: 9 });
    a.emit(spec('call local'), {}, f, 'imm');
  }
  a.emit(spec('exit'));
  // functions: r1 = memory pointer
  funcs.forEach((l, i) => {
    a.place(l);
    a.emit(spec('mov', true), { dst: 9, src: 1 });
    initRegs([0, 6, 7, 8]);
    segment(4 + (r() % 10), 1, false, i);
    a.emit(spec('exit'));
  });
  return { insns: a.resolve(), memLen };
}

export function randomInput(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r() & 0xff;
  return b;
}
