// hash, percpu_hash, lru_hash, lru_percpu_hash (and the base of hash_of_maps
// and devmap_hash). Everything lives in linear memory, addressed by indices so
// compiled code can walk it (README.md of this directory draws it):
//
//   header (HASH_HDR_SIZE bytes, at the descriptor's STORAGE):
//     +0  mask        nbuckets - 1 (nbuckets = max_entries rounded up to a power of two)
//     +4  buckets     address of u32[nbuckets]: 1 + index of the chain's first element, 0 = empty
//     +8  elems       address of element 0
//     +12 elemSize    bytes per element
//     +16 keyOff      offset of the key inside an element (8; 24 for LRU maps)
//     +20 values      address of element 0's value
//     +24 valueSize   bytes of values per element (round_up(value_size, 8) * ncpus)
//     +28 seed        hash seed (mapHash in hashfn.ts)
//     +32 count       live elements
//     +36 free        1 + index of the first free element (free list through `next`), 0 = none
//     +40 fresh       elements never used yet are fresh..max_entries-1
//     +44 lruHead     LRU maps: 1 + index of the most recently inserted element
//     +48 lruTail     LRU maps: 1 + index of the eviction candidate
//   element i at elems + i * elemSize:
//     +0 next (1 + index of the next element in the bucket chain, 0 = end)
//     +4 hash (the full 32-bit hash of the key)
//     LRU maps only: +8 prev, +12 lnext (LRU list, 1 + index), +16 ref (set by lookups), +20 unused
//     +keyOff: key (key_size bytes, padded to 8)
//   value of element i, CPU c: values + i * valueSize + c * round_up(value_size, 8)
//
// Lookup: h = mapHash(key); i = buckets[h & mask]; while i: e = elems + (i-1)*elemSize;
// if e.hash == h and key bytes equal: return values + (i-1)*valueSize; i = e.next.
//
// Elements are preallocated (max_entries of them, as the kernel's default);
// BPF_F_NO_PREALLOC is accepted and changes nothing. An element keeps its
// value address while it lives: an update of an existing key writes in place.
//
// LRU (approximate, CLOCK / second chance): inserted elements go to the head
// of a list; a program lookup only sets the element's ref flag (one store);
// when an insert finds no free element, the tail is examined: referenced
// elements get their flag cleared and move to the head, the first
// unreferenced one is evicted. The kernel's LRU is approximate too (per-CPU
// lists, ref bits); exact eviction order differs, the guarantee "a recently
// used element survives one round of evictions" holds.

import type { LinearMemory } from '../memory.js';
import { MapBase, hexBytes } from './base.js';
import { mapHash } from './hashfn.js';
import {
  type BatchResult, type MapCreateOptions, type MapCreateSpec,
  BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, BPF_MAP_TYPE, ERRNO,
} from './types.js';

export const HASH_HDR = {
  MASK: 0, BUCKETS: 4, ELEMS: 8, ELEM_SIZE: 12, KEY_OFF: 16, VALUES: 20, VALUE_SIZE: 24, SEED: 28,
  COUNT: 32, FREE: 36, FRESH: 40, LRU_HEAD: 44, LRU_TAIL: 48,
} as const;
export const HASH_HDR_SIZE = 64;
export const HASH_ELEM = { NEXT: 0, HASH: 4, PREV: 8, LNEXT: 12, REF: 16 } as const;

export function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class HashMap extends MapBase {
  readonly lru: boolean;
  private readonly percpu: boolean;
  /** Address of the header. */
  readonly hdr: number;
  readonly nbuckets: number;
  readonly buckets: number;
  readonly elems: number;
  readonly elemSize: number;
  readonly keyOff: number;
  readonly values: number;
  /** Bytes of values per element (all CPUs). */
  readonly elemValueSize: number;
  readonly seed: number;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    const t = spec.type;
    const percpu = t === BPF_MAP_TYPE.PERCPU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
    super(memory, spec, opts, percpu);
    this.percpu = percpu;
    this.lru = t === BPF_MAP_TYPE.LRU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
    this.nbuckets = roundUpPow2(Math.max(1, this.maxEntries));
    this.keyOff = this.lru ? 24 : 8;
    this.elemSize = this.keyOff + ((this.keySize + 7) & ~7);
    this.elemValueSize = this.valueStride * this.cpus;
    this.seed = (opts.seed ?? 0) >>> 0;
    this.hdr = this.alloc(HASH_HDR_SIZE);
    this.buckets = this.alloc(this.nbuckets * 4);
    this.elems = this.alloc(this.maxEntries * this.elemSize);
    this.values = this.alloc(this.maxEntries * this.elemValueSize);
    this.addRegion(this.values, this.maxEntries * this.elemValueSize);
    // Keys handed to bpf_for_each_map_elem callbacks point into the element pool: readable, not writable.
    if (this.maxEntries * this.elemSize > 0) memory.addRegion(this.elems, this.maxEntries * this.elemSize, `map_key:${this.name}`, false);
    const dv = memory.view;
    const h = this.hdr;
    dv.setUint32(h + HASH_HDR.MASK, this.nbuckets - 1, true);
    dv.setUint32(h + HASH_HDR.BUCKETS, this.buckets, true);
    dv.setUint32(h + HASH_HDR.ELEMS, this.elems, true);
    dv.setUint32(h + HASH_HDR.ELEM_SIZE, this.elemSize, true);
    dv.setUint32(h + HASH_HDR.KEY_OFF, this.keyOff, true);
    dv.setUint32(h + HASH_HDR.VALUES, this.values, true);
    dv.setUint32(h + HASH_HDR.VALUE_SIZE, this.elemValueSize, true);
    dv.setUint32(h + HASH_HDR.SEED, this.seed, true);
    this.setStorage(h);
    this.register();
  }

  override get isPerCpu(): boolean {
    return this.percpu;
  }

  /** Live elements. */
  get count(): number {
    return this.memory.i32[(this.hdr + HASH_HDR.COUNT) >> 2]!;
  }

  // ---- element primitives (i = element index) ----

  private g(off: number): number {
    return this.memory.i32[(this.hdr + off) >> 2]!;
  }

  private s(off: number, v: number): void {
    this.memory.i32[(this.hdr + off) >> 2] = v;
  }

  private eAddr(i: number): number {
    return this.elems + i * this.elemSize;
  }

  /** Value address of element i (CPU 0). */
  valueAddr(i: number): number {
    return this.values + i * this.elemValueSize;
  }

  /** Index of the element holding key src[off, off+keySize), or -1. */
  find(src: Uint8Array, off: number, h: number): number {
    const i32 = this.memory.i32;
    const u8 = this.memory.u8;
    const ks = this.keySize;
    let n = i32[(this.buckets + (h & (this.nbuckets - 1)) * 4) >> 2]!;
    while (n !== 0) {
      const i = n - 1;
      const e = this.elems + i * this.elemSize;
      if ((i32[(e + 4) >> 2]! >>> 0) === h) {
        const k = e + this.keyOff;
        let j = 0;
        while (j < ks && u8[k + j] === src[off + j]) j++;
        if (j === ks) return i;
      }
      n = i32[e >> 2]!;
    }
    return -1;
  }

  /** Take a free element (evicting on LRU maps); -1 when full. */
  private allocElem(): number {
    const free = this.g(HASH_HDR.FREE);
    if (free !== 0) {
      this.s(HASH_HDR.FREE, this.memory.i32[this.eAddr(free - 1) >> 2]!);
      return free - 1;
    }
    const fresh = this.g(HASH_HDR.FRESH);
    if (fresh < this.maxEntries) {
      this.s(HASH_HDR.FRESH, fresh + 1);
      return fresh;
    }
    if (this.lru && this.evict()) return this.allocElem();
    return -1;
  }

  /** LRU: evict one element (second chance); false when the map is empty. */
  private evict(): boolean {
    const i32 = this.memory.i32;
    for (let guard = 0; guard <= this.maxEntries; guard++) {
      const t = this.g(HASH_HDR.LRU_TAIL);
      if (t === 0) return false;
      const e = this.eAddr(t - 1);
      if (i32[(e + HASH_ELEM.REF) >> 2] !== 0) {
        i32[(e + HASH_ELEM.REF) >> 2] = 0;
        this.lruUnlink(t - 1);
        this.lruPushHead(t - 1);
        continue;
      }
      this.removeElem(t - 1);
      return true;
    }
    // Every element was referenced twice in a row (cannot happen: refs are cleared as we go).
    const t = this.g(HASH_HDR.LRU_TAIL);
    if (t === 0) return false;
    this.removeElem(t - 1);
    return true;
  }

  private lruPushHead(i: number): void {
    const i32 = this.memory.i32;
    const e = this.eAddr(i);
    const head = this.g(HASH_HDR.LRU_HEAD);
    i32[(e + HASH_ELEM.PREV) >> 2] = 0;
    i32[(e + HASH_ELEM.LNEXT) >> 2] = head;
    if (head !== 0) i32[(this.eAddr(head - 1) + HASH_ELEM.PREV) >> 2] = i + 1;
    else this.s(HASH_HDR.LRU_TAIL, i + 1);
    this.s(HASH_HDR.LRU_HEAD, i + 1);
  }

  private lruUnlink(i: number): void {
    const i32 = this.memory.i32;
    const e = this.eAddr(i);
    const prev = i32[(e + HASH_ELEM.PREV) >> 2]!;
    const next = i32[(e + HASH_ELEM.LNEXT) >> 2]!;
    if (prev !== 0) i32[(this.eAddr(prev - 1) + HASH_ELEM.LNEXT) >> 2] = next;
    else this.s(HASH_HDR.LRU_HEAD, next);
    if (next !== 0) i32[(this.eAddr(next - 1) + HASH_ELEM.PREV) >> 2] = prev;
    else this.s(HASH_HDR.LRU_TAIL, prev);
  }

  /** Unlink element i from its bucket (and the LRU list) and free it. */
  private removeElem(i: number): void {
    const i32 = this.memory.i32;
    const e = this.eAddr(i);
    const h = i32[(e + 4) >> 2]! >>> 0;
    let link = this.buckets + (h & (this.nbuckets - 1)) * 4;
    for (;;) {
      const n = i32[link >> 2]!;
      if (n === 0) return; // not linked (cannot happen)
      if (n === i + 1) {
        i32[link >> 2] = i32[e >> 2]!;
        break;
      }
      link = this.eAddr(n - 1);
    }
    if (this.lru) this.lruUnlink(i);
    i32[e >> 2] = this.g(HASH_HDR.FREE);
    this.s(HASH_HDR.FREE, i + 1);
    this.s(HASH_HDR.COUNT, this.g(HASH_HDR.COUNT) - 1);
  }

  /**
   * Insert or update key src[off..] with flags; `write(valueAddr, isNew)`
   * fills the value. Returns 0 or -errno.
   */
  protected upsert(src: Uint8Array, off: number, flags: number, write: (valueAddr: number, isNew: boolean) => void): number {
    if (flags & ~(BPF_NOEXIST | BPF_EXIST | BPF_F_LOCK) || (flags & 3) === 3) return -ERRNO.EINVAL;
    if (flags & BPF_F_LOCK) return -ERRNO.EINVAL; // no bpf_spin_lock in values
    const h = mapHash(src, off, this.keySize, this.seed);
    const found = this.find(src, off, h);
    if (found >= 0) {
      if ((flags & 3) === BPF_NOEXIST) return -ERRNO.EEXIST;
      write(this.valueAddr(found), false);
      if (this.lru) this.memory.i32[(this.eAddr(found) + HASH_ELEM.REF) >> 2] = 1;
      return 0;
    }
    if ((flags & 3) === BPF_EXIST) return -ERRNO.ENOENT;
    const i = this.allocElem();
    if (i < 0) return -ERRNO.E2BIG;
    // allocElem may have evicted: memory views are unchanged (no allocation).
    const i32 = this.memory.i32;
    const u8 = this.memory.u8;
    const e = this.eAddr(i);
    const k = e + this.keyOff;
    for (let j = 0; j < this.keySize; j++) u8[k + j] = src[off + j]!;
    i32[(e + 4) >> 2] = h | 0;
    const b = (this.buckets + (h & (this.nbuckets - 1)) * 4) >> 2;
    i32[e >> 2] = i32[b]!;
    i32[b] = i + 1;
    if (this.lru) {
      i32[(e + HASH_ELEM.REF) >> 2] = 0;
      this.lruPushHead(i);
    }
    this.s(HASH_HDR.COUNT, this.g(HASH_HDR.COUNT) + 1);
    const va = this.valueAddr(i);
    u8.fill(0, va, va + this.elemValueSize);
    write(va, true);
    return 0;
  }

  protected erase(src: Uint8Array, off: number): number {
    const i = this.find(src, off, mapHash(src, off, this.keySize, this.seed));
    if (i < 0) return -ERRNO.ENOENT;
    this.removeElem(i);
    return 0;
  }

  // ---- program side ----

  lookupElem(keyAddr: number, cpu: number): number {
    const u8 = this.memory.u8;
    const i = this.find(u8, keyAddr, mapHash(u8, keyAddr, this.keySize, this.seed));
    if (i < 0) return 0;
    if (this.lru) this.memory.i32[(this.eAddr(i) + HASH_ELEM.REF) >> 2] = 1;
    return this.valueAddr(i) + (this.percpu ? cpu * this.valueStride : 0);
  }

  updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    const vs = this.valueSize;
    return this.upsert(this.memory.u8, keyAddr, flags, (va) => {
      const u8 = this.memory.u8;
      u8.copyWithin(va + (this.percpu ? cpu * this.valueStride : 0), valueAddr, valueAddr + vs);
    });
  }

  deleteElem(keyAddr: number): number {
    return this.erase(this.memory.u8, keyAddr);
  }

  // ---- user space ----

  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined {
    this.checkReadable();
    this.checkKey(key);
    const i = this.find(key, 0, mapHash(key, 0, this.keySize, this.seed));
    return i < 0 ? undefined : this.copyOut(this.valueAddr(i), cpu);
  }

  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkWritable();
    this.checkKey(key);
    this.checkValue(value);
    const r = this.upsert(key, 0, flags, (va) => this.copyIn(va, value));
    if (r < 0) this.failErrno(-r, key, flags);
  }

  protected failErrno(errno: number, key: Uint8Array, flags: number): never {
    switch (errno) {
      case ERRNO.EEXIST: return this.fail('EEXIST', `key ${hexBytes(key)} exists (BPF_NOEXIST)`);
      case ERRNO.ENOENT: return this.fail('ENOENT', `key ${hexBytes(key)} not found${flags & BPF_EXIST ? ' (BPF_EXIST)' : ''}`);
      case ERRNO.E2BIG: return this.fail('E2BIG', `map is full (${this.maxEntries} entries)`);
      default: return this.fail('EINVAL', `invalid update flags 0x${flags.toString(16)}`);
    }
  }

  delete(key: Uint8Array): void {
    this.checkWritable();
    this.checkKey(key);
    if (this.erase(key, 0) < 0) this.fail('ENOENT', `key ${hexBytes(key)} not found`);
  }

  override lookupAndDelete(key: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    this.checkWritable();
    this.checkKey(key);
    const i = this.find(key, 0, mapHash(key, 0, this.keySize, this.seed));
    if (i < 0) return undefined;
    const v = this.copyOut(this.valueAddr(i));
    this.removeElem(i);
    return v;
  }

  private keyOf(i: number): Uint8Array {
    const k = this.eAddr(i) + this.keyOff;
    return this.memory.u8.slice(k, k + this.keySize);
  }

  /** First element index of buckets b.. (returns [bucket, index] or undefined). */
  private firstFrom(b: number): number {
    const i32 = this.memory.i32;
    for (; b < this.nbuckets; b++) {
      const n = i32[(this.buckets + b * 4) >> 2]!;
      if (n !== 0) return n - 1;
    }
    return -1;
  }

  nextKey(key?: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    let i = -1;
    if (key !== undefined) {
      this.checkKey(key);
      const h = mapHash(key, 0, this.keySize, this.seed);
      i = this.find(key, 0, h);
      if (i >= 0) {
        const n = this.memory.i32[this.eAddr(i) >> 2]!;
        if (n !== 0) return this.keyOf(n - 1);
        const nx = this.firstFrom((h & (this.nbuckets - 1)) + 1);
        return nx < 0 ? undefined : this.keyOf(nx);
      }
    }
    const f = this.firstFrom(0);
    return f < 0 ? undefined : this.keyOf(f);
  }

  /** Element indices in iteration order (buckets in order, chains in order). */
  *indices(): IterableIterator<number> {
    for (let b = 0; b < this.nbuckets; b++) {
      let n = this.memory.i32[(this.buckets + b * 4) >> 2]!;
      while (n !== 0) {
        const next = this.memory.i32[this.eAddr(n - 1) >> 2]!;
        yield n - 1;
        n = next;
      }
    }
  }

  override *keys(): IterableIterator<Uint8Array> {
    this.checkReadable();
    for (const i of this.indices()) yield this.keyOf(i);
  }

  override *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    this.checkReadable();
    for (const i of this.indices()) yield [this.keyOf(i), this.copyOut(this.valueAddr(i))];
  }

  /** Batches by whole buckets, as the kernel does: `cursor` is the next bucket. ENOSPC when one bucket holds more than `count`. */
  protected override batch(count: number, cursor: number | undefined, del: boolean): BatchResult {
    this.checkReadable();
    if (del) this.checkWritable();
    if (!Number.isInteger(count) || count <= 0) this.fail('EINVAL', `batch count must be a positive integer, got ${count}`);
    let b = cursor ?? 0;
    if (!Number.isInteger(b) || b < 0) this.fail('EINVAL', `bad batch cursor ${cursor}`);
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    const i32 = this.memory.i32;
    for (; b < this.nbuckets; b++) {
      const chain: number[] = [];
      for (let n = i32[(this.buckets + b * 4) >> 2]!; n !== 0; n = i32[this.eAddr(n - 1) >> 2]!) chain.push(n - 1);
      if (chain.length === 0) continue;
      if (keys.length + chain.length > count) {
        if (keys.length === 0) this.fail('ENOSPC', `bucket ${b} holds ${chain.length} elements, more than the batch count ${count}`);
        break;
      }
      for (const i of chain) {
        keys.push(this.keyOf(i));
        values.push(this.copyOut(this.valueAddr(i)));
        if (del) this.removeElem(i);
      }
    }
    return this.firstFrom(b) >= 0 ? { keys, values, cursor: b } : { keys, values };
  }
}
