// Program types as the verifier sees them: the context a program receives in
// R1 (which fields it may read or write, with which access sizes, and which
// fields are packet pointers), the helpers it may call, and the values it
// may return. Layouts are UAPI facts (<linux/bpf.h>: struct __sk_buff,
// struct xdp_md; struct pt_regs of x86-64); the access rights were measured
// on Linux 6.18 by loading one access at every offset and size.
//
// Host applications describe their own hooks with the same
// ContextDescription (see docs/verifier.md).

import type { HelperProto } from './helper-protos.js';

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
  /** Narrow writes are allowed too (cb[]). */
  readonly narrowWrite?: boolean;
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
  /** Instead of fields: any access inside [minOffset, size), aligned to its size unless `unaligned`. */
  readonly raw?: { readonly minOffset?: number; readonly read: boolean; readonly write: boolean; readonly unaligned?: boolean };
  /**
   * R0 at exit must be a scalar in this range. Undefined: any initialised
   * value (a pointer too, in privileged mode).
   */
  readonly returnRange?: readonly [bigint, bigint];
  /** Helper ids the program may call (undefined: what the program type allows, see helper-protos). */
  readonly helpers?: readonly number[];
  /** Prototypes of host-defined helpers (or overrides of the kernel's), checked like the kernel's. */
  readonly helperProtos?: readonly HelperProto[];
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
    { name: 'cb[0]', offset: 48, size: 4, read: true, write: true, narrow: true, narrowWrite: true, wide: true },
    { name: 'cb[1]', offset: 52, size: 4, read: true, write: true, narrow: true, narrowWrite: true },
    { name: 'cb[2]', offset: 56, size: 4, read: true, write: true, narrow: true, narrowWrite: true, wide: true },
    { name: 'cb[3]', offset: 60, size: 4, read: true, write: true, narrow: true, narrowWrite: true },
    { name: 'cb[4]', offset: 64, size: 4, read: true, write: true, narrow: true, narrowWrite: true },
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

/**
 * Context layouts measured on Linux 6.18 (one load or store per offset and
 * size), in a compact form: `offset:size:flags` with flags r (read), w
 * (write), n (1- and 2-byte reads inside), N (narrow writes too), d (8-byte
 * reads at this 8-aligned offset), p / e / m (reads give a packet, packet
 * end, packet meta pointer).
 */
function measured(name: string, size: number, progType: number, spec: string, returnRange?: readonly [bigint, bigint]): ContextDescription {
  const fields: CtxField[] = spec.split(/\s+/).filter(Boolean).map((e) => {
    const [o, sz, f] = e.split(':') as [string, string, string];
    const kind: CtxFieldKind = f.includes('p') ? 'pkt' : f.includes('e') ? 'pkt_end' : f.includes('m') ? 'pkt_meta' : 'scalar';
    return {
      name: `+${o}`, offset: Number(o), size: Number(sz), read: f.includes('r'), write: f.includes('w'),
      narrow: f.includes('n'), narrowWrite: f.includes('N'), wide: f.includes('d'), kind,
    };
  });
  return { name, size, progType, fields, ...(returnRange ? { returnRange } : {}) };
}

const SOCK_OPS = measured('bpf_sock_ops', 224, 13,
  '0:4:r 4:4:rw 8:4:r 12:4:r 16:4:r 20:4:r 24:4:r 28:4:r 32:4:r 36:4:r 40:4:r 44:4:r 48:4:r 52:4:r 56:4:r 60:4:r ' +
  '64:4:r 68:4:r 72:4:r 76:4:r 80:4:r 84:4:r 88:4:r 92:4:r 96:4:r 100:4:r 104:4:r 108:4:r 112:4:r 116:4:r 120:4:r ' +
  '124:4:r 128:4:r 132:4:r 136:4:r 140:4:r 144:4:r 148:4:r 152:4:r 156:4:r 160:4:r 164:4:rw 168:8:r 176:8:r 184:8:r ' +
  '192:8:rp 200:8:re 208:4:r 212:4:rn 216:8:r', [0n, 1n]);
const SK_SKB = measured('__sk_buff', 192, 14,
  '0:4:rn 4:4:rn 12:4:rn 16:4:rn 20:4:rn 24:4:rn 28:4:rn 32:4:rwn 36:4:rn 40:4:rn 44:4:rwn 48:4:rnd 52:4:rn 56:4:rnd ' +
  '60:4:rn 64:4:rn 68:4:rn 76:4:rp 80:4:re 84:4:rn 88:4:rn 92:4:r 96:4:r 100:4:r 104:4:r 108:4:r 112:4:r 116:4:r 120:4:r ' +
  '124:4:r 128:4:r 132:4:rn 136:4:rn 164:4:rn 168:8:r 176:4:rn');
const SK_MSG = measured('sk_msg_md', 80, 16,
  '0:8:rp 8:8:re 16:4:r 20:4:r 24:4:r 28:4:r 32:4:r 36:4:r 40:4:r 44:4:r 48:4:r 52:4:r 56:4:r 60:4:r 64:4:r 68:4:r 72:8:r');
const FLOW_DISSECTOR = measured('__sk_buff', 192, 22, '76:4:rp 80:4:re 144:8:r');
const LWT = (progType: number, write: boolean): ContextDescription => measured('__sk_buff', 192, progType,
  `0:4:rn 4:4:rn 8:4:r${write ? 'w' : ''}n 12:4:rn 16:4:rn 20:4:rn 24:4:rn 28:4:rn 32:4:r${write ? 'w' : ''}n 36:4:rn 40:4:rn ` +
  '44:4:rn 48:4:rwnNd 52:4:rwnN 56:4:rwnNd 60:4:rwnN 64:4:rwnN 68:4:rn 76:4:rp 80:4:re 84:4:rn 164:4:rn 168:8:r 176:4:rn');
const CGROUP_DEV = measured('bpf_cgroup_dev_ctx', 12, 15, '0:4:rn 4:4:r 8:4:r', [0n, 1n]);
const SOCK_ADDR = measured('bpf_sock_addr', 72, 18, '0:4:r 4:4:rwn 8:4:r 12:4:r 16:4:r 20:4:r 24:4:rwn 28:4:r 32:4:r 36:4:r 64:8:r', [0n, 1n]);
const CGROUP_SOCK = measured('bpf_sock', 24, 9, '0:4:rw 4:4:rn 8:4:rn 12:4:rn 16:4:rw 20:4:rw', [0n, 1n]);
const SK_LOOKUP = measured('bpf_sk_lookup', 72, 30,
  '0:8:r 8:4:rn 12:4:rn 16:4:rn 20:4:rn 24:4:rn 28:4:rn 32:4:rn 36:4:rn 40:4:rn 44:4:rn 48:4:rn 52:4:rn 56:4:rn 60:4:rn 64:4:rn', [0n, 1n]);

/** The context description of a UAPI program type, or undefined when tsbpf does not model it. */
export function progTypeContext(progType: number, expectedAttachType = 0): ContextDescription | undefined {
  switch (progType) {
    case PROG_TYPE.CGROUP_SKB:
      // Egress programs may also return 2 and 3 (congestion notification).
      return expectedAttachType === 1 ? { ...CGROUP_SKB, returnRange: [0n, 3n] } : CGROUP_SKB;
    case PROG_TYPE.SOCKET_FILTER: return SK_FILTER;
    case PROG_TYPE.SCHED_CLS: case PROG_TYPE.SCHED_ACT: return { ...TC, progType };
    case PROG_TYPE.XDP: return XDP_MD;
    case PROG_TYPE.KPROBE: return PT_REGS;
    case PROG_TYPE.RAW_TRACEPOINT: return RAW_TP;
    case PROG_TYPE.TRACEPOINT: return TRACEPOINT;
    case PROG_TYPE.PERF_EVENT: return { ...PT_REGS, name: 'bpf_perf_event_data', size: 184, progType };
    case PROG_TYPE.SOCK_OPS: return SOCK_OPS;
    case PROG_TYPE.SK_SKB: return SK_SKB;
    case 16: return SK_MSG;
    case 22: return FLOW_DISSECTOR;
    case PROG_TYPE.LWT_IN: return LWT(progType, false);
    case PROG_TYPE.LWT_OUT: return LWT(progType, false);
    case PROG_TYPE.LWT_XMIT: return LWT(progType, true);
    case 15: return CGROUP_DEV;
    case 18: return SOCK_ADDR;
    case PROG_TYPE.CGROUP_SOCK: return CGROUP_SOCK;
    case 30: return SK_LOOKUP;
    case PROG_TYPE.SYSCALL:
      // The context is a user buffer of any size the caller passes; reads and writes of it are allowed.
      return { name: 'syscall ctx', size: 4096, progType, raw: { read: true, write: true } };
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
    if (off < (ctx.raw.minOffset ?? 0) || (!ctx.raw.unaligned && off % size !== 0)) return { ok: false };
    return { ok: true, kind: 'scalar' };
  }
  for (const f of ctx.fields ?? []) {
    if (off < f.offset || off >= f.offset + f.size) continue;
    if (write ? !f.write : !f.read) return { ok: false };
    if (off % size !== 0) return { ok: false };
    if (size === f.size && off === f.offset) return { ok: true, field: f, kind: f.kind ?? 'scalar' };
    if (size === 8 && f.wide) return { ok: true, field: f, kind: 'scalar' };
    if (size < f.size && f.narrow && (f.kind ?? 'scalar') === 'scalar' && (!write || f.write)) {
      if (write && !f.narrowWrite) return { ok: false };
      return { ok: true, field: f, kind: 'scalar' };
    }
    return { ok: false };
  }
  return { ok: false };
}
