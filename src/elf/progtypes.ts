// ELF section name -> program type and expected attach type, as libbpf reads
// section names (its documentation, "Program Types and ELF Sections").
// Numbers are UAPI facts: enum bpf_prog_type and enum bpf_attach_type.

export const BPF_PROG_TYPE = {
  UNSPEC: 0, SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, SCHED_ACT: 4, TRACEPOINT: 5, XDP: 6,
  PERF_EVENT: 7, CGROUP_SKB: 8, CGROUP_SOCK: 9, LWT_IN: 10, LWT_OUT: 11, LWT_XMIT: 12, SOCK_OPS: 13,
  SK_SKB: 14, CGROUP_DEVICE: 15, SK_MSG: 16, RAW_TRACEPOINT: 17, CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19, LIRC_MODE2: 20, SK_REUSEPORT: 21, FLOW_DISSECTOR: 22, CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24, CGROUP_SOCKOPT: 25, TRACING: 26, STRUCT_OPS: 27, EXT: 28, LSM: 29,
  SK_LOOKUP: 30, SYSCALL: 31, NETFILTER: 32,
} as const;

export const BPF_ATTACH_TYPE = {
  CGROUP_INET_INGRESS: 0, CGROUP_INET_EGRESS: 1, CGROUP_INET_SOCK_CREATE: 2, CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4, SK_SKB_STREAM_VERDICT: 5, CGROUP_DEVICE: 6, SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8, CGROUP_INET6_BIND: 9, CGROUP_INET4_CONNECT: 10, CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12, CGROUP_INET6_POST_BIND: 13, CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15, LIRC_MODE2: 16, FLOW_DISSECTOR: 17, CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19, CGROUP_UDP6_RECVMSG: 20, CGROUP_GETSOCKOPT: 21, CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23, TRACE_FENTRY: 24, TRACE_FEXIT: 25, MODIFY_RETURN: 26, LSM_MAC: 27,
  TRACE_ITER: 28, CGROUP_INET4_GETPEERNAME: 29, CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31, CGROUP_INET6_GETSOCKNAME: 32, XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34, XDP_CPUMAP: 35, SK_LOOKUP: 36, XDP: 37, SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39, SK_REUSEPORT_SELECT_OR_MIGRATE: 40, PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42, LSM_CGROUP: 43, STRUCT_OPS: 44, NETFILTER: 45, TCX_INGRESS: 46,
  TCX_EGRESS: 47, TRACE_UPROBE_MULTI: 48, CGROUP_UNIX_CONNECT: 49, CGROUP_UNIX_SENDMSG: 50,
  CGROUP_UNIX_RECVMSG: 51, CGROUP_UNIX_GETPEERNAME: 52, CGROUP_UNIX_GETSOCKNAME: 53,
  NETKIT_PRIMARY: 54, NETKIT_PEER: 55, TRACE_KPROBE_SESSION: 56, TRACE_UPROBE_SESSION: 57,
} as const;

/** BPF_F_SLEEPABLE and BPF_F_XDP_HAS_FRAGS program flags (UAPI). */
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

export type ProgTypeName = keyof typeof BPF_PROG_TYPE;
export type AttachTypeName = keyof typeof BPF_ATTACH_TYPE;

export interface SectionDef {
  /** Section name or prefix. */
  readonly sec: string;
  readonly type: ProgTypeName;
  readonly attach?: AttachTypeName;
  /**
   * 'exact': the name only; 'prefix': the name, or the name followed by `/`
   * and a target (libbpf's `+` entries); 'legacy': also any name starting
   * with it (pre-1.0 libbpf's sloppy prefixes: `socket1`, `xdp_foo`).
   */
  readonly match: 'exact' | 'prefix' | 'legacy';
  readonly flags?: number;
}

const S = BPF_F_SLEEPABLE;
const d = (sec: string, type: ProgTypeName, attach: AttachTypeName | undefined, match: SectionDef['match'], flags = 0): SectionDef =>
  ({ sec, type, ...(attach ? { attach } : {}), match, ...(flags ? { flags } : {}) });

/** First match wins: more specific names come first. */
export const SECTION_DEFS: readonly SectionDef[] = [
  d('socket', 'SOCKET_FILTER', undefined, 'legacy'),
  d('sk_reuseport/migrate', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT_OR_MIGRATE', 'exact'),
  d('sk_reuseport', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT', 'exact'),
  d('kprobe.multi', 'KPROBE', 'TRACE_KPROBE_MULTI', 'prefix'),
  d('kretprobe.multi', 'KPROBE', 'TRACE_KPROBE_MULTI', 'prefix'),
  d('kprobe.session', 'KPROBE', 'TRACE_KPROBE_SESSION', 'prefix'),
  d('uprobe.multi.s', 'KPROBE', 'TRACE_UPROBE_MULTI', 'prefix', S),
  d('uretprobe.multi.s', 'KPROBE', 'TRACE_UPROBE_MULTI', 'prefix', S),
  d('uprobe.multi', 'KPROBE', 'TRACE_UPROBE_MULTI', 'prefix'),
  d('uretprobe.multi', 'KPROBE', 'TRACE_UPROBE_MULTI', 'prefix'),
  d('uprobe.session.s', 'KPROBE', 'TRACE_UPROBE_SESSION', 'prefix', S),
  d('uprobe.session', 'KPROBE', 'TRACE_UPROBE_SESSION', 'prefix'),
  d('uprobe.s', 'KPROBE', undefined, 'prefix', S),
  d('uretprobe.s', 'KPROBE', undefined, 'prefix', S),
  d('kprobe', 'KPROBE', undefined, 'legacy'),
  d('uprobe', 'KPROBE', undefined, 'prefix'),
  d('kretprobe', 'KPROBE', undefined, 'legacy'),
  d('uretprobe', 'KPROBE', undefined, 'prefix'),
  d('ksyscall', 'KPROBE', undefined, 'prefix'),
  d('kretsyscall', 'KPROBE', undefined, 'prefix'),
  d('usdt.s', 'KPROBE', undefined, 'prefix', S),
  d('usdt', 'KPROBE', undefined, 'prefix'),
  d('tc/ingress', 'SCHED_CLS', 'TCX_INGRESS', 'exact'),
  d('tc/egress', 'SCHED_CLS', 'TCX_EGRESS', 'exact'),
  d('tcx/ingress', 'SCHED_CLS', 'TCX_INGRESS', 'exact'),
  d('tcx/egress', 'SCHED_CLS', 'TCX_EGRESS', 'exact'),
  d('netkit/primary', 'SCHED_CLS', 'NETKIT_PRIMARY', 'exact'),
  d('netkit/peer', 'SCHED_CLS', 'NETKIT_PEER', 'exact'),
  d('tc', 'SCHED_CLS', undefined, 'prefix'),
  d('classifier', 'SCHED_CLS', undefined, 'legacy'),
  d('action', 'SCHED_ACT', undefined, 'legacy'),
  d('tracepoint', 'TRACEPOINT', undefined, 'legacy'),
  d('tp_btf', 'TRACING', 'TRACE_RAW_TP', 'prefix'),
  d('tp', 'TRACEPOINT', undefined, 'prefix'),
  d('raw_tracepoint.w', 'RAW_TRACEPOINT_WRITABLE', undefined, 'prefix'),
  d('raw_tp.w', 'RAW_TRACEPOINT_WRITABLE', undefined, 'prefix'),
  d('raw_tracepoint', 'RAW_TRACEPOINT', undefined, 'legacy'),
  d('raw_tp', 'RAW_TRACEPOINT', undefined, 'legacy'),
  d('fentry.s', 'TRACING', 'TRACE_FENTRY', 'prefix', S),
  d('fmod_ret.s', 'TRACING', 'MODIFY_RETURN', 'prefix', S),
  d('fexit.s', 'TRACING', 'TRACE_FEXIT', 'prefix', S),
  d('fentry', 'TRACING', 'TRACE_FENTRY', 'prefix'),
  d('fmod_ret', 'TRACING', 'MODIFY_RETURN', 'prefix'),
  d('fexit', 'TRACING', 'TRACE_FEXIT', 'prefix'),
  d('freplace', 'EXT', undefined, 'prefix'),
  d('lsm.s', 'LSM', 'LSM_MAC', 'prefix', S),
  d('lsm_cgroup', 'LSM', 'LSM_CGROUP', 'prefix'),
  d('lsm', 'LSM', 'LSM_MAC', 'prefix'),
  d('iter.s', 'TRACING', 'TRACE_ITER', 'prefix', S),
  d('iter', 'TRACING', 'TRACE_ITER', 'prefix'),
  d('syscall', 'SYSCALL', undefined, 'exact', S),
  d('xdp.frags/devmap', 'XDP', 'XDP_DEVMAP', 'exact', BPF_F_XDP_HAS_FRAGS),
  d('xdp/devmap', 'XDP', 'XDP_DEVMAP', 'exact'),
  d('xdp.frags/cpumap', 'XDP', 'XDP_CPUMAP', 'exact', BPF_F_XDP_HAS_FRAGS),
  d('xdp/cpumap', 'XDP', 'XDP_CPUMAP', 'exact'),
  d('xdp.frags', 'XDP', 'XDP', 'prefix', BPF_F_XDP_HAS_FRAGS),
  d('xdp', 'XDP', 'XDP', 'legacy'),
  d('perf_event', 'PERF_EVENT', undefined, 'legacy'),
  d('lwt_in', 'LWT_IN', undefined, 'legacy'),
  d('lwt_out', 'LWT_OUT', undefined, 'legacy'),
  d('lwt_xmit', 'LWT_XMIT', undefined, 'legacy'),
  d('lwt_seg6local', 'LWT_SEG6LOCAL', undefined, 'legacy'),
  d('sockops', 'SOCK_OPS', 'CGROUP_SOCK_OPS', 'legacy'),
  d('sk_skb/stream_parser', 'SK_SKB', 'SK_SKB_STREAM_PARSER', 'legacy'),
  d('sk_skb/stream_verdict', 'SK_SKB', 'SK_SKB_STREAM_VERDICT', 'legacy'),
  d('sk_skb/verdict', 'SK_SKB', 'SK_SKB_VERDICT', 'legacy'),
  d('sk_skb', 'SK_SKB', undefined, 'legacy'),
  d('sk_msg', 'SK_MSG', 'SK_MSG_VERDICT', 'legacy'),
  d('lirc_mode2', 'LIRC_MODE2', 'LIRC_MODE2', 'legacy'),
  d('flow_dissector', 'FLOW_DISSECTOR', 'FLOW_DISSECTOR', 'legacy'),
  d('cgroup_skb/ingress', 'CGROUP_SKB', 'CGROUP_INET_INGRESS', 'legacy'),
  d('cgroup_skb/egress', 'CGROUP_SKB', 'CGROUP_INET_EGRESS', 'legacy'),
  d('cgroup/skb', 'CGROUP_SKB', undefined, 'legacy'),
  d('cgroup/sock_create', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE', 'exact'),
  d('cgroup/sock_release', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_RELEASE', 'exact'),
  d('cgroup/sock', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE', 'legacy'),
  d('cgroup/post_bind4', 'CGROUP_SOCK', 'CGROUP_INET4_POST_BIND', 'legacy'),
  d('cgroup/post_bind6', 'CGROUP_SOCK', 'CGROUP_INET6_POST_BIND', 'legacy'),
  d('cgroup/bind4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_BIND', 'legacy'),
  d('cgroup/bind6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_BIND', 'legacy'),
  d('cgroup/connect4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT', 'legacy'),
  d('cgroup/connect6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_CONNECT', 'legacy'),
  d('cgroup/connect_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_CONNECT', 'exact'),
  d('cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG', 'legacy'),
  d('cgroup/sendmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_SENDMSG', 'legacy'),
  d('cgroup/sendmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_SENDMSG', 'exact'),
  d('cgroup/recvmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_RECVMSG', 'legacy'),
  d('cgroup/recvmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_RECVMSG', 'legacy'),
  d('cgroup/recvmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_RECVMSG', 'exact'),
  d('cgroup/getpeername4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETPEERNAME', 'legacy'),
  d('cgroup/getpeername6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETPEERNAME', 'legacy'),
  d('cgroup/getpeername_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETPEERNAME', 'exact'),
  d('cgroup/getsockname4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETSOCKNAME', 'legacy'),
  d('cgroup/getsockname6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETSOCKNAME', 'legacy'),
  d('cgroup/getsockname_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETSOCKNAME', 'exact'),
  d('cgroup/sysctl', 'CGROUP_SYSCTL', 'CGROUP_SYSCTL', 'legacy'),
  d('cgroup/getsockopt', 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT', 'legacy'),
  d('cgroup/setsockopt', 'CGROUP_SOCKOPT', 'CGROUP_SETSOCKOPT', 'legacy'),
  d('cgroup/dev', 'CGROUP_DEVICE', 'CGROUP_DEVICE', 'legacy'),
  d('struct_ops.s', 'STRUCT_OPS', undefined, 'prefix', S),
  d('struct_ops', 'STRUCT_OPS', undefined, 'prefix'),
  d('sk_lookup', 'SK_LOOKUP', 'SK_LOOKUP', 'legacy'),
  d('netfilter', 'NETFILTER', 'NETFILTER', 'exact'),
];

export interface SectionMatch {
  readonly def: SectionDef;
  readonly type: number;
  readonly attachType?: number;
  /** What follows `prefix/` in the name: the probe target, tracepoint, ... */
  readonly attachTo?: string;
  readonly flags: number;
}

/** Program type for an executable section name, or undefined when libbpf would not know it. */
export function matchSection(name: string): SectionMatch | undefined {
  const pass = (accept: (def: SectionDef) => string | undefined | false): SectionMatch | undefined => {
    for (const def of SECTION_DEFS) {
      const to = accept(def);
      if (to === false) continue;
      return {
        def,
        type: BPF_PROG_TYPE[def.type],
        ...(def.attach ? { attachType: BPF_ATTACH_TYPE[def.attach] } : {}),
        ...(to ? { attachTo: to } : {}),
        flags: def.flags ?? 0,
      };
    }
    return undefined;
  };
  return pass((d) => (name === d.sec ? undefined : false)) ??
    pass((d) => (d.match !== 'exact' && name.startsWith(d.sec + '/') ? name.slice(d.sec.length + 1) : false)) ??
    pass((d) => (d.match === 'legacy' && name.startsWith(d.sec) ? undefined : false));
}

export function progTypeName(type: number): string {
  for (const [k, v] of Object.entries(BPF_PROG_TYPE)) if (v === type) return k;
  return `UNKNOWN(${type})`;
}

export function attachTypeName(type: number): string {
  for (const [k, v] of Object.entries(BPF_ATTACH_TYPE)) if (v === type) return k;
  return `UNKNOWN(${type})`;
}
