// Interpreter speed: ns per executed instruction on a 256-iteration ALU loop
// and a stack load/store loop, checked and unchecked, with the JIT beside it
// for the ratio. Not a test (timings are noisy on shared machines): run
//   node dist/test/runtime/bench-interp.js [runs]
// CPU time (process.cpuUsage) is printed next to wall time: on a loaded
// machine it is the steadier of the two.
import { assemble } from '../../src/isa/asm.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { jitCompile } from '../../src/runtime/jit/index.js';
import { LinearMemory } from '../../src/runtime/memory.js';

const ALU = `
  mov %r0, 0
  mov %r1, 256
loop:
  add %r0, %r1
  xor %r0, 0x55
  lsh %r0, 3
  rsh %r0, 1
  mul %r0, 3
  and32 %r0, 0xffffff
  sub %r1, 1
  jne %r1, 0, loop
  exit`;

const MEM = `
  mov %r0, 0
  mov %r1, 256
  stdw [%r10-8], 0
loop:
  ldxdw %r2, [%r10-8]
  add %r2, %r1
  stxdw [%r10-8], %r2
  ldxw %r3, [%r10-8]
  xor %r0, %r3
  sub %r1, 1
  jne %r1, 0, loop
  exit`;

const runs = Number(process.argv[2] ?? 20000);
const memory = new LinearMemory();
const stack = memory.alloc(STACK_AREA, 16);
memory.addRegion(stack, STACK_AREA, 'stack', true);

type Runner = (checked: boolean) => { r0: bigint; insnCount: number };

function measure(name: string, f: Runner, checked: boolean): void {
  for (let i = 0; i < Math.min(2000, runs); i++) f(checked);
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) n += f(checked).insnCount;
  const wall = Number(process.hrtime.bigint() - t0);
  const cu = process.cpuUsage(c0);
  const cpu = (cu.user + cu.system) * 1000;
  console.log(`${name.padEnd(28)} ${checked ? 'checked  ' : 'unchecked'}  ${(wall / n).toFixed(2).padStart(6)} ns/insn wall  ${(cpu / n).toFixed(2).padStart(6)} ns/insn cpu  (${n} insns)`);
}

for (const [label, src] of [['ALU loop (256 iterations)', ALU], ['stack loop (256 iterations)', MEM]] as const) {
  const insns = assemble(src);
  const p = prepare(insns);
  const j = jitCompile(insns);
  for (const checked of [true, false]) {
    measure(`interp ${label}`, (c) => execute(p, { memory, stack, checked: c }), checked);
    measure(`jit    ${label}`, (c) => j.run({ memory, stack, checked: c }), checked);
  }
}
