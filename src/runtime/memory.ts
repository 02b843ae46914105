// The linear memory of a runtime (DESIGN.md, "Memory model").
//
// One WebAssembly.Memory holds every byte a program can touch: stacks,
// contexts, packets, map storage. A pointer in a register is an address in
// it. Addresses 0..NULL_GUARD-1 are never handed out, so NULL (0) and small
// offsets from it never name valid memory.
//
// Two pieces of bookkeeping sit beside the bytes:
// - an allocator (first-fit over a sorted free list, coalescing on free);
// - a region table: named, non-overlapping [start, end) ranges a program
//   may access, each readable and optionally writable. Checked mode tests
//   every load/store against it; verified programs do not need it.
//
// Growing a WebAssembly.Memory detaches its old ArrayBuffer (unshared case),
// so views are cached here and refreshed by `refresh()`; engines that keep a
// view in a local must re-read `u8`/`view` after anything that may allocate
// (a helper call).

import { MemoryError } from '../errors.js';

export const WASM_PAGE = 65536;
/** Addresses below this are never mapped: a NULL dereference always faults. */
export const NULL_GUARD = 4096;
/** The whole memory stays below 4 GiB (32-bit pointer fields hold real addresses). */
export const MAX_PAGES = 65536;

export interface Region {
  readonly start: number;
  /** Exclusive end. */
  readonly end: number;
  /** 'stack', 'mem', 'ctx', 'packet', 'map_value:NAME', ... */
  readonly name: string;
  readonly writable: boolean;
}

export interface LinearMemoryOptions {
  /** Initial size in 64 KiB pages (default 1). */
  readonly initialPages?: number;
  /** Maximum size in pages (default 65536 = 4 GiB). */
  readonly maximumPages?: number;
  /** Back the memory by a SharedArrayBuffer (for worker threads); needs a maximum. */
  readonly shared?: boolean;
  /** Adopt an existing memory instead of creating one. */
  readonly memory?: WebAssembly.Memory;
}

interface Block {
  start: number;
  size: number;
}

export class LinearMemory {
  readonly wasm: WebAssembly.Memory;
  readonly maximumPages: number;
  /** Byte view of the whole memory; valid until the next growth (see refresh). */
  u8!: Uint8Array;
  /** DataView over the whole memory; valid until the next growth. */
  view!: DataView;
  /** Word views for Atomics on a shared memory (index = address / 4 or / 8). */
  i32!: Int32Array;
  i64!: BigInt64Array;
  /** Backed by a SharedArrayBuffer: atomics must use Atomics.*. */
  readonly shared: boolean;
  /** Bumped whenever the views are replaced. */
  generation = 0;

  /** Free blocks, sorted by start, never adjacent (coalesced). */
  private readonly freeList: Block[] = [];
  /** Allocated blocks: start -> size. */
  private readonly used = new Map<number, number>();
  /** Regions sorted by start, non-overlapping. */
  private readonly regions: Region[] = [];

  constructor(opts: LinearMemoryOptions = {}) {
    this.maximumPages = Math.min(opts.maximumPages ?? MAX_PAGES, MAX_PAGES);
    if (opts.memory) {
      this.wasm = opts.memory;
    } else {
      const initial = Math.max(1, opts.initialPages ?? 1);
      if (initial > this.maximumPages) {
        throw new MemoryError('MEM_OPTIONS', `initial size ${initial} pages exceeds the maximum ${this.maximumPages}`);
      }
      const desc: WebAssembly.MemoryDescriptor = { initial, maximum: this.maximumPages };
      if (opts.shared) desc.shared = true;
      this.wasm = new WebAssembly.Memory(desc);
    }
    this.shared = typeof SharedArrayBuffer !== 'undefined' && this.wasm.buffer instanceof SharedArrayBuffer;
    this.refresh();
    const size = this.u8.length;
    if (size > NULL_GUARD) this.freeList.push({ start: NULL_GUARD, size: size - NULL_GUARD });
  }

  /** Size in bytes. */
  get size(): number {
    return this.wasm.buffer.byteLength;
  }

  /** Re-create the cached views if the memory grew. Cheap when it did not. */
  refresh(): void {
    const buf = this.wasm.buffer;
    if (this.u8 && this.u8.buffer === buf && this.u8.length === buf.byteLength) return;
    this.u8 = new Uint8Array(buf);
    this.view = new DataView(buf);
    this.i32 = new Int32Array(buf, 0, buf.byteLength >>> 2);
    this.i64 = new BigInt64Array(buf, 0, buf.byteLength >>> 3);
    this.generation++;
  }

  // ---- allocator ----------------------------------------------------------

  /**
   * Allocate `size` bytes aligned to `align` (a power of two, default 8).
   * The block is zero-filled. Throws MemoryError when the memory cannot grow.
   */
  alloc(size: number, align = 8): number {
    if (!Number.isInteger(size) || size < 0) throw new MemoryError('MEM_BAD_SIZE', `bad allocation size ${size}`);
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0 || align > WASM_PAGE) {
      throw new MemoryError('MEM_BAD_ALIGN', `bad alignment ${align}`);
    }
    const n = Math.max(8, alignUp(size, 8));
    for (;;) {
      for (let i = 0; i < this.freeList.length; i++) {
        const b = this.freeList[i]!;
        const start = alignUp(b.start, align);
        const pad = start - b.start;
        if (pad + n > b.size) continue;
        // Split: [b.start, start) stays free, [start, start+n) is used, the rest stays free.
        const rest = b.size - pad - n;
        const repl: Block[] = [];
        if (pad > 0) repl.push({ start: b.start, size: pad });
        if (rest > 0) repl.push({ start: start + n, size: rest });
        this.freeList.splice(i, 1, ...repl);
        this.used.set(start, n);
        this.u8.fill(0, start, start + n);
        return start;
      }
      this.grow(n + align);
    }
  }

  /** Release a block returned by alloc. Regions inside it are removed too. */
  free(addr: number): void {
    const n = this.used.get(addr);
    if (n === undefined) throw new MemoryError('MEM_BAD_FREE', `free of 0x${addr.toString(16)}: not an allocated block`);
    this.used.delete(addr);
    for (let i = this.regions.length - 1; i >= 0; i--) {
      const r = this.regions[i]!;
      if (r.start >= addr && r.start < addr + n) this.regions.splice(i, 1);
    }
    this.insertFree(addr, n);
  }

  /** Size of the allocated block at addr, or undefined. */
  sizeOf(addr: number): number | undefined {
    return this.used.get(addr);
  }

  /** Bytes currently allocated. */
  get allocatedBytes(): number {
    let t = 0;
    for (const n of this.used.values()) t += n;
    return t;
  }

  private insertFree(start: number, size: number): void {
    const fl = this.freeList;
    let lo = 0;
    let hi = fl.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (fl[mid]!.start < start) lo = mid + 1; else hi = mid;
    }
    const prev = lo > 0 ? fl[lo - 1]! : undefined;
    const next = lo < fl.length ? fl[lo]! : undefined;
    if (prev && prev.start + prev.size === start) {
      prev.size += size;
      if (next && prev.start + prev.size === next.start) {
        prev.size += next.size;
        fl.splice(lo, 1);
      }
    } else if (next && start + size === next.start) {
      next.start = start;
      next.size += size;
    } else {
      fl.splice(lo, 0, { start, size });
    }
  }

  private grow(atLeast: number): void {
    const cur = this.wasm.buffer.byteLength / WASM_PAGE;
    const pages = Math.max(Math.ceil(atLeast / WASM_PAGE), Math.min(cur, 256)); // at least double small memories
    if (cur + pages > this.maximumPages) {
      const need = Math.ceil(atLeast / WASM_PAGE);
      if (cur + need > this.maximumPages) {
        throw new MemoryError('MEM_EXHAUSTED', `out of memory: cannot grow by ${need} pages beyond ${cur} (maximum ${this.maximumPages})`);
      }
      this.growBy(need, cur);
      return;
    }
    this.growBy(pages, cur);
  }

  private growBy(pages: number, cur: number): void {
    try {
      this.wasm.grow(pages);
    } catch {
      throw new MemoryError('MEM_EXHAUSTED', `out of memory: the engine refused to grow the memory by ${pages} pages`);
    }
    this.refresh();
    this.insertFree(cur * WASM_PAGE, pages * WASM_PAGE);
  }

  // ---- regions ------------------------------------------------------------

  /** Declare [start, start+size) accessible under `name`. Regions may not overlap. */
  addRegion(start: number, size: number, name: string, writable: boolean): Region {
    if (!Number.isInteger(start) || !Number.isInteger(size) || size < 0 || start < NULL_GUARD || start + size > this.size) {
      throw new MemoryError('MEM_BAD_REGION', `region '${name}' [0x${start.toString(16)}, +${size}) is outside the mapped memory`);
    }
    const r: Region = { start, end: start + size, name, writable };
    const i = this.indexAfter(start);
    const prev = i > 0 ? this.regions[i - 1]! : undefined;
    const next = i < this.regions.length ? this.regions[i]! : undefined;
    if ((prev && prev.end > start) || (next && next.start < r.end)) {
      const o = prev && prev.end > start ? prev : next!;
      throw new MemoryError('MEM_BAD_REGION', `region '${name}' overlaps region '${o.name}'`);
    }
    this.regions.splice(i, 0, r);
    return r;
  }

  /** Remove the region starting at `start` (no-op when there is none). */
  removeRegion(start: number): void {
    const i = this.indexAfter(start) - 1;
    if (i >= 0 && this.regions[i]!.start === start) this.regions.splice(i, 1);
  }

  /** The region containing address `addr`, or undefined. */
  regionAt(addr: number): Region | undefined {
    const i = this.indexAfter(addr) - 1;
    if (i < 0) return undefined;
    const r = this.regions[i]!;
    return addr < r.end ? r : undefined;
  }

  /** The region containing all of [addr, addr+size), or undefined. */
  findRegion(addr: number, size: number): Region | undefined {
    const r = this.regionAt(addr);
    return r && addr + size <= r.end ? r : undefined;
  }

  /** All regions, sorted by address. */
  listRegions(): readonly Region[] {
    return this.regions.slice();
  }

  /** Index of the first region whose start is > addr. */
  private indexAfter(addr: number): number {
    const rs = this.regions;
    let lo = 0;
    let hi = rs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rs[mid]!.start <= addr) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // ---- host access --------------------------------------------------------

  private bounds(addr: number, len: number): void {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || addr + len > this.size) {
      throw new MemoryError('MEM_BAD_ACCESS', `host access [0x${addr.toString(16)}, +${len}) is outside the memory`);
    }
  }

  /** A copy of [addr, addr+len). */
  read(addr: number, len: number): Uint8Array {
    this.bounds(addr, len);
    return this.u8.slice(addr, addr + len);
  }

  /** Copy bytes into memory at addr. */
  write(addr: number, bytes: Uint8Array): void {
    this.bounds(addr, bytes.length);
    this.u8.set(bytes, addr);
  }

  readU64(addr: number): bigint {
    this.bounds(addr, 8);
    return this.view.getBigUint64(addr, true);
  }

  writeU64(addr: number, v: bigint): void {
    this.bounds(addr, 8);
    this.view.setBigUint64(addr, BigInt.asUintN(64, v), true);
  }

  readU32(addr: number): number {
    this.bounds(addr, 4);
    return this.view.getUint32(addr, true);
  }

  writeU32(addr: number, v: number): void {
    this.bounds(addr, 4);
    this.view.setUint32(addr, v >>> 0, true);
  }

  /** A NUL-terminated string of at most `max` bytes at addr (latin-1/UTF-8 decoded). */
  readCString(addr: number, max: number): string {
    this.bounds(addr, 0);
    const end = Math.min(addr + max, this.size);
    let e = addr;
    while (e < end && this.u8[e] !== 0) e++;
    return new TextDecoder().decode(this.u8.subarray(addr, e));
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
