// Networking helpers shared by XDP and tc programs: redirect, redirect_map,
// clone_redirect, csum_diff, fib_lookup (against the host's route table).
// Packet-editing helpers that belong to one context live with their
// program type (progtypes/xdp.ts, progtypes/skb.ts).

import type { HelperContext, HelperSpec } from './helpers.js';
import { mapFromHandle } from './maps/index.js';
import { SkbSession, csumDiff } from './progtypes/skb.js';
import type { FibRoute, HelperFamily, RunHost } from './progtypes/types.js';

const EINVAL = -22;
const EAFNOSUPPORT = -97;

const XDP_ABORTED = 0;
const XDP_REDIRECT = 4;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const BPF_F_INGRESS = 1;
/** BPF_F_ACTION_MASK (XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX), BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS. */
const BPF_F_ACTION_MASK = 3;
const BPF_F_BROADCAST = 1 << 3;
const BPF_F_EXCLUDE_INGRESS = 1 << 4;

function hostOf(ctx: HelperContext): RunHost | undefined {
  return ctx.host as RunHost | undefined;
}

function family(ctx: HelperContext): HelperFamily | undefined {
  return hostOf(ctx)?.progType.family;
}

const num = (v: bigint): number => Number(v & 0xffffffffn);

/** bpf_fib_lookup results (enum in <linux/bpf.h>). */
export const BPF_FIB_LKUP_RET = {
  SUCCESS: 0, BLACKHOLE: 1, UNREACHABLE: 2, PROHIBIT: 3, NOT_FWDED: 4, FWD_DISABLED: 5, UNSUPP_LWT: 6,
  NO_NEIGH: 7, FRAG_NEEDED: 8, NO_SRC_ADDR: 9,
} as const;
const BPF_FIB_LOOKUP_SKIP_NEIGH = 1 << 2;

function matches(prefix: Uint8Array, len: number, addr: Uint8Array): boolean {
  const full = len >> 3;
  for (let i = 0; i < full; i++) if (prefix[i] !== addr[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((prefix[full]! ^ addr[full]!) & mask) === 0;
}

/** Longest-prefix match in the host's routes. */
export function fibRoute(routes: readonly FibRoute[], fam: 2 | 10, dst: Uint8Array): FibRoute | undefined {
  let best: FibRoute | undefined;
  for (const r of routes) {
    if (r.family !== fam || !matches(r.prefix, r.prefixLen, dst)) continue;
    if (!best || r.prefixLen > best.prefixLen) best = r;
  }
  return best;
}

function fibLookup(_ctx: bigint, params: bigint, plen: bigint, flags: bigint, _5: bigint, ctx: HelperContext): number {
  if (num(plen) < 64) return EINVAL;
  if (flags > 0xffffffffn || (Number(flags) & ~0x3f) !== 0) return EINVAL;
  const at = ctx.checkAccess(params, 64, true);
  const m = ctx.memory.u8;
  const dv = ctx.memory.view;
  const fam = m[at]!;
  if (fam !== 2 && fam !== 10) return EAFNOSUPPORT;
  const alen = fam === 2 ? 4 : 16;
  const dst = m.slice(at + 32, at + 32 + alen);
  const routes = hostOf(ctx)?.env.fibRoutes ?? [];
  const r = fibRoute(routes, fam, dst);
  if (!r) return BPF_FIB_LKUP_RET.NOT_FWDED;
  switch (r.kind ?? 'unicast') {
    case 'blackhole': return BPF_FIB_LKUP_RET.BLACKHOLE;
    case 'unreachable': return BPF_FIB_LKUP_RET.UNREACHABLE;
    case 'prohibit': return BPF_FIB_LKUP_RET.PROHIBIT;
    default: break;
  }
  const mtu = r.mtu ?? 1500;
  const totLen = dv.getUint16(at + 6, true);
  dv.setUint32(at + 8, r.ifindex >>> 0, true);
  if (totLen > mtu) {
    dv.setUint16(at + 6, mtu, true);
    return BPF_FIB_LKUP_RET.FRAG_NEEDED;
  }
  dv.setUint16(at + 6, mtu, true);
  if (r.gateway) m.set(r.gateway.subarray(0, alen), at + 32);
  m.fill(0, at + 52, at + 64);
  if (r.smac) m.set(r.smac.subarray(0, 6), at + 52);
  if (Number(flags) & BPF_FIB_LOOKUP_SKIP_NEIGH) return BPF_FIB_LKUP_RET.SUCCESS;
  if (!r.dmac) return BPF_FIB_LKUP_RET.NO_NEIGH;
  m.set(r.dmac.subarray(0, 6), at + 58);
  return BPF_FIB_LKUP_RET.SUCCESS;
}

export const NET_HELPERS: readonly HelperSpec[] = [
  {
    id: 23, name: 'redirect', impl: (ifindex, flags, _3, _4, _5, ctx) => {
      const h = hostOf(ctx);
      if (family(ctx) === 'xdp') {
        if (flags !== 0n) return XDP_ABORTED;
        if (h) h.redirect = { helper: 'redirect', ifindex: num(ifindex), flags: 0 };
        return XDP_REDIRECT;
      }
      if ((flags & ~BigInt(BPF_F_INGRESS)) !== 0n) return TC_ACT_SHOT;
      if (h) h.redirect = { helper: 'redirect', ifindex: num(ifindex), flags: Number(flags) };
      return TC_ACT_REDIRECT;
    },
  },
  {
    id: 155, name: 'redirect_peer', impl: (ifindex, flags, _3, _4, _5, ctx) => {
      if (flags !== 0n) return TC_ACT_SHOT;
      const h = hostOf(ctx);
      if (h) h.redirect = { helper: 'redirect_peer', ifindex: num(ifindex), flags: 0 };
      return TC_ACT_REDIRECT;
    },
  },
  {
    id: 152, name: 'redirect_neigh', impl: (ifindex, _params, plen, flags, _5, ctx) => {
      if (flags !== 0n || (plen !== 0n && num(plen) < 20)) return TC_ACT_SHOT;
      const h = hostOf(ctx);
      if (h) h.redirect = { helper: 'redirect_neigh', ifindex: num(ifindex), flags: 0 };
      return TC_ACT_REDIRECT;
    },
  },
  {
    id: 51, name: 'redirect_map', impl: (map, key, flags, _4, _5, ctx) => {
      const f = Number(flags & 0xffffffffn);
      if (flags > 0xffffffffn || (f & ~(BPF_F_ACTION_MASK | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS)) !== 0) return XDP_ABORTED;
      const m = mapFromHandle(ctx.memory, Number(map & 0xffffffffn));
      const k = num(key);
      const h = hostOf(ctx);
      const target = m && 'redirectTarget' in m ? (m as { redirectTarget(key: number): Uint8Array | undefined }).redirectTarget(k) : undefined;
      if (!(f & BPF_F_BROADCAST) && !target) return f & BPF_F_ACTION_MASK;
      const ifindex = target && target.length >= 4 ? (target[0]! | (target[1]! << 8) | (target[2]! << 16) | (target[3]! << 24)) >>> 0 : 0;
      if (h) h.redirect = { helper: 'redirect_map', ifindex, flags: f, ...(m ? { map: m.name } : {}), key: k };
      return XDP_REDIRECT;
    },
  },
  {
    id: 13, name: 'clone_redirect', impl: (_skb, ifindex, flags, _4, _5, ctx) => {
      if ((flags & ~BigInt(BPF_F_INGRESS)) !== 0n) return EINVAL;
      const h = hostOf(ctx);
      const s = h?.session;
      if (h && s instanceof SkbSession) h.clones.push({ ifindex: num(ifindex), flags: Number(flags), data: ctx.memory.read(s.mac, s.end - s.mac) });
      return 0;
    },
  },
  {
    id: 28, name: 'csum_diff', impl: (from, fromSize, to, toSize, seed, ctx) => {
      const fs = num(fromSize);
      const ts = num(toSize);
      if (fromSize > 0xffffffffn || toSize > 0xffffffffn || fs + ts > 512 * 1024) return EINVAL;
      const m = ctx.memory;
      const a = fs > 0 ? m.read(ctx.checkAccess(from, fs, false), fs) : new Uint8Array(0);
      const b = ts > 0 ? m.read(ctx.checkAccess(to, ts, false), ts) : new Uint8Array(0);
      return csumDiff(a, b, num(seed));
    },
  },
  { id: 69, name: 'fib_lookup', impl: fibLookup },
];

/** Which families may call each helper of NET_HELPERS. */
export const NET_HELPER_FAMILIES: ReadonlyMap<number, readonly HelperFamily[]> = new Map<number, readonly HelperFamily[]>([
  [23, ['xdp', 'skb']], [155, ['skb']], [152, ['skb']], [51, ['xdp']], [13, ['skb']], [28, ['xdp', 'skb', 'raw']],
  [69, ['xdp', 'skb']],
]);
