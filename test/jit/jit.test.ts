// The JIT on its own corners: the binary writer, faults (same code, pc,
// address and region as the interpreter), the budget, calls, the irreducible
// fallback, unchecked traps, batches, shared memory, re-entrancy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BY_NAME, type Instruction, type OpSpec, assemble, insn } from '../../src/isa/index.js';
import { BPF_PSEUDO_FUNC } from '../../src/isa/opcodes.js';
import { HelperRegistry } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { JitProgram } from '../../src/runtime/jit/index.js';
import { Bytes, Code, I32, I64, ModuleBuilder, Op } from '../../src/runtime/jit/wasm.js';
import { type Outcome, type RunOptions, runEngine } from './harness.js';

function spec(name: string, srcReg?: boolean): OpSpec {
  const l = BY_NAME.get(name)!;
  return srcReg === undefined ? l[0]! : l.find((x) => x.srcReg === srcReg)!;
}

/** Run on both engines; they must agree; returns the JIT's outcome. */
function both(prog: string | Instruction[], input = new Uint8Array(0), opts: RunOptions = {}): Outcome {
  const insns = typeof prog === 'string' ? assemble(prog) : prog;
  const o = { messages: true, ...opts };
  const a = runEngine('interp', insns, input, o);
  const b = runEngine('jit', insns, input, o);
  assert.deepEqual(b, a);
  return b;
}

test('LEB128 encodings', () => {
  const enc = (f: (b: Bytes) => void): number[] => { const b = new Bytes(1); f(b); return [...b.finish()]; };
  assert.deepEqual(enc((b) => b.u32(0)), [0]);
  assert.deepEqual(enc((b) => b.u32(624485)), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(enc((b) => b.u32(0xffffffff)), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual(enc((b) => b.s32(-1)), [0x7f]);
  assert.deepEqual(enc((b) => b.s32(63)), [0x3f]);
  assert.deepEqual(enc((b) => b.s32(64)), [0xc0, 0x00]);
  assert.deepEqual(enc((b) => b.s32(-123456)), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(enc((b) => b.s32(-0x80000000)), [0x80, 0x80, 0x80, 0x80, 0x78]);
  // 64-bit constants given as halves, checked against a BigInt reference encoder.
  const ref = (v: bigint): number[] => {
    const out: number[] = [];
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && !(b & 0x40)) || (v === -1n && b & 0x40)) { out.push(b); return out; }
      out.push(b | 0x80);
    }
  };
  for (const v of [0n, 1n, -1n, 1n << 32n, -(1n << 63n), (1n << 63n) - 1n, 0x7c0de00000000005n, -0x123456789an, 0x80000000n, -0x80000001n]) {
    const u = BigInt.asUintN(64, v);
    assert.deepEqual(enc((b) => b.s64(Number(u & 0xffffffffn), Number(u >> 32n) | 0)), ref(v), `s64 ${v}`);
  }
});

test('the module builder produces valid modules with multi-value functions', () => {
  const m = new ModuleBuilder();
  const t = m.type([I64, I64], [I64, I32]);
  const f = m.declare(t);
  const c = new Code(2);
  c.get(0); c.get(1); c.op(Op.i64_add); c.get(0); c.op(Op.i32_wrap_i64); c.end();
  m.define(f, c);
  m.exportFunc('f', f);
  const { bytes } = m.build();
  assert.ok(WebAssembly.validate(bytes));
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  assert.deepEqual((inst.exports['f'] as (a: bigint, b: bigint) => unknown)(5n, 7n), [12n, 5]);
});

test('ALU corners agree: division by zero, INT_MIN / -1, shifts, sign extension, byte swaps', () => {
  const out = both(`
    lddw %r1, 0x8000000000000000
    mov %r2, -1
    mov %r3, %r1
    sdiv %r3, %r2
    mov %r4, %r1
    smod %r4, %r2
    mov %r5, 7
    div %r5, 0
    mov %r6, 7
    mod %r6, 0
    mov32 %r7, 0x80000000
    sdiv32 %r7, -1
    mov %r8, -5
    lsh %r8, 65
    arsh32 %r8, 33
    mov %r9, 0x1234
    be16 %r9
    movsx1664 %r0, %r9
    add %r0, %r3
    add %r0, %r4
    add %r0, %r5
    add %r0, %r6
    add %r0, %r7
    add %r0, %r8
    exit`);
  assert.equal(out.kind, 'ok');
});

test('memory faults carry the interpreter code, pc, address and region', () => {
  const input = Uint8Array.from([1, 2, 3, 4]);
  const r = both('ldxw %r0, [%r1+2]\nexit', input);
  assert.equal(r.kind, 'fault');
  assert.equal(r.kind === 'fault' && r.code, 'FAULT_MEMORY');
  assert.equal(r.kind === 'fault' && r.region, 'mem');
  both('stdw [%r10-520], 1\nexit');
  both('ldxb %r0, [%r10]\nexit');
  both('lddw %r1, 0x100001000\nldxb %r0, [%r1]\nexit');
  both('mov %r1, 0\nstb [%r1+4096], 1\nexit');
  // stack below the frames in use, from a callee
  both(`
    call local f
    exit
    f:
    mov %r1, %r10
    add %r1, 512
    ldxdw %r0, [%r1-8]
    stdw [%r10-1024], 5
    exit`);
});

test('writes to a read-only region fault as in the interpreter', () => {
  const insns = assemble('ldxb %r0, [%r1]\nstb [%r1], 9\nexit');
  const results: unknown[] = [];
  for (const engine of ['interp', 'jit'] as const) {
    const memory = new LinearMemory();
    const stack = memory.alloc(STACK_AREA + 64, 16);
    memory.addRegion(stack, STACK_AREA, 'stack', true);
    const ro = memory.alloc(64);
    memory.addRegion(ro, 16, 'rodata', false);
    const env = { memory, stack, args: [ro] };
    try {
      results.push(engine === 'interp' ? execute(prepare(insns), env) : new JitProgram(insns).run(env));
    } catch (e) {
      const f = e as { code: string; pc: number; address: number; region: string };
      results.push([f.code, f.pc, f.address - ro, f.region]);
    }
  }
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[0], ['FAULT_READONLY', 1, 0, 'rodata']);
});

test('budget: endless loops end with FAULT_BUDGET; a run within budget counts exactly', () => {
  const loop = assemble('mov %r0, 0\nl:\nadd %r0, 1\nja l\nexit');
  for (const checked of [true, false]) {
    const r = runEngine('jit', loop, new Uint8Array(0), { budget: 10_000, checked });
    assert.equal(r.kind === 'fault' && r.code, 'FAULT_BUDGET');
  }
  const counted = `
    mov %r0, 0
    mov %r1, 100
    l:
    add %r0, %r1
    sub %r1, 1
    jne %r1, 0, l
    exit`;
  const r = both(counted);
  assert.equal(r.kind === 'ok' && r.insnCount, 2 + 300 + 1);
  // exactly enough budget passes, one less faults (the check at exit)
  assert.equal(runEngine('jit', assemble(counted), new Uint8Array(0), { budget: 303 }).kind, 'ok');
  const short = runEngine('jit', assemble('mov %r0, 1\nmov %r0, 2\nexit'), new Uint8Array(0), { budget: 2 });
  assert.equal(short.kind === 'fault' && short.code, 'FAULT_BUDGET');
});

test('bpf-to-bpf calls: R6-R9 preserved, own frames, depth limit', () => {
  both(`
    mov %r6, 6
    mov %r1, 3
    stdw [%r10-8], 77
    call local f
    add %r0, %r6
    ldxdw %r1, [%r10-8]
    add %r0, %r1
    exit
    f:
    mov %r6, 100
    stdw [%r10-8], 1
    mov %r0, %r1
    exit`);
  const deep = both(`
    mov %r1, 0
    call local f
    exit
    f:
    add %r1, 1
    call local f
    exit`);
  assert.equal(deep.kind === 'fault' && deep.code, 'FAULT_CALL_DEPTH');
});

test('callx: code addresses, helper ids, bad targets', () => {
  const lddwFunc = (dst: number, imm: number): Instruction => insn(spec('lddw'), { dst, src: BPF_PSEUDO_FUNC, imm });
  // r6 = &f; callx r6; exit; f: r0 = 42; exit
  const prog = [lddwFunc(6, 3), insn(spec('callx'), { dst: 6 }), insn(spec('exit')),
    insn(spec('mov', false), { dst: 0, imm: 42 }), insn(spec('exit'))];
  const r = both(prog);
  assert.equal(r.kind === 'ok' && r.r0, 42n);
  const h = new HelperRegistry([{ id: 9, name: 'nine', impl: (a) => a * 2n }]);
  const viaHelper = both('mov %r1, 21\nmov %r2, 9\ncallx %r2\nexit', new Uint8Array(0), { helpers: h });
  assert.equal(viaHelper.kind === 'ok' && viaHelper.r0, 42n);
  const bad = both('lddw %r2, 0x100000000\ncallx %r2\nexit');
  assert.equal(bad.kind === 'fault' && bad.code, 'FAULT_CALL_TARGET');
  const unknown = both('call 77\nexit');
  assert.equal(unknown.kind === 'fault' && unknown.code, 'FAULT_UNKNOWN_HELPER');
});

test('helpers: 64-bit arguments round-trip, stop() ends the program from any depth', () => {
  const h = new HelperRegistry([
    { id: 1, name: 'sum', impl: (a, b, c, d, e) => a ^ (b << 1n) ^ (c << 2n) ^ (d << 3n) ^ (e << 4n) },
    { id: 2, name: 'stop', impl: (a, _b, _c, _d, _e, ctx) => { ctx.stop(a); return 5n; } },
  ]);
  both(`
    lddw %r1, 0xfedcba9876543210
    lddw %r2, 0x8000000000000001
    mov %r3, -1
    mov32 %r4, -1
    lddw %r5, 0x7fffffffffffffff
    call 1
    exit`, new Uint8Array(0), { helpers: h });
  const stopper = `
    call local f
    mov %r0, 1
    exit
    f:
    mov %r1, 99
    call 2
    mov %r0, 3
    exit`;
  const r = both(stopper, new Uint8Array(0), { helpers: h });
  assert.equal(r.kind === 'ok' && r.r0, 99n);
  // The scratch-area ABI (kept for measurements) gives the same results.
  for (const src of [stopper, 'lddw %r1, 0xfedcba9876543210\nmov %r5, -1\ncall 1\nexit']) {
    const insns = assemble(src);
    const o = { helpers: h, messages: true };
    assert.deepEqual(runEngine('jit', insns, new Uint8Array(0), o, new JitProgram(insns, 'scratch')), runEngine('interp', insns, new Uint8Array(0), o));
  }
});

test('LD_ABS / LD_IND: big-endian loads, out of range ends with R0 = 0', () => {
  const input = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a]);
  const r = both('ldabsw 1\nmov %r6, %r0\nldabsh 3\nadd %r0, %r6\nexit', input);
  assert.equal(r.kind === 'ok' && r.r0, 0x3456789an + 0x789an);
  const out = both('mov %r0, 5\nmov %r7, 3\nldindw %r7, 0\nmov %r0, 7\nexit', input);
  assert.equal(out.kind === 'ok' && out.r0, 0n);
});

test('irreducible control flow uses the dispatcher and agrees', () => {
  const src = `
    mov %r0, 0
    mov %r8, 5
    jeq %r1, 0, b
    a:
    add %r0, 3
    b:
    add %r0, 1
    sub %r8, 1
    jne %r8, 0, a
    exit`;
  const p = new JitProgram(assemble(src));
  assert.equal(p.compile().dispatchers, 1);
  const r = both(src);
  assert.equal(r.kind === 'ok' && r.r0, 17n); // enters at b: 1 + 4 * (3 + 1)
  const r2 = both(src, Uint8Array.from([1]));
  assert.equal(r2.kind === 'ok' && r2.r0, 20n);
});

test('unchecked mode: an access outside the memory faults at its instruction', () => {
  const r = both('mov %r0, 1\nlddw %r1, 0xfffffff0\nldxdw %r0, [%r1]\nexit', new Uint8Array(0), { checked: false });
  assert.equal(r.kind === 'fault' && r.code, 'FAULT_MEMORY');
  assert.equal(r.kind === 'fault' && r.pc, 3);
});

test('validation off: bad jump targets and falling off the end fault like the interpreter', () => {
  const ja = (off: number): Instruction => insn(spec('ja'), { off });
  const mov = insn(spec('mov', false), { dst: 0, imm: 1 });
  const runRawish = (insns: Instruction[]): Outcome => both(insns);
  assert.equal((runRawish([mov, ja(5), insn(spec('exit'))]) as { code: string }).code, 'FAULT_JUMP');
  assert.equal((runRawish([mov]) as { code: string }).code, 'FAULT_FALL_THROUGH');
  assert.equal((runRawish([insn(spec('lddw'), { dst: 1, src: 1, imm: 3 }), insn(spec('exit'))]) as { code: string }).code, 'FAULT_UNSUPPORTED');
  assert.equal((runRawish([]) as { code: string }).code, 'FAULT_FALL_THROUGH');
  // a call into the second slot of an lddw
  assert.equal((runRawish([insn(spec('call local'), { imm: 1 }), insn(spec('lddw'), { dst: 1, imm: 3 }), insn(spec('exit'))]) as { code: string }).code, 'FAULT_JUMP');
});

test('batch: per-input results equal single runs; faults and stops are recorded per run', () => {
  const insns = assemble(`
    ldxw %r0, [%r1]
    jne %r0, 7, ok
    ldxw %r0, [%r1+100]
    ok:
    jne %r0, 9, fine
    mov %r1, 1234
    call 2
    fine:
    add %r0, %r2
    exit`);
  const h = new HelperRegistry([{ id: 2, name: 'stop', impl: (a, _b, _c, _d, _e, ctx) => { ctx.stop(a); } }]);
  const memory = new LinearMemory({ initialPages: 2 });
  const stack = memory.alloc(STACK_AREA + 64, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  const buf = memory.alloc(4 * 10);
  memory.addRegion(buf, 40, 'mem', true);
  for (let i = 0; i < 10; i++) memory.writeU32(buf + 4 * i, i);
  const p = new JitProgram(insns);
  const inputs = Array.from({ length: 10 }, (_, i) => [buf + 4 * i, 1000 + i]);
  const env = { memory, stack, helpers: h };
  const res = p.runBatch(env, inputs);
  for (let i = 0; i < 10; i++) {
    let want: bigint | string;
    try { want = execute(prepare(insns), { ...env, args: inputs[i] }).r0; } catch (e) { want = (e as { code: string }).code; }
    const got = res.faults.has(i) ? res.faults.get(i)!.code : res.r0[i]!;
    assert.equal(got, want, `run ${i}`);
  }
  assert.equal(res.faults.get(7)?.code, 'FAULT_MEMORY');
  assert.equal(res.r0[9], 1234n);
  assert.equal(res.r0[3], 3n + 1003n);
  const rep = p.runBatch({ ...env, args: [buf + 8, 1] }, 10_000);
  assert.equal(rep.r0.length, 10_000);
  assert.ok(rep.r0.every((v) => v === 3n));
  assert.ok(rep.insnCount.every((v) => v === 5));
  const flat = new BigUint64Array(5 * 3);
  flat[0] = BigInt(buf + 4); flat[5] = BigInt(buf + 8); flat[10] = BigInt(buf + 12);
  assert.deepEqual([...p.runBatch(env, flat).r0], [1n, 2n, 3n]);
});

test('shared memory: real atomics; misaligned ones fault as in the interpreter', () => {
  const src = `
    mov %r2, 5
    stdw [%r10-16], 100
    lock add [%r10-16], %r2
    lock fetch add32 [%r10-12], %r2
    mov %r0, 100
    mov %r3, 9
    lock cmpxchg [%r10-16], %r3
    lock xchg32 [%r10-8], %r2
    ldxdw %r4, [%r10-16]
    add %r0, %r4
    add %r0, %r2
    lock fetch or [%r10-%OFF], %r2
    exit`;
  for (const off of ['24', '20']) {
    const insns = assemble(src.replace('%OFF', off));
    const outs: unknown[] = [];
    for (const engine of ['interp', 'jit'] as const) {
      for (const checked of engine === 'jit' ? [true, false] : [true]) {
        const memory = new LinearMemory({ shared: true, maximumPages: 16 });
        const stack = memory.alloc(STACK_AREA + 64, 16);
        memory.addRegion(stack, STACK_AREA, 'stack', true);
        const env = { memory, stack, checked };
        try {
          const r = engine === 'interp' ? execute(prepare(insns), env) : new JitProgram(insns).run(env);
          outs.push([r.r0, Buffer.from(memory.read(stack + STACK_AREA - 24, 24)).toString('hex')]);
        } catch (e) {
          const f = e as { code: string; pc: number; address: number; message: string };
          outs.push([f.code, f.pc, f.address - stack, f.message.replace(/0x[0-9a-f]+/, '')]);
        }
      }
    }
    assert.deepEqual(outs[1], outs[0], `offset -${off}`);
    assert.deepEqual(outs[2], outs[0], `offset -${off}`);
    if (off === '20') assert.equal((outs[0] as unknown[])[0], 'FAULT_MISALIGNED');
  }
});

test('a helper may run the same program again (nested runs get their own instance)', () => {
  const insns = assemble('jeq %r1, 0, leaf\nmov %r1, 0\ncall 1\nadd %r0, 10\nexit\nleaf:\nmov %r0, 1\nexit');
  const p = new JitProgram(insns);
  const memory = new LinearMemory();
  const stack = memory.alloc(STACK_AREA, 16);
  const stack2 = memory.alloc(STACK_AREA, 16);
  const h = new HelperRegistry([{ id: 1, name: 'again', impl: () => p.run({ memory, stack: stack2, args: [0] }).r0 }]);
  assert.equal(p.run({ memory, stack, args: [1], helpers: h }).r0, 11n);
});

test('a run nested in a helper keeps its own packet and budget; the caller\'s are intact after it', () => {
  // r1 != 0: call the helper (which runs this program again on another packet), then read our packet.
  const insns = assemble('jeq %r1, 0, leaf\nmov %r1, 0\ncall 1\nmov %r6, %r0\nldabsb 0\nlsh %r0, 8\nor %r0, %r6\nexit\nleaf:\nldabsb 0\nexit');
  const p = new JitProgram(insns);
  const memory = new LinearMemory();
  const stack = memory.alloc(STACK_AREA, 16);
  const stack2 = memory.alloc(STACK_AREA, 16);
  const pkt = memory.alloc(16);
  memory.write(pkt, Uint8Array.from([0xaa, 0xbb]));
  const h = new HelperRegistry([{
    id: 1, name: 'again', impl: () => p.run({ memory, stack: stack2, args: [0], packet: { start: pkt + 1, length: 1 }, checked: false }).r0,
  }]);
  const env = { memory, stack, args: [1], helpers: h, packet: { start: pkt, length: 1 }, checked: false };
  assert.equal(p.run(env).r0, 0xaabbn);
  assert.equal(execute(prepare(insns), env).r0, 0xaabbn);
  const b = p.runBatch(env, 3);
  assert.deepEqual([...b.r0], [0xaabbn, 0xaabbn, 0xaabbn]);
});
