// Program types as the verifier sees them: the context a program receives in
// R1 (which fields it may read or write, with which access sizes, and which
// fields are packet pointers), the helpers it may call, and the values it
// may return. Layouts are UAPI facts (<linux/bpf.h>: struct __sk_buff,
// struct xdp_md; struct pt_regs of x86-64); the access rights were measured
// on Linux 6.18 by loading one access at every offset and size.
//
// Host applications describe their own hooks with the same
// ContextDescription (see docs/verifier.md).

export type CtxFieldKind = 'scalar' | 'pkt' | 'pkt_end' | 'pkt_meta';

export interface CtxField {
  readonly name: string;
  readonly offset: number;
  /** Width of the field in bytes. */
  readonly size: number;
  readonly read?: boolean;
  readonly write?: boolean;
  /** Reads narrower than the field are allowed (1 or 2 bytes at an offset aligned to the access size). */
  readonly narrow?: boolean;
  /** 8-byte accesses are allowed at 8-aligned offsets inside the field (cb[]). */
  readonly wide?: boolean;
  /** What a full-width read yields (default scalar). */
  readonly kind?: CtxFieldKind;
}

export interface ContextDescription {
  /** Name shown in messages: `xdp_md`, `__sk_buff`, or the host's own. */
  readonly name: string;
  /** Size of the context in bytes. */
  readonly size: number;
  /** Named fields; accesses outside them are refused. */
  readonly fields?: readonly CtxField[];
  /** Instead of fields: any access inside [minOffset, size) aligned to its size. */
  readonly raw?: { readonly minOffset?: number; readonly read: boolean; readonly write: boolean };
  /**
   * R0 at exit must be a scalar in this range. Undefined: any initialised
   * value (a pointer too, in privileged mode).
   */
  readonly returnRange?: readonly [bigint, bigint];
  /** Helper ids the program may call (undefined: what the program type allows, see helper-protos). */
  readonly helpers?: readonly number[];
  /** The UAPI program type this describes (0 for host-defined hooks). */
  readonly progType?: number;
}

export const PROG_TYPE = {
  SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, SCHED_ACT: 4, TRACEPOINT: 5, XDP: 6, PERF_EVENT: 7,
  CGROUP_SKB: 8, CGROUP_SOCK: 9, LWT_IN: 10, LWT_OUT: 11, LWT_XMIT: 12, SOCK_OPS: 13, SK_SKB: 14,
  RAW_TRACEPOINT: 17, TRACING: 26, SYSCALL: 31,
} as const;

const u32 = (name: string, offset: number, extra: Partial<CtxField> = {}): CtxField =>
  ({ name, offset, size: 4, read: true, narrow: true, ...extra });

/** struct xdp_md: every field a read-only u32, full width only. */
const XDP_MD: ContextDescription = {
  name: 'xdp_md',
  size: 24,
  progType: PROG_TYPE.XDP,
  fields: [
    { name: 'data', offset: 0, size: 4, read: true, kind: 'pkt' },
    { name: 'data_end', offset: 4, size: 4, read: true, kind: 'pkt_end' },
    { name: 'data_meta', offset: 8, size: 4, read: true, kind: 'pkt_meta' },
    { name: 'ingress_ifindex', offset: 12, size: 4, read: true },
    { name: 'rx_queue_index', offset: 16, size: 4, read: true },
  ],
};

/** The __sk_buff fields every skb program type reads the same way. */
function skbCommon(): CtxField[] {
  return [
    u32('len', 0), u32('pkt_type', 4), u32('mark', 8), u32('queue_mapping', 12), u32('protocol', 16),
    u32('vlan_present', 20), u32('vlan_tci', 24), u32('vlan_proto', 28), u32('priority', 32),
    u32('ingress_ifindex', 36), u32('ifindex', 40), u32('tc_index', 44),
    { name: 'cb[0]', offset: 48, size: 4, read: true, write: true, narrow: true, wide: true },
    { name: 'cb[1]', offset: 52, size: 4, read: true, write: true, narrow: true },
    { name: 'cb[2]', offset: 56, size: 4, read: true, write: true, narrow: true, wide: true },
    { name: 'cb[3]', offset: 60, size: 4, read: true, write: true, narrow: true },
    { name: 'cb[4]', offset: 64, size: 4, read: true, write: true, narrow: true },
    u32('hash', 68), u32('napi_id', 84), u32('gso_segs', 164),
    { name: 'sk', offset: 168, size: 8, read: true },
    u32('gso_size', 176),
  ];
}

function withField(fields: CtxField[], name: string, change: Partial<CtxField>): CtxField[] {
  return fields.map((f) => (f.name === name ? { ...f, ...change } : f));
}

const SK_FILTER: ContextDescription = {
  name: '__sk_buff', size: 192, progType: PROG_TYPE.SOCKET_FILTER, fields: skbCommon(),
};

function tcFields(): CtxField[] {
  let f = skbCommon();
  for (const n of ['mark', 'queue_mapping', 'priority', 'tc_index']) f = withField(f, n, { write: true });
  return [
    ...f,
    u32('tc_classid', 72, { write: true }),
    { name: 'data', offset: 76, size: 4, read: true, kind: 'pkt' },
    { name: 'data_end', offset: 80, size: 4, read: true, kind: 'pkt_end' },
    { name: 'data_meta', offset: 140, size: 4, read: true, kind: 'pkt_meta' },
    { name: 'tstamp', offset: 152, size: 8, read: true, write: true },
    u32('wire_len', 160),
    { name: 'tstamp_type', offset: 180, size: 1, read: true },
    { name: 'hwtstamp', offset: 184, size: 8, read: true },
  ];
}

const TC: ContextDescription = { name: '__sk_buff', size: 192, progType: PROG_TYPE.SCHED_CLS, fields: tcFields() };

function cgroupSkbFields(): CtxField[] {
  let f = skbCommon();
  for (const n of ['mark', 'priority']) f = withField(f, n, { write: true });
  const ip = (name: string, offset: number): CtxField => ({ name, offset, size: 4, read: true });
  return [
    ...f,
    { name: 'data', offset: 76, size: 4, read: true, kind: 'pkt' },
    { name: 'data_end', offset: 80, size: 4, read: true, kind: 'pkt_end' },
    u32('family', 88), ip('remote_ip4', 92), ip('local_ip4', 96),
    ip('remote_ip6[0]', 100), ip('remote_ip6[1]', 104), ip('remote_ip6[2]', 108), ip('remote_ip6[3]', 112),
    ip('local_ip6[0]', 116), ip('local_ip6[1]', 120), ip('local_ip6[2]', 124), ip('local_ip6[3]', 128),
    u32('remote_port', 132), u32('local_port', 136),
    { name: 'tstamp', offset: 152, size: 8, read: true, write: true },
    { name: 'hwtstamp', offset: 184, size: 8, read: true },
  ];
}

const CGROUP_SKB: ContextDescription = {
  name: '__sk_buff', size: 192, progType: PROG_TYPE.CGROUP_SKB, fields: cgroupSkbFields(), returnRange: [0n, 1n],
};

/** struct pt_regs (x86-64): read-only, any aligned access. */
const PT_REGS: ContextDescription = { name: 'pt_regs', size: 168, progType: PROG_TYPE.KPROBE, raw: { read: true, write: false } };
/** Raw tracepoint arguments: 12 u64. */
const RAW_TP: ContextDescription = { name: 'bpf_raw_tracepoint_args', size: 96, progType: PROG_TYPE.RAW_TRACEPOINT, raw: { read: true, write: false } };
/** Tracepoint record: the first 8 bytes (common fields) are hidden. */
const TRACEPOINT: ContextDescription = { name: 'tracepoint', size: 8192, progType: PROG_TYPE.TRACEPOINT, raw: { minOffset: 8, read: true, write: false } };

/** The context description of a UAPI program type, or undefined when tsbpf does not model it. */
export function progTypeContext(progType: number): ContextDescription | undefined {
  switch (progType) {
    case PROG_TYPE.SOCKET_FILTER: return SK_FILTER;
    case PROG_TYPE.SCHED_CLS: case PROG_TYPE.SCHED_ACT: return { ...TC, progType };
    case PROG_TYPE.XDP: return XDP_MD;
    case PROG_TYPE.CGROUP_SKB: return CGROUP_SKB;
    case PROG_TYPE.KPROBE: return PT_REGS;
    case PROG_TYPE.RAW_TRACEPOINT: return RAW_TP;
    case PROG_TYPE.TRACEPOINT: return TRACEPOINT;
    case PROG_TYPE.PERF_EVENT: return { ...PT_REGS, name: 'bpf_perf_event_data', size: 184, progType };
    default: return undefined;
  }
}

/** What a context access is, or a reason it is refused. */
export type CtxAccess =
  | { readonly ok: true; readonly field?: CtxField; readonly kind: CtxFieldKind }
  | { readonly ok: false };

/** Check one context access of `size` bytes at byte offset `off`. */
export function checkCtxAccess(ctx: ContextDescription, off: number, size: number, write: boolean): CtxAccess {
  if (off < 0 || off + size > ctx.size) return { ok: false };
  if (ctx.raw) {
    if ((write && !ctx.raw.write) || (!write && !ctx.raw.read)) return { ok: false };
    if (off < (ctx.raw.minOffset ?? 0) || off % size !== 0) return { ok: false };
    return { ok: true, kind: 'scalar' };
  }
  for (const f of ctx.fields ?? []) {
    if (off < f.offset || off >= f.offset + f.size) continue;
    if (write ? !f.write : !f.read) return { ok: false };
    if (off % size !== 0) return { ok: false };
    if (size === f.size && off === f.offset) return { ok: true, field: f, kind: f.kind ?? 'scalar' };
    if (size === 8 && f.wide) return { ok: true, field: f, kind: 'scalar' };
    if (size < f.size && f.narrow && (f.kind ?? 'scalar') === 'scalar' && (!write || f.write)) {
      // Narrow writes are allowed where narrow reads are, for writable scalar fields (cb[]).
      if (write && !f.name.startsWith('cb[')) return { ok: false };
      return { ok: true, field: f, kind: 'scalar' };
    }
    return { ok: false };
  }
  return { ok: false };
}
