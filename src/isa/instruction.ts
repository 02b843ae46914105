// Logical instructions and their byte encoding.
//
// One Instruction per operation: LD_IMM64 is one instruction of width 2 whose
// upper immediate is `imm2`. Raw fields are kept as encoded (signed `off` and
// `imm`), so `encode(decode(bytes))` is byte-exact; the table entry `op`
// says what they mean, so no consumer matches on `off` to tell sdiv from div.

import { DecodeError } from '../errors.js';
import { BPF_LD, BPF_DW, BPF_IMM, SLOT_SIZE } from './opcodes.js';
import { type OpSpec, lookup, reservedFieldSet } from './table.js';

export interface Instruction {
  readonly op: OpSpec;
  readonly dst: number;
  readonly src: number;
  /** Signed 16-bit offset field. */
  readonly off: number;
  /** Signed 32-bit immediate field. */
  readonly imm: number;
  /** LD_IMM64 only: immediate of the second slot (upper 32 bits), signed 32-bit. */
  readonly imm2: number;
}

export const LD_IMM64_OPCODE = BPF_LD | BPF_IMM | BPF_DW;

/** Slots an instruction occupies (2 for LD_IMM64, 1 otherwise). */
export function width(insn: Instruction): 1 | 2 {
  return insn.op.kind === 'ld_imm64' ? 2 : 1;
}

/** The 64-bit immediate of an LD_IMM64 as an unsigned bigint. */
export function imm64(insn: Instruction): bigint {
  return (BigInt(insn.imm2 >>> 0) << 32n) | BigInt(insn.imm >>> 0);
}

/** Build an instruction; unspecified fields are zero. */
export function insn(op: OpSpec, f: Partial<Omit<Instruction, 'op'>> = {}): Instruction {
  const x = { op, dst: f.dst ?? 0, src: f.src ?? 0, off: f.off ?? 0, imm: f.imm ?? 0, imm2: f.imm2 ?? 0 };
  if (op.discr) x[op.discr.field] = op.discr.value;
  return x;
}

/** Slot index of each instruction, plus the total slot count at the end. */
export function slotIndices(insns: readonly Instruction[]): number[] {
  const out = new Array<number>(insns.length + 1);
  let s = 0;
  for (let i = 0; i < insns.length; i++) {
    out[i] = s;
    s += width(insns[i]!);
  }
  out[insns.length] = s;
  return out;
}

export interface DecodeOptions {
  /** Reject instructions whose reserved fields are not zero (default true). */
  readonly strict?: boolean;
}

/**
 * Decode little-endian bytecode into logical instructions. Throws a
 * DecodeError naming the slot on truncation, unknown encodings, a broken
 * LD_IMM64 pair and (unless `strict: false`) non-zero reserved fields.
 */
export function decode(bytes: Uint8Array, opts: DecodeOptions = {}): Instruction[] {
  const strict = opts.strict ?? true;
  if (bytes.length % SLOT_SIZE !== 0) {
    throw new DecodeError('DECODE_TRUNCATED',
      `bytecode is ${bytes.length} bytes, not a multiple of ${SLOT_SIZE}`, Math.floor(bytes.length / SLOT_SIZE));
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length / SLOT_SIZE;
  const out: Instruction[] = [];
  for (let i = 0; i < n; i++) {
    const b = i * SLOT_SIZE;
    const opcode = bytes[b]!;
    const regs = bytes[b + 1]!;
    const f = { opcode, dst: regs & 0xf, src: regs >> 4, off: dv.getInt16(b + 2, true), imm: dv.getInt32(b + 4, true) };
    const spec = lookup(f);
    if (!spec) {
      throw new DecodeError('DECODE_OPCODE', `unknown instruction encoding: opcode 0x${hex2(opcode)}` +
        (f.off || f.imm || f.src ? ` (src ${f.src}, off ${f.off}, imm ${f.imm})` : ''), i);
    }
    if (strict) {
      const bad = reservedFieldSet(spec, f);
      if (bad) throw new DecodeError('DECODE_RESERVED', `${spec.name}: reserved field '${bad}' is not zero`, i);
      if (f.dst > 10 || (spec.srcReg && f.src > 10)) {
        throw new DecodeError('DECODE_REGISTER', `${spec.name}: invalid register r${f.dst > 10 ? f.dst : f.src}`, i);
      }
    }
    let imm2 = 0;
    if (spec.kind === 'ld_imm64') {
      if (i + 1 >= n) throw new DecodeError('DECODE_TRUNCATED', 'lddw is missing its second slot', i);
      const c = (i + 1) * SLOT_SIZE;
      if (bytes[c] !== 0 || bytes[c + 1] !== 0 || dv.getInt16(c + 2, true) !== 0) {
        throw new DecodeError('DECODE_LDDW', 'second slot of lddw must have opcode, registers and offset zero', i + 1);
      }
      if (strict && f.src > 6) throw new DecodeError('DECODE_RESERVED', `lddw: unknown src ${f.src}`, i);
      imm2 = dv.getInt32(c + 4, true);
      i++;
    }
    out.push({ op: spec, dst: f.dst, src: f.src, off: f.off, imm: f.imm, imm2 });
  }
  return out;
}

/** Encode logical instructions to little-endian bytecode. */
export function encode(insns: readonly Instruction[]): Uint8Array {
  let slots = 0;
  for (const x of insns) slots += width(x);
  const bytes = new Uint8Array(slots * SLOT_SIZE);
  const dv = new DataView(bytes.buffer);
  let b = 0;
  for (const x of insns) {
    const d = x.op.discr;
    bytes[b] = x.op.opcode;
    bytes[b + 1] = (x.dst & 0xf) | (((d?.field === 'src' ? d.value : x.src) & 0xf) << 4);
    dv.setInt16(b + 2, d?.field === 'off' ? d.value : x.off, true);
    dv.setInt32(b + 4, d?.field === 'imm' ? d.value : x.imm, true);
    b += SLOT_SIZE;
    if (x.op.kind === 'ld_imm64') {
      dv.setInt32(b + 4, x.imm2, true);
      b += SLOT_SIZE;
    }
  }
  return bytes;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
