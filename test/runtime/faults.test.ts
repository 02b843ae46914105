// Checked mode: every way a raw program can misbehave ends the run with a
// RuntimeFault carrying the right code, pc, address and region; never a
// host exception of another type, never a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { type Instruction, insn } from '../../src/isa/instruction.js';
import { BY_NAME } from '../../src/isa/table.js';
import { HelperRegistry } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { runRaw } from '../../src/runtime/raw.js';

interface Fault { name: string; code: string; pc: number; address?: number; region?: string; message: string }

function fault(f: () => unknown): Fault {
  try {
    f();
  } catch (e) {
    const x = e as Fault;
    assert.equal(x.name, 'RuntimeFault', `expected a RuntimeFault, got ${String(e)}`);
    return x;
  }
  assert.fail('expected a RuntimeFault, the run succeeded');
}

const raw = (src: string, mem?: Uint8Array, more: object = {}) => () => runRaw(assemble(src), { mem, ...more });

test('load past the end of the input memory: FAULT_MEMORY with pc, address and region', () => {
  const mem = new Uint8Array(8);
  let addr = -1;
  // find the input address (R1) first
  const r = runRaw(assemble('mov %r0, %r1\nexit'), { mem });
  addr = Number(r.r0);
  const f = fault(raw('mov %r0, 0\nldxw %r0, [%r1+6]\nexit', mem));
  assert.equal(f.code, 'FAULT_MEMORY');
  assert.equal(f.pc, 1);
  assert.equal(f.address, addr + 6);
  assert.equal(f.region, 'mem');
  assert.match(f.message, /insn 1: load of 4 bytes at 0x[0-9a-f]+: outside region 'mem'/);
});

test('store below the stack, and at R10 + 0, fault in region stack', () => {
  let f = fault(raw('mov %r1, 1\nstxdw [%r10-520], %r1\nmov %r0, 0\nexit'));
  assert.equal(f.code, 'FAULT_MEMORY');
  assert.equal(f.pc, 1);
  assert.equal(f.region, 'stack');
  f = fault(raw('mov %r1, 1\nstxb [%r10+0], %r1\nmov %r0, 0\nexit'));
  assert.equal(f.pc, 1);
  assert.equal(f.region, 'stack');
});

test('NULL dereference faults in no region', () => {
  const f = fault(raw('ldxdw %r0, [%r1+0]\nexit')); // no input memory: R1 = 0
  assert.equal(f.code, 'FAULT_MEMORY');
  assert.equal(f.address, 0);
  assert.equal(f.region, undefined);
});

test('pointers with high bits set fault rather than wrap', () => {
  const f = fault(raw('lddw %r2, 0x100000000\nadd %r2, %r1\nldxb %r0, [%r2+0]\nexit', new Uint8Array(4)));
  assert.equal(f.code, 'FAULT_MEMORY');
  assert.equal(f.pc, 3);
});

test('store into a read-only region: FAULT_READONLY', () => {
  const memory = new LinearMemory();
  const stack = memory.alloc(STACK_AREA, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  const ro = memory.alloc(16);
  memory.addRegion(ro, 16, 'map_value:cfg', false);
  const p = prepare(assemble('ldxdw %r0, [%r1+8]\nstdw [%r1+8], 1\nexit'));
  const f = fault(() => execute(p, { memory, stack, args: [ro] }));
  assert.equal(f.code, 'FAULT_READONLY');
  assert.equal(f.pc, 1);
  assert.equal(f.address, ro + 8);
  assert.equal(f.region, 'map_value:cfg');
});

test('an infinite loop ends with FAULT_BUDGET at the configured budget', () => {
  const f = fault(raw('mov %r0, 0\nl:\nadd %r0, 1\nja l', undefined, { budget: 1000 }));
  assert.equal(f.code, 'FAULT_BUDGET');
  assert.match(f.message, /budget of 1000/);
  const g = fault(raw('mov %r0, 0\nl:\nja l'));
  assert.equal(g.code, 'FAULT_BUDGET', 'default budget stops it too');
});

test('falling off the end and jumping out of the program fault (unvalidated programs)', () => {
  const mov = insn(BY_NAME.get('mov')![0]!, { dst: 0, imm: 1 });
  let f = fault(() => runRaw([mov, mov], { validate: false }));
  assert.equal(f.code, 'FAULT_FALL_THROUGH');
  assert.equal(f.pc, 1);
  const ja = insn(BY_NAME.get('ja')![0]!, { off: 5 });
  f = fault(() => runRaw([mov, ja, insn(BY_NAME.get('exit')![0]!)], { validate: false }));
  assert.equal(f.code, 'FAULT_JUMP');
  assert.equal(f.pc, 1);
  // into the second slot of an lddw
  const prog: Instruction[] = [insn(BY_NAME.get('ja')![0]!, { off: 1 }), insn(BY_NAME.get('lddw')![0]!, { dst: 0, imm: 1 }), insn(BY_NAME.get('exit')![0]!)];
  f = fault(() => runRaw(prog, { validate: false }));
  assert.equal(f.code, 'FAULT_JUMP');
  assert.equal(f.pc, 0);
});

test('unknown helper: FAULT_UNKNOWN_HELPER at the call', () => {
  const f = fault(raw('mov %r0, 0\ncall 9999\nexit'));
  assert.equal(f.code, 'FAULT_UNKNOWN_HELPER');
  assert.equal(f.pc, 1);
  const g = fault(raw('mov %r2, 123456\ncallx %r2\nexit', undefined, { helpers: new HelperRegistry() }));
  assert.equal(g.code, 'FAULT_UNKNOWN_HELPER');
});

test('a helper that throws a plain Error becomes FAULT_HELPER', () => {
  const helpers = new HelperRegistry([{ id: 1, name: 'boom', impl: () => { throw new Error('kaboom'); } }]);
  const f = fault(raw('call 1\nexit', undefined, { helpers }));
  assert.equal(f.code, 'FAULT_HELPER');
  assert.match(f.message, /kaboom/);
});

function nested(depth: number): string {
  // main calls f1, f1 calls f2, ... f(depth) returns
  let s = 'call local f1\nexit\n';
  for (let i = 1; i <= depth; i++) s += `f${i}:\n` + (i < depth ? `call local f${i + 1}\n` : 'mov %r0, 7\n') + 'exit\n';
  return s;
}

test('call depth: 8 frames run, 9 nested frames fault with FAULT_CALL_DEPTH', () => {
  assert.equal(runRaw(assemble(nested(7))).r0, 7n, 'main + 7 callees = 8 frames');
  const f = fault(raw(nested(8)));
  assert.equal(f.code, 'FAULT_CALL_DEPTH');
  // the 8th call instruction faults: it sits in f7
  assert.equal(f.pc, 2 * 7);
  const g = fault(raw('f:\ncall local f\nexit'));
  assert.equal(g.code, 'FAULT_CALL_DEPTH', 'unbounded recursion');
});

test('callx to a value that is neither helper id nor function: FAULT_CALL_TARGET', () => {
  const f = fault(raw('lddw %r2, 0xffff000000000001\ncallx %r2\nexit'));
  assert.equal(f.code, 'FAULT_CALL_TARGET');
  assert.equal(f.pc, 2);
});

test('unchecked mode still turns an access outside the memory into a RuntimeFault', () => {
  const f = fault(() => runRaw(assemble('lddw %r1, 0x7ffffff0\nldxdw %r0, [%r1+0]\nexit'), { checked: false, validate: false }));
  assert.equal(f.code, 'FAULT_MEMORY');
  assert.equal(f.pc, 2);
});

test('lddw map references and kfunc calls cannot run without a loader', () => {
  const lddwMap = insn(BY_NAME.get('lddw')![0]!, { dst: 1, src: 1, imm: 3 });
  const f = fault(() => runRaw([lddwMap, insn(BY_NAME.get('exit')![0]!)], { validate: false }));
  assert.equal(f.code, 'FAULT_UNSUPPORTED');
  assert.equal(f.pc, 0);
});
