// BPF_MAP_TYPE_RINGBUF: a multi-producer, single-consumer ring of records,
// max_entries bytes of data (a power of two, a multiple of 4096).
//
// Layout (descriptor STORAGE -> header):
//   +0  consumer position (u64, bytes consumed since creation)
//   +8  producer position (u64)
//   +16 mask (size - 1)
//   +20 data address
// data: 2 * size bytes. A record starts at data + (pos & mask) with the
// kernel's 8-byte header: u32 length | BUSY (1<<31) while reserved |
// DISCARD (1<<30) when discarded, then u32 page offset of the header from
// the ring header. The record's bytes follow, and the record occupies
// round_up(len + 8, 8) bytes. A record that runs past the end of the ring
// continues into the second half (so a program always gets a contiguous
// sample, as the kernel's double mapping gives it); on submit the part past
// the end is copied to the start of the ring, so the ring is also correct
// read modulo its size.
//
// Reserve fails (NULL / -EAGAIN for output) when the record would make the
// unconsumed bytes exceed the ring size. The consumer stops at the first
// record still BUSY, skips DISCARDed ones, and advances the consumer position.

import { RecordConsumer } from './consumer.js';
import type { LinearMemory } from '../memory.js';
import { MapBase } from './base.js';
import {
  type BpfRingBuf, type MapCreateOptions, type MapCreateSpec, type RingRecord,
  BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, BPF_RB_PROD_POS,
  BPF_RB_RING_SIZE, BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ, ERRNO,
} from './types.js';

export const RINGBUF_HDR = { CONS_POS: 0, PROD_POS: 8, MASK: 16, DATA: 20 } as const;
/** Largest record the kernel accepts (RINGBUF_MAX_RECORD_SZ). */
export const RINGBUF_MAX_RECORD = 0xffffffff >>> 2;

/** Rings of each memory by data address (to find the ring of a sample pointer). */
const rings = new WeakMap<LinearMemory, Map<number, RingBufMap>>();

export function ringByData(memory: LinearMemory, data: number): RingBufMap | undefined {
  return rings.get(memory)?.get(data);
}

export class RingBufMap extends MapBase implements BpfRingBuf {
  readonly size: number;
  readonly hdr: number;
  readonly data: number;
  private readonly consumer = new RecordConsumer<RingRecord>(() => this.next());

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, false);
    this.size = this.maxEntries;
    this.hdr = this.alloc(32);
    this.data = this.alloc(this.size * 2);
    this.addRegion(this.data, this.size * 2, 'ringbuf');
    const dv = memory.view;
    dv.setUint32(this.hdr + RINGBUF_HDR.MASK, this.size - 1, true);
    dv.setUint32(this.hdr + RINGBUF_HDR.DATA, this.data, true);
    this.setStorage(this.hdr);
    this.register();
    let byData = rings.get(memory);
    if (!byData) rings.set(memory, (byData = new Map()));
    byData.set(this.data, this);
  }

  get consumerPos(): number {
    return Number(this.memory.view.getBigUint64(this.hdr + RINGBUF_HDR.CONS_POS, true));
  }

  get producerPos(): number {
    return Number(this.memory.view.getBigUint64(this.hdr + RINGBUF_HDR.PROD_POS, true));
  }

  private setPos(off: number, v: number): void {
    this.memory.view.setBigUint64(this.hdr + off, BigInt(v), true);
  }

  // ---- program side ----

  reserve(size: number, flags: number): number {
    if (flags !== 0 || size > RINGBUF_MAX_RECORD || size < 0) return 0;
    const total = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    const cons = this.consumerPos;
    const prod = this.producerPos;
    if (total > this.size || prod + total - cons > this.size) return 0;
    const h = this.data + (prod & (this.size - 1));
    const dv = this.memory.view;
    dv.setUint32(h, (size | BPF_RINGBUF_BUSY_BIT) >>> 0, true);
    dv.setUint32(h + 4, Math.floor((h - this.hdr) / 4096), true);
    this.setPos(RINGBUF_HDR.PROD_POS, prod + total);
    return h + BPF_RINGBUF_HDR_SZ;
  }

  /** Is `sample` a reserved, not yet committed record of this ring? */
  isReserved(sample: number): boolean {
    const h = sample - BPF_RINGBUF_HDR_SZ;
    if (h < this.data || h >= this.data + this.size || (h - this.data) % 8 !== 0) return false;
    return (this.memory.view.getUint32(h, true) & BPF_RINGBUF_BUSY_BIT) !== 0;
  }

  private commit(sample: number, flags: number, discard: boolean): void {
    const h = sample - BPF_RINGBUF_HDR_SZ;
    const dv = this.memory.view;
    const len = dv.getUint32(h, true) & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    const end = h - this.data + ((len + BPF_RINGBUF_HDR_SZ + 7) & ~7);
    if (end > this.size) this.memory.u8.copyWithin(this.data, this.data + this.size, this.data + end);
    dv.setUint32(h, (len | (discard ? BPF_RINGBUF_DISCARD_BIT : 0)) >>> 0, true);
    if ((flags & BPF_RB_NO_WAKEUP) === 0 || (flags & BPF_RB_FORCE_WAKEUP) !== 0) this.consumer.wake();
  }

  submit(sample: number, flags: number): void {
    this.commit(sample, flags, false);
  }

  discard(sample: number, flags: number): void {
    this.commit(sample, flags, true);
  }

  output(dataAddr: number, size: number, flags: number): number {
    if (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) return -ERRNO.EINVAL;
    const s = this.reserve(size, 0);
    if (s === 0) return -ERRNO.EAGAIN;
    this.memory.u8.copyWithin(s, dataAddr, dataAddr + size);
    this.submit(s, flags);
    return 0;
  }

  query(flags: number): bigint {
    switch (flags) {
      case BPF_RB_AVAIL_DATA: return BigInt(this.producerPos - this.consumerPos);
      case BPF_RB_RING_SIZE: return BigInt(this.size);
      case BPF_RB_CONS_POS: return BigInt(this.consumerPos);
      case BPF_RB_PROD_POS: return BigInt(this.producerPos);
      default: return 0n;
    }
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

  // ---- consumer ----

  /** The next committed record (advancing the consumer past discarded ones), or undefined. */
  next(): RingRecord | undefined {
    const dv = this.memory.view;
    for (;;) {
      const cons = this.consumerPos;
      if (cons >= this.producerPos) return undefined;
      const h = this.data + (cons & (this.size - 1));
      const w = dv.getUint32(h, true);
      if (w & BPF_RINGBUF_BUSY_BIT) return undefined;
      const len = w & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      this.setPos(RINGBUF_HDR.CONS_POS, cons + ((len + BPF_RINGBUF_HDR_SZ + 7) & ~7));
      if (w & BPF_RINGBUF_DISCARD_BIT) continue;
      return this.memory.u8.slice(h + BPF_RINGBUF_HDR_SZ, h + BPF_RINGBUF_HDR_SZ + len);
    }
  }

  consume(cb: (rec: RingRecord) => boolean | void): number {
    return this.consumer.consume(cb);
  }

  /** End pending async iterations (they finish once the ring is drained). */
  close(): void {
    this.consumer.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<RingRecord> {
    return this.consumer.iterator();
  }

  // ---- user space map API: a ring buffer has no elements ----

  lookup(): Uint8Array | undefined {
    return this.fail('ENOTSUPP', 'ring buffers have no elements to look up');
  }

  update(): void {
    this.fail('ENOTSUPP', 'ring buffers have no elements to update');
  }

  delete(): void {
    this.fail('ENOTSUPP', 'ring buffers have no elements to delete');
  }

  nextKey(): Uint8Array | undefined {
    return this.fail('ENOTSUPP', 'ring buffers have no keys');
  }

  override *keys(): IterableIterator<Uint8Array> { /* none */ }

  override *entries(): IterableIterator<[Uint8Array, Uint8Array]> { /* none */ }

  override destroy(): void {
    this.close();
    rings.get(this.memory)?.delete(this.data);
    super.destroy();
  }
}
