// validate(): what a raw program must satisfy before it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { type Instruction, insn } from '../../src/isa/instruction.js';
import { BY_NAME } from '../../src/isa/table.js';
import { validate } from '../../src/runtime/validate.js';

const op = (n: string, x?: boolean) => BY_NAME.get(n)!.find((s) => x === undefined || s.srcReg === x)!;
const EXIT = insn(op('exit'));
const MOV0 = insn(op('mov', false), { dst: 0, imm: 0 });

function refused(p: string | Instruction[], want: string, index?: number): void {
  const insns = typeof p === 'string' ? assemble(p) : p;
  try {
    validate(insns);
  } catch (e) {
    assert.equal((e as Error).name, 'ValidationError');
    assert.equal((e as { code: string }).code, want, (e as Error).message);
    if (index !== undefined) assert.equal((e as { index: number }).index, index);
    return;
  }
  assert.fail(`expected ${want}`);
}

test('valid programs pass, including backward jumps, calls and exit-not-last', () => {
  validate(assemble('mov %r0, 0\nexit'));
  validate(assemble('mov %r1, 0\nja L2\nL1:\nmov %r2, 0\nexit\nL2:\nmov %r0, 0\nja L1'));
  validate(assemble('mov %r0, 0\ncall local f\nexit\nf:\nmov %r0, %r1\nexit'));
  validate(assemble('mov %r0, %r10\nexit'));
});

test('empty program', () => refused([], 'VALIDATE_EMPTY'));

test('jump out of range and into the middle of lddw', () => {
  refused([insn(op('ja'), { off: 5 }), EXIT], 'VALIDATE_JUMP_RANGE', 0);
  refused([MOV0, insn(op('ja'), { off: -3 }), EXIT], 'VALIDATE_JUMP_RANGE', 1);
  refused([MOV0, insn(op('jeq', false), { dst: 0, off: 1 }), insn(op('lddw'), { dst: 0, imm: 1 }), EXIT], 'VALIDATE_JUMP_LDDW', 1);
  refused([MOV0, insn(op('call local'), { imm: 7 }), EXIT], 'VALIDATE_JUMP_RANGE', 1);
});

test('last instruction must be exit or ja', () => refused('mov %r0, 0\nmov %r0, 1', 'VALIDATE_LAST', 1));

test('unreachable instructions', () => refused('mov %r0, 0\nexit\nmov %r0, 1\nexit', 'VALIDATE_UNREACHABLE', 2));

test('uninitialised register reads, along any path', () => {
  refused('or %r0, %r10\nexit', 'VALIDATE_UNINIT', 0);
  refused('exit', 'VALIDATE_UNINIT', 0);
  refused('mov %r0, 0\njeq %r1, 0, +1\nmov %r3, 1\nmov %r0, %r3\nexit', 'VALIDATE_UNINIT', 3);
  // after a call, r1..r5 are clobbered
  refused('mov %r3, 1\ncall 7\nmov %r0, %r3\nexit', 'VALIDATE_UNINIT', 2);
  // a callee sees r1..r5 and r10, not r6
  refused('mov %r6, 1\nmov %r0, 0\ncall local f\nexit\nf:\nmov %r0, %r6\nexit', 'VALIDATE_UNINIT', 4);
});

test('writes to r10 are refused', () => refused('mov %r10, 0\nmov %r0, 0\nexit', 'VALIDATE_FP_WRITE', 0));

test('reserved fields of hand-built instructions', () => {
  refused([insn(op('mov', false), { dst: 0, imm: 1, off: 3 }), EXIT], 'VALIDATE_RESERVED', 0);
  refused([insn(op('mov', false), { dst: 11, imm: 1 }), EXIT], 'VALIDATE_REGISTER', 0);
});

test('lddw map references need a loader; callx with two registers is ambiguous', () => {
  refused([insn(op('lddw'), { dst: 1, src: 1, imm: 3 }), MOV0, EXIT], 'VALIDATE_LDDW_SRC', 0);
  refused([MOV0, insn(op('callx'), { dst: 1, imm: 2 }), EXIT], 'VALIDATE_CALLX', 1);
});
