// bpf_map_lookup_elem (helper 1) inside the Wasm module, for array,
// percpu_array, hash, percpu_hash, lru_hash and lru_percpu_hash maps.
//
// The generated function `lookup(r1, r2, rs, re) -> i64` returns the value
// address (or 0 for a miss), exactly what the host helper returns, or -1
// when the call must go to the host instead: a handle or key above 4 GiB, a
// handle the host does not vouch for, a key outside the checked region cache
// (checked mode) or outside the memory (unchecked mode). The host then does
// what it always did, faults included, so the result is the same either way.
//
// Which handles are inlined is decided by the host, never by reading memory
// the program could have written: on a handle not in the instance's small
// cache (4 entries, round robin, emptied at the start of every run and
// batch) the code calls the `mapcheck(handle) -> info` import. `mapInfo`
// answers 0 (use the host) unless the handle is a live map of this memory
// in the map registry, of one of the types above, with the standard
// lookupElem, the run's helper 1 is the maps module's map_lookup_elem, and
// the run's CPU has a slot. Otherwise info = kind bits | cpu << 3, cpu being
// the value slot the helper would use (0 for maps that are not per-CPU).
// Caching answers for one run is sound because the descriptor fields the
// code reads (type, sizes, storage, ncpus) never change while a map lives;
// a map destroyed by a helper in the middle of a run would be missed.
//
// The walk follows the layouts of src/runtime/maps/README.md: array value
// at storage + (i * ncpus + cpu) * stride when i < max_entries; hash maps
// hash the key with mapHash (hashfn.ts), walk the bucket chain comparing the
// full hash then the key, and an LRU hit stores 1 in the element's ref word
// as the host's lookup does.

import type { HelperRegistry } from '../helpers.js';
import type { LinearMemory } from '../memory.js';
import { ArrayMap } from '../maps/array.js';
import { mapFromHandle } from '../maps/base.js';
import { HASH_ELEM, HASH_HDR, HashMap } from '../maps/hash.js';
import { BPF_FUNC_map_lookup_elem, MAP_HELPERS } from '../maps/helpers.js';
import { BPF_MAP_TYPE, DESC } from '../maps/types.js';
import { Code, I32, Op } from './wasm.js';

/** info bits: an array map, a hash map, an LRU hash map; the CPU slot from bit 3. */
export const INFO_ARRAY = 1;
export const INFO_HASH = 2;
export const INFO_LRU = 4;
export const INFO_CPU_SHIFT = 3;
/** Entries of the per-instance handle cache. */
export const CACHE_ENTRIES = 4;

const STD_LOOKUP = MAP_HELPERS.find((h) => h.id === BPF_FUNC_map_lookup_elem)!.impl;
const ARRAY_LOOKUP = ArrayMap.prototype.lookupElem;
const HASH_LOOKUP = HashMap.prototype.lookupElem;

/** Calls of mapInfo since the module was loaded (tests check the cache with it). */
export const lookupStats = { mapInfoCalls: 0 };

/** The host's answer for a handle (see the header): 0 = call the host helper. */
export function mapInfo(memory: LinearMemory, handle: number, helpers: HelperRegistry, cpu: number): number {
  lookupStats.mapInfoCalls++;
  if (helpers.get(BPF_FUNC_map_lookup_elem)?.impl !== STD_LOOKUP) return 0;
  const m = mapFromHandle(memory, handle >>> 0);
  if (!m) return 0;
  // The helper's CPU rule (cpuFor): per-CPU maps need a slot for the run's CPU.
  let slot = 0;
  if (m.cpus > 1) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= m.cpus || cpu >= 1 << 28) return 0;
    slot = cpu;
  }
  const t = m.type;
  if (m instanceof ArrayMap && m.lookupElem === ARRAY_LOOKUP && (t === BPF_MAP_TYPE.ARRAY || t === BPF_MAP_TYPE.PERCPU_ARRAY)) {
    return INFO_ARRAY | (slot << INFO_CPU_SHIFT);
  }
  if (m instanceof HashMap && m.lookupElem === HASH_LOOKUP && (t === BPF_MAP_TYPE.HASH || t === BPF_MAP_TYPE.PERCPU_HASH ||
    t === BPF_MAP_TYPE.LRU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH)) {
    return INFO_HASH | (m.lru ? INFO_LRU : 0) | (slot << INFO_CPU_SHIFT);
  }
  return 0;
}

/** Global indices the lookup function uses: cache handles, cache infos, next slot to replace. */
export interface LookupGlobals {
  readonly handles: readonly number[];
  readonly infos: readonly number[];
  readonly next: number;
}

/** Empty the handle cache (emitted at the start of runs and batches). */
export function emitCacheReset(c: Code, g: LookupGlobals): void {
  for (const h of g.handles) { c.i32(0); c.gset(h); }
}

/**
 * The lookup function: (r1 i64, r2 i64, rs i64, re i64) -> i64. `checked`:
 * the key must lie in [rs, re) (the caller's region cache); otherwise in the
 * memory. `mapcheck` is the import's function index.
 */
export function lookupFunction(checked: boolean, g: LookupGlobals, mapcheck: number): Code {
  const c = new Code(4);
  const R1 = 0, R2 = 1, RS = 2, RE = 3;
  const info = c.local(I32);
  const d = c.local(I32); // descriptor
  const key = c.local(I32);
  const ks = c.local(I32);
  const hdr = c.local(I32);
  const h = c.local(I32);
  const i = c.local(I32);
  const w = c.local(I32);
  const n = c.local(I32);
  const e = c.local(I32);
  const k = c.local(I32);
  const host = (): void => { c.i64s(-1); c.op(Op.return); };
  const ld = (addr: number, off: number): void => { c.get(addr); c.mem(Op.i32_load, 0, off); };

  // Handle and key below 4 GiB.
  c.get(R1); c.get(R2); c.op(Op.i64_or); c.i64s(32); c.op(Op.i64_shr_u); c.op(Op.i64_eqz); c.op(Op.i32_eqz);
  c.if(); host(); c.end();
  c.get(R1); c.op(Op.i32_wrap_i64); c.set(d);
  // Cache probe (handle 0 is never a map, so empty entries never match).
  c.block();
  for (let j = 0; j < g.handles.length; j++) {
    c.gget(g.infos[j]!); c.set(info);
    c.get(d); c.gget(g.handles[j]!); c.op(Op.i32_eq); c.brIf(0);
  }
  c.get(d); c.call(mapcheck); c.set(info);
  // Store in the entry `next` (a br_table over the entries), then advance it.
  c.block();
  for (let j = 0; j < g.handles.length; j++) c.block();
  c.gget(g.next);
  c.brTable(g.handles.map((_, j) => j), 0);
  for (let j = 0; j < g.handles.length; j++) {
    c.end();
    c.get(d); c.gset(g.handles[j]!); c.get(info); c.gset(g.infos[j]!);
    c.br(g.handles.length - 1 - j);
  }
  c.end();
  c.gget(g.next); c.i32(1); c.op(Op.i32_add); c.i32(g.handles.length - 1); c.op(Op.i32_and); c.gset(g.next);
  c.end();
  c.get(info); c.op(Op.i32_eqz);
  c.if(); host(); c.end();

  // The key must be readable as the helper checks it.
  ld(d, DESC.KEY_SIZE); c.set(ks);
  if (checked) {
    c.get(R2); c.get(RS); c.op(Op.i64_lt_s);
    c.get(R2); c.get(ks); c.op(Op.i64_extend_i32_u); c.op(Op.i64_add); c.get(RE); c.op(Op.i64_gt_s);
    c.op(Op.i32_or);
  } else {
    c.get(R2); c.get(ks); c.op(Op.i64_extend_i32_u); c.op(Op.i64_add);
    c.memorySize(); c.op(Op.i64_extend_i32_u); c.i64s(16); c.op(Op.i64_shl);
    c.op(Op.i64_gt_u);
  }
  c.if(); host(); c.end();
  c.get(R2); c.op(Op.i32_wrap_i64); c.set(key);

  // Array: index < max_entries ? storage + (index * ncpus + cpu) * stride : 0.
  c.get(info); c.i32(INFO_ARRAY); c.op(Op.i32_and);
  c.if();
  {
    c.get(key); c.mem(Op.i32_load, 0, 0); c.tee(i);
    ld(d, DESC.MAX_ENTRIES); c.op(Op.i32_ge_u);
    c.if(); c.i64s(0); c.op(Op.return); c.end();
    ld(d, DESC.STORAGE);
    c.get(i); ld(d, DESC.NCPUS); c.op(Op.i32_mul);
    c.get(info); c.i32(INFO_CPU_SHIFT); c.op(Op.i32_shr_u); c.op(Op.i32_add);
    ld(d, DESC.VALUE_STRIDE); c.op(Op.i32_mul);
    c.op(Op.i32_add); c.op(Op.i64_extend_i32_u); c.op(Op.return);
  }
  c.end();

  // Hash family. mapHash(key, ks, seed):
  ld(d, DESC.STORAGE); c.set(hdr);
  ld(hdr, HASH_HDR.SEED); c.get(ks); c.op(Op.i32_xor); c.set(h);
  const mix = (): void => {
    // h = imul(h ^ w, 0x9E3779B1); h ^= h >>> 15
    c.get(h); c.get(w); c.op(Op.i32_xor); c.i32(0x9e3779b1 | 0); c.op(Op.i32_mul); c.tee(h);
    c.get(h); c.i32(15); c.op(Op.i32_shr_u); c.op(Op.i32_xor); c.set(h);
  };
  c.i32(0); c.set(i);
  c.block(); c.loop();
  c.get(i); c.i32(4); c.op(Op.i32_add); c.get(ks); c.op(Op.i32_gt_u); c.brIf(1);
  c.get(key); c.get(i); c.op(Op.i32_add); c.mem(Op.i32_load, 0, 0); c.set(w);
  mix();
  c.get(i); c.i32(4); c.op(Op.i32_add); c.set(i);
  c.br(0);
  c.end(); c.end();
  c.get(i); c.get(ks); c.op(Op.i32_lt_u);
  c.if();
  {
    // Last partial word, zero-padded: bytes i..ks-1 (j = n here).
    c.i32(0); c.set(w); c.i32(0); c.set(n);
    c.block(); c.loop();
    c.get(i); c.get(n); c.op(Op.i32_add); c.get(ks); c.op(Op.i32_ge_u); c.brIf(1);
    c.get(w);
    c.get(key); c.get(i); c.op(Op.i32_add); c.get(n); c.op(Op.i32_add); c.mem(Op.i32_load8_u, 0, 0);
    c.get(n); c.i32(3); c.op(Op.i32_shl); c.op(Op.i32_shl);
    c.op(Op.i32_or); c.set(w);
    c.get(n); c.i32(1); c.op(Op.i32_add); c.set(n);
    c.br(0);
    c.end(); c.end();
    mix();
  }
  c.end();
  const xorShift = (s: number): void => { c.get(h); c.get(h); c.i32(s); c.op(Op.i32_shr_u); c.op(Op.i32_xor); c.set(h); };
  const mul = (m: number): void => { c.get(h); c.i32(m | 0); c.op(Op.i32_mul); c.set(h); };
  xorShift(16); mul(0x85ebca6b); xorShift(13); mul(0xc2b2ae35); xorShift(16);

  // n = buckets[h & mask]; walk the chain.
  ld(hdr, HASH_HDR.BUCKETS); c.get(h); ld(hdr, HASH_HDR.MASK); c.op(Op.i32_and); c.i32(2); c.op(Op.i32_shl); c.op(Op.i32_add);
  c.mem(Op.i32_load, 0, 0); c.set(n);
  c.block(); c.loop();
  c.get(n); c.op(Op.i32_eqz); c.brIf(1);
  ld(hdr, HASH_HDR.ELEMS); c.get(n); c.i32(1); c.op(Op.i32_sub); ld(hdr, HASH_HDR.ELEM_SIZE); c.op(Op.i32_mul); c.op(Op.i32_add); c.set(e);
  ld(e, HASH_ELEM.HASH); c.get(h); c.op(Op.i32_eq);
  c.if();
  {
    c.get(e); ld(hdr, HASH_HDR.KEY_OFF); c.op(Op.i32_add); c.set(k);
    // Compare 4 bytes at a time, then bytes (the element key is padded to 8).
    c.i32(0); c.set(i);
    c.block(); c.loop();
    c.get(i); c.i32(4); c.op(Op.i32_add); c.get(ks); c.op(Op.i32_gt_u); c.brIf(1);
    c.get(k); c.get(i); c.op(Op.i32_add); c.mem(Op.i32_load, 0, 0);
    c.get(key); c.get(i); c.op(Op.i32_add); c.mem(Op.i32_load, 0, 0);
    c.op(Op.i32_ne); c.brIf(1);
    c.get(i); c.i32(4); c.op(Op.i32_add); c.set(i);
    c.br(0);
    c.end(); c.end();
    c.block(); c.loop();
    c.get(i); c.get(ks); c.op(Op.i32_ge_u); c.brIf(1);
    c.get(k); c.get(i); c.op(Op.i32_add); c.mem(Op.i32_load8_u, 0, 0);
    c.get(key); c.get(i); c.op(Op.i32_add); c.mem(Op.i32_load8_u, 0, 0);
    c.op(Op.i32_ne); c.brIf(1);
    c.get(i); c.i32(1); c.op(Op.i32_add); c.set(i);
    c.br(0);
    c.end(); c.end();
    c.get(i); c.get(ks); c.op(Op.i32_eq);
    c.if();
    {
      c.get(info); c.i32(INFO_LRU); c.op(Op.i32_and);
      c.if(); c.get(e); c.i32(1); c.mem(Op.i32_store, 0, HASH_ELEM.REF); c.end();
      // values + (n - 1) * elemValueSize + cpu * stride
      ld(hdr, HASH_HDR.VALUES);
      c.get(n); c.i32(1); c.op(Op.i32_sub); ld(hdr, HASH_HDR.VALUE_SIZE); c.op(Op.i32_mul); c.op(Op.i32_add);
      c.get(info); c.i32(INFO_CPU_SHIFT); c.op(Op.i32_shr_u); ld(d, DESC.VALUE_STRIDE); c.op(Op.i32_mul); c.op(Op.i32_add);
      c.op(Op.i64_extend_i32_u); c.op(Op.return);
    }
    c.end();
  }
  c.end();
  ld(e, HASH_ELEM.NEXT); c.set(n);
  c.br(0);
  c.end(); c.end();
  c.i64s(0);
  c.end();
  return c;
}
