// createMap: validate a spec where the kernel's BPF_MAP_CREATE would refuse
// it (same errno, checked against the live kernel in test/maps), then build
// the map in linear memory.

import type { LinearMemory } from '../memory.js';
import { ArrayMap, ArrayOfMapsMap, ProgArrayMap, RedirectArrayMap } from './array.js';
import { mapError } from './base.js';
import { HashMap } from './hash.js';
import { HashOfMapsMap, RedirectHashMap } from './hashx.js';
import { LpmTrieMap } from './lpm.js';
import { PerfEventArrayMap } from './perf.js';
import { BloomFilterMap, QueueStackMap } from './queue.js';
import { RingBufMap } from './ringbuf.js';
import {
  type BpfMap, type ErrnoName, type MapCreateOptions, type MapCreateSpec, BPF_F_INNER_MAP, BPF_F_MMAPABLE,
  BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY,
  BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_F_WRONLY_PROG, BPF_F_ZERO_SEED, BPF_MAP_TYPE, mapTypeName,
} from './types.js';

export { mapFromHandle, mapById } from './base.js';

const T = BPF_MAP_TYPE;
const ACCESS = BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
/** Largest per-CPU value (PCPU_MIN_UNIT_SIZE). */
export const PERCPU_VALUE_MAX = 32768;
/** Largest kmalloc (KMALLOC_MAX_SIZE with 4 KiB pages). */
const KMALLOC_MAX = 4 << 20;
/** Largest hash max_entries the kernel accepts (its bucket array must stay below 2^31 bytes). */
export const HASH_MAX_ENTRIES = 1 << 27;
/** Largest cpumap (NR_CPUS of the reference kernel's build is larger; we pick a fixed bound). */
export const CPUMAP_MAX_ENTRIES = 4096;

/** Flags each map type accepts (others: EINVAL). */
function allowedFlags(type: number): number {
  switch (type) {
    case T.ARRAY: return BPF_F_NUMA_NODE | ACCESS | BPF_F_MMAPABLE | BPF_F_INNER_MAP;
    case T.PERCPU_ARRAY: return BPF_F_NUMA_NODE | ACCESS | BPF_F_INNER_MAP;
    case T.HASH: case T.PERCPU_HASH: case T.HASH_OF_MAPS:
      return BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | ACCESS | BPF_F_ZERO_SEED;
    case T.LRU_HASH: case T.LRU_PERCPU_HASH:
      return BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | ACCESS | BPF_F_ZERO_SEED;
    case T.LPM_TRIE: return BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | ACCESS;
    case T.QUEUE: case T.STACK: return BPF_F_NUMA_NODE | ACCESS;
    case T.BLOOM_FILTER: return BPF_F_NUMA_NODE | ACCESS | BPF_F_ZERO_SEED;
    case T.RINGBUF: return BPF_F_NUMA_NODE;
    case T.PERF_EVENT_ARRAY: return BPF_F_NUMA_NODE | ACCESS | BPF_F_PRESERVE_ELEMS;
    case T.PROG_ARRAY: case T.ARRAY_OF_MAPS: return BPF_F_NUMA_NODE | ACCESS;
    case T.DEVMAP: case T.DEVMAP_HASH: case T.CPUMAP: case T.XSKMAP: return BPF_F_NUMA_NODE | ACCESS;
    default: return 0;
  }
}

const SUPPORTED = new Set<number>([
  T.HASH, T.ARRAY, T.PROG_ARRAY, T.PERF_EVENT_ARRAY, T.PERCPU_HASH, T.PERCPU_ARRAY, T.LRU_HASH, T.LRU_PERCPU_HASH,
  T.LPM_TRIE, T.ARRAY_OF_MAPS, T.HASH_OF_MAPS, T.DEVMAP, T.CPUMAP, T.XSKMAP, T.QUEUE, T.STACK, T.DEVMAP_HASH,
  T.RINGBUF, T.BLOOM_FILTER,
]);

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/**
 * Check a spec as BPF_MAP_CREATE would. Returns nothing or throws MapError
 * (EINVAL for a malformed definition, E2BIG for a too large one, ENOTSUPP
 * for what the kernel refuses that way or tsbpf does not implement).
 */
export function validateMapSpec(spec: MapCreateSpec, opts: MapCreateOptions = {}, inner = false): void {
  const bad = (code: ErrnoName, why: string): never => {
    throw mapError(code, `${inner ? 'inner map template: ' : ''}${why}`, spec.name);
  };
  const { type, keySize: k, valueSize: v, maxEntries: n } = spec;
  const flags = spec.flags ?? 0;
  if (!isU32(type) || !isU32(k) || !isU32(v) || !isU32(n) || !isU32(flags)) {
    bad('EINVAL', 'type, key_size, value_size, max_entries and map_flags must be unsigned 32-bit integers');
  }
  const name = mapTypeName(type).toLowerCase();
  if (!SUPPORTED.has(type)) {
    if (type === T.UNSPEC || type > T.ARENA) bad('EINVAL', `unknown map type ${type}`);
    bad('ENOTSUPP', `map type ${name} (${type}) is not implemented by tsbpf`);
  }
  if (flags & ~allowedFlags(type)) bad('EINVAL', `map_flags 0x${flags.toString(16)} not allowed for ${name}`);
  if ((flags & BPF_F_RDONLY) && (flags & BPF_F_WRONLY)) bad('EINVAL', 'BPF_F_RDONLY and BPF_F_WRONLY together');
  if ((flags & BPF_F_RDONLY_PROG) && (flags & BPF_F_WRONLY_PROG)) bad('EINVAL', 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  const extra = BigInt(spec.mapExtra ?? 0);
  if (extra !== 0n && type !== T.BLOOM_FILTER) bad('EINVAL', `map_extra is only for bloom filters`);
  const need = (ok: boolean, why: string): void => {
    if (!ok) bad('EINVAL', why);
  };
  switch (type) {
    case T.ARRAY: case T.PERCPU_ARRAY:
      need(k === 4, `${name}: key_size must be 4 (got ${k})`);
      need(v > 0, `${name}: value_size must be > 0`);
      need(n > 0, `${name}: max_entries must be > 0`);
      if (type === T.PERCPU_ARRAY && v > PERCPU_VALUE_MAX) bad('E2BIG', `per-CPU value_size ${v} exceeds ${PERCPU_VALUE_MAX}`);
      break;
    case T.HASH: case T.PERCPU_HASH: case T.LRU_HASH: case T.LRU_PERCPU_HASH:
      need(k > 0, `${name}: key_size must be > 0`);
      need(v > 0, `${name}: value_size must be > 0`);
      need(n > 0, `${name}: max_entries must be > 0`);
      if ((type === T.LRU_HASH || type === T.LRU_PERCPU_HASH) && (flags & BPF_F_NO_PREALLOC)) {
        bad('ENOTSUPP', `${name} is always preallocated (BPF_F_NO_PREALLOC refused)`);
      }
      if (n > HASH_MAX_ENTRIES) bad('E2BIG', `max_entries ${n} exceeds ${HASH_MAX_ENTRIES}`);
      if ((type === T.PERCPU_HASH || type === T.LRU_PERCPU_HASH) && v > PERCPU_VALUE_MAX) bad('E2BIG', `per-CPU value_size ${v} exceeds ${PERCPU_VALUE_MAX}`);
      if (v >= KMALLOC_MAX - 512 - 64) bad('E2BIG', `value_size ${v} too large for a hash element`);
      break;
    case T.LPM_TRIE:
      need((flags & BPF_F_NO_PREALLOC) !== 0, 'lpm_trie must be created with BPF_F_NO_PREALLOC');
      need(k >= 5 && k <= 4 + 256, `lpm_trie: key_size must be 4 + 1..256 bytes of data (got ${k})`);
      need(v > 0 && v <= KMALLOC_MAX - 256 - 64, `lpm_trie: value_size ${v} out of range`);
      need(n > 0, 'lpm_trie: max_entries must be > 0');
      break;
    case T.QUEUE: case T.STACK:
      need(k === 0, `${name}: key_size must be 0`);
      need(v > 0, `${name}: value_size must be > 0`);
      need(n > 0, `${name}: max_entries must be > 0`);
      if (v > KMALLOC_MAX) bad('E2BIG', `value_size ${v} too large`);
      break;
    case T.BLOOM_FILTER:
      need(k === 0, 'bloom_filter: key_size must be 0');
      need(v > 0, 'bloom_filter: value_size must be > 0');
      need(n > 0, 'bloom_filter: max_entries must be > 0');
      need(extra >= 0n && extra <= 15n, `bloom_filter: map_extra ${extra} (number of hashes) must be 0..15`);
      break;
    case T.RINGBUF:
      need(k === 0 && v === 0, 'ringbuf: key_size and value_size must be 0');
      need(n >= 4096 && (n & (n - 1)) === 0, `ringbuf: max_entries ${n} must be a power of two and a multiple of 4096`);
      break;
    case T.PROG_ARRAY: case T.PERF_EVENT_ARRAY:
      need(k === 4 && v === 4, `${name}: key_size and value_size must be 4`);
      need(n > 0, `${name}: max_entries must be > 0`);
      break;
    case T.ARRAY_OF_MAPS: case T.HASH_OF_MAPS: {
      need(type === T.HASH_OF_MAPS ? k > 0 : k === 4, `${name}: key_size ${k} invalid`);
      need(v === 4, `${name}: value_size must be 4`);
      need(n > 0, `${name}: max_entries must be > 0`);
      if (type === T.HASH_OF_MAPS && n > HASH_MAX_ENTRIES) bad('E2BIG', `max_entries ${n} exceeds ${HASH_MAX_ENTRIES}`);
      const tpl = opts.innerMap ?? spec.innerMap;
      if (!tpl) bad('EINVAL', `${name} needs an inner map template`);
      if (inner) bad('EINVAL', 'an inner map cannot itself hold maps');
      const tt = tpl!.type;
      if (tt === T.PROG_ARRAY || tt === T.ARRAY_OF_MAPS || tt === T.HASH_OF_MAPS) {
        bad('EINVAL', `${mapTypeName(tt).toLowerCase()} cannot be an inner map`);
      }
      if (!opts.innerMap) validateMapSpec(tpl!, {}, true);
      break;
    }
    case T.DEVMAP: case T.DEVMAP_HASH: case T.CPUMAP:
      need(k === 4 && (v === 4 || v === 8), `${name}: key_size must be 4 and value_size 4 or 8`);
      need(n > 0, `${name}: max_entries must be > 0`);
      if (type === T.CPUMAP && n > CPUMAP_MAX_ENTRIES) bad('E2BIG', `cpumap: max_entries ${n} exceeds ${CPUMAP_MAX_ENTRIES}`);
      break;
    case T.XSKMAP:
      need(k === 4 && v === 4, 'xskmap: key_size and value_size must be 4');
      need(n > 0, 'xskmap: max_entries must be > 0');
      break;
  }
}

/**
 * Create a map in `memory`. Throws MapError where the kernel's map_create
 * would fail, and ENOMEM when the memory cannot hold it. Global data specs
 * (elf MapSpec with `data`) get their initial value; `.rodata` ones are frozen.
 */
export function createMap(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions = {}): BpfMap {
  validateMapSpec(spec, opts);
  let m: BpfMap;
  switch (spec.type) {
    case T.ARRAY: case T.PERCPU_ARRAY: m = new ArrayMap(memory, spec, opts); break;
    case T.HASH: case T.PERCPU_HASH: case T.LRU_HASH: case T.LRU_PERCPU_HASH: m = new HashMap(memory, spec, opts); break;
    case T.LPM_TRIE: m = new LpmTrieMap(memory, spec, opts); break;
    case T.QUEUE: case T.STACK: m = new QueueStackMap(memory, spec, opts); break;
    case T.BLOOM_FILTER: m = new BloomFilterMap(memory, spec, opts); break;
    case T.RINGBUF: m = new RingBufMap(memory, spec, opts); break;
    case T.PERF_EVENT_ARRAY: m = new PerfEventArrayMap(memory, { ...spec }, opts); break;
    case T.PROG_ARRAY: m = new ProgArrayMap(memory, spec, opts); break;
    case T.ARRAY_OF_MAPS: m = new ArrayOfMapsMap(memory, spec, opts, templateOf(spec, opts)); break;
    case T.HASH_OF_MAPS: m = new HashOfMapsMap(memory, spec, opts, templateOf(spec, opts)); break;
    case T.DEVMAP: case T.CPUMAP: case T.XSKMAP: m = new RedirectArrayMap(memory, spec, opts); break;
    case T.DEVMAP_HASH: m = new RedirectHashMap(memory, spec, opts); break;
    default: throw mapError('ENOTSUPP', `map type ${spec.type} is not implemented`, spec.name);
  }
  if (spec.readonly) m.freeze();
  return m;
}

function templateOf(spec: MapCreateSpec, opts: MapCreateOptions): MapCreateSpec {
  const i = opts.innerMap;
  if (i) {
    return { name: i.name, type: i.type, keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, flags: i.flags };
  }
  return spec.innerMap!;
}
