// Map helpers called by programs: for_each_map_elem through the Runtime's
// callbacks (interpreter and JIT), map_lookup_percpu_elem, push/pop, and the
// typed faults for things a verified program cannot do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble } from '../../src/isa/asm.js';
import { slotIndices } from '../../src/isa/instruction.js';
import { defaultHelpers } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { Runtime } from '../../src/runtime/runtime.js';
import {
  BPF_MAP_TYPE as T, type BpfMap, MAP_HELPERS, createMap, registerMapHelpers,
} from '../../src/runtime/maps/index.js';

const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);

/** r0 = visited * 1000 + sum of u32 values seen until the element with key 3 (callback returns 1 there). */
function forEachProgram(handle: number): string {
  const main = (imm: number): string => `
    *(u64 *)(r10 - 8) = 0
    r1 = ${handle} ll
    ld_pseudo r2, 4, ${imm}
    r3 = r10
    r3 += -8
    r4 = 0
    call bpf_for_each_map_elem
    r1 = *(u64 *)(r10 - 8)
    r0 *= 1000
    r0 += r1
    exit`;
  const insns = assemble(main(0));
  const cb = slotIndices(insns)[insns.length]!;
  return main(cb - 4) + `
    r5 = *(u32 *)(r3 + 0)
    r6 = *(u64 *)(r4 + 0)
    r6 += r5
    *(u64 *)(r4 + 0) = r6
    r0 = 0
    r5 = *(u32 *)(r2 + 0)
    if r5 != 3 goto +1
    r0 = 1
    exit`;
}

test('bpf_for_each_map_elem visits array and hash elements, stops on 1, on both engines', () => {
  const rt = new Runtime();
  const arr = createMap(rt.memory, { name: 'arr', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 6 });
  for (let i = 0; i < 6; i++) arr.update(u32(i), u32(10 + i));
  const hash = createMap(rt.memory, { name: 'h', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
  for (const k of [1, 2, 5]) hash.update(u32(k), u32(k * 100));
  for (const engine of ['interpreter', 'jit'] as const) {
    const pa = rt.loadProgram(assemble(forEachProgram(arr.handle)), { type: 'xdp', name: 'fe_arr' });
    const ra = pa.run({ data: new Uint8Array(64), engine } as Parameters<typeof pa.run>[0]);
    // keys 0..3 visited (the callback returns 1 at key 3): 10 + 11 + 12 + 13
    assert.equal(Number(ra.retval), 4 * 1000 + 46, `array, ${engine}`);
    const ph = rt.loadProgram(assemble(forEachProgram(hash.handle)), { type: 'xdp', name: 'fe_hash' });
    const rh = ph.run({ data: new Uint8Array(64), engine } as Parameters<typeof ph.run>[0]);
    assert.equal(Number(rh.retval), 3 * 1000 + 800, `hash, ${engine}`);
  }
});

function runRaw(mem: LinearMemory, text: string, cpu = 0): bigint {
  const stack = mem.alloc(STACK_AREA, 16);
  mem.addRegion(stack, STACK_AREA, 'stack', true);
  try {
    return execute(prepare(assemble(text)), { memory: mem, stack, helpers: registerMapHelpers(defaultHelpers()), checked: true, cpu }).r0;
  } finally {
    mem.free(stack);
  }
}

test('map_lookup_elem on a per-CPU map reads the calling CPU; map_lookup_percpu_elem any CPU', () => {
  const mem = new LinearMemory();
  const m: BpfMap = createMap(mem, { name: 'pc', type: T.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }, { cpus: 4 });
  const all = new Uint8Array(32);
  for (let c = 0; c < 4; c++) all[c * 8] = 10 + c;
  m.update(u32(0), all);
  const prog = (tail: string): string => `
    *(u32 *)(r10 - 4) = 0
    r1 = ${m.handle} ll
    r2 = r10
    r2 += -4
    ${tail}
    if r0 == 0 goto +2
    r0 = *(u64 *)(r0 + 0)
    exit
    r0 = 99
    exit`;
  assert.equal(runRaw(mem, prog('call bpf_map_lookup_elem'), 2), 12n);
  assert.equal(runRaw(mem, prog('r3 = 3\n call bpf_map_lookup_percpu_elem'), 0), 13n);
  assert.equal(runRaw(mem, prog('r3 = 4\n call bpf_map_lookup_percpu_elem'), 0), 99n, 'CPU out of range: NULL');
  assert.throws(() => runRaw(mem, prog('call bpf_map_lookup_elem'), 7), (e: Error) => e.name === 'RuntimeFault' && /per-CPU/.test(e.message));
});

test('helpers refuse non-maps and out-of-region keys with typed faults', () => {
  const mem = new LinearMemory();
  const m = createMap(mem, { name: 'h', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.throws(() => runRaw(mem, 'r1 = 12345\n r2 = r10\n r2 += -4\n call bpf_map_lookup_elem\n exit'),
    (e: Error) => e.name === 'RuntimeFault' && (e as { code?: string }).code === 'FAULT_MAP_HANDLE');
  assert.throws(() => runRaw(mem, `r1 = ${m.handle} ll\n r2 = 64\n call bpf_map_lookup_elem\n exit`),
    (e: Error) => e.name === 'RuntimeFault' && (e as { code?: string }).code === 'FAULT_MEMORY');
  assert.throws(() => runRaw(mem, `r1 = ${m.handle} ll\n r2 = r10\n r2 += -4\n call bpf_map_push_elem\n exit`),
    (e: Error) => e.name === 'RuntimeFault' && /not a queue/.test(e.message));
});

test('queue helpers: push from a program, pop into the stack, peek of a bloom filter', () => {
  const mem = new LinearMemory();
  const q = createMap(mem, { name: 'q', type: T.QUEUE, keySize: 0, valueSize: 4, maxEntries: 2 });
  const b = createMap(mem, { name: 'b', type: T.BLOOM_FILTER, keySize: 0, valueSize: 4, maxEntries: 16 });
  const r = runRaw(mem, `
    *(u32 *)(r10 - 4) = 77
    r1 = ${q.handle} ll
    r2 = r10
    r2 += -4
    r3 = 0
    call bpf_map_push_elem
    r1 = ${b.handle} ll
    r2 = r10
    r2 += -4
    r3 = 0
    call bpf_map_push_elem
    *(u32 *)(r10 - 4) = 0
    r1 = ${q.handle} ll
    r2 = r10
    r2 += -4
    call bpf_map_pop_elem
    r6 = *(u32 *)(r10 - 4)
    r1 = ${b.handle} ll
    r2 = r10
    r2 += -4
    call bpf_map_peek_elem
    r0 <<= 32
    r0 |= r6
    exit`);
  // popped 77 back; the bloom filter was asked about 77: found (0)
  assert.equal(r, 77n);
  assert.equal(MAP_HELPERS.length, 14);
});
