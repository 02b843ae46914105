// Array-shaped maps: array, percpu_array, prog_array, array_of_maps, and the
// redirect targets devmap, cpumap, xskmap. Storage (the descriptor's STORAGE)
// is max_entries * ncpus slots of round_up(value_size, 8) bytes, index-major:
// the value of index i on CPU c is at STORAGE + (i * ncpus + c) * stride.
// prog_array and array_of_maps slots hold a u32 (program id / inner map
// handle, 0 = empty); the program objects themselves are kept on the JS side.

import type { LinearMemory } from '../memory.js';
import { MapBase, mapById, mapError, mapFromHandle } from './base.js';
import {
  type BpfMap, type BpfMapOfMaps, type BpfProgArray, type BpfRedirectMap, type MapCreateOptions,
  type MapCreateSpec, type ProgramRef, BPF_ANY, BPF_EXIST, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_MAP_TYPE,
  BPF_NOEXIST, ERRNO,
} from './types.js';

function u32le(b: Uint8Array, off = 0): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function u32bytes(v: number): Uint8Array {
  return new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);
}

/** Common array machinery: index keys, get_next_key, update flags. */
export abstract class ArrayLike extends MapBase {
  readonly storage: number;
  private readonly percpu: boolean;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions, percpu: boolean, region = true) {
    super(memory, spec, opts, percpu);
    this.percpu = percpu;
    const size = this.maxEntries * this.cpus * this.valueStride;
    this.storage = this.alloc(size);
    if (region) this.addRegion(this.storage, size);
    this.setStorage(this.storage);
  }

  override get isPerCpu(): boolean {
    return this.percpu;
  }

  /** Address of index i's value for CPU c. */
  slot(i: number, cpu = 0): number {
    return this.storage + (i * this.cpus + cpu) * this.valueStride;
  }

  protected index(key: Uint8Array): number {
    return u32le(this.checkKey(key));
  }

  protected keyIndexAt(keyAddr: number): number {
    return this.memory.view.getUint32(keyAddr, true);
  }

  nextKey(key?: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    const i = key === undefined ? -1 : this.index(key);
    if (key === undefined || i >= this.maxEntries) return this.maxEntries > 0 ? u32bytes(0) : undefined;
    if (i === this.maxEntries - 1) return undefined;
    return u32bytes(i + 1);
  }

  /** Common update flag checks: 0 or -errno. */
  protected checkFlags(flags: number): number {
    if (flags & BPF_F_LOCK) return -ERRNO.EINVAL;
    if (flags > BPF_EXIST || flags < 0) return -ERRNO.EINVAL;
    if (flags === BPF_NOEXIST) return -ERRNO.EEXIST;
    return 0;
  }

  protected throwErrno(errno: number, what: string): never {
    const name = (Object.keys(ERRNO) as (keyof typeof ERRNO)[]).find((k) => ERRNO[k] === errno) ?? 'EINVAL';
    throw mapError(name, what, this.name);
  }
}

/** BPF_MAP_TYPE_ARRAY and PERCPU_ARRAY: every index exists, values start zeroed. */
export class ArrayMap extends ArrayLike {
  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, spec.type === BPF_MAP_TYPE.PERCPU_ARRAY);
    if (spec.data) this.memory.u8.set(spec.data.subarray(0, this.valueSize), this.storage);
    this.register();
  }

  lookupElem(keyAddr: number, cpu: number): number {
    const i = this.keyIndexAt(keyAddr);
    return i < this.maxEntries ? this.slot(i, this.isPerCpu ? cpu : 0) : 0;
  }

  updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    const i = this.keyIndexAt(keyAddr);
    if (i >= this.maxEntries) return -ERRNO.E2BIG;
    const f = this.checkFlags(flags);
    if (f) return f;
    const a = this.slot(i, this.isPerCpu ? cpu : 0);
    this.memory.u8.copyWithin(a, valueAddr, valueAddr + this.valueSize);
    return 0;
  }

  deleteElem(): number {
    return -ERRNO.EINVAL;
  }

  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined {
    this.checkReadable();
    const i = this.index(key);
    return i < this.maxEntries ? this.copyOut(this.slot(i), cpu) : undefined;
  }

  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkWritable();
    const i = this.index(key);
    this.checkValue(value);
    if (i >= this.maxEntries) this.fail('E2BIG', `index ${i} is beyond max_entries ${this.maxEntries}`);
    const f = this.checkFlags(flags);
    if (f) this.throwErrno(-f, f === -ERRNO.EEXIST ? `index ${i} exists: array elements always do (BPF_NOEXIST)` : `invalid update flags 0x${flags.toString(16)}`);
    this.copyIn(this.slot(i), value);
  }

  delete(key: Uint8Array): void {
    this.checkWritable();
    this.index(key);
    this.fail('EINVAL', 'array elements cannot be deleted');
  }

  /** The value bytes of index i as a live view (no copy; valid until the memory grows). */
  view(i: number, cpu = 0): Uint8Array {
    const a = this.slot(i, cpu);
    return this.memory.u8.subarray(a, a + this.valueSize);
  }
}

/** A slot map whose values are "file descriptors" at the user-space API: only BPF_ANY, delete empties. */
abstract class FdArray extends ArrayLike {
  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, false, false);
  }

  protected used(i: number): number {
    return this.memory.view.getUint32(this.slot(i), true);
  }

  lookupElem(keyAddr: number, cpu: number): number {
    void keyAddr; void cpu;
    return 0;
  }

  updateElem(): number {
    return -ERRNO.EINVAL;
  }

  deleteElem(): number {
    return -ERRNO.EINVAL;
  }

  protected checkSlotUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    this.checkWritable();
    const i = this.index(key);
    this.checkValue(value);
    if (i >= this.maxEntries) this.fail('E2BIG', `index ${i} is beyond max_entries ${this.maxEntries}`);
    if (flags !== BPF_ANY) this.fail('EINVAL', `only BPF_ANY is allowed (flags 0x${flags.toString(16)})`);
    return i;
  }

  delete(key: Uint8Array): void {
    this.checkWritable();
    const i = this.index(key);
    if (i >= this.maxEntries) this.fail('E2BIG', `index ${i} is beyond max_entries ${this.maxEntries}`);
    if (this.used(i) === 0) this.fail('ENOENT', `slot ${i} is empty`);
    this.clear(i);
  }

  protected abstract clear(i: number): void;
}

/** BPF_MAP_TYPE_PROG_ARRAY: slots of programs for bpf_tail_call. */
export class ProgArrayMap extends FdArray implements BpfProgArray {
  private readonly progs: (ProgramRef | undefined)[];
  private readonly resolve: ((id: number) => ProgramRef | undefined) | undefined;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts);
    this.progs = new Array<ProgramRef | undefined>(this.maxEntries).fill(undefined);
    this.resolve = opts.resolveProgram;
    this.register();
  }

  getProgram(index: number): ProgramRef | undefined {
    return index >= 0 && index < this.maxEntries ? this.progs[index] : undefined;
  }

  /** Program id stored in slot i (what user space reads back), 0 = empty. */
  programId(index: number): number {
    return index >= 0 && index < this.maxEntries ? this.used(index) : 0;
  }

  setProgram(index: number, prog: ProgramRef | undefined, id?: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) this.fail('E2BIG', `index ${index} is beyond max_entries ${this.maxEntries}`);
    this.progs[index] = prog;
    const pid = prog === undefined ? 0 : id ?? ((prog as { id?: unknown }).id as number | undefined) ?? index + 1;
    this.memory.view.setUint32(this.slot(index), pid >>> 0, true);
  }

  protected clear(i: number): void {
    this.setProgram(i, undefined);
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    const i = this.index(key);
    if (i >= this.maxEntries || this.used(i) === 0) return undefined;
    return u32bytes(this.used(i));
  }

  /** The value is a program id, resolved by MapCreateOptions.resolveProgram (EBADF when unknown). */
  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    const i = this.checkSlotUpdate(key, value, flags);
    const id = u32le(value);
    const prog = this.resolve?.(id);
    if (prog === undefined) this.fail('EBADF', `no program with id ${id}`);
    this.setProgram(i, prog, id);
  }
}

/** Does `inner` match the template the map-in-map was created with (kernel's meta-equal rule)? */
export function innerMatches(tpl: MapCreateSpec, inner: BpfMap): boolean {
  const tflags = tpl.flags ?? 0;
  return inner.type === tpl.type && inner.keySize === tpl.keySize && inner.valueSize === tpl.valueSize &&
    inner.flags === tflags && (inner.maxEntries === tpl.maxEntries || (tflags & BPF_F_INNER_MAP) !== 0);
}

/** BPF_MAP_TYPE_ARRAY_OF_MAPS: slots hold inner map handles; a program lookup returns the handle. */
export class ArrayOfMapsMap extends FdArray implements BpfMapOfMaps {
  readonly template: MapCreateSpec;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions, template: MapCreateSpec) {
    super(memory, spec, opts);
    this.template = template;
    this.register();
  }

  override lookupElem(keyAddr: number): number {
    const i = this.keyIndexAt(keyAddr);
    return i < this.maxEntries ? this.used(i) : 0;
  }

  getInner(key: Uint8Array): BpfMap | undefined {
    const i = this.index(key);
    if (i >= this.maxEntries) return undefined;
    const h = this.used(i);
    return h === 0 ? undefined : mapFromHandle(this.memory, h);
  }

  setInner(key: Uint8Array, inner: BpfMap, flags = BPF_ANY): void {
    const i = this.checkSlotUpdate(key, u32bytes(0), flags);
    if (inner.memory !== this.memory) this.fail('EINVAL', `inner map '${inner.name}' lives in another memory`);
    if (!innerMatches(this.template, inner)) this.fail('EINVAL', `inner map '${inner.name}' does not match the template (type, sizes, flags, max_entries)`);
    this.memory.view.setUint32(this.slot(i), inner.handle, true);
  }

  protected clear(i: number): void {
    this.memory.view.setUint32(this.slot(i), 0, true);
  }

  /** User space reads the inner map's id. */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    const m = this.getInner(key);
    return m ? u32bytes(m.id) : undefined;
  }

  /** The value is an inner map id (what an fd names here). */
  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkSlotUpdate(key, value, flags);
    const inner = mapById(this.memory, u32le(value));
    if (!inner) this.fail('EBADF', `no map with id ${u32le(value)}`);
    this.setInner(key, inner, flags);
  }
}


/**
 * devmap, cpumap, xskmap: array slots with presence. The values are stored
 * as given (devmap: ifindex[, prog fd]; cpumap: qsize[, prog fd]; xskmap:
 * socket fd) and read by bpf_redirect_map through `redirectTarget`; the
 * kernel's checks against real interfaces, CPUs and sockets are not made.
 */
export class RedirectArrayMap extends ArrayLike implements BpfRedirectMap {
  private readonly present: Uint8Array;

  constructor(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions) {
    super(memory, spec, opts, false);
    this.present = new Uint8Array(this.maxEntries);
    this.register();
  }

  redirectTarget(key: number): Uint8Array | undefined {
    if (!(key >= 0 && key < this.maxEntries) || !this.present[key]) return undefined;
    const a = this.slot(key);
    return this.memory.u8.slice(a, a + this.valueSize);
  }

  isPresent(i: number): boolean {
    return i >= 0 && i < this.maxEntries && this.present[i] === 1;
  }

  lookupElem(keyAddr: number): number {
    const i = this.keyIndexAt(keyAddr);
    return i < this.maxEntries && this.present[i] ? this.slot(i) : 0;
  }

  updateElem(): number {
    return -ERRNO.EINVAL;
  }

  deleteElem(): number {
    return -ERRNO.EINVAL;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkReadable();
    const i = this.index(key);
    return this.redirectTarget(i);
  }

  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkWritable();
    const i = this.index(key);
    this.checkValue(value);
    if (i >= this.maxEntries) this.fail('E2BIG', `index ${i} is beyond max_entries ${this.maxEntries}`);
    const f = this.checkFlags(flags);
    if (f) this.throwErrno(-f, f === -ERRNO.EEXIST ? `index ${i}: BPF_NOEXIST is refused on ${this.type === BPF_MAP_TYPE.DEVMAP ? 'devmap' : 'this map'}` : `invalid update flags 0x${flags.toString(16)}`);
    this.memory.u8.set(value, this.slot(i));
    this.present[i] = 1;
  }

  delete(key: Uint8Array): void {
    this.checkWritable();
    const i = this.index(key);
    if (i >= this.maxEntries) this.fail('EINVAL', `index ${i} is beyond max_entries ${this.maxEntries}`);
    this.present[i] = 0;
    this.memory.u8.fill(0, this.slot(i), this.slot(i) + this.valueStride);
  }

  override *keys(): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.maxEntries; i++) if (this.present[i]) yield u32bytes(i);
  }
}
