// Frame zeroing cost (not part of `npm test`):
//
//   node dist/test/jit/bench-stack.js
//
// ns per run, unchecked JIT, of a trivial program and of a loop of 64
// bpf-to-bpf calls, with the whole 512-byte frame zeroed on each entry
// (no stack depths) and with the verifier's per-function depths.

import { assemble } from '../../src/isa/index.js';
import { STACK_AREA } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { JitProgram } from '../../src/runtime/jit/index.js';
import { buildCfg } from '../../src/runtime/jit/cfg.js';
import { verify } from '../../src/verifier/index.js';

const PROGS: Record<string, string> = {
  trivial: 'mov %r0, 1\nexit',
  'call loop (64 calls)': `
    mov %r6, 0
    mov %r7, 0
  l:
    mov %r1, %r6
    call local f
    add %r7, %r0
    add %r6, 1
    jlt %r6, 64, l
    mov %r0, %r7
    exit
  f:
    stxdw [%r10-8], %r1
    ldxdw %r0, [%r10-8]
    add %r0, 1
    exit`,
};

function nsPerRun(fn: () => void): number {
  for (let i = 0; i < 20000; i++) fn();
  let best = Infinity;
  for (let k = 0; k < 7; k++) {
    const n = 200000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
  }
  return best;
}

for (const [name, src] of Object.entries(PROGS)) {
  const insns = assemble(src);
  const v = verify(insns, { progType: 1 });
  if (!v.ok) throw new Error(v.log);
  const cfg = buildCfg(insns);
  const depths = new Map(cfg.entries.map((e, k) => [cfg.slot[e]!, v.stats.stackDepth[k]!]));
  const memory = new LinearMemory({ initialPages: 2 });
  const stack = memory.alloc(STACK_AREA + 64, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  const env = { memory, stack, checked: false };
  const full = new JitProgram(insns);
  const part = new JitProgram(insns, 'i64', true, { stackDepth: depths });
  if (full.run(env).r0 !== part.run(env).r0) throw new Error('results differ');
  const a = nsPerRun(() => full.run(env));
  const b = nsPerRun(() => part.run(env));
  const a2 = nsPerRun(() => full.run(env));
  const b2 = nsPerRun(() => part.run(env));
  console.log(`${name.padEnd(22)} depths ${JSON.stringify([...depths.values()])}: full zeroing ${Math.min(a, a2).toFixed(1)} ns/run, verifier depths ${Math.min(b, b2).toFixed(1)} ns/run`);
}
