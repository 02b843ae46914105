// struct __sk_buff program types: SCHED_CLS and SCHED_ACT (tc), SOCKET_FILTER,
// CGROUP_SKB, LWT_*. The skb is built as the kernel's BPF_PROG_TEST_RUN
// builds it (measured on Linux 6.18, docs/program-types.md):
//
// - data_in of at least 14 bytes, an Ethernet frame; the "device" is lo
//   (ifindex 1, MAC 00:00:00:00:00:00), so pkt_type is PACKET_HOST only for
//   that destination, BROADCAST/MULTICAST by the group bit, else OTHERHOST;
//   protocol is the EtherType (__be16 as the kernel's u32 field holds it);
// - layer-2 types (tc, lwt_xmit) see skb->data at the MAC header; the
//   others (socket filter, cgroup skb, lwt_in/out) at the network header,
//   with len 14 bytes shorter, and their data_out has the 14 MAC bytes
//   zeroed (the kernel memsets the header it pushes back);
// - ctx_in may set mark, priority, ingress_ifindex (any), ifindex (0 = lo,
//   else a host interface, ENODEV otherwise), cb[],
//   tstamp, wire_len (>= len; 0 means len), gso_segs, gso_size, hwtstamp;
//   any other non-zero field is refused (EINVAL). ctx_out carries exactly
//   those fields back;
// - a socket is attached: family AF_INET/AF_INET6 with the packet's source
//   as local and destination as remote address, ports 0, state TCP_CLOSE;
//   skb->sk points at its struct bpf_sock.
//
// __sk_buff.data, data_end and data_meta hold real addresses (32 bits
// suffice); every other field is plain memory the helpers keep in step.

import { TestRunError } from '../../errors.js';
import type { HelperContext, HelperSpec } from '../helpers.js';
import type { LinearMemory } from '../memory.js';
import { GUARD, MovableRegion, ctxBytes, mustBeZero, setU32, setU64, u32, u64 } from './common.js';
import type { CtxField, ProgType, RunHost, Session, SessionEnv, TestRunInput, TestRunOutput } from './types.js';

export const SK_BUFF_SIZE = 192;
export const BPF_SOCK_SIZE = 80;
const ETH_HLEN = 14;
/** NET_SKB_PAD on x86-64 (NET_IP_ALIGN is 0 there). */
const SKB_HEADROOM = 64;
/** Largest data_in: PAGE_SIZE - headroom - SKB_DATA_ALIGN(sizeof(struct skb_shared_info)). */
export const SKB_MAX_DATA = 4096 - SKB_HEADROOM - 320;
/** Largest packet the helpers may grow to (lo's MTU 65536 + the MAC header). */
const SKB_MAX_LEN = 65536 + ETH_HLEN;

/** Offsets of struct __sk_buff (UAPI). */
export const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76,
  data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116,
  remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164,
  sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;

export const SK_BUFF_FIELDS: readonly CtxField[] = [
  { name: 'len', offset: 0, size: 4, note: 'bytes from skb->data to the end' },
  { name: 'pkt_type', offset: 4, size: 4, note: 'PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3 (by destination MAC)' },
  { name: 'mark', offset: 8, size: 4, writable: true },
  { name: 'queue_mapping', offset: 12, size: 4, writable: true },
  { name: 'protocol', offset: 16, size: 4, note: 'EtherType, network byte order' },
  { name: 'vlan_present', offset: 20, size: 4 },
  { name: 'vlan_tci', offset: 24, size: 4 },
  { name: 'vlan_proto', offset: 28, size: 4 },
  { name: 'priority', offset: 32, size: 4, writable: true },
  { name: 'ingress_ifindex', offset: 36, size: 4 },
  { name: 'ifindex', offset: 40, size: 4, note: '1 (lo)' },
  { name: 'tc_index', offset: 44, size: 4, writable: true },
  { name: 'cb', offset: 48, size: 20, writable: true, note: '__u32 cb[5]' },
  { name: 'hash', offset: 68, size: 4 },
  { name: 'tc_classid', offset: 72, size: 4, writable: true },
  { name: 'data', offset: 76, size: 4, note: 'address of skb->data' },
  { name: 'data_end', offset: 80, size: 4, note: 'address after the last byte' },
  { name: 'napi_id', offset: 84, size: 4 },
  { name: 'family', offset: 88, size: 4, note: 'of skb->sk (cgroup_skb)' },
  { name: 'remote_ip4', offset: 92, size: 4 },
  { name: 'local_ip4', offset: 96, size: 4 },
  { name: 'remote_ip6', offset: 100, size: 16 },
  { name: 'local_ip6', offset: 116, size: 16 },
  { name: 'remote_port', offset: 132, size: 4 },
  { name: 'local_port', offset: 136, size: 4 },
  { name: 'data_meta', offset: 140, size: 4, note: '= data' },
  { name: 'flow_keys', offset: 144, size: 8, note: 'flow dissector only: 0' },
  { name: 'tstamp', offset: 152, size: 8, writable: true },
  { name: 'wire_len', offset: 160, size: 4 },
  { name: 'gso_segs', offset: 164, size: 4 },
  { name: 'sk', offset: 168, size: 8, note: 'address of a struct bpf_sock' },
  { name: 'gso_size', offset: 176, size: 4 },
  { name: 'tstamp_type', offset: 180, size: 1 },
  { name: 'hwtstamp', offset: 184, size: 8 },
];

/** Fields ctx_in may set and ctx_out returns (everything else must be 0 in ctx_in). */
const CTX_IO: readonly (readonly [string, number, number])[] = [
  ['mark', SKB.mark, 4], ['priority', SKB.priority, 4], ['ingress_ifindex', SKB.ingress_ifindex, 4],
  ['ifindex', SKB.ifindex, 4], ['cb', SKB.cb, 20], ['tstamp', SKB.tstamp, 8], ['wire_len', SKB.wire_len, 4],
  ['gso_segs', SKB.gso_segs, 4], ['gso_size', SKB.gso_size, 4], ['hwtstamp', SKB.hwtstamp, 8],
];

export const TC_ACT = { UNSPEC: -1, OK: 0, RECLASSIFY: 1, SHOT: 2, PIPE: 3, STOLEN: 4, QUEUED: 5, REPEAT: 6, REDIRECT: 7 } as const;

const EINVAL = -22;
const EFAULT = -14;
const ENOMEM = -12;

export class SkbSession implements Session {
  readonly args: number[];
  packet?: { start: number; length: number };
  readonly ctxAddr: number;
  readonly skAddr: number;
  /** Buffer holding the frame (reallocated when a helper needs more room). */
  buf: number;
  bufSize: number;
  /** Address of the MAC header and of skb->data, end of the data. */
  mac: number;
  data: number;
  end: number;
  /** ip_summed CHECKSUM_NONE (undefined) or CHECKSUM_UNNECESSARY with this level. */
  csumLevel: number | undefined;
  private readonly region: MovableRegion;
  private readonly hadCtx: boolean;

  constructor(private readonly memory: LinearMemory, input: TestRunInput, readonly l2: boolean, readonly typeName: string, interfaces: readonly number[] = [1]) {
    const data = input.data ?? new Uint8Array(0);
    if (data.length < ETH_HLEN) {
      throw new TestRunError('TESTRUN_DATA', `${typeName}: data_in of ${data.length} bytes is shorter than an Ethernet header (${ETH_HLEN}); the kernel refuses it with EINVAL`, 22);
    }
    if (data.length > SKB_MAX_DATA) {
      throw new TestRunError('TESTRUN_DATA', `${typeName}: data_in of ${data.length} bytes exceeds ${SKB_MAX_DATA} (a page less the skb head- and tailroom)`, 22);
    }
    const et = (data[12]! << 8) | data[13]!;
    if ((et === 0x0800 && data.length < ETH_HLEN + 20) || (et === 0x86dd && data.length < ETH_HLEN + 40)) {
      throw new TestRunError('TESTRUN_DATA', `${typeName}: an ${et === 0x0800 ? 'IPv4' : 'IPv6'} packet of ${data.length} bytes has no room for the IP header; the kernel refuses it with EINVAL`, 22);
    }
    const ctx = ctxBytes(input.ctx, SK_BUFF_SIZE, typeName);
    this.hadCtx = input.ctx !== undefined;
    if (this.hadCtx) {
      // Every field outside the accepted ones must be zero.
      const ok = new Uint8Array(SK_BUFF_SIZE);
      for (const [, off, size] of CTX_IO) ok.fill(1, off, off + size);
      for (let i = 0; i < SK_BUFF_SIZE; i++) {
        if (!ok[i] && ctx[i] !== 0) {
          const f = SK_BUFF_FIELDS.find((x) => i >= x.offset && i < x.offset + x.size);
          mustBeZero(ctx, i, 1, typeName, f?.name ?? `offset ${i}`);
        }
      }
      const ifx = u32(ctx, SKB.ifindex);
      if (ifx !== 0 && !interfaces.includes(ifx)) throw new TestRunError('TESTRUN_CTX', `${typeName}: ctx_in ifindex ${ifx}: no such device (the host's interfaces: ${interfaces.join(', ')})`, 19);
    }
    this.bufSize = SKB_HEADROOM + data.length + 320;
    this.buf = memory.alloc(this.bufSize + GUARD, 64);
    this.mac = this.buf + SKB_HEADROOM;
    memory.write(this.mac, data);
    this.data = l2 ? this.mac : this.mac + ETH_HLEN;
    this.end = this.mac + data.length;
    this.csumLevel = undefined;

    // The socket every test-run skb carries.
    this.skAddr = memory.alloc(BPF_SOCK_SIZE + GUARD, 8);
    const sk = new Uint8Array(BPF_SOCK_SIZE);
    const ethType = (data[12]! << 8) | data[13]!;
    const sock = sockOf(data, ethType);
    setU32(sk, 4, sock.family);
    if (sock.family === 2) {
      sk.set(sock.local, 24);
      sk.set(sock.remote, 52);
    } else if (sock.family === 10) {
      sk.set(sock.local, 28);
      sk.set(sock.remote, 56);
    }
    setU32(sk, 72, 7); // TCP_CLOSE
    memory.write(this.skAddr, sk);
    memory.addRegion(this.skAddr, BPF_SOCK_SIZE, 'sock', false);

    this.ctxAddr = memory.alloc(SK_BUFF_SIZE + GUARD, 8);
    const s = new Uint8Array(SK_BUFF_SIZE);
    for (const [, off, size] of CTX_IO) s.set(ctx.subarray(off, off + size), off);
    if (!this.hadCtx || u32(ctx, SKB.ifindex) === 0) setU32(s, SKB.ifindex, 1);
    setU32(s, SKB.pkt_type, pktType(data));
    setU32(s, SKB.protocol, protocolOf(data));
    if (sock.family !== 0) {
      setU32(s, SKB.family, sock.family);
      if (sock.family === 2) {
        s.set(sock.remote, SKB.remote_ip4);
        s.set(sock.local, SKB.local_ip4);
      } else {
        s.set(sock.remote, SKB.remote_ip6);
        s.set(sock.local, SKB.local_ip6);
      }
    }
    setU64(s, SKB.sk, BigInt(this.skAddr));
    memory.write(this.ctxAddr, s);
    const len = this.end - this.data;
    if (this.hadCtx) {
      const wl = u32(ctx, SKB.wire_len);
      if (wl !== 0 && wl < len) throw new TestRunError('TESTRUN_CTX', `${typeName}: ctx_in wire_len ${wl} is less than the packet length ${len}`, 22);
      if (wl === 0) memory.writeU32(this.ctxAddr + SKB.wire_len, len);
    }
    memory.addRegion(this.ctxAddr, SK_BUFF_SIZE, 'ctx', true);
    this.region = new MovableRegion(memory, 'packet', true);
    this.sync();
    this.args = [this.ctxAddr];
  }

  get len(): number {
    return this.end - this.data;
  }

  /** Write len/data/data_end/data_meta into __sk_buff, move the packet region and the LD_ABS window. */
  sync(): void {
    const m = this.memory;
    m.writeU32(this.ctxAddr + SKB.len, this.end - this.data);
    m.writeU32(this.ctxAddr + SKB.data, this.data);
    m.writeU32(this.ctxAddr + SKB.data_end, this.end);
    m.writeU32(this.ctxAddr + SKB.data_meta, this.data);
    this.region.set(this.data, this.end);
    this.packet = { start: this.data, length: this.end - this.data };
  }

  field(off: number): number {
    return this.memory.readU32(this.ctxAddr + off);
  }

  setField(off: number, v: number): void {
    this.memory.writeU32(this.ctxAddr + off, v >>> 0);
  }

  /** Make room: `head` more bytes before the MAC header, `tail` after the end (reallocating when needed). */
  reserve(head: number, tail: number): void {
    const m = this.memory;
    const haveHead = this.mac - this.buf;
    const haveTail = this.buf + this.bufSize - this.end;
    if (head <= haveHead && tail <= haveTail) return;
    const nh = Math.max(head, SKB_HEADROOM);
    const nt = Math.max(tail, 320);
    const used = this.end - this.mac;
    const size = nh + used + nt;
    const nb = m.alloc(size + GUARD, 64);
    m.u8.copyWithin(nb + nh, this.mac, this.end);
    this.region.clear();
    m.free(this.buf);
    const shift = nb + nh - this.mac;
    this.buf = nb;
    this.bufSize = size;
    this.mac += shift;
    this.data += shift;
    this.end += shift;
  }

  /** The packet as bytes from skb->data (a view, valid until memory grows). */
  view(): Uint8Array {
    return this.memory.u8.subarray(this.data, this.end);
  }

  finish(): TestRunOutput {
    const m = this.memory;
    let data: Uint8Array;
    if (this.l2 || this.data - this.mac < ETH_HLEN) {
      data = m.read(this.data, this.end - this.data);
    } else {
      // The kernel pushes the MAC header back and zeroes it.
      data = new Uint8Array(ETH_HLEN + this.end - this.data);
      data.set(m.read(this.data, this.end - this.data), ETH_HLEN);
    }
    const cur = m.read(this.ctxAddr, SK_BUFF_SIZE);
    const ctx = new Uint8Array(SK_BUFF_SIZE);
    for (const [, off, size] of CTX_IO) ctx.set(cur.subarray(off, off + size), off);
    return { data, ctx };
  }

  release(): void {
    this.region.clear();
    this.memory.free(this.buf);
    this.memory.free(this.ctxAddr);
    this.memory.free(this.skAddr);
  }
}

function pktType(f: Uint8Array): number {
  if (f[0]! & 1) return f.subarray(0, 6).every((b) => b === 0xff) ? 1 : 2;
  return f.subarray(0, 6).every((b) => b === 0) ? 0 : 3;
}

/** skb->protocol as eth_type_trans sets it, in the __sk_buff u32 (be16 in the low half). */
function protocolOf(f: Uint8Array): number {
  const t = (f[12]! << 8) | f[13]!;
  let p = t;
  if (t < 0x600) p = f.length >= 16 && f[14] === 0xff && f[15] === 0xff ? 0x0001 : 0x0004; // ETH_P_802_3 / ETH_P_802_2
  return ((p & 0xff) << 8) | (p >>> 8);
}

function sockOf(f: Uint8Array, ethType: number): { family: number; local: Uint8Array; remote: Uint8Array } {
  if (ethType === 0x0800) {
    if (f.length >= ETH_HLEN + 20) return { family: 2, local: f.slice(26, 30), remote: f.slice(30, 34) };
    return { family: 2, local: new Uint8Array(4), remote: new Uint8Array(4) };
  }
  if (ethType === 0x86dd) {
    if (f.length >= ETH_HLEN + 40) return { family: 10, local: f.slice(22, 38), remote: f.slice(38, 54) };
    return { family: 10, local: new Uint8Array(16), remote: new Uint8Array(16) };
  }
  return { family: 0, local: new Uint8Array(0), remote: new Uint8Array(0) };
}

/** skb->protocol (be16 in a u32) is 802.1Q or 802.1ad. */
function isVlan(p: number): boolean {
  return p === 0x0081 || p === 0xa888;
}

/** Insert a VLAN tag (proto as be16-in-u32, tci host order) after the MAC addresses. */
function insertTag(s: SkbSession, ctx: HelperContext, proto: number, tci: number): void {
  s.reserve(4, 0);
  const m = ctx.memory.u8;
  m.copyWithin(s.mac - 4, s.mac, s.mac + 12);
  s.mac -= 4;
  if (s.l2) s.data -= 4;
  m[s.mac + 12] = proto & 0xff;
  m[s.mac + 13] = proto >>> 8;
  m[s.mac + 14] = tci >>> 8;
  m[s.mac + 15] = tci & 0xff;
  s.sync();
}

/** Remove the VLAN tag after the MAC addresses; returns its TCI, skb->protocol becomes the inner EtherType. */
function removeTag(s: SkbSession, ctx: HelperContext): number | undefined {
  const m = ctx.memory.u8;
  if (s.end - s.mac < ETH_HLEN + 4) return undefined;
  const tci = (m[s.mac + 14]! << 8) | m[s.mac + 15]!;
  m.copyWithin(s.mac + 4, s.mac, s.mac + 12);
  s.mac += 4;
  if (s.l2) s.data += 4;
  s.setField(SKB.protocol, m[s.mac + 12]! | (m[s.mac + 13]! << 8));
  s.sync();
  return tci;
}

export function skbOf(ctx: HelperContext, name: string): SkbSession {
  const s = (ctx.host as RunHost | undefined)?.session;
  if (!(s instanceof SkbSession)) throw new TypeError(`${name} needs an __sk_buff context`);
  return s;
}

// ---- checksums (RFC 1071 / RFC 1624), on little-endian words of network-order bytes ----

/** 32-bit one's complement addition. */
export function csumAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return s > 0xffffffff ? (s - 0xffffffff) >>> 0 : s >>> 0;
}

/** Fold a 32-bit partial sum to 16 bits and complement it (csum_fold). */
export function csumFold(c: number): number {
  let s = (c & 0xffff) + (c >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function replaceByDiff(sum16: number, diff: number): number {
  return csumFold(csumAdd(diff, ~sum16 >>> 0));
}

function replace4(sum16: number, from: number, to: number): number {
  return csumFold(csumAdd(csumAdd(~sum16 >>> 0, ~from >>> 0), to >>> 0));
}

function replace2(sum16: number, from: number, to: number): number {
  let s = (~sum16 & 0xffff) + (~from & 0xffff) + (to & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** csum_partial's value: the one's complement sum of little-endian 32-bit words (tail zero-padded) and `seed`; 0 only when all are 0. */
export function csumPartial(b: Uint8Array, seed: number): number {
  let s = seed >>> 0;
  let any = s !== 0;
  for (let i = 0; i < b.length; i += 4) {
    const w = (b[i]! | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0;
    if (w !== 0) any = true;
    s += w;
  }
  if (!any) return 0;
  const r = s % 0xffffffff;
  return r === 0 ? 0xffffffff : r;
}

/** csum_from32to16: fold to 16 bits with the carries, no complement. */
export function csumFrom32to16(x: number): number {
  let s = (x & 0xffff) + (x >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}

/**
 * bpf_csum_diff as Linux >= 6.13 computes it on every architecture:
 * csum(to) - csum(from) (seeded), folded to 16 bits (measured: older x86
 * kernels returned the unfolded 32-bit sum).
 */
export function csumDiff(from: Uint8Array, to: Uint8Array, seed: number): number {
  let r = seed >>> 0;
  if (from.length && to.length) r = csumAdd(csumPartial(to, r), ~csumPartial(from, 0) >>> 0);
  else if (to.length) r = csumPartial(to, r);
  else if (from.length) r = ~csumPartial(from, ~r >>> 0) >>> 0;
  return csumFrom32to16(r);
}

const BPF_F_RECOMPUTE_CSUM = 1;
const BPF_F_INVALIDATE_HASH = 2;
const BPF_F_HDR_FIELD_MASK = 0xf;
const BPF_F_PSEUDO_HDR = 1 << 4;
const BPF_F_MARK_MANGLED_0 = 1 << 5;
const BPF_F_MARK_ENFORCE = 1 << 6;
const BPF_F_IPV6 = 1 << 7;

const num = (v: bigint): number => Number(v & 0xffffffffn);

/** A deterministic flow hash (the kernel's is keyed per boot and cannot be reproduced). */
function flowHash(p: Uint8Array, l2: boolean): number {
  let h = 0x811c9dc5;
  const o = l2 ? ETH_HLEN : 0;
  const mix = (b: number): void => { h = Math.imul(h ^ b, 0x01000193); };
  const ver = p[o]! >> 4;
  if (ver === 4 && p.length >= o + 20) {
    for (let i = o + 12; i < o + 20; i++) mix(p[i]!);
    mix(p[o + 9]!);
    const ihl = (p[o]! & 15) * 4;
    if (p.length >= o + ihl + 4) for (let i = o + ihl; i < o + ihl + 4; i++) mix(p[i]!);
  } else if (ver === 6 && p.length >= o + 40) {
    for (let i = o + 8; i < o + 40; i++) mix(p[i]!);
    mix(p[o + 6]!);
    if (p.length >= o + 44) for (let i = o + 40; i < o + 44; i++) mix(p[i]!);
  } else {
    for (let i = 0; i < Math.min(p.length, 64); i++) mix(p[i]!);
  }
  return (h >>> 0) || 1;
}

export const SKB_HELPERS: readonly HelperSpec[] = [
  {
    id: 26, name: 'skb_load_bytes', impl: (_c, off, to, len, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_load_bytes');
      const n = num(len);
      const at = ctx.checkAccess(to, n, true);
      const o = num(off);
      if (o > 0x7fffffff || o + n > s.len) { ctx.memory.u8.fill(0, at, at + n); return EFAULT; }
      ctx.memory.u8.copyWithin(at, s.data + o, s.data + o + n);
      return 0;
    },
  },
  {
    id: 68, name: 'skb_load_bytes_relative', impl: (_c, off, to, len, hdr, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_load_bytes_relative');
      const n = num(len);
      const at = ctx.checkAccess(to, n, true);
      const o = num(off);
      const h = num(hdr);
      const base = h === 0 ? s.mac : h === 1 ? s.mac + ETH_HLEN : -1;
      if (base < 0 || o > 0xffff || base + o + n > s.end || n === 0) { ctx.memory.u8.fill(0, at, at + n); return h > 1 ? EINVAL : EFAULT; }
      ctx.memory.u8.copyWithin(at, base + o, base + o + n);
      return 0;
    },
  },
  {
    id: 9, name: 'skb_store_bytes', impl: (_c, off, from, len, flags, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_store_bytes');
      const n = num(len);
      const at = ctx.checkAccess(from, n, false);
      const o = num(off);
      if ((Number(flags) & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)) !== 0 || flags > 0xffffffffn) return EINVAL;
      if (o > 0xffff || o + n > s.len) return EFAULT;
      ctx.memory.u8.copyWithin(s.data + o, at, at + n);
      if (Number(flags) & BPF_F_INVALIDATE_HASH) s.setField(SKB.hash, 0);
      return 0;
    },
  },
  {
    id: 10, name: 'l3_csum_replace', impl: (_c, off, from, to, flags, ctx) => {
      const s = skbOf(ctx, 'bpf_l3_csum_replace');
      const o = num(off);
      if ((flags & ~BigInt(BPF_F_HDR_FIELD_MASK)) !== 0n) return EINVAL;
      if (o > 0xffff || (o & 1) !== 0) return EFAULT;
      if (o + 2 > s.len) return EFAULT;
      const a = s.data + o;
      const dv = ctx.memory.view;
      const sum = dv.getUint16(a, true);
      switch (Number(flags) & BPF_F_HDR_FIELD_MASK) {
        case 0: dv.setUint16(a, replaceByDiff(sum, num(to)), true); break;
        case 2: dv.setUint16(a, replace2(sum, num(from) & 0xffff, num(to) & 0xffff), true); break;
        case 4: dv.setUint16(a, replace4(sum, num(from), num(to)), true); break;
        default: return EINVAL;
      }
      return 0;
    },
  },
  {
    id: 11, name: 'l4_csum_replace', impl: (_c, off, from, to, flags, ctx) => {
      const s = skbOf(ctx, 'bpf_l4_csum_replace');
      const o = num(off);
      const f = Number(flags & 0xffffffffn);
      if (flags > 0xffffffffn || (f & ~(BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_IPV6 | BPF_F_HDR_FIELD_MASK)) !== 0) return EINVAL;
      if (o > 0xffff || (o & 1) !== 0) return EFAULT;
      if (o + 2 > s.len) return EFAULT;
      const a = s.data + o;
      const dv = ctx.memory.view;
      const sum = dv.getUint16(a, true);
      const mm0 = (f & BPF_F_MARK_MANGLED_0) !== 0;
      if (mm0 && sum === 0) return 0;
      let r: number;
      switch (f & BPF_F_HDR_FIELD_MASK) {
        case 0: r = replaceByDiff(sum, num(to)); break;
        case 2: r = replace2(sum, num(from) & 0xffff, num(to) & 0xffff); break;
        case 4: r = replace4(sum, num(from), num(to)); break;
        default: return EINVAL;
      }
      if (mm0 && r === 0) r = 0xffff;
      dv.setUint16(a, r, true);
      return 0;
    },
  },
  {
    id: 43, name: 'skb_change_head', impl: (_c, len, flags, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_change_head');
      const n = num(len);
      if (flags !== 0n || len > 0xffffffffn || s.len + n > SKB_MAX_LEN) return EINVAL;
      s.reserve(n, 0);
      s.mac -= n;
      s.data -= n;
      ctx.memory.u8.fill(0, s.data, s.data + n);
      s.sync();
      return 0;
    },
  },
  {
    id: 38, name: 'skb_change_tail', impl: (_c, len, flags, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_change_tail');
      const n = num(len);
      if (flags !== 0n || len > 0xffffffffn || n > SKB_MAX_LEN || n < (s.l2 ? ETH_HLEN : 0) || n === 0) return EINVAL;
      const cur = s.len;
      if (n > cur) {
        s.reserve(0, n - cur);
        ctx.memory.u8.fill(0, s.end, s.end + n - cur);
      }
      s.end = s.data + n;
      s.sync();
      return 0;
    },
  },
  {
    id: 39, name: 'skb_pull_data', impl: (_c, len, _3, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_pull_data');
      const n = num(len);
      if (n > s.len) return ENOMEM;
      s.sync();
      return 0;
    },
  },
  {
    id: 34, name: 'get_hash_recalc', impl: (_c, _2, _3, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_get_hash_recalc');
      let h = s.field(SKB.hash);
      if (h === 0) {
        h = flowHash(s.view(), s.l2);
        s.setField(SKB.hash, h);
      }
      return h;
    },
  },
  { id: 41, name: 'set_hash_invalid', impl: (_c, _2, _3, _4, _5, ctx) => { skbOf(ctx, 'bpf_set_hash_invalid').setField(SKB.hash, 0); return 0; } },
  { id: 48, name: 'set_hash', impl: (_c, h, _3, _4, _5, ctx) => { skbOf(ctx, 'bpf_set_hash').setField(SKB.hash, num(h)); return 0; } },
  { id: 17, name: 'get_cgroup_classid', impl: () => 0 },
  { id: 24, name: 'get_route_realm', impl: () => 0 },
  {
    id: 32, name: 'skb_change_type', impl: (_c, t, _3, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_change_type');
      const cur = s.field(SKB.pkt_type);
      if (cur > 3 || t > 3n) return EINVAL;
      s.setField(SKB.pkt_type, Number(t));
      return 0;
    },
  },
  {
    id: 18, name: 'skb_vlan_push', impl: (_c, proto, tci, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_vlan_push');
      let p = num(proto) & 0xffff;
      if (p !== 0x0081 && p !== 0xa888) p = 0x0081; // anything but 802.1Q / 802.1ad becomes 802.1Q
      if (s.field(SKB.vlan_present)) {
        // The accelerated tag moves into the payload, after the MAC addresses.
        const old = s.field(SKB.vlan_proto);
        insertTag(s, ctx, old, s.field(SKB.vlan_tci));
        s.setField(SKB.protocol, old);
      }
      s.setField(SKB.vlan_present, 1);
      s.setField(SKB.vlan_proto, p);
      s.setField(SKB.vlan_tci, num(tci) & 0xffff);
      return 0;
    },
  },
  {
    id: 19, name: 'skb_vlan_pop', impl: (_c, _2, _3, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_skb_vlan_pop');
      if (s.field(SKB.vlan_present)) {
        s.setField(SKB.vlan_present, 0);
        s.setField(SKB.vlan_tci, 0);
        s.setField(SKB.vlan_proto, 0);
      } else {
        if (!isVlan(s.field(SKB.protocol))) return 0;
        if (removeTag(s, ctx) === undefined) return EINVAL;
      }
      // The next tag of the payload, if any, becomes the accelerated one.
      const proto = s.field(SKB.protocol);
      if (!isVlan(proto)) return 0;
      const t = removeTag(s, ctx);
      if (t === undefined) return EINVAL;
      s.setField(SKB.vlan_present, 1);
      s.setField(SKB.vlan_proto, proto);
      s.setField(SKB.vlan_tci, t);
      return 0;
    },
  },
  { id: 40, name: 'csum_update', impl: () => -524 }, // ENOTSUPP: test-run skbs are CHECKSUM_NONE
  {
    id: 135, name: 'csum_level', impl: (_c, level, _3, _4, _5, ctx) => {
      const s = skbOf(ctx, 'bpf_csum_level');
      switch (Number(level)) {
        case 0: return s.csumLevel === undefined ? -13 : s.csumLevel; // QUERY: EACCES unless CHECKSUM_UNNECESSARY
        case 1: s.csumLevel = s.csumLevel === undefined ? 0 : Math.min(3, s.csumLevel + 1); return 0; // INC
        case 2: s.csumLevel = s.csumLevel === undefined || s.csumLevel === 0 ? undefined : s.csumLevel - 1; return 0; // DEC
        case 3: s.csumLevel = undefined; return 0; // RESET
        default: return EINVAL;
      }
    },
  },
  { id: 46, name: 'get_socket_cookie', impl: () => 1 },
  { id: 47, name: 'get_socket_uid', impl: (_c, _2, _3, _4, _5, ctx) => ((ctx.host as RunHost | undefined)?.env.task.uid ?? 0) },
  { id: 127, name: 'skb_ecn_set_ce', impl: () => 0 },
];

/** Ids of SKB_HELPERS a socket filter / cgroup skb program may call (the kernel's sk_filter and cg_skb func protos). */
const READ_ONLY_SKB = new Set([26, 68, 46, 47]);

function skbType(id: number, name: string, aliases: string[], l2: boolean, family: 'skb', writeHelpers: boolean): ProgType {
  return {
    id, name, aliases, family, ctxSize: SK_BUFF_SIZE, fields: SK_BUFF_FIELDS,
    helpers: writeHelpers ? SKB_HELPERS : SKB_HELPERS.filter((h) => READ_ONLY_SKB.has(h.id)),
    open(env: SessionEnv, input: TestRunInput): Session {
      return new SkbSession(env.memory, input, l2, name, env.host.interfaces);
    },
  };
}

export const SCHED_CLS = skbType(3, 'sched_cls', ['sched_cls', 'tc', 'classifier', 'tcx', 'netkit'], true, 'skb', true);
export const SCHED_ACT = skbType(4, 'sched_act', ['sched_act', 'action'], true, 'skb', true);
export const SOCKET_FILTER = skbType(1, 'socket_filter', ['socket_filter', 'socket'], false, 'skb', false);
export const CGROUP_SKB = skbType(8, 'cgroup_skb', ['cgroup_skb', 'cgroup/skb'], false, 'skb', false);
export const LWT_IN = skbType(10, 'lwt_in', ['lwt_in'], false, 'skb', false);
export const LWT_OUT = skbType(11, 'lwt_out', ['lwt_out'], false, 'skb', false);
export const LWT_XMIT = skbType(12, 'lwt_xmit', ['lwt_xmit'], true, 'skb', true);

