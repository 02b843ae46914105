// Structural validation of raw (unverified) programs before they run in
// checked mode: what the bpf_conformance negatives and the kernel's
// check_cfg-style rules ask of a program that no verifier looked at.
//
//   - at least one instruction, registers r0..r10, reserved fields zero
//   - jump and call targets inside the program, never into the second slot
//     of an lddw
//   - the last instruction is `exit` or an unconditional jump
//   - every instruction reachable from the entry or a called function
//   - no write to r10 (the frame pointer is read-only)
//   - no read of a register before it is written on every path (a simple
//     forward must-be-initialised dataflow; after a call r0 is set and
//     r1..r5 are clobbered, as in the kernel)
//   - lddw only with src 0 (a 64-bit constant) or 4 (a function address);
//     map references need a loader, kfunc calls a kernel

import { ValidationError } from '../errors.js';
import { type Instruction, slotIndices } from '../isa/instruction.js';
import { BPF_PSEUDO_FUNC } from '../isa/opcodes.js';
import { reservedFieldSet } from '../isa/table.js';

export interface ValidateOptions {
  /** Registers initialised at entry (default r1, r2, r10: the raw-program convention). */
  readonly entryRegs?: readonly number[];
  /** Refuse reads of registers not written on every path (default true). */
  readonly uninitialised?: boolean;
}

const R = (r: number): number => 1 << r;
const CALLER_SAVED = R(1) | R(2) | R(3) | R(4) | R(5);

/** Throws ValidationError (index = slot of the offending instruction) when the program is refused. */
export function validate(insns: readonly Instruction[], opts: ValidateOptions = {}): void {
  if (insns.length === 0) throw new ValidationError('VALIDATE_EMPTY', 'program has no instructions', 0);
  const idx = slotIndices(insns);
  const slots = idx[insns.length]!;
  const at = new Int32Array(slots).fill(-1); // slot -> instruction index
  for (let i = 0; i < insns.length; i++) at[idx[i]!] = i;

  const fail = (code: string, i: number, msg: string): never => {
    throw new ValidationError(code, msg, idx[i]!);
  };
  const checkTarget = (i: number, t: number, what: string): number => {
    if (t < 0 || t >= slots) fail('VALIDATE_JUMP_RANGE', i, `${what} to slot ${t} is outside the program (0..${slots - 1})`);
    if (at[t] === -1) fail('VALIDATE_JUMP_LDDW', i, `${what} to slot ${t} lands in the middle of an lddw`);
    return at[t]!;
  };

  // Per-instruction checks and successor lists.
  const succ: number[][] = [];
  const calls: number[][] = []; // callee entries started from each instruction
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    const o = x.op;
    const slot = idx[i]!;
    const bad = reservedFieldSet(o, { opcode: o.opcode, dst: x.dst, src: x.src, off: x.off, imm: x.imm });
    if (bad) fail('VALIDATE_RESERVED', i, `${o.name}: reserved field '${bad}' is not zero`);
    if (o.discr && x[o.discr.field] !== o.discr.value) fail('VALIDATE_RESERVED', i, `${o.name}: ${o.discr.field} must be ${o.discr.value}`);
    if (x.dst < 0 || x.dst > 10 || x.src < 0 || (o.srcReg && x.src > 10) || x.src > 15) {
      fail('VALIDATE_REGISTER', i, `${o.name}: invalid register r${x.dst > 10 || x.dst < 0 ? x.dst : x.src}`);
    }
    const next = i + 1 < insns.length ? [i + 1] : [];
    const c: number[] = [];
    switch (o.kind) {
      case 'exit': succ.push([]); break;
      case 'ja': succ.push([checkTarget(i, slot + 1 + (o.is64 ? x.off : x.imm), 'jump')]); break;
      case 'jcond': succ.push([...next, checkTarget(i, slot + 1 + x.off, 'jump')]); break;
      case 'call_local':
        c.push(checkTarget(i, slot + 1 + x.imm, 'call'));
        succ.push(next);
        break;
      case 'ld_imm64':
        if (x.src === BPF_PSEUDO_FUNC) c.push(checkTarget(i, slot + 1 + x.imm, 'function address'));
        else if (x.src !== 0) fail('VALIDATE_LDDW_SRC', i, `lddw with src ${x.src} (a map or BTF reference) needs a loader`);
        succ.push(next);
        break;
      case 'kfunc_call':
        fail('VALIDATE_KFUNC', i, 'kfunc calls are not available to raw programs');
        break;
      case 'callx':
        if (x.dst !== 0 && x.imm !== 0) fail('VALIDATE_CALLX', i, 'callx names its register twice (dst and imm)');
        if (x.imm < 0 || x.imm > 10) fail('VALIDATE_REGISTER', i, `callx: invalid register r${x.imm}`);
        succ.push(next);
        break;
      default:
        succ.push(next);
    }
    calls.push(c);
  }
  const last = insns[insns.length - 1]!.op.kind;
  if (last !== 'exit' && last !== 'ja') {
    fail('VALIDATE_LAST', insns.length - 1, `last instruction is '${insns[insns.length - 1]!.op.name}', not exit or an unconditional jump`);
  }

  // Reachability and register initialisation in one forward pass.
  const checkUninit = opts.uninitialised ?? true;
  const entry = (opts.entryRegs ?? [1, 2, 10]).reduce((m, r) => m | R(r), 0);
  const state = new Int32Array(insns.length).fill(-1); // -1 = not reached; else mask of initialised registers
  const work: number[] = [];
  const reach = (i: number, mask: number): void => {
    const cur = state[i]!;
    const m = cur === -1 ? mask : cur & mask;
    if (m !== cur) {
      state[i] = m;
      work.push(i);
    }
  };
  reach(0, entry);
  while (work.length) {
    const i = work.pop()!;
    const x = insns[i]!;
    const o = x.op;
    const init = state[i]!;
    let reads = 0;
    let writes = 0;
    let clobbers = 0;
    switch (o.kind) {
      case 'alu': reads = R(x.dst) | (o.srcReg ? R(x.src) : 0); writes = R(x.dst); break;
      case 'neg': case 'endian': reads = R(x.dst); writes = R(x.dst); break;
      case 'mov': case 'movsx': reads = o.srcReg ? R(x.src) : 0; writes = R(x.dst); break;
      case 'ld_imm64': writes = R(x.dst); break;
      case 'ldx': case 'ldsx': reads = R(x.src); writes = R(x.dst); break;
      case 'st': reads = R(x.dst); break;
      case 'stx': reads = R(x.dst) | R(x.src); break;
      case 'atomic':
        reads = R(x.dst) | R(x.src);
        if (o.atomic === 'cmpxchg') { reads |= R(0); writes = R(0); } else if (o.atomic === 'xchg' || o.atomic!.startsWith('fetch')) writes = R(x.src);
        break;
      case 'ld_abs': writes = R(0); break;
      case 'ld_ind': reads = R(x.src); writes = R(0); break;
      case 'jcond': reads = R(x.dst) | (o.srcReg ? R(x.src) : 0); break;
      case 'exit': reads = R(0); break;
      case 'callx': reads = R(x.dst !== 0 ? x.dst : x.imm); writes = R(0); clobbers = CALLER_SAVED; break;
      case 'call': case 'call_local': writes = R(0); clobbers = CALLER_SAVED; break;
      default: break;
    }
    if (writes & R(10)) fail('VALIDATE_FP_WRITE', i, `${o.name} writes r10, the read-only frame pointer`);
    if (checkUninit && (reads & ~init)) {
      const r = Math.log2((reads & ~init) & -(reads & ~init));
      fail('VALIDATE_UNINIT', i, `${o.name} reads r${r} before it is initialised`);
    }
    const out = ((init & ~clobbers) | writes) & 0x7ff;
    for (const t of succ[i]!) reach(t, out);
    for (const t of calls[i]!) reach(t, CALLER_SAVED | R(10));
  }
  for (let i = 0; i < insns.length; i++) {
    if (state[i] === -1) fail('VALIDATE_UNREACHABLE', i, `unreachable instruction '${insns[i]!.op.name}'`);
  }
}
