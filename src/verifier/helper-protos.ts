// Prototypes of the common BPF helpers, as the verifier checks their calls:
// what each argument register must hold and what R0 holds afterwards. Ids
// are the UAPI enum bpf_func_id; argument meanings come from the helper
// documentation in <linux/bpf.h>; which program types may call each helper
// was measured on Linux 6.18 (a helper a type may not call is refused with
// "program of this type cannot use helper").

import { helperId } from '../isa/helper-names.js';

/** What an argument register must hold. */
export type ArgType =
  /** Any initialised value. */
  | 'anything'
  /** A map (LD_IMM64 src=1). */
  | 'map_ptr'
  /** Pointer to key_size readable, initialised bytes of the map in the first argument. */
  | 'map_key'
  /** Pointer to value_size readable, initialised bytes. */
  | 'map_value'
  /** Pointer to value_size writable bytes the helper fills (queue/stack pop and peek). */
  | 'uninit_map_value'
  /** The program's context pointer. */
  | 'ctx'
  /** Pointer to readable, initialised memory; its size is the next argument. */
  | 'mem'
  /** Like `mem`, or NULL (then the size must be 0). */
  | 'mem_or_null'
  /** Pointer to writable memory that may be uninitialised (the helper fills it); size is the next argument. */
  | 'uninit_mem'
  /** Size of the previous memory argument: a bounded scalar > 0. */
  | 'size'
  /** Size of the previous memory argument: a bounded scalar >= 0. */
  | 'size_or_zero'
  /** Allocation size (ringbuf reserve): a known constant. */
  | 'alloc_size'
  /** A ringbuf reservation (released by the call). */
  | 'ringbuf_mem'
  /** A subprogram address (callback). */
  | 'func'
  /** Pointer to the stack, or NULL (callback context). */
  | 'stack_or_null';

export type RetType =
  | 'integer'
  | 'void'
  | 'map_value_or_null'
  /** Ringbuf reservation of the size given by the `alloc_size` argument, or NULL; acquires a reference. */
  | 'ringbuf_mem_or_null';

export interface HelperProto {
  /** Program types whose variant of the helper takes other arguments (get_cgroup_classid reads the current task outside tc). */
  readonly argsByType?: Readonly<Record<number, readonly ArgType[]>>;
  /** R0 of an `integer` helper is at most the upper bound of this argument's size (1-based register), e.g. probe_read_str. */
  readonly retMaxFromArg?: number;
  readonly id: number;
  readonly name: string;
  readonly args: readonly ArgType[];
  readonly ret: RetType;
  /** Program types that may call it (undefined: every type). */
  readonly progTypes?: readonly number[];
  /** Needs CAP_PERFMON-level privilege (refused in unprivileged mode). */
  readonly privileged?: boolean;
  /** Callback: argument index of the function, the range its return value must be in, and the arguments it receives. */
  readonly callback?: { readonly arg: number; readonly retMin: bigint; readonly retMax: bigint };
  /** Map types accepted by the map argument (undefined: any). */
  readonly mapTypes?: readonly number[];
  /** The helper may change the packet: packet pointers are invalidated after the call. */
  readonly changesPacket?: boolean;
}

// Program types (UAPI enum bpf_prog_type).
const SOCKET_FILTER = 1, KPROBE = 2, SCHED_CLS = 3, SCHED_ACT = 4, TRACEPOINT = 5, XDP = 6, PERF_EVENT = 7,
  CGROUP_SKB = 8, RAW_TRACEPOINT = 17, TRACING = 26, LSM = 29;
const TRACING_TYPES = [KPROBE, TRACEPOINT, PERF_EVENT, RAW_TRACEPOINT, TRACING, LSM];
const TC = [SCHED_CLS, SCHED_ACT];
const SK_SKB = 14, SOCK_OPS = 13;
/** The skb-changing helpers: tc and sk_skb. */
const SKB_WRITE = [SCHED_CLS, SCHED_ACT, SK_SKB];

// Map types (UAPI enum bpf_map_type).
export const MAP_TYPE = {
  HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6, STACK_TRACE: 7,
  CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11, ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13,
  DEVMAP: 14, SOCKMAP: 15, CPUMAP: 16, XSKMAP: 17, SOCKHASH: 18, QUEUE: 22, STACK: 23, DEVMAP_HASH: 25,
  RINGBUF: 27, BLOOM_FILTER: 30,
} as const;

function id(name: string): number {
  const n = helperId(name);
  if (n === undefined) throw new Error(`helper-protos: unknown helper name ${name}`);
  return n;
}

/** Map types that support lookups from a program (everything but the queue/stack, ringbuf and perf kinds). */
const LOOKUP_MAPS: number[] = [MAP_TYPE.HASH, MAP_TYPE.ARRAY, MAP_TYPE.PERCPU_HASH, MAP_TYPE.PERCPU_ARRAY, MAP_TYPE.LRU_HASH,
  MAP_TYPE.LRU_PERCPU_HASH, MAP_TYPE.LPM_TRIE, MAP_TYPE.ARRAY_OF_MAPS, MAP_TYPE.HASH_OF_MAPS, MAP_TYPE.DEVMAP,
  MAP_TYPE.SOCKMAP, MAP_TYPE.CPUMAP, MAP_TYPE.XSKMAP, MAP_TYPE.SOCKHASH, MAP_TYPE.DEVMAP_HASH, 19, 20, 21, 24, 26, 28, 29, 30, 31, 32];

/** Map types programs may update and delete in (the kernel refuses the others, or forbids writes). */
const WRITE_MAPS: number[] = [MAP_TYPE.HASH, MAP_TYPE.ARRAY, MAP_TYPE.PERCPU_HASH, MAP_TYPE.PERCPU_ARRAY, MAP_TYPE.LRU_HASH,
  MAP_TYPE.LRU_PERCPU_HASH, MAP_TYPE.LPM_TRIE, MAP_TYPE.SOCKMAP, MAP_TYPE.SOCKHASH, MAP_TYPE.DEVMAP, MAP_TYPE.DEVMAP_HASH,
  MAP_TYPE.CPUMAP, MAP_TYPE.XSKMAP];
/** Written from programs only through their own helpers (redirect_map...): an update or delete is "write into map forbidden". */
export const READONLY_FROM_PROGS: readonly number[] = [MAP_TYPE.DEVMAP, MAP_TYPE.DEVMAP_HASH, MAP_TYPE.CPUMAP, MAP_TYPE.XSKMAP];

const P = (name: string, args: ArgType[], ret: RetType, extra: Partial<HelperProto> = {}): HelperProto =>
  ({ id: id(name), name, args, ret, ...extra });

const PROTOS: HelperProto[] = [
  P('map_lookup_elem', ['map_ptr', 'map_key'], 'map_value_or_null', { mapTypes: LOOKUP_MAPS }),
  P('map_update_elem', ['map_ptr', 'map_key', 'map_value', 'anything'], 'integer', { mapTypes: WRITE_MAPS }),
  P('map_delete_elem', ['map_ptr', 'map_key'], 'integer', { mapTypes: WRITE_MAPS }),
  P('probe_read', ['uninit_mem', 'size_or_zero', 'anything'], 'integer', { progTypes: [KPROBE, TRACEPOINT, RAW_TRACEPOINT, PERF_EVENT, TRACING], privileged: true }),
  P('ktime_get_ns', [], 'integer'),
  P('trace_printk', ['mem', 'size'], 'integer', { privileged: true }),
  P('get_prandom_u32', [], 'integer'),
  P('get_smp_processor_id', [], 'integer'),
  P('skb_store_bytes', ['ctx', 'anything', 'mem', 'size', 'anything'], 'integer', { progTypes: SKB_WRITE, changesPacket: true }),
  P('l3_csum_replace', ['ctx', 'anything', 'anything', 'anything', 'anything'], 'integer', { progTypes: [SCHED_CLS, SCHED_ACT], changesPacket: true }),
  P('l4_csum_replace', ['ctx', 'anything', 'anything', 'anything', 'anything'], 'integer', { progTypes: [SCHED_CLS, SCHED_ACT], changesPacket: true }),
  P('tail_call', ['ctx', 'map_ptr', 'anything'], 'void', { mapTypes: [MAP_TYPE.PROG_ARRAY] }),
  P('get_current_pid_tgid', [], 'integer'),
  P('get_current_uid_gid', [], 'integer'),
  P('get_current_comm', ['uninit_mem', 'size'], 'integer'),
  P('redirect', ['anything', 'anything'], 'integer', { progTypes: [SCHED_CLS, SCHED_ACT, XDP] }),
  P('perf_event_output', ['ctx', 'map_ptr', 'anything', 'mem', 'size_or_zero'], 'integer', { mapTypes: [MAP_TYPE.PERF_EVENT_ARRAY] }),
  P('skb_load_bytes', ['ctx', 'anything', 'uninit_mem', 'size'], 'integer', { progTypes: [SOCKET_FILTER, SCHED_CLS, SCHED_ACT, CGROUP_SKB, SK_SKB] }),
  P('csum_diff', ['mem_or_null', 'size_or_zero', 'mem_or_null', 'size_or_zero', 'anything'], 'integer', { progTypes: [SCHED_CLS, SCHED_ACT, XDP] }),
  P('xdp_adjust_head', ['ctx', 'anything'], 'integer', { progTypes: [XDP], changesPacket: true }),
  P('redirect_map', ['map_ptr', 'anything', 'anything'], 'integer', { progTypes: [XDP],
    mapTypes: [MAP_TYPE.DEVMAP, MAP_TYPE.DEVMAP_HASH, MAP_TYPE.CPUMAP, MAP_TYPE.XSKMAP] }),
  P('xdp_adjust_meta', ['ctx', 'anything'], 'integer', { progTypes: [XDP], changesPacket: true }),
  P('xdp_adjust_tail', ['ctx', 'anything'], 'integer', { progTypes: [XDP], changesPacket: true }),
  P('probe_read_user', ['uninit_mem', 'size_or_zero', 'anything'], 'integer', { privileged: true }),
  P('probe_read_kernel', ['uninit_mem', 'size_or_zero', 'anything'], 'integer', { privileged: true }),
  P('probe_read_user_str', ['uninit_mem', 'size_or_zero', 'anything'], 'integer', { privileged: true, retMaxFromArg: 2 }),
  P('probe_read_kernel_str', ['uninit_mem', 'size_or_zero', 'anything'], 'integer', { privileged: true, retMaxFromArg: 2 }),
  P('ringbuf_output', ['map_ptr', 'mem', 'size_or_zero', 'anything'], 'integer', { mapTypes: [MAP_TYPE.RINGBUF] }),
  P('ringbuf_reserve', ['map_ptr', 'alloc_size', 'anything'], 'ringbuf_mem_or_null', { mapTypes: [MAP_TYPE.RINGBUF] }),
  P('ringbuf_submit', ['ringbuf_mem', 'anything'], 'void'),
  P('ringbuf_discard', ['ringbuf_mem', 'anything'], 'void'),
  P('ringbuf_query', ['map_ptr', 'anything'], 'integer', { mapTypes: [MAP_TYPE.RINGBUF] }),
  P('loop', ['anything', 'func', 'stack_or_null', 'anything'], 'integer', { callback: { arg: 1, retMin: 0n, retMax: 1n } }),
  P('skb_vlan_push', ['ctx', 'anything', 'anything'], 'integer', { progTypes: TC, changesPacket: true }),
  P('skb_vlan_pop', ['ctx'], 'integer', { progTypes: TC, changesPacket: true }),
  P('clone_redirect', ['ctx', 'anything', 'anything'], 'integer', { progTypes: TC }),
  P('get_cgroup_classid', [], 'integer', { argsByType: { [SCHED_CLS]: ['ctx'], [SCHED_ACT]: ['ctx'] } }),
  P('get_current_task', [], 'integer'),
  P('get_stackid', ['ctx', 'map_ptr', 'anything'], 'integer', { progTypes: [KPROBE, TRACEPOINT, PERF_EVENT, RAW_TRACEPOINT], mapTypes: [MAP_TYPE.STACK_TRACE] }),
  P('skb_change_proto', ['ctx', 'anything', 'anything'], 'integer', { progTypes: TC, changesPacket: true }),
  P('skb_change_type', ['ctx', 'anything'], 'integer', { progTypes: TC }),
  P('get_hash_recalc', ['ctx'], 'integer', { progTypes: TC }),
  P('skb_change_tail', ['ctx', 'anything', 'anything'], 'integer', { progTypes: SKB_WRITE, changesPacket: true }),
  P('skb_pull_data', ['ctx', 'anything'], 'integer', { progTypes: SKB_WRITE, changesPacket: true }),
  P('csum_update', ['ctx', 'anything'], 'integer', { progTypes: TC }),
  P('set_hash_invalid', ['ctx'], 'void', { progTypes: TC }),
  P('skb_change_head', ['ctx', 'anything', 'anything'], 'integer', { progTypes: SKB_WRITE, changesPacket: true }),
  P('get_socket_cookie', ['ctx'], 'integer', { progTypes: [SOCKET_FILTER, SCHED_CLS, SCHED_ACT, CGROUP_SKB, SOCK_OPS, SK_SKB] }),
  P('get_socket_uid', ['ctx'], 'integer', { progTypes: [SOCKET_FILTER, SCHED_CLS, SCHED_ACT, CGROUP_SKB, SK_SKB] }),
  P('set_hash', ['ctx', 'anything'], 'integer', { progTypes: TC }),
  P('skb_adjust_room', ['ctx', 'anything', 'anything', 'anything'], 'integer', { progTypes: SKB_WRITE, changesPacket: true }),
  P('get_stack', ['ctx', 'uninit_mem', 'size_or_zero', 'anything'], 'integer', { progTypes: [KPROBE, TRACEPOINT, PERF_EVENT, RAW_TRACEPOINT, TRACING], retMaxFromArg: 3 }),
  P('skb_load_bytes_relative', ['ctx', 'anything', 'uninit_mem', 'size', 'anything'], 'integer', { progTypes: [SOCKET_FILTER, SCHED_CLS, SCHED_ACT, CGROUP_SKB] }),
  P('get_current_cgroup_id', [], 'integer'),
  P('map_push_elem', ['map_ptr', 'map_value', 'anything'], 'integer', { mapTypes: [MAP_TYPE.QUEUE, MAP_TYPE.STACK, MAP_TYPE.BLOOM_FILTER] }),
  P('map_pop_elem', ['map_ptr', 'uninit_map_value'], 'integer', { mapTypes: [MAP_TYPE.QUEUE, MAP_TYPE.STACK] }),
  P('map_peek_elem', ['map_ptr', 'uninit_map_value'], 'integer', { mapTypes: [MAP_TYPE.QUEUE, MAP_TYPE.STACK, MAP_TYPE.BLOOM_FILTER] }),
  P('get_route_realm', ['ctx'], 'integer', { progTypes: TC }),
  P('csum_level', ['ctx', 'anything'], 'integer', { progTypes: TC }),
  P('skb_ecn_set_ce', ['ctx'], 'integer', { progTypes: [SCHED_CLS, SCHED_ACT, CGROUP_SKB] }),
  P('fib_lookup', ['ctx', 'mem', 'size', 'anything'], 'integer', { progTypes: [SCHED_CLS, SCHED_ACT, XDP] }),
  P('redirect_neigh', ['anything', 'mem_or_null', 'size_or_zero', 'anything'], 'integer', { progTypes: TC }),
  P('redirect_peer', ['anything', 'anything'], 'integer', { progTypes: TC }),
  P('xdp_get_buff_len', ['ctx'], 'integer', { progTypes: [XDP] }),
  P('xdp_load_bytes', ['ctx', 'anything', 'uninit_mem', 'size'], 'integer', { progTypes: [XDP] }),
  P('xdp_store_bytes', ['ctx', 'anything', 'mem', 'size'], 'integer', { progTypes: [XDP] }),
  P('ktime_get_boot_ns', [], 'integer'),
  P('ktime_get_coarse_ns', [], 'integer', { progTypes: [SOCKET_FILTER, SCHED_CLS, SCHED_ACT, XDP, CGROUP_SKB, SOCK_OPS, SK_SKB, 9, 10, 11, 12, 15, 16, 18, 22, 30, 31] }),
  P('jiffies64', [], 'integer'),
  P('get_numa_node_id', [], 'integer'),
];
void TRACING_TYPES;

const BY_ID = new Map<number, HelperProto>(PROTOS.map((p) => [p.id, p]));

/** The prototype of a helper, or undefined when tsbpf does not know it. */
export function helperProto(helper: number): HelperProto | undefined {
  return BY_ID.get(helper);
}

/** Every known prototype. */
export function helperProtos(): readonly HelperProto[] {
  return PROTOS;
}

/** Arguments a helper reads (for liveness); 5 when unknown. */
export function helperArgCount(helper: number): number {
  const p = BY_ID.get(helper);
  if (!p) return 5;
  return Math.max(p.args.length, ...Object.values(p.argsByType ?? {}).map((a) => a.length));
}
