// Cost of bpf_map_lookup_elem from JIT code, inline (maplookup.ts) against
// the call into the JS helper (not part of `npm test`):
//
//   node dist/test/jit/bench-lookup.js
//
// A program does 1,000 lookups of random keys (about half of them hit) in a
// loop; the same program with the call replaced by `r0 = 0` is timed too,
// and the difference divided by 1,000 is printed as ns per lookup.

import { assemble } from '../../src/isa/asm.js';
import { defaultHelpers } from '../../src/runtime/helpers.js';
import { STACK_AREA } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { JitProgram } from '../../src/runtime/jit/index.js';
import { BPF_MAP_TYPE as T, createMap, registerMapHelpers } from '../../src/runtime/maps/index.js';

const N = 1000;

function program(handle: number, call: boolean): string {
  return `
    r6 = 0
    r7 = 1
    r8 = ${N}
  loop:
    r7 *= 1103515245
    r7 += 12345
    r7 &= 0x7fffffff
    r2 = r7
    r2 >>= 8
    r2 %= 2048
    *(u32 *)(r10 - 8) = r2
    r1 = ${handle} ll
    r2 = r10
    r2 += -8
    ${call ? 'call bpf_map_lookup_elem' : 'r0 = 0'}
    if r0 == 0 goto next
    r3 = *(u32 *)(r0 + 0)
    r6 += r3
  next:
    r8 -= 1
    if r8 != 0 goto loop
    r0 = r6
    exit`;
}

function time(fn: () => void, ms = 300): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= ms) return (dt * 1e6) / n; // ns per call
    n *= 2;
  }
}

const memory = new LinearMemory({ initialPages: 16 });
const stack = memory.alloc(STACK_AREA + 64, 16);
memory.addRegion(stack, STACK_AREA, 'stack', true);
const helpers = registerMapHelpers(defaultHelpers());
const maps = [
  createMap(memory, { name: 'array', type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1024 }),
  createMap(memory, { name: 'hash', type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 1024 }),
  createMap(memory, { name: 'lru_hash', type: T.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 1024 }),
];
for (const m of maps) {
  // Hash maps hold the even keys below 2048 (half of the keys hit); the array holds 0..1023 (indexes above miss).
  for (let i = 0; i < 1024; i++) m.update(new Uint8Array(new Uint32Array([m.type === T.ARRAY ? i : i * 2]).buffer), new Uint8Array(8).fill(i & 0xff));
}
console.log(`ns per bpf_map_lookup_elem (${N} lookups per run, half hits; run minus the same run without the call)`);
for (const checked of [false, true]) {
  for (const m of maps) {
    const env = { memory, stack, helpers, checked, args: [] };
    const row: string[] = [];
    for (const inline of [false, true]) {
      const withCall = new JitProgram(assemble(program(m.handle, true)), 'i64', inline);
      const without = new JitProgram(assemble(program(m.handle, false)), 'i64', inline);
      const r1 = withCall.run(env).r0;
      const r2 = new JitProgram(assemble(program(m.handle, true)), 'i64', !inline).run(env).r0;
      if (r1 !== r2) throw new Error('inline and host results differ');
      const t = (time(() => withCall.run(env)) - time(() => without.run(env))) / N;
      row.push(`${inline ? 'inline' : 'host'} ${t.toFixed(1)}`);
    }
    console.log(`  ${checked ? 'checked  ' : 'unchecked'} ${m.name.padEnd(9)} ${row.join('  ')}`);
  }
}
