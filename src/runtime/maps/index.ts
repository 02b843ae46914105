// eBPF maps in linear memory: see types.ts for the interface and the handle
// (descriptor) layout.
export * from './types.js';
export { createMap, validateMapSpec, mapFromHandle, mapById } from './create.js';
export { MAP_HELPERS, registerMapHelpers, type MapHelperHost } from './helpers.js';
export { mapHash } from './hashfn.js';
export { HASH_HDR, HASH_HDR_SIZE, HASH_ELEM, HashMap } from './hash.js';
export { ArrayMap, ProgArrayMap, ArrayOfMapsMap, RedirectArrayMap } from './array.js';
export { HashOfMapsMap, RedirectHashMap } from './hashx.js';
export { LpmTrieMap } from './lpm.js';
export { QUEUE_HDR, QueueStackMap, BloomFilterMap } from './queue.js';
export { RINGBUF_HDR, RingBufMap } from './ringbuf.js';
export { PerfEventArrayMap } from './perf.js';
export { dumpText, dumpJson } from './dump.js';
