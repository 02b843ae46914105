// Partial frame zeroing (JitCompileOptions.stackDepth): verified programs
// zero only the bytes of a frame they may address, and still agree with the
// interpreter; unverified (checked) code keeps the whole frame zeroed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assemble } from '../../src/isa/index.js';
import type { Instruction } from '../../src/isa/instruction.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { JitProgram } from '../../src/runtime/jit/index.js';
import { buildCfg } from '../../src/runtime/jit/cfg.js';
import { verify } from '../../src/verifier/index.js';
import { Runtime } from '../../src/runtime/runtime.js';

function setup(): { memory: LinearMemory; stack: number } {
  const memory = new LinearMemory({ initialPages: 2 });
  const stack = memory.alloc(STACK_AREA + 64, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  return { memory, stack };
}

/** The verifier's depths keyed by function entry slot (subprograms in start order, as the Runtime maps them). */
function depthsOf(insns: readonly Instruction[]): Map<number, number> {
  const r = verify(insns, { progType: 1 });
  assert.ok(r.ok, r.log);
  const cfg = buildCfg(insns);
  assert.equal(cfg.entries.length, r.stats.stackDepth.length);
  return new Map(cfg.entries.map((e, k) => [cfg.slot[e]!, r.stats.stackDepth[k]!]));
}

// f1 leaves values deep in its frame; f2, at the same depth, reads a slot it
// never wrote (allowed to privileged programs): 0 only if f2's entry zeroed it.
const UNINIT = `
  stdw [%r10-200], 3
  call local f1
  call local f2
  ldxdw %r1, [%r10-200]
  add %r0, %r1
  exit
f1:
  stdw [%r10-16], 0x1111
  stdw [%r10-64], 0x2222
  mov %r0, 0
  exit
f2:
  stdw [%r10-8], 1
  ldxdw %r0, [%r10-16]
  exit`;

function runBoth(insns: readonly Instruction[], stackDepth?: ReadonlyMap<number, number>, checked = false): { interp: bigint; jit: bigint; mem: Uint8Array; stack: number } {
  const { memory, stack } = setup();
  const interp = execute(prepare(insns), { memory, stack, checked }).r0;
  memory.u8.fill(0xaa, stack, stack + STACK_AREA);
  const p = new JitProgram(insns, 'i64', true, stackDepth ? { stackDepth } : {});
  const jit = p.run({ memory, stack, checked }).r0;
  return { interp, jit, mem: memory.u8, stack };
}

test('verifier depths: a function reading stack it never wrote still sees zeros', () => {
  const insns = assemble(UNINIT);
  const d = depthsOf(insns);
  assert.deepEqual([...d.values()], [200, 64, 16]);
  const r = runBoth(insns, d);
  assert.equal(r.interp, 3n);
  assert.equal(r.jit, r.interp);
});

test('only the declared bytes are zeroed (unchecked), the whole frame in checked mode', () => {
  const insns = assemble(UNINIT);
  const d = depthsOf(insns);
  const top = (r: { stack: number }): number => r.stack + STACK_AREA;
  const r = runBoth(insns, d);
  // frame 0: 200 bytes zeroed (rounded to 8), below untouched
  assert.equal(r.mem[top(r) - 201], 0xaa);
  assert.equal(r.mem[top(r) - 199], 0);
  // frame 1 (f1 then f2): f1 zeroed 64 bytes, f2 re-zeroed 16 and wrote fp-8
  assert.equal(r.mem[top(r) - 512 - 65], 0xaa);
  assert.equal(r.mem[top(r) - 512 - 40], 0);
  // a wrong (too small) depth is visible: f2 then reads f1's leftover
  const f2 = [...d.keys()][2]!;
  const lie = runBoth(insns, new Map([...d, [f2, 8]]));
  assert.equal(lie.jit, 0x1111n + 3n);
  // checked mode ignores the depths and zeroes full frames
  const c = runBoth(insns, new Map([...d, [f2, 8]]), true);
  assert.equal(c.jit, c.interp);
  assert.equal(c.mem[top(c) - 201], 0);
  assert.equal(c.mem[top(c) - 1024], 0);
});

test('depth 0 zeroes nothing; a missing entry zeroes the whole frame', () => {
  const insns = assemble('mov %r0, 5\nexit');
  const none = runBoth(insns, new Map([[0, 0]]));
  assert.equal(none.jit, 5n);
  assert.equal(none.mem[none.stack + STACK_AREA - 1], 0xaa);
  const full = runBoth(insns, new Map());
  assert.equal(full.mem[full.stack + STACK_AREA - 1], 0);
  assert.equal(full.mem[full.stack + STACK_AREA - 512], 0);
});

const read = (p: string): Uint8Array => readFileSync(new URL(`../../../${p}`, import.meta.url));

test('Runtime: verified objects with subprograms and callbacks agree between engines', () => {
  const pkt = new Uint8Array(98);
  pkt.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45, 0, 0, 84, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 64]);
  for (const obj of ['examples/loop_callback.o', 'examples/xdp_firewall.o']) {
    const out: unknown[] = [];
    for (const engine of ['interp', 'jit'] as const) {
      const rt = new Runtime();
      const o = rt.loadObject(read(obj), { verify: true });
      for (const p of o.programs) {
        const depth = (p as unknown as { jitOpts: { stackDepth?: Map<number, number> } }).jitOpts.stackDepth;
        assert.ok(depth && depth.has(0), `${obj} ${p.name}: no stack depths handed to the JIT`);
        const r = p.run({ data: pkt, repeat: 3, engine });
        out.push([p.name, r.retval, [...r.data]]);
      }
    }
    const half = out.length / 2;
    assert.deepEqual(out.slice(half), out.slice(0, half), obj);
  }
});
