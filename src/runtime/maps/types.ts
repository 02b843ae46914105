// The interface every map of a Runtime implements (DESIGN.md "Memory model").
//
// A map lives in the runtime's LinearMemory: its storage (values, hash
// buckets, element pool, ring data) is plain bytes there, so a value pointer
// returned to a program is a real address, and user-space updates are seen by
// the next run with no copy. Two faces:
//
// - user space (like libbpf / cilium/ebpf): bytes in, bytes out, errors as
//   MapError with the kernel's errno names (E2BIG, EEXIST, ENOENT, EINVAL...);
// - program side (helpers, interpreter, JIT): addresses in linear memory in,
//   a value address (0 = NULL) or 0 / -errno out; never throws for a program
//   mistake the kernel reports with an error code.
//
// A map "pointer" held in a register (what `lddw rX, map` with src =
// BPF_PSEUDO_MAP_FD loads, and what a map-in-map lookup returns) is the
// address of the map's DESCRIPTOR: 64 bytes in linear memory, laid out below,
// so compiled code can read the geometry without calling out.
// `mapFromHandle(memory, addr)` turns such an address back into the BpfMap.

import type { Btf, BtfValue } from '../../elf/btf.js';
import type { LinearMemory } from '../memory.js';

export { BPF_MAP_TYPE, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, mapTypeName } from '../../elf/maps.js';

// ---- UAPI numbers (<linux/bpf.h>) ------------------------------------------

/** Update flags (BPF_MAP_UPDATE_ELEM / bpf_map_update_elem). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

/** Map creation flags (map_flags). */
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_STACK_BUILD_ID = 1 << 5;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_CLONE = 1 << 9;
export const BPF_F_PRESERVE_ELEMS = 1 << 11;
export const BPF_F_INNER_MAP = 1 << 12;

/** perf_event_output / ringbuf flags. */
export const BPF_F_INDEX_MASK = 0xffffffffn;
export const BPF_F_CURRENT_CPU = 0xffffffffn;
export const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;
export const BPF_RB_NO_WAKEUP = 1;
export const BPF_RB_FORCE_WAKEUP = 2;
/** bpf_ringbuf_query flags. */
export const BPF_RB_AVAIL_DATA = 0;
export const BPF_RB_RING_SIZE = 1;
export const BPF_RB_CONS_POS = 2;
export const BPF_RB_PROD_POS = 3;
/** Ring buffer record header bits (in the u32 length word). */
export const BPF_RINGBUF_BUSY_BIT = 1 << 31;
export const BPF_RINGBUF_DISCARD_BIT = 1 << 30;
export const BPF_RINGBUF_HDR_SZ = 8;

/** errno values (asm-generic/errno-base.h, errno.h) a map operation can return. */
export const ERRNO = {
  EPERM: 1, ENOENT: 2, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EFAULT: 14, EBUSY: 16, EEXIST: 17,
  ENODEV: 19, EINVAL: 22, ENOSPC: 28, ERANGE: 34, ENOTSUPP: 524, EOPNOTSUPP: 95, ELOOP: 40,
} as const;
export type ErrnoName = keyof typeof ERRNO;

// ---- descriptor (what a map handle points at) ------------------------------

/** Size in bytes of a map descriptor in linear memory. */
export const MAP_DESC_SIZE = 64;
/** First word of every descriptor: 'BMAP' little-endian. */
export const MAP_DESC_MAGIC = 0x50414d42;
/**
 * Byte offsets of the descriptor fields (all u32, little-endian). The
 * meaning of STORAGE depends on the type:
 * - array, percpu_array, prog_array, array_of_maps, devmap, cpumap, xskmap:
 *   the first value; value of index i (CPU c) at STORAGE + (i * NCPUS + c) * VALUE_STRIDE
 *   (prog_array / array_of_maps: a u32 handle per slot, 0 = empty);
 * - hash family: the hash table header (see hash.ts);
 * - others: type-specific, see their files.
 */
export const DESC = {
  MAGIC: 0, ID: 4, TYPE: 8, KEY_SIZE: 12, VALUE_SIZE: 16, MAX_ENTRIES: 20, FLAGS: 24,
  /** round_up(value_size, 8): distance between consecutive values (one CPU). */
  VALUE_STRIDE: 28,
  STORAGE: 32,
  /** Number of CPUs (per-CPU maps hold NCPUS values per entry; 1 otherwise). */
  NCPUS: 36,
  /** 1 once frozen (user-space writes refused). */
  FROZEN: 40,
} as const;

// ---- spec and interface ----------------------------------------------------

/**
 * What createMap needs. Compatible with elf's MapSpec (extra fields are
 * ignored), so `createMap(memory, objectSpec.maps[i])` works.
 */
export interface MapCreateSpec {
  readonly name: string;
  /** enum bpf_map_type. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  /** bloom_filter: number of hash functions in the low 4 bits (0 = 5). */
  readonly mapExtra?: bigint | number;
  /** Map-in-map: the template the inner maps must match. */
  readonly innerMap?: MapCreateSpec;
  /** BTF of key and value (typed views). */
  readonly btfKeyTypeId?: number;
  readonly btfValueTypeId?: number;
  /** Global data: initial value of entry 0. */
  readonly data?: Uint8Array;
  /** Global data from .rodata: frozen once created. */
  readonly readonly?: boolean;
}

export interface MapCreateOptions {
  /** Number of CPUs (per-CPU maps; perf_event_array default size). Default 1. */
  readonly cpus?: number;
  /** The object's BTF, for typed views (format / dump). */
  readonly btf?: Btf;
  /** Map-in-map: an existing inner map instead of the spec's template. */
  readonly innerMap?: BpfMap;
  /** prog_array: the program a user-space update's value (a program id) names. */
  readonly resolveProgram?: (id: number) => ProgramRef | undefined;
  /** Hash maps: the hash seed (default 0, as with BPF_F_ZERO_SEED: iteration order is reproducible). */
  readonly seed?: number;
  /** perf_event_array: records kept per CPU before new ones are counted as lost (default 65536). */
  readonly perfQueueLimit?: number;
}

/** One page of a batch operation (BPF_MAP_LOOKUP_BATCH and friends). */
export interface BatchResult {
  readonly keys: Uint8Array[];
  readonly values: Uint8Array[];
  /** Pass back as `cursor` to continue; undefined when the map is exhausted. */
  readonly cursor?: number;
}

/** A map in linear memory. Keys and values are bytes (copies) at this API. */
export interface BpfMap {
  readonly name: string;
  /** enum bpf_map_type. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** Unique per process, > 0 (what the kernel reports as the map id). */
  readonly id: number;
  /** CPUs of per-CPU maps (1 for the others). */
  readonly cpus: number;
  readonly memory: LinearMemory;
  /** Address of the descriptor: the value a register holds for this map. */
  readonly handle: number;
  readonly btf?: Btf;
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  /** True once `freeze()` was called. */
  readonly frozen: boolean;

  // ---- user space (syscall semantics) ----
  /**
   * BPF_MAP_LOOKUP_ELEM: a copy of the value, undefined when absent. Per-CPU
   * maps return all CPUs' values, each padded to 8 bytes (as the kernel
   * does), unless `cpu` picks one. Queue/stack/bloom: see `peek`.
   */
  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined;
  /** Per-CPU maps: one value per CPU (valueSize bytes each). */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined;
  /** BPF_MAP_UPDATE_ELEM. Per-CPU maps take cpus * round_up(valueSize, 8) bytes, or valueSize bytes for every CPU. */
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  /** BPF_MAP_DELETE_ELEM. */
  delete(key: Uint8Array): void;
  /** BPF_MAP_GET_NEXT_KEY: first key when `key` is undefined or absent (hash) ; undefined after the last. */
  nextKey(key?: Uint8Array): Uint8Array | undefined;
  /** Every key, in get_next_key order. */
  keys(): Iterable<Uint8Array>;
  /** Every [key, value] (value as `lookup` returns it). */
  entries(): Iterable<[Uint8Array, Uint8Array]>;
  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM (hash family, queue/stack with an empty key). */
  lookupAndDelete(key: Uint8Array): Uint8Array | undefined;
  lookupBatch(count: number, cursor?: number): BatchResult;
  lookupAndDeleteBatch(count: number, cursor?: number): BatchResult;
  /** Returns how many were applied; on an error throws a MapError whose `count` says how many were applied before it. */
  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], flags?: number): number;
  deleteBatch(keys: readonly Uint8Array[]): number;
  /** BPF_MAP_FREEZE: no more writes from user space (programs still may, unless BPF_F_RDONLY_PROG). */
  freeze(): void;

  // ---- typed views ----
  /** Key or value bytes as an object when the map has BTF for it; else an array of byte values. */
  format(which: 'key' | 'value', bytes: Uint8Array): BtfValue;
  /** `bpftool map dump` output: text, or the parsed `bpftool -j map dump` JSON. */
  dump(): string;
  dumpJson(): unknown[];

  // ---- program side (addresses in linear memory) ----
  /** bpf_map_lookup_elem: value address (for this CPU on per-CPU maps), 0 when absent. */
  lookupElem(keyAddr: number, cpu: number): number;
  /** bpf_map_update_elem: 0 or -errno. */
  updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  /** bpf_map_delete_elem: 0 or -errno. */
  deleteElem(keyAddr: number): number;

  /** Release the map's linear memory. The map must not be used afterwards. */
  destroy(): void;
}

/** Queue, stack and bloom filter: keyless maps. */
export interface BpfQueueMap extends BpfMap {
  /** BPF_MAP_UPDATE_ELEM with no key; BPF_EXIST overwrites the oldest when full. */
  push(value: Uint8Array, flags?: number): void;
  /** Lookup-and-delete with no key; undefined when empty. */
  pop(): Uint8Array | undefined;
  /** Lookup with no key; undefined when empty. Bloom filter: `has(value)`. */
  peek(): Uint8Array | undefined;
  pushElem(valueAddr: number, flags: number): number;
  popElem(valueAddr: number): number;
  peekElem(valueAddr: number): number;
}

/** Bloom filter: push values, ask whether one may be present. */
export interface BpfBloomFilter extends BpfQueueMap {
  /** False only when the value was never pushed (false positives are allowed). */
  has(value: Uint8Array): boolean;
}

/** A program as a prog array slot sees it: whatever the runtime stores (its Program object). */
export type ProgramRef = object;

/** BPF_MAP_TYPE_PROG_ARRAY: the runtime's tail call reads `getProgram`. */
export interface BpfProgArray extends BpfMap {
  getProgram(index: number): ProgramRef | undefined;
  /** Set (or clear with undefined) a slot; `id` is what a user-space lookup returns (the kernel returns the prog id). */
  setProgram(index: number, prog: ProgramRef | undefined, id?: number): void;
}

/** array_of_maps / hash_of_maps. Lookup from a program returns the inner map's handle. */
export interface BpfMapOfMaps extends BpfMap {
  /** The inner map stored under key, if any. */
  getInner(key: Uint8Array): BpfMap | undefined;
  /** Store `inner` (must match the template: type, sizes, flags) under key. */
  setInner(key: Uint8Array, inner: BpfMap, flags?: number): void;
}

/** One ring buffer record as the consumer sees it: a copy of its bytes. */
export type RingRecord = Uint8Array;

export interface BpfRingBuf extends BpfMap {
  /** Data area size in bytes (= maxEntries). */
  readonly size: number;
  /** Call `cb` for every submitted record not yet consumed, in production order; returns how many. A `false` from cb stops early. */
  consume(cb: (rec: RingRecord) => boolean | void): number;
  /** Records as they are produced; waits for new ones. */
  [Symbol.asyncIterator](): AsyncIterator<RingRecord>;
  /** Positions (BPF_RB_CONS_POS, BPF_RB_PROD_POS) as the kernel's query reports them. */
  readonly consumerPos: number;
  readonly producerPos: number;
  /** Program side (helpers). */
  output(dataAddr: number, size: number, flags: number): number;
  reserve(size: number, flags: number): number;
  submit(sampleAddr: number, flags: number): void;
  discard(sampleAddr: number, flags: number): void;
  query(flags: number): bigint;
}

/** A record delivered through a perf event array. */
export interface PerfRecord {
  readonly cpu: number;
  readonly data: Uint8Array;
}

export interface BpfPerfEventArray extends BpfMap {
  /** Attach a reader for `cpu` (like opening a perf buffer on that CPU); all CPUs when omitted. */
  open(cpu?: number): void;
  /** Call cb for every pending record (all CPUs, in production order). */
  consume(cb: (rec: PerfRecord) => boolean | void): number;
  [Symbol.asyncIterator](): AsyncIterator<PerfRecord>;
  /** Records lost because no reader was attached or its queue was full. */
  readonly lost: number;
  /** Program side: bpf_perf_event_output. */
  output(flags: bigint, dataAddr: number, size: number, cpu: number): number;
}

/** devmap, devmap_hash, cpumap, xskmap: redirect targets. */
export interface BpfRedirectMap extends BpfMap {
  /** The stored value (ifindex[, prog]; qsize[, prog]; ...) for key, for bpf_redirect_map. */
  redirectTarget(key: number): Uint8Array | undefined;
}

/** Signature of createMap (index.ts): throws MapError where the kernel's map_create would fail (EINVAL, E2BIG, ENOMEM...). */
export type CreateMap = (memory: LinearMemory, spec: MapCreateSpec, opts?: MapCreateOptions) => BpfMap;
