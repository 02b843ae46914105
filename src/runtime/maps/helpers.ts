// The map helpers, by UAPI id (BPF_FUNC_*), with the kernel's return
// conventions: pointers or NULL (0), 0 or -errno. R1 holds a map handle: the
// address of the map's descriptor (types.ts); anything else is a fault (a
// verified program cannot get there).
//
// Not here: bpf_tail_call (12) and bpf_redirect_map (51) belong to the
// Runtime / program types (they read ProgArray.getProgram and
// BpfRedirectMap.redirectTarget). bpf_for_each_map_elem calls back into the
// program through the run's host: `ctx.host.callback(fn, args, pc)` (the
// Runtime's RunHost).

import { RuntimeFault } from '../../errors.js';
import type { HelperContext, HelperRegistry, HelperSpec } from '../helpers.js';
import { ArrayMap } from './array.js';
import { mapFromHandle } from './base.js';
import { HashMap } from './hash.js';
import { PerfEventArrayMap } from './perf.js';
import { BloomFilterMap, QueueStackMap } from './queue.js';
import { RingBufMap, ringByData } from './ringbuf.js';
import { type BpfMap, BPF_F_CTXLEN_MASK, BPF_MAP_TYPE, ERRNO } from './types.js';

export const BPF_FUNC_map_lookup_elem = 1;
export const BPF_FUNC_map_update_elem = 2;
export const BPF_FUNC_map_delete_elem = 3;
export const BPF_FUNC_perf_event_output = 25;
export const BPF_FUNC_map_push_elem = 87;
export const BPF_FUNC_map_pop_elem = 88;
export const BPF_FUNC_map_peek_elem = 89;
export const BPF_FUNC_ringbuf_output = 130;
export const BPF_FUNC_ringbuf_reserve = 131;
export const BPF_FUNC_ringbuf_submit = 132;
export const BPF_FUNC_ringbuf_discard = 133;
export const BPF_FUNC_ringbuf_query = 134;
export const BPF_FUNC_for_each_map_elem = 164;
export const BPF_FUNC_map_lookup_percpu_elem = 195;

/** What the map helpers may use of the run's host (ctx.host), all optional. */
export interface MapHelperHost {
  /** Call a function of the running program (bpf_for_each_map_elem). */
  callback?(fn: bigint, args: readonly bigint[], pc: number): bigint;
  /**
   * bpf_perf_event_output with BPF_F_CTXLEN_MASK set: the `len` bytes of the
   * context's packet to append (skb and xdp programs); undefined = -EFAULT.
   */
  perfCtxBytes?(ctxAddr: number, len: number): Uint8Array | undefined;
}

function num(v: bigint): number {
  return v >= 0n && v <= 0xffffffffn ? Number(v) : -1;
}

function mapArg(v: bigint, ctx: HelperContext, helper: string): BpfMap {
  const m = mapFromHandle(ctx.memory, v);
  if (!m) throw new RuntimeFault('FAULT_MAP_HANDLE', `${helper}: 0x${BigInt.asUintN(64, v).toString(16)} is not a map`, ctx.pc);
  return m;
}

function cpuFor(m: BpfMap, ctx: HelperContext, helper: string): number {
  const cpu = ctx.cpu;
  if (cpu >= m.cpus && m.cpus > 1) {
    throw new RuntimeFault('FAULT_MAP_CPU', `${helper}: CPU ${cpu} has no slot in per-CPU map '${m.name}' (${m.cpus} CPUs)`, ctx.pc);
  }
  return m.cpus > 1 ? cpu : 0;
}

function keyPtr(m: BpfMap, v: bigint, ctx: HelperContext): number {
  return ctx.checkAccess(v, m.keySize, false);
}

function lookupElem(map: bigint, key: bigint, _3: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const m = mapArg(map, ctx, 'bpf_map_lookup_elem');
  return m.lookupElem(keyPtr(m, key, ctx), cpuFor(m, ctx, 'bpf_map_lookup_elem'));
}

function updateElem(map: bigint, key: bigint, value: bigint, flags: bigint, _5: bigint, ctx: HelperContext): number {
  const m = mapArg(map, ctx, 'bpf_map_update_elem');
  const k = keyPtr(m, key, ctx);
  const v = ctx.checkAccess(value, m.valueSize, false);
  const f = flags > 0xffffffffn ? -1 : Number(flags);
  if (f < 0) return -ERRNO.EINVAL;
  return m.updateElem(k, v, f, cpuFor(m, ctx, 'bpf_map_update_elem'));
}

function deleteElem(map: bigint, key: bigint, _3: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const m = mapArg(map, ctx, 'bpf_map_delete_elem');
  return m.deleteElem(keyPtr(m, key, ctx));
}

function queueArg(map: bigint, ctx: HelperContext, helper: string): QueueStackMap | BloomFilterMap {
  const m = mapArg(map, ctx, helper);
  if (!(m instanceof QueueStackMap || m instanceof BloomFilterMap)) {
    throw new RuntimeFault('FAULT_MAP_TYPE', `${helper}: map '${m.name}' is not a queue, stack or bloom filter`, ctx.pc);
  }
  return m;
}

function pushElem(map: bigint, value: bigint, flags: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const m = queueArg(map, ctx, 'bpf_map_push_elem');
  const v = ctx.checkAccess(value, m.valueSize, false);
  if (flags > 0xffffffffn) return -ERRNO.EINVAL;
  return m.pushElem(v, Number(flags));
}

function popElem(map: bigint, value: bigint, _3: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const m = queueArg(map, ctx, 'bpf_map_pop_elem');
  if (m instanceof BloomFilterMap) return -ERRNO.EOPNOTSUPP;
  return m.popElem(ctx.checkAccess(value, m.valueSize, true));
}

function peekElem(map: bigint, value: bigint, _3: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const m = queueArg(map, ctx, 'bpf_map_peek_elem');
  // A bloom filter reads the value to test; a queue/stack writes the element there.
  return m.peekElem(ctx.checkAccess(value, m.valueSize, !(m instanceof BloomFilterMap)));
}

function ringArg(map: bigint, ctx: HelperContext, helper: string): RingBufMap {
  const m = mapArg(map, ctx, helper);
  if (!(m instanceof RingBufMap)) throw new RuntimeFault('FAULT_MAP_TYPE', `${helper}: map '${m.name}' is not a ring buffer`, ctx.pc);
  return m;
}

function ringbufOutput(map: bigint, data: bigint, size: bigint, flags: bigint, _5: bigint, ctx: HelperContext): number {
  const m = ringArg(map, ctx, 'bpf_ringbuf_output');
  const n = num(size);
  if (n < 0) return -ERRNO.E2BIG;
  const d = ctx.checkAccess(data, n, false);
  if (flags > 0xffffffffn) return -ERRNO.EINVAL;
  return m.output(d, n, Number(flags));
}

function ringbufReserve(map: bigint, size: bigint, flags: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const m = ringArg(map, ctx, 'bpf_ringbuf_reserve');
  const n = num(size);
  if (n < 0 || flags !== 0n) return 0;
  return m.reserve(n, 0);
}

/** The ring a sample pointer was reserved in (any ring of this memory). */
function ringOfSample(sample: bigint, ctx: HelperContext, helper: string): [RingBufMap, number] {
  const s = num(sample);
  const r = s >= 8 ? ctx.memory.regionAt(s - 8) : undefined;
  const m = r ? ringByData(ctx.memory, r.start) : undefined;
  if (m && m.isReserved(s)) return [m, s];
  throw new RuntimeFault('FAULT_RINGBUF', `${helper}: 0x${BigInt.asUintN(64, sample).toString(16)} is not a reserved ring buffer sample`, ctx.pc, s);
}

function ringbufSubmit(sample: bigint, flags: bigint, _3: bigint, _4: bigint, _5: bigint, ctx: HelperContext): void {
  const [m, s] = ringOfSample(sample, ctx, 'bpf_ringbuf_submit');
  m.submit(s, Number(flags & 0xffffffffn));
}

function ringbufDiscard(sample: bigint, flags: bigint, _3: bigint, _4: bigint, _5: bigint, ctx: HelperContext): void {
  const [m, s] = ringOfSample(sample, ctx, 'bpf_ringbuf_discard');
  m.discard(s, Number(flags & 0xffffffffn));
}

function ringbufQuery(map: bigint, flags: bigint, _3: bigint, _4: bigint, _5: bigint, ctx: HelperContext): bigint {
  const m = ringArg(map, ctx, 'bpf_ringbuf_query');
  return m.query(flags > 0xffffffffn ? -1 : Number(flags));
}

function perfEventOutput(ctxPtr: bigint, map: bigint, flags: bigint, data: bigint, size: bigint, ctx: HelperContext): number {
  const m = mapArg(map, ctx, 'bpf_perf_event_output');
  if (!(m instanceof PerfEventArrayMap)) throw new RuntimeFault('FAULT_MAP_TYPE', `bpf_perf_event_output: map '${m.name}' is not a perf event array`, ctx.pc);
  const n = num(size);
  if (n < 0) return -ERRNO.EFAULT;
  const d = ctx.checkAccess(data, n, false);
  const ctxLen = Number((flags & BPF_F_CTXLEN_MASK) >> 32n);
  let extra: Uint8Array | undefined;
  if (ctxLen > 0) {
    const host = ctx.host as MapHelperHost | undefined;
    extra = host?.perfCtxBytes?.(num(ctxPtr), ctxLen);
    if (!extra) return -ERRNO.EFAULT;
  }
  return m.output(flags, d, n, ctx.cpu, extra);
}

function lookupPercpuElem(map: bigint, key: bigint, cpu: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const m = mapArg(map, ctx, 'bpf_map_lookup_percpu_elem');
  const c = num(cpu);
  if (c < 0 || c >= m.cpus) return 0;
  if (!(m.type === BPF_MAP_TYPE.PERCPU_ARRAY || m.type === BPF_MAP_TYPE.PERCPU_HASH || m.type === BPF_MAP_TYPE.LRU_PERCPU_HASH)) return 0;
  return m.lookupElem(keyPtr(m, key, ctx), c);
}

/**
 * bpf_for_each_map_elem(map, callback, ctx, flags): calls
 * callback(map, &key, &value, ctx) for each element (array, percpu_array,
 * hash family); a return of 1 stops. Returns the number of elements visited.
 * Keys are passed through a scratch slot (the key of an array) or the
 * element's key in place (hash maps).
 */
function forEachMapElem(map: bigint, fn: bigint, cbCtx: bigint, flags: bigint, _5: bigint, ctx: HelperContext): number {
  const m = mapArg(map, ctx, 'bpf_for_each_map_elem');
  if (flags !== 0n) return -ERRNO.EINVAL;
  const host = ctx.host as MapHelperHost | undefined;
  if (!host || typeof host.callback !== 'function') {
    throw new RuntimeFault('FAULT_HELPER', 'bpf_for_each_map_elem needs the Runtime (callbacks run through it)', ctx.pc);
  }
  const cpu = cpuFor(m, ctx, 'bpf_for_each_map_elem');
  let n = 0;
  if (m instanceof ArrayMap) {
    const scratch = ctx.memory.alloc(8);
    ctx.memory.addRegion(scratch, 4, `map_key:${m.name}`, false);
    try {
      for (let i = 0; i < m.maxEntries; i++) {
        ctx.memory.view.setUint32(scratch, i, true);
        n++;
        const r = host.callback(fn, [BigInt(m.handle), BigInt(scratch), BigInt(m.slot(i, cpu)), cbCtx], ctx.pc);
        if ((r & 0xffffffffn) === 1n) break;
      }
    } finally {
      ctx.memory.free(scratch);
    }
    return n;
  }
  if (m instanceof HashMap) {
    for (const i of [...m.indices()]) {
      // The callback may delete elements; skip those gone meanwhile.
      const keyAddr = m.elems + i * m.elemSize + m.keyOff;
      n++;
      const r = host.callback(fn, [BigInt(m.handle), BigInt(keyAddr), BigInt(m.valueAddr(i) + cpu * m.valueStride), cbCtx], ctx.pc);
      if ((r & 0xffffffffn) === 1n) break;
    }
    return n;
  }
  return -ERRNO.EINVAL;
}

/** Every map helper this module implements. */
export const MAP_HELPERS: readonly HelperSpec[] = [
  { id: BPF_FUNC_map_lookup_elem, name: 'map_lookup_elem', impl: lookupElem },
  { id: BPF_FUNC_map_update_elem, name: 'map_update_elem', impl: updateElem },
  { id: BPF_FUNC_map_delete_elem, name: 'map_delete_elem', impl: deleteElem },
  { id: BPF_FUNC_perf_event_output, name: 'perf_event_output', impl: perfEventOutput },
  { id: BPF_FUNC_map_push_elem, name: 'map_push_elem', impl: pushElem },
  { id: BPF_FUNC_map_pop_elem, name: 'map_pop_elem', impl: popElem },
  { id: BPF_FUNC_map_peek_elem, name: 'map_peek_elem', impl: peekElem },
  { id: BPF_FUNC_ringbuf_output, name: 'ringbuf_output', impl: ringbufOutput },
  { id: BPF_FUNC_ringbuf_reserve, name: 'ringbuf_reserve', impl: ringbufReserve },
  { id: BPF_FUNC_ringbuf_submit, name: 'ringbuf_submit', impl: ringbufSubmit },
  { id: BPF_FUNC_ringbuf_discard, name: 'ringbuf_discard', impl: ringbufDiscard },
  { id: BPF_FUNC_ringbuf_query, name: 'ringbuf_query', impl: ringbufQuery },
  { id: BPF_FUNC_for_each_map_elem, name: 'for_each_map_elem', impl: forEachMapElem },
  { id: BPF_FUNC_map_lookup_percpu_elem, name: 'map_lookup_percpu_elem', impl: lookupPercpuElem },
];

/** Add the map helpers to a registry (replacing same ids). */
export function registerMapHelpers(registry: HelperRegistry): HelperRegistry {
  for (const h of MAP_HELPERS) registry.register(h);
  return registry;
}
