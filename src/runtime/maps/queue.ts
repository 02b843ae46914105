// Keyless maps: queue (FIFO), stack (LIFO) and bloom_filter.
//
// Queue/stack storage (descriptor STORAGE -> header):
//   +0 head   index of the oldest element
//   +4 count  elements held
//   +8 slots  address of max_entries slots of round_up(value_size, 8) bytes
//   +12 capacity (max_entries)
// Element k (0 = oldest) is in slot (head + k) % capacity. Push appends at
// the newest end; queue pops the oldest, stack the newest. A push on a full
// map fails with E2BIG, or with BPF_EXIST drops the oldest element (for both,
// as the kernel does).
//
// Bloom filter storage: a bitset of nbits (a power of two) bits; value v sets
// bits mapHash(v, seed = i) & (nbits - 1) for i in 0..nr_hashes-1.

import type { LinearMemory } from '../memory.js';
import { MapBase } from './base.js';
import { mapHash } from './hashfn.js';
import { roundUpPow2 } from './hash.js';
import {
  type BpfBloomFilter, type BpfQueueMap, type MapCreateOptions, type MapCreateSpec,
  BPF_ANY, BPF_EXIST, BPF_MAP_TYPE, ERRNO,
} from './types.js';

export const QUEUE_HDR = { HEAD: 0, COUNT: 4, SLOTS: 8, CAPACITY: 12 } as const;

/** Shared by queue, stack and bloom filter: no keys, no iteration. */
abstract class Keyless extends MapBase {
  protected noKey(key: Uint8Array | undefined): void {
    if (key !== undefined && key.length !== 0) this.fail('EINVAL', `this map has no keys (key must be empty, got ${key.length} bytes)`);
  }

  nextKey(): Uint8Array | undefined {
    return this.fail('EINVAL', 'this map has no keys to iterate');
  }

  override *keys(): IterableIterator<Uint8Array> { /* none, as bpftool sees it */ }

  override *entries(): IterableIterator<[Uint8Array, Uint8Array]> { /* none */ }

  override lookupBatch(): never {
    return this.fail('EINVAL', 'batch operations are not supported on this map type');
  }

  override lookupAndDeleteBatch(): never {
    return this.fail('EINVAL', 'batch operations are not supported on this map type');
  }

  lookupElem(): number {
    return 0;
  }

  updateElem(): number {
    return -ERRNO.EINVAL;
  }

  deleteElem(): number {
    return -ERRNO.EINVAL;
  }

  abstract pushElem(valueAddr: number, flags: number): number;
  abstract popElem(valueAddr: number): number;
  abstract peekElem(valueAddr: number): number;

  protected pushFrom(src: Uint8Array, off: number, flags: number): number {
    void src; void off; void flags;
    return -ERRNO.EINVAL;
  }

  push(value: Uint8Array, flags = BPF_ANY): void {
    this.checkWritable();
    this.checkValue(value);
    const r = this.pushFrom(value, 0, flags);
    if (r === -ERRNO.E2BIG) this.fail('E2BIG', `map is full (${this.maxEntries} elements); BPF_EXIST would overwrite the oldest`);
    if (r < 0) this.fail('EINVAL', `invalid push flags 0x${flags.toString(16)}`);
  }

  update(key: Uint8Array | undefined, value: Uint8Array, flags = BPF_ANY): void {
    this.noKey(key);
    this.push(value, flags);
  }

  delete(key?: Uint8Array): void {
    this.noKey(key);
    this.fail('EINVAL', 'elements of this map cannot be deleted by key');
  }
}

export class QueueStackMap extends Keyless implements BpfQueueMap {
  readonly stack: boolean;
  readonly hdr: number;
  readonly slots: number;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, false);
    this.stack = spec.type === BPF_MAP_TYPE.STACK;
    this.hdr = this.alloc(16);
    this.slots = this.alloc(this.maxEntries * this.valueStride);
    const dv = memory.view;
    dv.setUint32(this.hdr + QUEUE_HDR.SLOTS, this.slots, true);
    dv.setUint32(this.hdr + QUEUE_HDR.CAPACITY, this.maxEntries, true);
    this.setStorage(this.hdr);
    this.register();
  }

  get count(): number {
    return this.memory.view.getUint32(this.hdr + QUEUE_HDR.COUNT, true);
  }

  private get head(): number {
    return this.memory.view.getUint32(this.hdr + QUEUE_HDR.HEAD, true);
  }

  private set(head: number, count: number): void {
    const dv = this.memory.view;
    dv.setUint32(this.hdr + QUEUE_HDR.HEAD, head, true);
    dv.setUint32(this.hdr + QUEUE_HDR.COUNT, count, true);
  }

  /** Address of element k (0 = oldest). */
  private at(k: number): number {
    return this.slots + ((this.head + k) % this.maxEntries) * this.valueStride;
  }

  protected override pushFrom(src: Uint8Array, off: number, flags: number): number {
    if (flags !== BPF_ANY && flags !== BPF_EXIST) return -ERRNO.EINVAL;
    let head = this.head;
    let count = this.count;
    if (count === this.maxEntries) {
      if (flags !== BPF_EXIST) return -ERRNO.E2BIG;
      head = (head + 1) % this.maxEntries;
      count--;
    }
    const a = this.slots + ((head + count) % this.maxEntries) * this.valueStride;
    this.memory.u8.set(src.subarray(off, off + this.valueSize), a);
    this.set(head, count + 1);
    return 0;
  }

  /** Copy the element to take (oldest for a queue, newest for a stack) to dst; remove it when `pop`. */
  private take(pop: boolean): number {
    const count = this.count;
    if (count === 0) return -1;
    const k = this.stack ? count - 1 : 0;
    const a = this.at(k);
    if (pop) this.set(this.stack ? this.head : (this.head + 1) % this.maxEntries, count - 1);
    return a;
  }

  pushElem(valueAddr: number, flags: number): number {
    return this.pushFrom(this.memory.u8, valueAddr, flags);
  }

  popElem(valueAddr: number): number {
    const a = this.take(true);
    if (a < 0) return -ERRNO.ENOENT;
    this.memory.u8.copyWithin(valueAddr, a, a + this.valueSize);
    return 0;
  }

  peekElem(valueAddr: number): number {
    const a = this.take(false);
    if (a < 0) return -ERRNO.ENOENT;
    this.memory.u8.copyWithin(valueAddr, a, a + this.valueSize);
    return 0;
  }

  pop(): Uint8Array | undefined {
    this.checkReadable();
    this.checkWritable();
    const a = this.take(true);
    return a < 0 ? undefined : this.memory.u8.slice(a, a + this.valueSize);
  }

  peek(): Uint8Array | undefined {
    this.checkReadable();
    const a = this.take(false);
    return a < 0 ? undefined : this.memory.u8.slice(a, a + this.valueSize);
  }

  /** BPF_MAP_LOOKUP_ELEM on a queue/stack peeks. */
  lookup(key?: Uint8Array): Uint8Array | undefined {
    this.noKey(key);
    return this.peek();
  }

  override lookupAndDelete(key?: Uint8Array): Uint8Array | undefined {
    this.noKey(key);
    return this.pop();
  }

  /** Elements in pop order (does not remove them). */
  values(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const n = this.count;
    for (let j = 0; j < n; j++) {
      const a = this.at(this.stack ? n - 1 - j : j);
      out.push(this.memory.u8.slice(a, a + this.valueSize));
    }
    return out;
  }
}

export class BloomFilterMap extends Keyless implements BpfBloomFilter {
  readonly nrHashes: number;
  readonly nbits: number;
  readonly bits: number;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, false);
    const extra = Number(BigInt(spec.mapExtra ?? 0) & 0xfn);
    this.nrHashes = extra === 0 ? 5 : extra;
    // About max_entries * nr_hashes / ln 2 bits, rounded up to a power of two.
    this.nbits = roundUpPow2(Math.max(64, Math.ceil((this.maxEntries * this.nrHashes) / Math.LN2)));
    this.bits = this.alloc(this.nbits / 8);
    this.setStorage(this.bits);
    this.register();
  }

  private bitIndex(src: Uint8Array, off: number, i: number): number {
    return mapHash(src, off, this.valueSize, i) & (this.nbits - 1);
  }

  protected override pushFrom(src: Uint8Array, off: number, flags: number): number {
    if (flags !== BPF_ANY) return -ERRNO.EINVAL;
    const u8 = this.memory.u8;
    for (let i = 0; i < this.nrHashes; i++) {
      const b = this.bitIndex(src, off, i);
      u8[this.bits + (b >>> 3)]! |= 1 << (b & 7);
    }
    return 0;
  }

  private test(src: Uint8Array, off: number): boolean {
    const u8 = this.memory.u8;
    for (let i = 0; i < this.nrHashes; i++) {
      const b = this.bitIndex(src, off, i);
      if ((u8[this.bits + (b >>> 3)]! & (1 << (b & 7))) === 0) return false;
    }
    return true;
  }

  pushElem(valueAddr: number, flags: number): number {
    return this.pushFrom(this.memory.u8, valueAddr, flags);
  }

  peekElem(valueAddr: number): number {
    return this.test(this.memory.u8, valueAddr) ? 0 : -ERRNO.ENOENT;
  }

  popElem(): number {
    return -ERRNO.EOPNOTSUPP;
  }

  has(value: Uint8Array): boolean {
    this.checkReadable();
    this.checkValue(value);
    return this.test(value, 0);
  }

  pop(): Uint8Array | undefined {
    return this.fail('EOPNOTSUPP', 'a bloom filter cannot pop');
  }

  /** Without a value there is nothing to ask: use has(value). */
  peek(): Uint8Array | undefined {
    return this.fail('EINVAL', 'bloom filter: use has(value)');
  }

  /** BPF_MAP_LOOKUP_ELEM on a bloom filter takes the value to test in place of the key; returns it when maybe present. */
  lookup(value?: Uint8Array): Uint8Array | undefined {
    if (!value) this.fail('EINVAL', 'bloom filter lookup needs the value to test');
    return this.has(value) ? value.slice() : undefined;
  }

  override delete(): void {
    this.fail('EOPNOTSUPP', 'bloom filter elements cannot be deleted');
  }
}
