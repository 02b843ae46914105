// A tiny BigInt model of the register-only part of the ISA (RFC 9669 section
// 4 and 4.4), for the differential test: a third opinion next to tsbpf's
// interpreter and the kernel, so a disagreement says who is wrong. It runs
// only the programs alu-gen.ts makes (ALU, JMP/JMP32 conditionals, lddw,
// exit); anything else throws.

import type { Instruction } from '../../src/isa/index.js';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;

const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

function bswap(v: bigint, bytes: number): bigint {
  let out = 0n;
  for (let i = 0; i < bytes; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

function alu(op: string, a: bigint, b: bigint, is64: boolean): bigint {
  const m = is64 ? M64 : M32;
  const w = is64 ? 64 : 32;
  const sg = is64 ? s64 : s32;
  a &= m;
  b &= m;
  switch (op) {
    case 'add': return (a + b) & m;
    case 'sub': return (a - b) & m;
    case 'mul': return (a * b) & m;
    case 'div': return b === 0n ? 0n : a / b;
    case 'mod': return b === 0n ? a : a % b;
    // BigInt division truncates toward zero, like the ISA's sdiv/smod;
    // INT_MIN / -1 wraps back to INT_MIN once masked.
    case 'sdiv': return b === 0n ? 0n : (sg(a) / sg(b)) & m;
    case 'smod': return b === 0n ? a : (sg(a) % sg(b)) & m;
    case 'or': return a | b;
    case 'and': return a & b;
    case 'xor': return a ^ b;
    case 'lsh': return (a << (b & BigInt(w - 1))) & m;
    case 'rsh': return a >> (b & BigInt(w - 1));
    case 'arsh': return (sg(a) >> (b & BigInt(w - 1))) & m;
    default: throw new Error(`alu-ref: ${op}`);
  }
}

function cond(op: string, a: bigint, b: bigint, is64: boolean): boolean {
  const m = is64 ? M64 : M32;
  const sg = is64 ? s64 : s32;
  a &= m;
  b &= m;
  switch (op) {
    case 'jeq': return a === b;
    case 'jne': return a !== b;
    case 'jgt': return a > b;
    case 'jge': return a >= b;
    case 'jlt': return a < b;
    case 'jle': return a <= b;
    case 'jset': return (a & b) !== 0n;
    case 'jsgt': return sg(a) > sg(b);
    case 'jsge': return sg(a) >= sg(b);
    case 'jslt': return sg(a) < sg(b);
    case 'jsle': return sg(a) <= sg(b);
    default: throw new Error(`alu-ref: ${op}`);
  }
}

/** R0 at `exit` (unsigned 64-bit). */
export function refRun(prog: readonly Instruction[]): bigint {
  const r = new Array<bigint>(11).fill(0n);
  // Slot index -> logical index, for jump targets.
  const at = new Map<number, number>();
  let s = 0;
  prog.forEach((x, i) => {
    at.set(s, i);
    s += x.op.kind === 'ld_imm64' ? 2 : 1;
  });
  const slotOf: number[] = [];
  s = 0;
  for (const x of prog) {
    slotOf.push(s);
    s += x.op.kind === 'ld_imm64' ? 2 : 1;
  }
  let pc = 0;
  for (let steps = 0; steps < 100_000; steps++) {
    const x = prog[pc];
    if (!x) throw new Error(`alu-ref: fell off the program at ${pc}`);
    const o = x.op;
    // Second operand: register, or the immediate sign-extended to 64 bits.
    const src = o.srcReg ? r[x.src]! : BigInt(x.imm) & M64;
    const m = o.is64 ? M64 : M32;
    switch (o.kind) {
      case 'alu': r[x.dst] = alu(o.alu!, r[x.dst]!, src, o.is64); break;
      case 'neg': r[x.dst] = (-r[x.dst]!) & m; break;
      case 'mov': r[x.dst] = src & m; break;
      case 'movsx': {
        const v = BigInt.asIntN(o.size * 8, r[x.src]!);
        r[x.dst] = v & m;
        break;
      }
      case 'endian': {
        const bits = o.size * 8;
        const low = r[x.dst]! & ((1n << BigInt(bits)) - 1n);
        r[x.dst] = o.endian === 'le' ? low : bswap(low, o.size);
        break;
      }
      case 'ld_imm64': r[x.dst] = ((BigInt(x.imm2 >>> 0) << 32n) | BigInt(x.imm >>> 0)); break;
      case 'jcond':
        if (cond(o.jmp!, r[x.dst]!, src, o.is64)) {
          const to = at.get(slotOf[pc]! + 1 + x.off);
          if (to === undefined) throw new Error(`alu-ref: bad jump at ${pc}`);
          pc = to;
          continue;
        }
        break;
      case 'exit': return r[0]!;
      default: throw new Error(`alu-ref: ${o.name} is not modelled`);
    }
    pc++;
  }
  throw new Error('alu-ref: too many steps');
}
