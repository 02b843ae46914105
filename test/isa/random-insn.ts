// Seeded generator of valid instructions for property tests (no side effects on import).

import { type Instruction, type OpSpec, OPS, insn } from '../../src/isa/index.js';

/** mulberry32: small, fast, deterministic. Returns a function giving uint32 values. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function int32(r: () => number): number {
  // Half small values (common in real code), half the whole range.
  const k = r() % 4;
  if (k === 0) return (r() % 64) - 32;
  if (k === 1) return [0, 1, -1, 0x7fffffff, -0x80000000, 0xffff][r() % 6]!;
  return r() | 0;
}

function int16(r: () => number): number {
  return r() % 3 === 0 ? (r() % 32) - 16 : ((r() & 0xffff) << 16) >> 16;
}

/** A valid instruction (decodes in strict mode) of a random table entry. */
export function randomInstruction(r: () => number, pick?: (s: OpSpec) => boolean): Instruction {
  const pool = pick ? OPS.filter(pick) : OPS;
  const s = pool[r() % pool.length]!;
  const f: { dst?: number; src?: number; off?: number; imm?: number; imm2?: number } = {};
  for (const o of s.operands) {
    if (s.discr?.field === o) continue;
    if (o === 'dst') f.dst = r() % 11;
    else if (o === 'src') f.src = s.kind === 'ld_imm64' ? (r() % 4 === 0 ? 1 + (r() % 6) : 0) : r() % 11;
    else if (o === 'off') f.off = int16(r);
    else f.imm = int32(r);
  }
  if (s.kind === 'ld_imm64') f.imm2 = int32(r);
  // callx carries its register in dst; the legacy imm form is exercised separately.
  if (s.kind === 'callx') f.imm = 0;
  return insn(s, f);
}

export function randomProgram(r: () => number, maxLen: number, pick?: (s: OpSpec) => boolean): Instruction[] {
  const n = 1 + (r() % maxLen);
  return Array.from({ length: n }, () => randomInstruction(r, pick));
}
