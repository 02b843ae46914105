// BPF_MAP_TYPE_PERF_EVENT_ARRAY: bpf_perf_event_output sends a record to the
// perf event stored at an index (usually the current CPU's). Here a "perf
// event" is a reader opened with `open(cpu)` (what a perf buffer does in
// libbpf), and records wait in a JS queue per index until consumed; nothing
// of them lives in linear memory. The storage is u32[max_entries]: 1 where a
// reader is open.
//
// Records are delivered as libbpf's perf buffer delivers them: the raw sample
// padded with zeros so that 4 + size is a multiple of 8.

import { RecordConsumer } from './consumer.js';
import type { LinearMemory } from '../memory.js';
import { MapBase } from './base.js';
import { u32bytes } from './array.js';
import {
  type BpfPerfEventArray, type MapCreateOptions, type MapCreateSpec, type PerfRecord,
  BPF_ANY, BPF_F_CTXLEN_MASK, BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK, ERRNO,
} from './types.js';

export class PerfEventArrayMap extends MapBase implements BpfPerfEventArray {
  readonly storage: number;
  private readonly readers: (PerfRecord[] | undefined)[];
  private readonly limit: number;
  private order: { index: number }[] = [];
  private readonly consumer = new RecordConsumer<PerfRecord>(() => this.next());
  lost = 0;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, false);
    this.storage = this.alloc(this.maxEntries * 4);
    this.setStorage(this.storage);
    this.readers = new Array<PerfRecord[] | undefined>(this.maxEntries).fill(undefined);
    this.limit = opts.perfQueueLimit ?? 65536;
    this.register();
  }

  open(cpu?: number): void {
    if (cpu === undefined) {
      for (let i = 0; i < this.maxEntries; i++) this.open(i);
      return;
    }
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.maxEntries) this.fail('E2BIG', `index ${cpu} is beyond max_entries ${this.maxEntries}`);
    this.readers[cpu] ??= [];
    this.memory.view.setUint32(this.storage + cpu * 4, 1, true);
  }

  /** Program side: 0 or -errno. `cpu` is the calling CPU. */
  output(flags: bigint, dataAddr: number, size: number, cpu: number, extra?: Uint8Array): number {
    if (flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK)) return -ERRNO.EINVAL;
    let index = Number(flags & BPF_F_INDEX_MASK);
    if (BigInt(index) === BPF_F_CURRENT_CPU) index = cpu;
    if (index >= this.maxEntries) return -ERRNO.E2BIG;
    const q = this.readers[index];
    if (!q) return -ERRNO.ENOENT;
    if (index !== cpu) return -ERRNO.EOPNOTSUPP; // the event belongs to another CPU
    if (q.length >= this.limit) {
      this.lost++;
      return -ERRNO.ENOSPC;
    }
    const raw = size + (extra?.length ?? 0);
    const padded = ((raw + 4 + 7) & ~7) - 4;
    const data = new Uint8Array(padded);
    data.set(this.memory.u8.subarray(dataAddr, dataAddr + size));
    if (extra) data.set(extra, size);
    q.push({ cpu, data });
    this.order.push({ index });
    this.consumer.wake();
    return 0;
  }

  private next(): PerfRecord | undefined {
    while (this.order.length) {
      const { index } = this.order.shift()!;
      const r = this.readers[index]?.shift();
      if (r) return r;
    }
    return undefined;
  }

  consume(cb: (rec: PerfRecord) => boolean | void): number {
    return this.consumer.consume(cb);
  }

  close(): void {
    this.consumer.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<PerfRecord> {
    return this.consumer.iterator();
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

  private idx(key: Uint8Array): number {
    this.checkKey(key);
    return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    const i = this.idx(key);
    return i < this.maxEntries && this.readers[i] ? u32bytes(1) : undefined;
  }

  /** Storing any value opens a reader at that index (the value, a perf event fd in the kernel, is ignored). */
  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkWritable();
    const i = this.idx(key);
    this.checkValue(value);
    if (flags !== BPF_ANY) this.fail('EINVAL', `only BPF_ANY is allowed (flags 0x${flags.toString(16)})`);
    if (i >= this.maxEntries) this.fail('E2BIG', `index ${i} is beyond max_entries ${this.maxEntries}`);
    this.open(i);
  }

  delete(key: Uint8Array): void {
    this.checkWritable();
    const i = this.idx(key);
    if (i >= this.maxEntries) this.fail('E2BIG', `index ${i} is beyond max_entries ${this.maxEntries}`);
    if (!this.readers[i]) this.fail('ENOENT', `no perf event at index ${i}`);
    this.readers[i] = undefined;
    this.memory.view.setUint32(this.storage + i * 4, 0, true);
  }

  nextKey(key?: Uint8Array): Uint8Array | undefined {
    const i = key === undefined ? -1 : this.idx(key);
    if (key === undefined || i >= this.maxEntries) return this.maxEntries > 0 ? u32bytes(0) : undefined;
    return i + 1 < this.maxEntries ? u32bytes(i + 1) : undefined;
  }

  override *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (let i = 0; i < this.maxEntries; i++) if (this.readers[i]) yield [u32bytes(i), u32bytes(1)];
  }

  override destroy(): void {
    this.close();
    super.destroy();
  }
}
