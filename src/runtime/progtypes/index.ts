// Program types by enum bpf_prog_type and by name (docs/program-types.md).
import {
  CGROUP_SOCK, CGROUP_SOCK_ADDR, CGROUP_SYSCTL, KPROBE, PERF_EVENT, RAW, RAW_TRACEPOINT, RAW_TRACEPOINT_WRITABLE,
  SOCK_OPS, SYSCALL, TRACEPOINT, TRACING,
} from './buffer.js';
import { CGROUP_SKB, LWT_IN, LWT_OUT, LWT_XMIT, SCHED_ACT, SCHED_CLS, SOCKET_FILTER } from './skb.js';
import type { ProgType } from './types.js';
import { XDP } from './xdp.js';

export * from './types.js';
export { XDP, XdpSession, XDP_ACTION, XDP_MD_FIELDS, XDP_MD_SIZE, XDP_PACKET_HEADROOM, XDP_MAX_LINEAR } from './xdp.js';
export {
  SCHED_CLS, SCHED_ACT, SOCKET_FILTER, CGROUP_SKB, SkbSession, SK_BUFF_FIELDS, SK_BUFF_SIZE, TC_ACT, csumDiff, csumFold,
} from './skb.js';
export { RAW, PT_REGS_FIELDS } from './buffer.js';

/** Every program type tsbpf can run. */
export const PROG_TYPES: readonly ProgType[] = [
  RAW, SOCKET_FILTER, KPROBE, SCHED_CLS, SCHED_ACT, TRACEPOINT, XDP, PERF_EVENT, CGROUP_SKB, CGROUP_SOCK, LWT_IN, LWT_OUT,
  LWT_XMIT, SOCK_OPS, RAW_TRACEPOINT, CGROUP_SOCK_ADDR, CGROUP_SYSCTL, RAW_TRACEPOINT_WRITABLE, TRACING, SYSCALL,
];

const BY_ID = new Map<number, ProgType>(PROG_TYPES.map((t) => [t.id, t]));

/** The program type of an enum bpf_prog_type value, or undefined when tsbpf cannot run it. */
export function progTypeById(id: number): ProgType | undefined {
  return BY_ID.get(id);
}

/** A program type by kernel name or alias (`xdp`, `sched_cls`, `tc`, `socket_filter`, `socket`, `kprobe`, ...), case-insensitive. */
export function progTypeByName(name: string): ProgType | undefined {
  const n = name.toLowerCase().replace(/-/g, '_');
  for (const t of PROG_TYPES) if (t.name === n || t.aliases.includes(n)) return t;
  const k = n.startsWith('bpf_prog_type_') ? n.slice(14) : n;
  for (const t of PROG_TYPES) if (t.name === k) return t;
  return undefined;
}
