// JIT micro-benchmarks (not part of `npm test`):
//
//   node dist/test/jit/bench-micro.js [--quick]
//
// Prints: compile time per 1,000 instructions (module generation and
// WebAssembly compilation), ns per executed instruction on a 256-iteration
// ALU loop for the interpreter and the JIT (checked and unchecked), per-call
// overhead of a trivial program (single runs and batched), and the cost of a
// Wasm -> JS helper call with arguments through the scratch area against
// five i64 parameters. Machines are noisy: compare figures of one run.

import { assemble } from '../../src/isa/index.js';
import { HelperRegistry } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { JitProgram } from '../../src/runtime/jit/index.js';
import { Code, I32, I64, ModuleBuilder, Op } from '../../src/runtime/jit/wasm.js';
import { generate, rng } from './gen.js';

const quick = process.argv.includes('--quick');

function timeIt(fn: () => void, minMs = quick ? 100 : 400): number {
  // Warm up, then run for at least minMs; returns ms per call.
  for (let i = 0; i < 3; i++) fn();
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= minMs) return dt / n;
    n = Math.max(n * 2, Math.ceil((n * minMs) / Math.max(dt, 0.01)));
  }
}

function setup(): { memory: LinearMemory; stack: number } {
  const memory = new LinearMemory({ initialPages: 2 });
  const stack = memory.alloc(STACK_AREA + 64, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  return { memory, stack };
}

function compileTime(): void {
  console.log('compile time per 1,000 instructions (generated programs: ALU, memory, branches, loops, calls, helpers)');
  console.log('  (distinct programs, so V8 cannot reuse a cached module; median of the runs; "first" = first compile of that size;');
  console.log('   wall-clock times suffer on a loaded machine, CPU times less)');
  for (const size of [1000, 10_000, 50_000]) {
    const reps = size >= 50_000 ? 4 : 12;
    const gen: number[] = [], comp: number[] = [], inst: number[] = [], cpu: number[] = [];
    let total = 0;
    for (let k = 0; k < reps; k++) {
      const r = rng(size * 100 + k);
      // Compilers emit reducible control flow; irreducible functions get a dispatcher (slower code).
      const opts = { size: Math.round(size * 0.4), oob: 0, irreducible: false };
      let insns = generate(r, opts).insns;
      while (insns.length < size * 0.9) insns = generate(r, opts).insns;
      const per = insns.length / 1000;
      total += insns.length;
      const p = new JitProgram(insns);
      const c0 = process.cpuUsage();
      const s = p.compile({ checked: false });
      const cu = process.cpuUsage(c0);
      cpu.push((cu.user + cu.system) / 1000 / per);
      gen.push(s.generateMs / per);
      comp.push(s.wasmCompileMs / per);
      const { memory, stack } = setup();
      const t0 = performance.now();
      try { p.run({ memory, stack, checked: false, budget: 1 }); } catch { /* budget */ }
      inst.push((performance.now() - t0) / per);
    }
    const med = (xs: number[]): string => [...xs].sort((x, y) => x - y)[xs.length >> 1]!.toFixed(3);
    console.log(`  ~${Math.round(total / reps)} insns: generate ${med(gen)} ms (first ${gen[0]!.toFixed(3)}), ` +
      `WebAssembly.Module ${med(comp)} ms (first ${comp[0]!.toFixed(3)}), both as CPU time ${med(cpu)} ms (first ${cpu[0]!.toFixed(3)}), ` +
      `instantiate + first call (V8 compiles lazily) ${med(inst)} ms`);
  }
}

function aluLoop(): void {
  const insns = assemble(`
    mov %r0, 0
    mov %r1, 256
    loop:
    add %r0, %r1
    xor %r0, 0x5a
    mov %r2, %r0
    lsh %r2, 3
    add %r0, %r2
    and %r0, 0xffffff
    sub %r1, 1
    jne %r1, 0, loop
    exit`);
  const { memory, stack } = setup();
  const env = { memory, stack };
  const prep = prepare(insns);
  const count = execute(prep, env).insnCount;
  const p = new JitProgram(insns);
  const want = execute(prep, env).r0;
  for (const checked of [true, false]) if (p.run({ ...env, checked }).r0 !== want) throw new Error('JIT result differs');
  const envC = { ...env, checked: true };
  const envU = { ...env, checked: false };
  const ti = timeIt(() => execute(prep, env));
  const tc = timeIt(() => p.run(envC));
  const tu = timeIt(() => p.run(envU));
  const tb = timeIt(() => p.runBatch(envU, 100)) / 100;
  const ns = (ms: number): string => ((ms * 1e6) / count).toFixed(2);
  console.log(`256-iteration ALU loop (${count} instructions per run)`);
  console.log(`  interpreter      ${ns(ti)} ns/insn  (${(ti * 1e3).toFixed(2)} us/run)`);
  console.log(`  JIT checked      ${ns(tc)} ns/insn  (${(tc * 1e3).toFixed(2)} us/run)`);
  console.log(`  JIT unchecked    ${ns(tu)} ns/insn  (${(tu * 1e3).toFixed(2)} us/run)`);
  console.log(`  JIT batch x100   ${ns(tb)} ns/insn  (${(tb * 1e3).toFixed(2)} us/run)`);
  console.log(`  interpreter / JIT: ${(ti / tu).toFixed(1)}x`);
}

function trivial(): void {
  const insns = assemble('mov %r0, 2\nexit');
  const { memory, stack } = setup();
  const env = { memory, stack, checked: false };
  const prep = prepare(insns);
  const p = new JitProgram(insns);
  const ti = timeIt(() => execute(prep, env));
  const tj = timeIt(() => p.run(env));
  const envArgs = { ...env, args: [stack, 64] };
  const targs = timeIt(() => p.run(envArgs));
  const n = 10_000;
  const tb = timeIt(() => p.runBatch(env, n)) / n;
  const flat = new BigUint64Array(5 * n).fill(BigInt(stack));
  const tf = timeIt(() => p.runBatch(env, flat)) / n;
  console.log('trivial program (mov r0, 2; exit): per-run cost');
  console.log(`  interpreter execute        ${(ti * 1e6).toFixed(0)} ns`);
  console.log(`  JIT run()                  ${(tj * 1e6).toFixed(0)} ns`);
  console.log(`  JIT run() with 2 args      ${(targs * 1e6).toFixed(0)} ns`);
  console.log(`  JIT runBatch (repeat ${n})  ${(tb * 1e6).toFixed(1)} ns`);
  console.log(`  JIT runBatch (${n} inputs)  ${(tf * 1e6).toFixed(1)} ns`);
}

/** Wasm -> JS call: 5 i64 arguments vs 5 i64 stores to memory + 3 i32 arguments, the JS side reading BigInts. */
function helperAbi(): void {
  const calls = 10_000;
  const m = new ModuleBuilder();
  const t64 = m.type([I64, I64, I64, I64, I64], [I64]);
  const t32 = m.type([I32, I32, I32], []);
  m.importFunc('env', 'h64', t64);
  m.importFunc('env', 'h32', t32);
  m.importMemory('env', 'memory', 1, undefined, false);
  const tLoop = m.type([], [I64]);
  const f64 = m.declare(tLoop);
  const f32 = m.declare(tLoop);
  for (const [f, wide] of [[f64, true], [f32, false]] as const) {
    const c = new Code(0);
    const i = c.local(I32);
    const acc = c.local(I64);
    c.loop();
    if (wide) {
      for (let k = 0; k < 5; k++) { c.get(acc); c.i64s(k); c.op(Op.i64_add); }
      c.call(0);
    } else {
      for (let k = 0; k < 5; k++) { c.i32(64); c.get(acc); c.i64s(k); c.op(Op.i64_add); c.mem(Op.i64_store, 3, 8 + 8 * k); }
      c.i32(1); c.i32(2); c.i32(3); c.call(1);
      c.i32(64); c.mem(Op.i64_load, 3, 0);
    }
    c.get(acc); c.op(Op.i64_add); c.set(acc);
    c.get(i); c.i32(1); c.op(Op.i32_add); c.tee(i); c.i32(calls); c.op(Op.i32_lt_u); c.brIf(0);
    c.end();
    c.get(acc);
    c.end();
    m.define(f, c);
  }
  m.exportFunc('wide', f64);
  m.exportFunc('narrow', f32);
  const mem = new WebAssembly.Memory({ initial: 1 });
  const dv = new DataView(mem.buffer);
  const impl = (a: bigint, b: bigint, c: bigint, d: bigint, e: bigint): bigint => (a ^ b ^ c ^ d ^ e) & 0xffn;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build().bytes), {
    env: {
      memory: mem,
      h64: impl,
      h32: (): void => {
        const r = impl(dv.getBigUint64(72, true), dv.getBigUint64(80, true), dv.getBigUint64(88, true), dv.getBigUint64(96, true), dv.getBigUint64(104, true));
        dv.setBigUint64(64, r, true);
      },
    },
  });
  const ex = inst.exports as { wide(): bigint; narrow(): bigint };
  if (ex.wide() !== ex.narrow()) throw new Error('helper ABI variants disagree');
  const tw = timeIt(() => ex.wide()) / calls;
  const tn = timeIt(() => ex.narrow()) / calls;
  console.log('Wasm -> JS helper call (helper takes 5 bigints, returns a bigint)');
  console.log(`  5 x i64 parameters                   ${(tw * 1e6).toFixed(1)} ns/call`);
  console.log(`  scratch area + 3 x i32 parameters    ${(tn * 1e6).toFixed(1)} ns/call`);

  // The JIT's own helper path, end to end, in a loop of 256 calls.
  const insns = assemble(`
    mov %r6, 256
    loop:
    mov %r1, %r6
    mov %r2, 7
    call 1
    sub %r6, 1
    jne %r6, 0, loop
    exit`);
  const helpers = new HelperRegistry([{ id: 1, name: 'f', impl: (a, b) => a + b }]);
  const { memory, stack } = setup();
  const env = { memory, stack, helpers, checked: false };
  const prep = prepare(insns);
  const want = execute(prep, env).r0;
  const p64 = new JitProgram(insns, 'i64');
  const pS = new JitProgram(insns, 'scratch');
  if (p64.run(env).r0 !== want || pS.run(env).r0 !== want) throw new Error('JIT result differs');
  const tj64 = timeIt(() => p64.run(env)) / 256;
  const tS = timeIt(() => pS.run(env)) / 256;
  const ti = timeIt(() => execute(prep, env)) / 256;
  console.log(`  JIT loop of 256 helper calls: i64 ABI ${(tj64 * 1e6).toFixed(1)} ns/iteration, scratch ABI ${(tS * 1e6).toFixed(1)}, ` +
    `interpreter ${(ti * 1e6).toFixed(1)}`);
}

function main(): void {
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  // Compilation last: V8 tiers Wasm functions up in the background, and the
  // big modules of the compile-time test would delay the others' tier-up.
  aluLoop();
  trivial();
  helperAbi();
  compileTime();
}

if (!process.env['NODE_TEST_CONTEXT']) main();
