// The JIT's inline bpf_map_lookup_elem (src/runtime/jit/maplookup.ts)
// against the interpreter, which always calls the host helper: programs doing
// hundreds of lookups over random keys (hits and misses) on every inlined map
// type, checked and unchecked, on several CPUs, before and after user-space
// updates and deletes. Both engines run on the same memory from the same
// snapshot; R0 (which folds in every returned address), the instruction
// count and every byte of the memory afterwards (LRU ref flags included)
// must be equal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble } from '../../src/isa/asm.js';
import type { Instruction } from '../../src/isa/instruction.js';
import { HelperRegistry, defaultHelpers } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { jitScratchArea } from '../../src/runtime/jit/engine.js';
import { JitProgram } from '../../src/runtime/jit/index.js';
import { lookupStats, mapInfo } from '../../src/runtime/jit/maplookup.js';
import { BPF_MAP_TYPE as T, type BpfMap, MAP_HELPERS, createMap, registerMapHelpers } from '../../src/runtime/maps/index.js';
import { rng as rngU32 } from './gen.js';

/** Uniform in [0, 1). */
const rng = (seed: number): (() => number) => { const r = rngU32(seed); return () => r() / 4294967296; };

const CPUS = 4;

/**
 * `n` lookups of keys drawn by an LCG from `seed`, key i = (x % range)
 * spread over the key's bytes; R0 accumulates hits' first u32 value and
 * address and counts misses.
 */
function lookupProgram(handle: number, keySize: number, n: number, seed: number, range: number): Instruction[] {
  const stores: string[] = [];
  // Fill the key at r10-32: u32 words r2, r2*3, r2*5 ... then the tail bytes.
  let off = 0;
  for (let w = 0; off + 4 <= keySize; w++, off += 4) stores.push(`r4 = r2`, `r4 *= ${2 * w + 1}`, `*(u32 *)(r10 - ${32 - off}) = r4`);
  for (; off < keySize; off++) stores.push(`r4 = r2`, `r4 += ${off}`, `*(u8 *)(r10 - ${32 - off}) = r4`);
  return assemble(`
    r6 = 0
    r7 = ${seed}
    r8 = ${n}
  loop:
    r7 *= 1103515245
    r7 += 12345
    r7 &= 0x7fffffff
    r2 = r7
    r2 >>= 8
    r2 %= ${range}
    ${stores.join('\n    ')}
    r1 = ${handle} ll
    r2 = r10
    r2 += -32
    call bpf_map_lookup_elem
    if r0 == 0 goto miss
    r3 = *(u32 *)(r0 + 0)
    r6 += r3
    r6 ^= r0
    r6 *= 31
    goto next
  miss:
    r6 += 1
  next:
    r8 -= 1
    if r8 != 0 goto loop
    r0 = r6
    exit`);
}

/** Key bytes as the program builds them for the value x. */
function keyOf(x: number, keySize: number): Uint8Array {
  const k = new Uint8Array(keySize);
  const dv = new DataView(k.buffer);
  let off = 0;
  for (let w = 0; off + 4 <= keySize; w++, off += 4) dv.setUint32(off, Math.imul(x, 2 * w + 1) >>> 0, true);
  for (; off < keySize; off++) k[off] = (x + off) & 0xff;
  return k;
}

interface Setup {
  readonly memory: LinearMemory;
  readonly stack: number;
  readonly helpers: HelperRegistry;
}

function setup(): Setup {
  const memory = new LinearMemory({ initialPages: 8 });
  const stack = memory.alloc(STACK_AREA + 64, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  // A first JIT run allocates the JIT's scratch area in the memory, before any snapshot.
  new JitProgram(assemble('r0 = 0\nexit')).run({ memory, stack });
  return { memory, stack, helpers: registerMapHelpers(defaultHelpers()) };
}

type Result = { r0: bigint; insnCount: number } | { fault: string };

/** Run on both engines from the same memory snapshot; returns the JIT's result after comparing. */
function compare(s: Setup, insns: Instruction[], opts: { checked: boolean; cpu: number }, what: string, jit?: JitProgram): Result {
  const env = { memory: s.memory, stack: s.stack, helpers: s.helpers, checked: opts.checked, cpu: opts.cpu, args: [] };
  const before = s.memory.u8.slice();
  const run = (f: () => { r0: bigint; insnCount: number }): Result => {
    try { const r = f(); return { r0: r.r0, insnCount: r.insnCount }; } catch (e) { return { fault: (e as { code?: string }).code ?? String(e) }; }
  };
  const ri = run(() => execute(prepare(insns), env));
  const afterInterp = s.memory.u8.slice();
  s.memory.u8.set(before);
  const rj = run(() => (jit ?? new JitProgram(insns)).run(env));
  assert.deepEqual(rj, ri, what);
  const now = s.memory.u8;
  // The JIT's own scratch area (fuel, region cache) is not program-visible state.
  const sc = jitScratchArea(s.memory)!;
  afterInterp.set(now.subarray(sc.start, sc.start + sc.size), sc.start);
  const diff: string[] = [];
  for (let i = 0; i < now.length && diff.length < 8; i++) if (now[i] !== afterInterp[i]) diff.push(`0x${i.toString(16)}: interp ${afterInterp[i]} jit ${now[i]}`);
  assert.deepEqual(diff, [], `${what}: memory after the run differs (stack at 0x${s.stack.toString(16)})`);
  return rj;
}

const INLINED: ReadonlyArray<{ type: number; name: string; keySize: number; valueSize: number; maxEntries: number }> = [
  { type: T.ARRAY, name: 'array', keySize: 4, valueSize: 12, maxEntries: 50 },
  { type: T.PERCPU_ARRAY, name: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 40 },
  { type: T.HASH, name: 'hash4', keySize: 4, valueSize: 8, maxEntries: 64 },
  { type: T.HASH, name: 'hash6', keySize: 6, valueSize: 4, maxEntries: 100 },
  { type: T.HASH, name: 'hash13', keySize: 13, valueSize: 20, maxEntries: 30 },
  { type: T.PERCPU_HASH, name: 'percpu_hash', keySize: 8, valueSize: 8, maxEntries: 64 },
  { type: T.LRU_HASH, name: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 32 },
  { type: T.LRU_PERCPU_HASH, name: 'lru_percpu_hash', keySize: 12, valueSize: 4, maxEntries: 32 },
];

function fill(m: BpfMap, r: () => number, range: number, count: number, keySize: number, valueSize: number): void {
  const perCpu = m.cpus > 1;
  for (let k = 0; k < count; k++) {
    const x = Math.floor(r() * range);
    const v = new Uint8Array(perCpu ? Math.ceil(valueSize / 8) * 8 * m.cpus : valueSize);
    for (let j = 0; j < v.length; j++) v[j] = Math.floor(r() * 256);
    try { m.update(keyOf(x, keySize), v); } catch (e) { if ((e as { code?: string }).code !== 'E2BIG') throw e; /* full */ }
  }
}

test('inline map lookups equal the host helper on every inlined map type, with user-space updates and deletes in between', () => {
  const r = rng(0x5eed);
  const s = setup();
  for (const spec of INLINED) {
    const m = createMap(s.memory, spec, { cpus: CPUS });
    const range = spec.maxEntries * 2;
    const fillRange = spec.type === T.ARRAY || spec.type === T.PERCPU_ARRAY ? spec.maxEntries : range;
    fill(m, r, fillRange, spec.maxEntries, spec.keySize, spec.valueSize);
    for (const cpu of [0, 2]) assert.notEqual(mapInfo(s.memory, m.handle, s.helpers, cpu), 0, `${spec.name} is inlined`);
    for (let round = 0; round < 3; round++) {
      const insns = lookupProgram(m.handle, spec.keySize, 200, Math.floor(r() * 1e9), range);
      const jit = new JitProgram(insns);
      for (const checked of [true, false]) {
        for (const cpu of [0, 3]) {
          const calls = lookupStats.mapInfoCalls;
          const res = compare(s, insns, { checked, cpu }, `${spec.name} round ${round} checked=${checked} cpu=${cpu}`, jit);
          assert.ok('r0' in res, `${spec.name}: ran`);
          // One host check per run for the one handle; the other 199 lookups hit the cache.
          assert.equal(lookupStats.mapInfoCalls - calls, 1, `${spec.name}: mapcheck calls per run`);
        }
      }
      // User space changes the map between rounds: updates, and deletes on hash maps.
      fill(m, r, fillRange, 10, spec.keySize, spec.valueSize);
      if (spec.type !== T.ARRAY && spec.type !== T.PERCPU_ARRAY) {
        for (let k = 0; k < 15; k++) {
          try { m.delete(keyOf(Math.floor(r() * range), spec.keySize)); } catch { /* ENOENT */ }
        }
      }
    }
  }
});

test('a per-CPU map on a CPU without a slot faults the same way (the host decides)', () => {
  const s = setup();
  const m = createMap(s.memory, { type: T.PERCPU_HASH, name: 'pc', keySize: 4, valueSize: 8, maxEntries: 8 }, { cpus: 2 });
  m.update(keyOf(1, 4), new Uint8Array(16).fill(7));
  assert.equal(mapInfo(s.memory, m.handle, s.helpers, 5), 0);
  const res = compare(s, lookupProgram(m.handle, 4, 5, 1, 4), { checked: true, cpu: 5 }, 'cpu 5 of 2');
  assert.deepEqual(res, { fault: 'FAULT_MAP_CPU' });
});

test('other map types, a custom helper 1, bad handles and keys outside the memory go to the host', () => {
  const s = setup();
  const lpm = createMap(s.memory, { type: T.LPM_TRIE, name: 'lpm', keySize: 8, valueSize: 4, maxEntries: 8, flags: 1 });
  lpm.update(Uint8Array.of(32, 0, 0, 0, 3, 0, 0, 0), Uint8Array.of(1, 2, 3, 4));
  assert.equal(mapInfo(s.memory, lpm.handle, s.helpers, 0), 0);
  compare(s, lookupProgram(lpm.handle, 8, 20, 7, 8), { checked: false, cpu: 0 }, 'lpm trie');

  const arr = createMap(s.memory, { type: T.ARRAY, name: 'a', keySize: 4, valueSize: 4, maxEntries: 4 });
  // Helper 1 replaced: every call must reach it.
  let calls = 0;
  const std = MAP_HELPERS.find((h) => h.id === 1)!;
  const custom = registerMapHelpers(defaultHelpers()).register({ ...std, impl: (...a) => { calls++; return std.impl(...a); } });
  assert.equal(mapInfo(s.memory, arr.handle, custom, 0), 0);
  const insns = lookupProgram(arr.handle, 4, 25, 3, 8);
  const env = { memory: s.memory, stack: s.stack, helpers: custom, args: [] };
  const rj = new JitProgram(insns).run(env);
  assert.equal(calls, 25);
  assert.equal(rj.r0, execute(prepare(insns), env).r0);

  // Not a map: the handle points at the stack, where the program wrote a fake descriptor's magic.
  const fake = assemble(`
    r1 = 0x50414d42
    *(u32 *)(r10 - 64) = r1
    r1 = 2
    *(u32 *)(r10 - 56) = r1
    r1 = r10
    r1 += -64
    r2 = r10
    r2 += -8
    *(u32 *)(r10 - 8) = r1
    call bpf_map_lookup_elem
    exit`);
  for (const checked of [true, false]) {
    assert.deepEqual(compare(s, fake, { checked, cpu: 0 }, `fake descriptor checked=${checked}`), { fault: 'FAULT_MAP_HANDLE' });
  }
  // A key pointer outside the memory (unchecked) or outside every region (checked).
  const far = (key: string): Instruction[] => assemble(`
    r1 = ${arr.handle} ll
    r2 = ${key} ll
    call bpf_map_lookup_elem
    exit`);
  for (const key of ['0x7ffffff0', '0x100000000', '0x10']) {
    for (const checked of [true, false]) {
      const res = compare(s, far(key), { checked, cpu: 0 }, `key ${key} checked=${checked}`);
      // 0x10 is inside the memory: only the checked mode refuses it.
      assert.equal('fault' in res, checked || key !== '0x10', `key ${key} checked=${checked}`);
    }
  }
});

test('batches: the handle cache is emptied per batch and results equal single runs', () => {
  const s = setup();
  const m = createMap(s.memory, { type: T.HASH, name: 'h', keySize: 4, valueSize: 8, maxEntries: 16 });
  const r = rng(9);
  fill(m, r, 32, 16, 4, 8);
  const insns = lookupProgram(m.handle, 4, 40, 11, 32);
  const jit = new JitProgram(insns);
  const env = { memory: s.memory, stack: s.stack, helpers: s.helpers, checked: false, args: [] };
  const single = execute(prepare(insns), env);
  const calls = lookupStats.mapInfoCalls;
  const b = jit.runBatch(env, 10);
  assert.equal(lookupStats.mapInfoCalls - calls, 1);
  assert.deepEqual([...b.r0], Array<bigint>(10).fill(single.r0));
  assert.deepEqual([...b.insnCount], Array<number>(10).fill(single.insnCount));
  // The map goes away: the next batch must not use the cached answer.
  m.destroy();
  const after = jit.runBatch(env, 2);
  assert.equal(after.faults.size, 2);
  assert.equal(after.faults.get(0)!.code, 'FAULT_MAP_HANDLE');
});
