// The one table of valid eBPF encodings. Decode, encode, validation and the
// mnemonics of the assembler all read it; nothing else lists opcodes.
//
// An entry is one logical operation. Where several operations share an
// opcode byte (sdiv/div, movsx/mov, the atomics, byte swaps, the call
// flavours, gotol), the entry names the field and value that tell them apart
// (`discr`). Every field that is neither an operand nor the discriminator is
// reserved and must be zero.

import * as op from './opcodes.js';

export type InsnKind =
  | 'alu'        // dst = dst OP src|imm (incl. sdiv/smod)
  | 'neg'        // dst = -dst
  | 'mov'        // dst = src|imm
  | 'movsx'      // dst = sign-extend(src, bits)
  | 'endian'     // le/be/bswap
  | 'ld_imm64'   // dst = imm64 (two slots), src selects the pseudo kind
  | 'ldx'        // dst = *(size *)(src + off)
  | 'ldsx'       // dst = *(signed size *)(src + off)
  | 'st'         // *(size *)(dst + off) = imm
  | 'stx'        // *(size *)(dst + off) = src
  | 'atomic'     // lock *(size *)(dst + off) OP= src
  | 'ld_abs'     // r0 = ntoh(*(size *)(skb->data + imm))
  | 'ld_ind'     // r0 = ntoh(*(size *)(skb->data + src + imm))
  | 'ja'         // goto +off (JMP) or +imm (JMP32, "gotol")
  | 'jcond'      // if dst OP src|imm goto +off
  | 'call'       // helper call, imm = helper id
  | 'call_local' // bpf-to-bpf call, imm = slot offset of the callee
  | 'kfunc_call' // kernel function call, imm = BTF id, off = BTF fd index
  | 'callx'      // indirect call through a register
  | 'exit';

export type Field = 'dst' | 'src' | 'off' | 'imm';

export type AluOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'or' | 'and' | 'lsh' | 'rsh'
  | 'mod' | 'smod' | 'xor' | 'arsh';
export type JmpOp =
  | 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';
export type AtomicOp =
  | 'add' | 'or' | 'and' | 'xor' | 'fetch add' | 'fetch or' | 'fetch and' | 'fetch xor'
  | 'xchg' | 'cmpxchg';

export interface OpSpec {
  /** Mnemonic in the bpf_conformance / uBPF syntax: `add32`, `ldxdw`, `lock fetch add`. */
  readonly name: string;
  readonly opcode: number;
  readonly kind: InsnKind;
  /** Field and value that select this entry among those sharing the opcode. */
  readonly discr?: { readonly field: Field; readonly value: number };
  /** Fields that carry operands; the others must be zero. */
  readonly operands: readonly Field[];
  /** 64-bit operation (ALU64, JMP) rather than 32-bit (ALU, JMP32). */
  readonly is64: boolean;
  /** Operand comes from a register (BPF_X) rather than the immediate. */
  readonly srcReg: boolean;
  /** Bytes accessed (loads, stores, atomics, ld_abs/ind), bits / 8 for endian, source width for movsx. */
  readonly size: 0 | 1 | 2 | 4 | 8;
  /** Operation name for alu/jcond/atomic/endian kinds. */
  readonly alu?: AluOp;
  readonly jmp?: JmpOp;
  readonly atomic?: AtomicOp;
  readonly endian?: 'le' | 'be' | 'bswap';
}

const ALU_OPS: ReadonlyArray<[AluOp, number, number]> = [
  ['add', op.BPF_ADD, 0], ['sub', op.BPF_SUB, 0], ['mul', op.BPF_MUL, 0],
  ['div', op.BPF_DIV, 0], ['sdiv', op.BPF_DIV, 1], ['or', op.BPF_OR, 0],
  ['and', op.BPF_AND, 0], ['lsh', op.BPF_LSH, 0], ['rsh', op.BPF_RSH, 0],
  ['mod', op.BPF_MOD, 0], ['smod', op.BPF_MOD, 1], ['xor', op.BPF_XOR, 0],
  ['arsh', op.BPF_ARSH, 0],
];

const JMP_OPS: ReadonlyArray<[JmpOp, number]> = [
  ['jeq', op.BPF_JEQ], ['jgt', op.BPF_JGT], ['jge', op.BPF_JGE], ['jset', op.BPF_JSET],
  ['jne', op.BPF_JNE], ['jsgt', op.BPF_JSGT], ['jsge', op.BPF_JSGE], ['jlt', op.BPF_JLT],
  ['jle', op.BPF_JLE], ['jslt', op.BPF_JSLT], ['jsle', op.BPF_JSLE],
];

const ATOMIC_OPS: ReadonlyArray<[AtomicOp, number]> = [
  ['add', op.BPF_ADD], ['or', op.BPF_OR], ['and', op.BPF_AND], ['xor', op.BPF_XOR],
  ['fetch add', op.BPF_ADD | op.BPF_FETCH], ['fetch or', op.BPF_OR | op.BPF_FETCH],
  ['fetch and', op.BPF_AND | op.BPF_FETCH], ['fetch xor', op.BPF_XOR | op.BPF_FETCH],
  ['xchg', op.BPF_XCHG], ['cmpxchg', op.BPF_CMPXCHG],
];

const SIZES: ReadonlyArray<[string, number, 1 | 2 | 4 | 8]> = [
  ['b', op.BPF_B, 1], ['h', op.BPF_H, 2], ['w', op.BPF_W, 4], ['dw', op.BPF_DW, 8],
];

function build(): OpSpec[] {
  const t: OpSpec[] = [];
  const add = (s: Omit<OpSpec, 'srcReg' | 'is64' | 'size'> & Partial<OpSpec>): void => {
    t.push({ is64: true, srcReg: false, size: 0, ...s });
  };
  for (const is64 of [true, false]) {
    const cls = is64 ? op.BPF_ALU64 : op.BPF_ALU;
    const sfx = is64 ? '' : '32';
    for (const [name, code, off] of ALU_OPS) {
      for (const x of [false, true]) {
        const opcode = cls | code | (x ? op.BPF_X : op.BPF_K);
        add({
          name: name + sfx, opcode, kind: 'alu', is64, srcReg: x, alu: name,
          discr: code === op.BPF_DIV || code === op.BPF_MOD ? { field: 'off', value: off } : undefined,
          operands: x ? ['dst', 'src'] : ['dst', 'imm'],
        });
      }
    }
    add({ name: 'neg' + sfx, opcode: cls | op.BPF_NEG, kind: 'neg', is64, operands: ['dst'] });
    add({ name: 'mov' + sfx, opcode: cls | op.BPF_MOV | op.BPF_K, kind: 'mov', is64, operands: ['dst', 'imm'] });
    add({
      name: 'mov' + sfx, opcode: cls | op.BPF_MOV | op.BPF_X, kind: 'mov', is64, srcReg: true,
      discr: { field: 'off', value: 0 }, operands: ['dst', 'src'],
    });
    for (const bits of is64 ? [8, 16, 32] : [8, 16]) {
      add({
        name: `movsx${bits}${is64 ? 64 : 32}`, opcode: cls | op.BPF_MOV | op.BPF_X, kind: 'movsx', is64,
        srcReg: true, size: (bits / 8) as 1 | 2 | 4, discr: { field: 'off', value: bits }, operands: ['dst', 'src'],
      });
    }
  }
  for (const bits of [16, 32, 64]) {
    const size = (bits / 8) as 2 | 4 | 8;
    add({ name: `le${bits}`, opcode: op.BPF_ALU | op.BPF_END | op.BPF_TO_LE, kind: 'endian', is64: false, endian: 'le', size, discr: { field: 'imm', value: bits }, operands: ['dst'] });
    add({ name: `be${bits}`, opcode: op.BPF_ALU | op.BPF_END | op.BPF_TO_BE, kind: 'endian', is64: false, endian: 'be', size, discr: { field: 'imm', value: bits }, operands: ['dst'] });
    add({ name: `bswap${bits}`, opcode: op.BPF_ALU64 | op.BPF_END | op.BPF_TO_LE, kind: 'endian', endian: 'bswap', size, discr: { field: 'imm', value: bits }, operands: ['dst'] });
  }
  add({ name: 'lddw', opcode: op.BPF_LD | op.BPF_IMM | op.BPF_DW, kind: 'ld_imm64', size: 8, operands: ['dst', 'src', 'imm'] });
  for (const [s, code, size] of SIZES) {
    add({ name: `ldx${s}`, opcode: op.BPF_LDX | op.BPF_MEM | code, kind: 'ldx', size, operands: ['dst', 'src', 'off'] });
    add({ name: `st${s}`, opcode: op.BPF_ST | op.BPF_MEM | code, kind: 'st', size, operands: ['dst', 'off', 'imm'] });
    add({ name: `stx${s}`, opcode: op.BPF_STX | op.BPF_MEM | code, kind: 'stx', size, operands: ['dst', 'src', 'off'] });
    if (size !== 8) {
      add({ name: `ldxs${s}`, opcode: op.BPF_LDX | op.BPF_MEMSX | code, kind: 'ldsx', size, operands: ['dst', 'src', 'off'] });
      add({ name: `ldabs${s}`, opcode: op.BPF_LD | op.BPF_ABS | code, kind: 'ld_abs', size, operands: ['imm'] });
      add({ name: `ldind${s}`, opcode: op.BPF_LD | op.BPF_IND | code, kind: 'ld_ind', size, operands: ['src', 'imm'] });
    }
    if (size === 4 || size === 8) {
      for (const [a, imm] of ATOMIC_OPS) {
        add({
          name: `lock ${a}${size === 4 ? '32' : ''}`, opcode: op.BPF_STX | op.BPF_ATOMIC | code, kind: 'atomic',
          size, is64: size === 8, srcReg: true, atomic: a, discr: { field: 'imm', value: imm }, operands: ['dst', 'src', 'off'],
        });
      }
    }
  }
  add({ name: 'ja', opcode: op.BPF_JMP | op.BPF_JA, kind: 'ja', operands: ['off'] });
  add({ name: 'ja32', opcode: op.BPF_JMP32 | op.BPF_JA, kind: 'ja', is64: false, operands: ['imm'] });
  for (const is64 of [true, false]) {
    const cls = is64 ? op.BPF_JMP : op.BPF_JMP32;
    for (const [name, code] of JMP_OPS) {
      add({ name: name + (is64 ? '' : '32'), opcode: cls | code | op.BPF_K, kind: 'jcond', is64, jmp: name, operands: ['dst', 'off', 'imm'] });
      add({ name: name + (is64 ? '' : '32'), opcode: cls | code | op.BPF_X, kind: 'jcond', is64, srcReg: true, jmp: name, operands: ['dst', 'src', 'off'] });
    }
  }
  const call = op.BPF_JMP | op.BPF_CALL;
  add({ name: 'call', opcode: call, kind: 'call', discr: { field: 'src', value: 0 }, operands: ['imm'] });
  add({ name: 'call local', opcode: call, kind: 'call_local', discr: { field: 'src', value: op.BPF_PSEUDO_CALL }, operands: ['imm'] });
  add({ name: 'call kfunc', opcode: call, kind: 'kfunc_call', discr: { field: 'src', value: op.BPF_PSEUDO_KFUNC_CALL }, operands: ['off', 'imm'] });
  // callx: the register is in dst (RFC 9669 errata, GCC, LLVM >= 19); LLVM
  // before 19 put it in imm. Both decode; validation wants exactly one.
  add({ name: 'callx', opcode: call | op.BPF_X, kind: 'callx', srcReg: true, operands: ['dst', 'imm'] });
  add({ name: 'exit', opcode: op.BPF_JMP | op.BPF_EXIT, kind: 'exit', operands: [] });
  return t;
}

/** Every valid operation. */
export const OPS: readonly OpSpec[] = build();

/** Entries by opcode byte. */
export const BY_OPCODE: readonly (readonly OpSpec[])[] = (() => {
  const m: OpSpec[][] = Array.from({ length: 256 }, () => []);
  for (const s of OPS) m[s.opcode]!.push(s);
  return m;
})();

/** Entries by mnemonic (several for `add` etc.: the K and X forms). */
export const BY_NAME: ReadonlyMap<string, readonly OpSpec[]> = (() => {
  const m = new Map<string, OpSpec[]>();
  for (const s of OPS) {
    const l = m.get(s.name);
    if (l) l.push(s); else m.set(s.name, [s]);
  }
  return m;
})();

export interface RawFields {
  readonly opcode: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

/** The table entry for raw fields, or undefined when no entry matches the encoding. */
export function lookup(f: RawFields): OpSpec | undefined {
  const c = BY_OPCODE[f.opcode & 0xff]!;
  if (c.length === 1 && !c[0]!.discr) return c[0];
  for (const s of c) if (s.discr && f[s.discr.field] === s.discr.value) return s;
  // An entry without discriminator among discriminated ones (none today) would go here.
  return undefined;
}

/** Name of the first reserved field that is not zero, or undefined. */
export function reservedFieldSet(s: OpSpec, f: RawFields): Field | undefined {
  for (const k of ['dst', 'src', 'off', 'imm'] as const) {
    if (s.discr?.field === k) continue;
    if (!s.operands.includes(k) && f[k] !== 0) return k;
  }
  return undefined;
}
