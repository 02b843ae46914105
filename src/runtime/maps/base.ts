// What every map shares: the descriptor in linear memory (types.ts DESC),
// the per-memory registry behind mapFromHandle, errno-style errors, access
// flags (frozen, BPF_F_RDONLY/WRONLY), typed views and dumps, and default
// batch operations built on the per-type primitives.

import type { Btf, BtfValue } from '../../elf/btf.js';
import { MapError, isTsbpfError } from '../../errors.js';
import type { LinearMemory } from '../memory.js';
import { dumpJson, dumpText } from './dump.js';
import {
  type BatchResult, type BpfMap, type ErrnoName, type MapCreateOptions, type MapCreateSpec,
  BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY, DESC, ERRNO, MAP_DESC_MAGIC, MAP_DESC_SIZE,
} from './types.js';

/** Maps of one memory by descriptor address, and by id. */
interface Registry {
  readonly byHandle: Map<number, BpfMap>;
  readonly byId: Map<number, BpfMap>;
}
const registries = new WeakMap<LinearMemory, Registry>();
let nextId = 1;

export function registryOf(memory: LinearMemory): Registry {
  let r = registries.get(memory);
  if (!r) {
    r = { byHandle: new Map(), byId: new Map() };
    registries.set(memory, r);
  }
  return r;
}

/** The map whose descriptor is at `addr` (a map handle held in a register), or undefined. */
export function mapFromHandle(memory: LinearMemory, addr: number | bigint): BpfMap | undefined {
  const a = typeof addr === 'bigint' ? (addr >= 0n && addr < 0x100000000n ? Number(addr) : -1) : addr;
  return a > 0 ? registries.get(memory)?.byHandle.get(a) : undefined;
}

/** The live map with this id in `memory` (what a user-space map "fd" names here). */
export function mapById(memory: LinearMemory, id: number): BpfMap | undefined {
  return registries.get(memory)?.byId.get(id);
}

export function mapError(code: ErrnoName, reason: string, map?: string, count?: number): MapError {
  return new MapError(code, ERRNO[code], reason, map, count);
}

export function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

/** Hex of bytes for messages. */
export function hexBytes(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length && i < 64; i++) s += b[i]!.toString(16).padStart(2, '0');
  return b.length > 64 ? s + '...' : s;
}

export abstract class MapBase implements BpfMap {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly id: number;
  readonly cpus: number;
  readonly memory: LinearMemory;
  readonly handle: number;
  readonly btf?: Btf;
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  /** round_up(valueSize, 8). */
  readonly valueStride: number;
  frozen = false;
  /** Blocks of linear memory owned by this map (freed by destroy). */
  protected readonly blocks: number[] = [];
  private destroyed = false;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions, percpu: boolean) {
    this.memory = memory;
    this.name = spec.name;
    this.type = spec.type;
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.flags = spec.flags ?? 0;
    this.cpus = percpu ? Math.max(1, opts.cpus ?? 1) : 1;
    if (opts.btf) this.btf = opts.btf;
    this.btfKeyTypeId = spec.btfKeyTypeId ?? 0;
    this.btfValueTypeId = spec.btfValueTypeId ?? 0;
    this.valueStride = roundUp8(this.valueSize);
    this.id = nextId++;
    this.handle = this.alloc(MAP_DESC_SIZE);
    const dv = memory.view;
    const h = this.handle;
    dv.setUint32(h + DESC.MAGIC, MAP_DESC_MAGIC, true);
    dv.setUint32(h + DESC.ID, this.id, true);
    dv.setUint32(h + DESC.TYPE, this.type, true);
    dv.setUint32(h + DESC.KEY_SIZE, this.keySize, true);
    dv.setUint32(h + DESC.VALUE_SIZE, this.valueSize, true);
    dv.setUint32(h + DESC.MAX_ENTRIES, this.maxEntries, true);
    dv.setUint32(h + DESC.FLAGS, this.flags >>> 0, true);
    dv.setUint32(h + DESC.VALUE_STRIDE, this.valueStride, true);
    dv.setUint32(h + DESC.NCPUS, this.cpus, true);
  }

  /** Put the map in the registry (after the subclass allocated its storage). */
  protected register(): void {
    const r = registryOf(this.memory);
    r.byHandle.set(this.handle, this);
    r.byId.set(this.id, this);
  }

  protected setStorage(addr: number): void {
    this.memory.view.setUint32(this.handle + DESC.STORAGE, addr, true);
  }

  /** Allocate linear memory owned by the map; ENOMEM when the memory cannot grow. */
  protected alloc(size: number, align = 8): number {
    let a: number;
    try {
      a = this.memory.alloc(size, align);
    } catch (e) {
      for (const b of this.blocks.splice(0)) this.memory.free(b);
      if (isTsbpfError(e) && e.name === 'MemoryError') {
        throw mapError('ENOMEM', `cannot allocate ${size} bytes of linear memory (${e.message})`, this.name);
      }
      throw e;
    }
    this.blocks.push(a);
    return a;
  }

  /** Declare [start, start+size) a region programs may touch (checked mode). */
  protected addRegion(start: number, size: number, what = 'map_value'): void {
    if (size > 0) this.memory.addRegion(start, size, `${what}:${this.name}`, (this.flags & BPF_F_RDONLY_PROG) === 0);
  }

  protected fail(code: ErrnoName, reason: string, count?: number): never {
    throw mapError(code, reason, this.name, count);
  }

  protected checkKey(key: Uint8Array | undefined): Uint8Array {
    if (!(key instanceof Uint8Array) || key.length !== this.keySize) {
      this.fail('EINVAL', `key must be ${this.keySize} bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
    }
    return key;
  }

  /** Size in bytes of a value at the user-space API (all CPUs for per-CPU maps). */
  get userValueSize(): number {
    return this.isPerCpu ? this.valueStride * this.cpus : this.valueSize;
  }

  get isPerCpu(): boolean {
    return false;
  }

  protected checkValue(value: Uint8Array | undefined): Uint8Array {
    if (!(value instanceof Uint8Array)) this.fail('EINVAL', `value must be a Uint8Array`);
    if (value.length === this.valueSize) return value;
    if (this.isPerCpu && value.length === this.valueStride * this.cpus) return value;
    return this.fail('EINVAL', `value must be ${this.valueSize} bytes${this.isPerCpu ? ` (or ${this.valueStride * this.cpus} for all CPUs)` : ''}, got ${value.length}`);
  }

  /** User-space write allowed? (not frozen, not BPF_F_RDONLY). */
  protected checkWritable(): void {
    if (this.destroyed) this.fail('EBADF', 'map was destroyed');
    if (this.frozen) this.fail('EPERM', 'map is frozen');
    if (this.flags & BPF_F_RDONLY) this.fail('EPERM', 'map was created BPF_F_RDONLY');
  }

  protected checkReadable(): void {
    if (this.destroyed) this.fail('EBADF', 'map was destroyed');
    if (this.flags & BPF_F_WRONLY) this.fail('EPERM', 'map was created BPF_F_WRONLY');
  }

  /**
   * Copy the value(s) at `addr` out for user space: one value, or every
   * CPU's (each padded to 8 bytes) when per-CPU, or CPU `cpu`'s.
   */
  protected copyOut(addr: number, cpu?: number): Uint8Array {
    const u8 = this.memory.u8;
    if (!this.isPerCpu) return u8.slice(addr, addr + this.valueSize);
    if (cpu !== undefined) {
      if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) this.fail('EINVAL', `cpu ${cpu} out of range (map has ${this.cpus})`);
      const a = addr + cpu * this.valueStride;
      return u8.slice(a, a + this.valueSize);
    }
    return u8.slice(addr, addr + this.valueStride * this.cpus);
  }

  /** Write a user value at `addr`: per-CPU maps take all CPUs, or one value copied to each. */
  protected copyIn(addr: number, value: Uint8Array): void {
    const u8 = this.memory.u8;
    if (!this.isPerCpu) {
      u8.set(value, addr);
      return;
    }
    if (value.length === this.valueSize) {
      for (let c = 0; c < this.cpus; c++) {
        const a = addr + c * this.valueStride;
        u8.set(value, a);
        u8.fill(0, a + this.valueSize, a + this.valueStride);
      }
    } else {
      u8.set(value, addr);
    }
  }

  // ---- user space ----

  abstract lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined;
  abstract update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  abstract delete(key: Uint8Array): void;
  abstract nextKey(key?: Uint8Array): Uint8Array | undefined;
  abstract lookupElem(keyAddr: number, cpu: number): number;
  abstract updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  abstract deleteElem(keyAddr: number): number;

  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    const v = this.lookup(key);
    if (!v) return undefined;
    if (!this.isPerCpu) return [v];
    const out: Uint8Array[] = [];
    for (let c = 0; c < this.cpus; c++) out.push(v.slice(c * this.valueStride, c * this.valueStride + this.valueSize));
    return out;
  }

  *keys(): IterableIterator<Uint8Array> {
    this.checkReadable();
    let k = this.nextKey(undefined);
    let guard = 0;
    const limit = this.maxEntries + 1;
    while (k !== undefined && guard++ < limit) {
      yield k;
      k = this.nextKey(k);
    }
  }

  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  lookupAndDelete(key: Uint8Array): Uint8Array | undefined {
    void key;
    return this.fail('ENOTSUPP', 'lookup_and_delete is not supported for this map type');
  }

  /**
   * Default batch lookup: `cursor` is the number of keys already returned
   * in get_next_key order. Hash maps override it with bucket cursors.
   */
  lookupBatch(count: number, cursor?: number): BatchResult {
    return this.batch(count, cursor, false);
  }

  lookupAndDeleteBatch(count: number, cursor?: number): BatchResult {
    return this.batch(count, cursor, true);
  }

  protected batch(count: number, cursor: number | undefined, del: boolean): BatchResult {
    this.checkReadable();
    if (del) this.checkWritable();
    if (!Number.isInteger(count) || count <= 0) this.fail('EINVAL', `batch count must be a positive integer, got ${count}`);
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    let skip = del ? 0 : cursor ?? 0;
    let k = this.nextKey(undefined);
    while (k !== undefined && skip > 0) { k = this.nextKey(k); skip--; }
    while (k !== undefined && keys.length < count) {
      const v = this.lookup(k);
      if (v !== undefined) { keys.push(k); values.push(v); }
      k = this.nextKey(k);
    }
    if (del) for (const key of keys) this.delete(key);
    const more = k !== undefined;
    return more ? { keys, values, cursor: (del ? 0 : cursor ?? 0) + keys.length } : { keys, values };
  }

  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], flags = 0): number {
    if (keys.length !== values.length) this.fail('EINVAL', `${keys.length} keys but ${values.length} values`);
    for (let i = 0; i < keys.length; i++) {
      try {
        this.update(keys[i]!, values[i]!, flags);
      } catch (e) {
        if (isTsbpfError(e) && e.name === 'MapError') {
          const m = e as MapError;
          throw new MapError(m.code, m.errno, `batch element ${i}: ${m.reason}`, this.name, i);
        }
        throw e;
      }
    }
    return keys.length;
  }

  deleteBatch(keys: readonly Uint8Array[]): number {
    for (let i = 0; i < keys.length; i++) {
      try {
        this.delete(keys[i]!);
      } catch (e) {
        if (isTsbpfError(e) && e.name === 'MapError') {
          const m = e as MapError;
          throw new MapError(m.code, m.errno, `batch element ${i}: ${m.reason}`, this.name, i);
        }
        throw e;
      }
    }
    return keys.length;
  }

  freeze(): void {
    if (this.destroyed) this.fail('EBADF', 'map was destroyed');
    if (this.frozen) this.fail('EBUSY', 'map is already frozen');
    this.frozen = true;
    this.memory.view.setUint32(this.handle + DESC.FROZEN, 1, true);
  }

  // ---- typed views ----

  format(which: 'key' | 'value', bytes: Uint8Array): BtfValue {
    const id = which === 'key' ? this.btfKeyTypeId : this.btfValueTypeId;
    if (this.btf && id) return this.btf.formatValue(id, bytes);
    return Array.from(bytes);
  }

  dump(): string {
    return dumpText(this);
  }

  dumpJson(): unknown[] {
    return JSON.parse(dumpJson(this)) as unknown[];
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const r = registryOf(this.memory);
    r.byHandle.delete(this.handle);
    r.byId.delete(this.id);
    for (const b of this.blocks.splice(0)) this.memory.free(b);
  }
}
