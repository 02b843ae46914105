// Packet builder, dissector and the internet checksum.
//
//   buildPacket({ eth: {}, ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, udp: { sport: 1234, dport: 53 }, payload: 'hi' })
//   dissect(bytes, LINKTYPE_ETHERNET) -> layer offsets, fields, 5-tuple, checksum status
//
// Header layouts are those of the IETF/IEEE standards (Ethernet II and 802.1Q,
// RFC 791, RFC 8200, RFC 9293, RFC 768, RFC 792, RFC 4443); the checksum is RFC 1071's.

import { PcapError } from '../errors.js';
import { rd32 } from './bytequeue.js';
import { formatIPv4, formatIPv6, formatMac, parseIPv4, parseIPv6, parseMac } from './addr.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_RAW,
} from './linktype.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_QINQ1 = 0x9100;
export const ETH_P_IPV6 = 0x86dd;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

// ------------------------------------------------------------ checksum

/** Add the 16-bit big-endian words of b[start, end) to a running ones'-complement sum (not folded). */
export function checksumAdd(sum: number, b: Uint8Array, start = 0, end = b.length): number {
  let s = sum;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < end) s += b[i]! << 8;
  // Keep the sum exact in a double: fold when it grows large.
  if (s > 0x7fffffff) s = (s % 65536) + Math.floor(s / 65536);
  return s;
}

/** Fold a running sum to 16 bits. */
export function checksumFold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** RFC 1071 internet checksum of b[start, end), optionally continuing a running sum (e.g. a pseudo-header's). */
export function internetChecksum(b: Uint8Array, start = 0, end = b.length, initial = 0): number {
  return ~checksumFold(checksumAdd(initial, b, start, end)) & 0xffff;
}

/** Running sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 9293 / RFC 8200 8.1). */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, proto: number, length: number): number {
  let s = checksumAdd(0, src) + checksumAdd(0, dst);
  s += proto;
  s += (length >>> 16) + (length & 0xffff);
  return s;
}

// ------------------------------------------------------------ builder

export interface VlanSpec {
  readonly id: number;
  readonly pcp?: number;
  readonly dei?: boolean;
  /** Tag protocol identifier; default 0x8100 (use 0x88a8 for an outer 802.1ad tag). */
  readonly tpid?: number;
}

export interface EthSpec {
  readonly src?: string | Uint8Array;
  readonly dst?: string | Uint8Array;
  /** EtherType; default from the network layer (IPv4 0x0800, IPv6 0x86dd). */
  readonly type?: number;
  /** 802.1Q tag(s), outermost first: a VLAN id, a tag, or a list of them. */
  readonly vlan?: number | VlanSpec | readonly (number | VlanSpec)[];
}

export interface SllSpec {
  /** Packet type: 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 outgoing. */
  readonly pktType?: number;
  readonly hatype?: number;
  readonly addr?: string | Uint8Array;
  readonly protocol?: number;
  /** SLL2 only. */
  readonly ifindex?: number;
}

export interface Ipv4Spec {
  readonly src: string | Uint8Array;
  readonly dst: string | Uint8Array;
  readonly ttl?: number;
  readonly id?: number;
  readonly tos?: number;
  readonly df?: boolean;
  readonly mf?: boolean;
  /** Fragment offset in 8-byte units. */
  readonly fragOffset?: number;
  /** Default from the transport layer. */
  readonly protocol?: number;
  /** IP options, zero-padded to a multiple of 4 (at most 40 bytes). */
  readonly options?: Uint8Array;
  /** Write this checksum instead of the correct one. */
  readonly checksum?: number;
  readonly totalLength?: number;
}

export interface Ipv6ExtSpec {
  /** Header type (0 hop-by-hop, 43 routing, 44 fragment, 60 destination options). */
  readonly type: number;
  /** Body after the next-header and length bytes; zero-padded to 6 + 8k bytes. */
  readonly data?: Uint8Array;
}

export interface Ipv6Spec {
  readonly src: string | Uint8Array;
  readonly dst: string | Uint8Array;
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  /** Next header after the extension headers; default from the transport layer. */
  readonly nextHeader?: number;
  readonly extensions?: readonly Ipv6ExtSpec[];
  readonly payloadLength?: number;
}

export interface TcpSpec {
  readonly sport: number;
  readonly dport: number;
  readonly seq?: number;
  readonly ack?: number;
  /** tcpdump letters ("S", "SA", "PA", "F", "R", "U", "E", "C", "." for ACK) or a bit mask. Default "S" without ack, else "A". */
  readonly flags?: string | number;
  readonly window?: number;
  readonly urgent?: number;
  /** TCP options, zero-padded to a multiple of 4 (at most 40 bytes). */
  readonly options?: Uint8Array;
  readonly checksum?: number;
}

export interface UdpSpec {
  readonly sport: number;
  readonly dport: number;
  /** Write this checksum instead of the correct one (0 = none, IPv4 only). */
  readonly checksum?: number;
  readonly length?: number;
}

export interface IcmpSpec {
  /** Default echo request (8 for ICMP, 128 for ICMPv6). */
  readonly type?: number;
  readonly code?: number;
  readonly id?: number;
  readonly seq?: number;
  readonly checksum?: number;
}

export interface PacketSpec {
  readonly eth?: EthSpec;
  readonly sll?: SllSpec;
  readonly sll2?: SllSpec;
  readonly ipv4?: Ipv4Spec;
  readonly ipv6?: Ipv6Spec;
  readonly tcp?: TcpSpec;
  readonly udp?: UdpSpec;
  readonly icmp?: IcmpSpec;
  readonly icmpv6?: IcmpSpec;
  /** Bytes, a UTF-8 string, or a length (filled with a byte pattern). */
  readonly payload?: Uint8Array | string | number;
}

function fail(msg: string): never {
  throw new PcapError('NET_BUILD', msg, 0, 0);
}

function bytesOf(x: string | Uint8Array, parse: (s: string) => Uint8Array, n: number, what: string): Uint8Array {
  const b = typeof x === 'string' ? parse(x) : x;
  if (b.length !== n) fail(`${what} must be ${n} bytes`);
  return b;
}

function u16(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) fail(`${what} ${n} is not a 16-bit value`);
  return n;
}

function pad4(b: Uint8Array | undefined, max: number, what: string): Uint8Array {
  if (!b || b.length === 0) return new Uint8Array(0);
  const n = (b.length + 3) & ~3;
  if (n > max) fail(`${what} are ${b.length} bytes, at most ${max}`);
  const out = new Uint8Array(n);
  out.set(b);
  return out;
}

/** Parse tcpdump-style flag letters. */
export function tcpFlags(f: string | number): number {
  if (typeof f === 'number') return f & 0xfff;
  let v = 0;
  for (const c of f) {
    const bit = ({ F: TCP_FIN, S: TCP_SYN, R: TCP_RST, P: TCP_PSH, A: TCP_ACK, '.': TCP_ACK, U: TCP_URG, E: TCP_ECE, W: TCP_CWR, C: TCP_CWR } as Record<string, number>)[c.toUpperCase()];
    if (bit === undefined) fail(`unknown TCP flag '${c}'`);
    v |= bit;
  }
  return v;
}

/** tcpdump's rendering of TCP flags: "S", "S.", "P.", "F.", "R", ... */
export function formatTcpFlags(f: number): string {
  let s = '';
  if (f & TCP_FIN) s += 'F';
  if (f & TCP_SYN) s += 'S';
  if (f & TCP_RST) s += 'R';
  if (f & TCP_PSH) s += 'P';
  if (f & TCP_URG) s += 'U';
  if (f & TCP_ECE) s += 'E';
  if (f & TCP_CWR) s += 'W';
  if (f & TCP_ACK) s += '.';
  return s || 'none';
}

function payloadBytes(p: PacketSpec['payload']): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  if (typeof p === 'string') return new TextEncoder().encode(p);
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p > 0xffff) fail(`payload length ${p}`);
    const b = new Uint8Array(p);
    for (let i = 0; i < p; i++) b[i] = (i * 7 + 0x41) & 0xff;
    return b;
  }
  return p;
}

function vlanTags(v: EthSpec['vlan']): VlanSpec[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return (list as (number | VlanSpec)[]).map((t) => (typeof t === 'number' ? { id: t } : t));
}

/**
 * Build a packet from its layers, outermost first: a link layer (eth, sll,
 * sll2, or none for raw IP), a network layer (ipv4 or ipv6), a transport
 * layer (tcp, udp, icmp, icmpv6) and a payload. Lengths and checksums are
 * computed unless overridden. Throws PcapError (code NET_BUILD or
 * NET_BAD_ADDRESS) on an impossible spec.
 */
export function buildPacket(spec: PacketSpec): Uint8Array {
  const links = [spec.eth, spec.sll, spec.sll2].filter((x) => x !== undefined).length;
  if (links > 1) fail('give at most one of eth, sll, sll2');
  if (spec.ipv4 && spec.ipv6) fail('give at most one of ipv4, ipv6');
  const l4s = [spec.tcp, spec.udp, spec.icmp, spec.icmpv6].filter((x) => x !== undefined).length;
  if (l4s > 1) fail('give at most one of tcp, udp, icmp, icmpv6');
  if (spec.icmp && spec.ipv6) fail('icmp goes over ipv4 (use icmpv6)');
  if (spec.icmpv6 && spec.ipv4) fail('icmpv6 goes over ipv6');
  if (l4s && !spec.ipv4 && !spec.ipv6) fail('a transport layer needs ipv4 or ipv6');

  const payload = payloadBytes(spec.payload);
  const v4 = spec.ipv4;
  const v6 = spec.ipv6;
  const src = v4 ? bytesOf(v4.src, parseIPv4, 4, 'ipv4.src') : v6 ? bytesOf(v6.src, parseIPv6, 16, 'ipv6.src') : undefined;
  const dst = v4 ? bytesOf(v4.dst, parseIPv4, 4, 'ipv4.dst') : v6 ? bytesOf(v6.dst, parseIPv6, 16, 'ipv6.dst') : undefined;

  // Transport layer.
  let l4 = payload;
  let proto: number | undefined;
  if (spec.tcp) {
    const t = spec.tcp;
    const opts = pad4(t.options, 40, 'TCP options');
    const h = new Uint8Array(20 + opts.length + payload.length);
    const dv = new DataView(h.buffer);
    dv.setUint16(0, u16(t.sport, 'tcp.sport'));
    dv.setUint16(2, u16(t.dport, 'tcp.dport'));
    dv.setUint32(4, (t.seq ?? 0) >>> 0);
    dv.setUint32(8, (t.ack ?? 0) >>> 0);
    const flags = tcpFlags(t.flags ?? (t.ack ? 'A' : 'S'));
    dv.setUint16(12, (((20 + opts.length) / 4) << 12) | flags);
    dv.setUint16(14, u16(t.window ?? 65535, 'tcp.window'));
    dv.setUint16(18, u16(t.urgent ?? 0, 'tcp.urgent'));
    h.set(opts, 20);
    h.set(payload, 20 + opts.length);
    proto = IPPROTO_TCP;
    dv.setUint16(16, t.checksum ?? internetChecksum(h, 0, h.length, pseudoHeaderSum(src!, dst!, proto, h.length)));
    l4 = h;
  } else if (spec.udp) {
    const u = spec.udp;
    const h = new Uint8Array(8 + payload.length);
    if (h.length > 0xffff && !v6) fail('UDP datagram too long');
    const dv = new DataView(h.buffer);
    dv.setUint16(0, u16(u.sport, 'udp.sport'));
    dv.setUint16(2, u16(u.dport, 'udp.dport'));
    dv.setUint16(4, u16(u.length ?? h.length, 'udp.length'));
    h.set(payload, 8);
    proto = IPPROTO_UDP;
    let c = internetChecksum(h, 0, h.length, pseudoHeaderSum(src!, dst!, proto, h.length));
    if (c === 0) c = 0xffff;
    dv.setUint16(6, u.checksum ?? c);
    l4 = h;
  } else if (spec.icmp || spec.icmpv6) {
    const six = spec.icmpv6 !== undefined;
    const m = (spec.icmp ?? spec.icmpv6)!;
    const h = new Uint8Array(8 + payload.length);
    const dv = new DataView(h.buffer);
    h[0] = m.type ?? (six ? 128 : 8);
    h[1] = m.code ?? 0;
    dv.setUint16(4, u16(m.id ?? 0, 'icmp.id'));
    dv.setUint16(6, u16(m.seq ?? 0, 'icmp.seq'));
    h.set(payload, 8);
    proto = six ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    const init = six ? pseudoHeaderSum(src!, dst!, proto, h.length) : 0;
    dv.setUint16(2, m.checksum ?? internetChecksum(h, 0, h.length, init));
    l4 = h;
  }

  // Network layer.
  let l3 = l4;
  let ethType: number | undefined;
  if (v4) {
    const opts = pad4(v4.options, 40, 'IPv4 options');
    const hl = 20 + opts.length;
    const h = new Uint8Array(hl + l4.length);
    if (h.length > 0xffff) fail(`IPv4 packet of ${h.length} bytes exceeds 65535`);
    const dv = new DataView(h.buffer);
    h[0] = 0x40 | (hl / 4);
    h[1] = v4.tos ?? 0;
    dv.setUint16(2, u16(v4.totalLength ?? h.length, 'ipv4.totalLength'));
    dv.setUint16(4, u16(v4.id ?? 0, 'ipv4.id'));
    const fo = v4.fragOffset ?? 0;
    if (!Number.isInteger(fo) || fo < 0 || fo > 0x1fff) fail(`fragment offset ${fo}`);
    dv.setUint16(6, (v4.df ? 0x4000 : 0) | (v4.mf ? 0x2000 : 0) | fo);
    h[8] = v4.ttl ?? 64;
    h[9] = v4.protocol ?? proto ?? 0xfd; // 253: experimentation
    h.set(src!, 12);
    h.set(dst!, 16);
    h.set(opts, 20);
    dv.setUint16(10, v4.checksum ?? internetChecksum(h, 0, hl));
    h.set(l4, hl);
    l3 = h;
    ethType = ETH_P_IP;
  } else if (v6) {
    const exts = v6.extensions ?? [];
    const extBytes: Uint8Array[] = [];
    const finalNh = v6.nextHeader ?? proto ?? 59; // 59: no next header
    exts.forEach((e, i) => {
      const data = e.data ?? new Uint8Array(6);
      const len = Math.max(8, 2 + data.length + ((8 - ((2 + data.length) % 8)) % 8));
      const b = new Uint8Array(len);
      b[0] = i + 1 < exts.length ? exts[i + 1]!.type : finalNh;
      b[1] = e.type === 44 ? 0 : len / 8 - 1;
      b.set(data.subarray(0, len - 2), 2);
      extBytes.push(b);
    });
    const extLen = extBytes.reduce((a, b) => a + b.length, 0);
    const plen = extLen + l4.length;
    const h = new Uint8Array(40 + plen);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, (6 << 28) | (((v6.trafficClass ?? 0) & 0xff) << 20) | ((v6.flowLabel ?? 0) & 0xfffff));
    dv.setUint16(4, u16(v6.payloadLength ?? plen, 'ipv6.payloadLength'));
    h[6] = exts.length ? exts[0]!.type : finalNh;
    h[7] = v6.hopLimit ?? 64;
    h.set(src!, 8);
    h.set(dst!, 24);
    let o = 40;
    for (const b of extBytes) { h.set(b, o); o += b.length; }
    h.set(l4, o);
    l3 = h;
    ethType = ETH_P_IPV6;
  }

  // Link layer.
  if (spec.eth) {
    const e = spec.eth;
    const tags = vlanTags(e.vlan);
    const type = e.type ?? ethType;
    if (type === undefined) fail('eth.type is needed when there is no ipv4/ipv6 layer');
    const h = new Uint8Array(14 + 4 * tags.length + l3.length);
    const dv = new DataView(h.buffer);
    h.set(bytesOf(e.dst ?? '02:00:00:00:00:02', parseMac, 6, 'eth.dst'), 0);
    h.set(bytesOf(e.src ?? '02:00:00:00:00:01', parseMac, 6, 'eth.src'), 6);
    let o = 12;
    for (const t of tags) {
      if (!Number.isInteger(t.id) || t.id < 0 || t.id > 0xfff) fail(`VLAN id ${t.id} is not 0..4095`);
      dv.setUint16(o, u16(t.tpid ?? ETH_P_8021Q, 'vlan.tpid'));
      dv.setUint16(o + 2, ((t.pcp ?? 0) & 7) << 13 | (t.dei ? 0x1000 : 0) | t.id);
      o += 4;
    }
    dv.setUint16(o, u16(type, 'eth.type'));
    h.set(l3, o + 2);
    return h;
  }
  if (spec.sll || spec.sll2) {
    const two = spec.sll2 !== undefined;
    const s = (spec.sll ?? spec.sll2)!;
    const addr = s.addr === undefined ? parseMac('02:00:00:00:00:01') : typeof s.addr === 'string' ? parseMac(s.addr) : s.addr;
    if (addr.length > 8) fail('sll address longer than 8 bytes');
    const protocol = s.protocol ?? ethType;
    if (protocol === undefined) fail('sll.protocol is needed when there is no ipv4/ipv6 layer');
    const hl = two ? 20 : 16;
    const h = new Uint8Array(hl + l3.length);
    const dv = new DataView(h.buffer);
    if (two) {
      dv.setUint16(0, u16(protocol, 'sll2.protocol'));
      dv.setUint32(4, s.ifindex ?? 1);
      dv.setUint16(8, u16(s.hatype ?? 1, 'sll2.hatype'));
      h[10] = s.pktType ?? 0;
      h[11] = addr.length;
      h.set(addr, 12);
    } else {
      dv.setUint16(0, u16(s.pktType ?? 0, 'sll.pktType'));
      dv.setUint16(2, u16(s.hatype ?? 1, 'sll.hatype'));
      dv.setUint16(4, addr.length);
      h.set(addr, 6);
      dv.setUint16(14, u16(protocol, 'sll.protocol'));
    }
    h.set(l3, hl);
    return h;
  }
  return l3;
}

/** Link type a spec builds for: Ethernet, SLL, SLL2 or raw IP. */
export function linkTypeOf(spec: PacketSpec): number {
  return spec.eth ? LINKTYPE_ETHERNET : spec.sll ? LINKTYPE_LINUX_SLL : spec.sll2 ? LINKTYPE_LINUX_SLL2 : LINKTYPE_RAW;
}

// ------------------------------------------------------------ dissector

export interface VlanTag {
  readonly tpid: number;
  readonly tci: number;
  readonly id: number;
  readonly pcp: number;
  readonly dei: boolean;
}

export interface Ipv4Header {
  readonly src: string;
  readonly dst: string;
  readonly ihl: number;
  readonly tos: number;
  readonly totalLength: number;
  readonly id: number;
  readonly df: boolean;
  readonly mf: boolean;
  readonly fragOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
}

export interface Ipv6Header {
  readonly src: string;
  readonly dst: string;
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly payloadLength: number;
  /** The Next Header field of the fixed header. */
  readonly nextHeader: number;
  readonly hopLimit: number;
  /** Extension header types walked, in order. */
  readonly extensions: readonly number[];
}

export interface TcpHeader {
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  readonly dataOffset: number;
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  readonly urgent: number;
}

export interface UdpHeader {
  readonly sport: number;
  readonly dport: number;
  readonly length: number;
  readonly checksum: number;
}

export interface IcmpHeader {
  readonly type: number;
  readonly code: number;
  readonly checksum: number;
  /** Echo request/reply only. */
  readonly id?: number;
  readonly seq?: number;
}

export interface Dissection {
  readonly linkType: number;
  /** Bytes dissected (the captured length). */
  readonly length: number;
  readonly eth?: { readonly dst: string; readonly src: string };
  /** SLL/SLL2 packet type (0 host, 4 outgoing, ...). */
  readonly sllPktType?: number;
  /** 802.1Q/802.1ad tags, outermost first. */
  readonly vlans: readonly VlanTag[];
  /** EtherType of the network layer after any VLAN tags (as in skb->protocol, host order); 0 if none. */
  readonly protocol: number;
  /** Offset of the network header; -1 if none. */
  readonly l3Offset: number;
  readonly ipv4?: Ipv4Header;
  readonly ipv6?: Ipv6Header;
  /** IP protocol number of the transport header (after IPv6 extension headers); -1 if none. */
  readonly l4Protocol: number;
  /** Offset of the transport header; -1 if none (or not the first fragment). */
  readonly l4Offset: number;
  readonly tcp?: TcpHeader;
  readonly udp?: UdpHeader;
  readonly icmp?: IcmpHeader;
  /** Source and destination port of TCP, UDP or SCTP: present as soon as their 4 bytes are captured, even if the rest of the header is not. */
  readonly ports?: { readonly sport: number; readonly dport: number };
  /** Offset of the data after the innermost header understood; -1 if the packet ends in a header. */
  readonly payloadOffset: number;
  /** A fragment of an IP packet (MF set or offset non-zero). */
  readonly fragment: boolean;
  /** A header was cut short by the capture length. */
  readonly truncated: boolean;
  /** IPv4 header checksum is valid (IPv4 only, with `verify`). */
  readonly ipChecksumOk?: boolean;
  /** TCP/UDP/ICMP checksum is valid (with `verify`, when the whole segment was captured and is not a fragment). */
  readonly l4ChecksumOk?: boolean;
}

export interface FiveTuple {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly protocol: number;
}

type Mut<T> = { -readonly [K in keyof T]: T[K] };

function be16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Dissect a packet of the given link type. Never throws: a header cut short
 * sets `truncated` and what could be read is returned. With `verify`, checks
 * the IPv4 header and transport checksums.
 */
export function dissect(data: Uint8Array, linkType: number, opts: { verify?: boolean } = {}): Dissection {
  const n = data.length;
  const d: Mut<Dissection> = {
    linkType, length: n, vlans: [], protocol: 0, l3Offset: -1, l4Protocol: -1, l4Offset: -1,
    payloadOffset: -1, fragment: false, truncated: false,
  };
  let off = 0;
  let ethType = -1;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      if (n < 14) { d.truncated = true; return d; }
      d.eth = { dst: formatMac(data, 0), src: formatMac(data, 6) };
      off = 12;
      let t = be16(data, off);
      const vlans: VlanTag[] = [];
      while (t === ETH_P_8021Q || t === ETH_P_8021AD || t === ETH_P_QINQ1) {
        if (off + 6 > n) { d.truncated = true; d.vlans = vlans; return d; }
        const tci = be16(data, off + 2);
        vlans.push({ tpid: t, tci, id: tci & 0xfff, pcp: tci >> 13, dei: (tci & 0x1000) !== 0 });
        off += 4;
        t = be16(data, off);
      }
      d.vlans = vlans;
      off += 2;
      if (t < 0x600) { d.payloadOffset = off; return d; } // 802.3 length: LLC follows
      ethType = t;
      break;
    }
    case LINKTYPE_LINUX_SLL:
      if (n < 16) { d.truncated = true; return d; }
      d.sllPktType = be16(data, 0);
      ethType = be16(data, 14);
      off = 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (n < 20) { d.truncated = true; return d; }
      d.sllPktType = data[10]!;
      ethType = be16(data, 0);
      off = 20;
      break;
    case LINKTYPE_NULL: {
      if (n < 4) { d.truncated = true; return d; }
      const af = be16(data, 0) === 0 ? be32(data, 0) : rd32(data, 0, true);
      ethType = af === 2 ? ETH_P_IP : af === 24 || af === 28 || af === 30 ? ETH_P_IPV6 : -1;
      off = 4;
      break;
    }
    case LINKTYPE_RAW:
      if (n < 1) { d.truncated = true; return d; }
      ethType = data[0]! >> 4 === 4 ? ETH_P_IP : data[0]! >> 4 === 6 ? ETH_P_IPV6 : -1;
      break;
    case LINKTYPE_IPV4: ethType = ETH_P_IP; break;
    case LINKTYPE_IPV6: ethType = ETH_P_IPV6; break;
    default: return d;
  }
  if (ethType < 0) { d.payloadOffset = off; return d; }
  d.protocol = ethType;
  d.l3Offset = off;
  let l4len = 0;
  let pseudo = 0;
  if (ethType === ETH_P_IP) {
    if (off + 20 > n || data[off]! >> 4 !== 4) { d.truncated = off + 20 > n; d.payloadOffset = off; return d; }
    const ihl = (data[off]! & 0xf) * 4;
    const flagsFrag = be16(data, off + 6);
    const h: Ipv4Header = {
      src: formatIPv4(data, off + 12), dst: formatIPv4(data, off + 16), ihl, tos: data[off + 1]!,
      totalLength: be16(data, off + 2), id: be16(data, off + 4), df: (flagsFrag & 0x4000) !== 0,
      mf: (flagsFrag & 0x2000) !== 0, fragOffset: flagsFrag & 0x1fff, ttl: data[off + 8]!, protocol: data[off + 9]!,
      checksum: be16(data, off + 10),
    };
    d.ipv4 = h;
    if (ihl < 20 || off + ihl > n) { d.truncated = off + ihl > n; return d; }
    if (opts.verify) d.ipChecksumOk = internetChecksum(data, off, off + ihl) === 0;
    d.fragment = h.mf || h.fragOffset !== 0;
    d.l4Protocol = h.protocol;
    l4len = h.totalLength - ihl;
    if (opts.verify) pseudo = pseudoHeaderSum(data.subarray(off + 12, off + 16), data.subarray(off + 16, off + 20), h.protocol, Math.max(0, l4len));
    off += ihl;
    if (h.fragOffset !== 0) { d.payloadOffset = off; return d; }
  } else if (ethType === ETH_P_IPV6) {
    if (off + 40 > n || data[off]! >> 4 !== 6) { d.truncated = off + 40 > n; d.payloadOffset = off; return d; }
    const w = be32(data, off);
    const exts: number[] = [];
    const h: Mut<Ipv6Header> = {
      src: formatIPv6(data, off + 8), dst: formatIPv6(data, off + 24), trafficClass: (w >>> 20) & 0xff,
      flowLabel: w & 0xfffff, payloadLength: be16(data, off + 4), nextHeader: data[off + 6]!, hopLimit: data[off + 7]!,
      extensions: exts,
    };
    d.ipv6 = h;
    const srcB = data.subarray(off + 8, off + 24);
    const dstB = data.subarray(off + 24, off + 40);
    let nh = h.nextHeader;
    off += 40;
    let extLen = 0;
    let later = false;
    for (;;) {
      if (nh === 0 || nh === 43 || nh === 60 || nh === 44 || nh === 51 || nh === 135) {
        if (off + 8 > n) { d.truncated = true; return d; }
        exts.push(nh);
        let len: number;
        if (nh === 44) {
          len = 8;
          d.fragment = true;
          if ((be16(data, off + 2) & 0xfff8) !== 0) later = true;
        } else if (nh === 51) {
          len = (data[off + 1]! + 2) * 4;
        } else {
          len = (data[off + 1]! + 1) * 8;
        }
        nh = data[off]!;
        off += len;
        extLen += len;
        continue;
      }
      break;
    }
    if (off > n) { d.truncated = true; return d; }
    d.l4Protocol = nh;
    l4len = h.payloadLength - extLen;
    if (opts.verify) pseudo = pseudoHeaderSum(srcB, dstB, nh, Math.max(0, l4len));
    if (later || nh === 59) { d.payloadOffset = off; return d; }
  } else {
    d.payloadOffset = off;
    return d;
  }
  d.l4Offset = off;
  const p = d.l4Protocol;
  const full = opts.verify && !d.fragment && l4len > 0 && off + l4len <= n;
  if ((p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_SCTP) && off + 4 <= n) {
    d.ports = { sport: be16(data, off), dport: be16(data, off + 2) };
  }
  if (p === IPPROTO_TCP) {
    if (off + 20 > n) { d.truncated = true; return d; }
    const w = be16(data, off + 12);
    const t: TcpHeader = {
      sport: be16(data, off), dport: be16(data, off + 2), seq: be32(data, off + 4), ack: be32(data, off + 8),
      dataOffset: (w >> 12) * 4, flags: w & 0x1ff, window: be16(data, off + 14), checksum: be16(data, off + 16),
      urgent: be16(data, off + 18),
    };
    d.tcp = t;
    if (full) d.l4ChecksumOk = internetChecksum(data, off, off + l4len, pseudo) === 0;
    if (off + t.dataOffset > n || t.dataOffset < 20) { d.truncated = off + t.dataOffset > n; return d; }
    d.payloadOffset = off + t.dataOffset;
  } else if (p === IPPROTO_UDP) {
    if (off + 8 > n) { d.truncated = true; return d; }
    const u: UdpHeader = { sport: be16(data, off), dport: be16(data, off + 2), length: be16(data, off + 4), checksum: be16(data, off + 6) };
    d.udp = u;
    if (full) d.l4ChecksumOk = (u.checksum === 0 && d.ipv4 !== undefined) || internetChecksum(data, off, off + l4len, pseudo) === 0;
    d.payloadOffset = off + 8;
  } else if (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) {
    if (off + 4 > n) { d.truncated = true; return d; }
    const type = data[off]!;
    const echo = p === IPPROTO_ICMP ? type === 0 || type === 8 : type === 128 || type === 129;
    const ic: Mut<IcmpHeader> = { type, code: data[off + 1]!, checksum: be16(data, off + 2) };
    if (echo && off + 8 <= n) { ic.id = be16(data, off + 4); ic.seq = be16(data, off + 6); }
    d.icmp = ic;
    if (full) d.l4ChecksumOk = internetChecksum(data, off, off + l4len, p === IPPROTO_ICMPV6 ? pseudo : 0) === 0;
    d.payloadOffset = Math.min(off + 8, n);
  } else {
    d.payloadOffset = off;
  }
  return d;
}

/** Source and destination address, ports and protocol, when the packet is TCP, UDP or SCTP over IP. */
export function fiveTuple(d: Dissection): FiveTuple | undefined {
  const ip = d.ipv4 ?? d.ipv6;
  if (!ip || !d.ports) return undefined;
  return { src: ip.src, dst: ip.dst, sport: d.ports.sport, dport: d.ports.dport, protocol: d.l4Protocol };
}

/** One line in the style of tcpdump: "IP 10.0.0.1.1234 > 10.0.0.2.53: UDP, length 12". */
export function summarize(data: Uint8Array, linkType: number): string {
  const d = dissect(data, linkType);
  const vlan = d.vlans.map((v) => `vlan ${v.id}, `).join('');
  const ip = d.ipv4 ?? d.ipv6;
  if (!ip) {
    if (d.protocol === ETH_P_ARP) return `${vlan}ARP, length ${data.length}`;
    if (d.truncated) return `${vlan}[|truncated], length ${data.length}`;
    return `${vlan}ethertype 0x${d.protocol.toString(16).padStart(4, '0')}, length ${data.length}`;
  }
  const fam = d.ipv4 ? 'IP' : 'IP6';
  const six = d.ipv6 !== undefined;
  const host = (a: string, port?: number): string => (port === undefined ? a : `${a}.${port}`);
  const payloadLen = d.payloadOffset >= 0
    ? Math.max(0, (d.ipv4 ? d.l3Offset + d.ipv4.totalLength : d.l3Offset + 40 + d.ipv6!.payloadLength) - d.payloadOffset)
    : 0;
  if (d.tcp) {
    const t = d.tcp;
    const ack = t.flags & TCP_ACK ? `, ack ${t.ack}` : '';
    return `${vlan}${fam} ${host(ip.src, t.sport)} > ${host(ip.dst, t.dport)}: Flags [${formatTcpFlags(t.flags)}], seq ${t.seq}${ack}, win ${t.window}, length ${payloadLen}${d.truncated ? ' [|tcp]' : ''}`;
  }
  if (d.udp) {
    return `${vlan}${fam} ${host(ip.src, d.udp.sport)} > ${host(ip.dst, d.udp.dport)}: UDP, length ${payloadLen}`;
  }
  if (d.icmp) {
    const ic = d.icmp;
    const name = six
      ? ic.type === 128 ? 'ICMP6, echo request' : ic.type === 129 ? 'ICMP6, echo reply' : `ICMP6, type ${ic.type}`
      : ic.type === 8 ? 'ICMP echo request' : ic.type === 0 ? 'ICMP echo reply' : `ICMP type ${ic.type}`;
    const echo = ic.id !== undefined ? `, id ${ic.id}, seq ${ic.seq}` : '';
    return `${vlan}${fam} ${ip.src} > ${ip.dst}: ${name}${echo}, length ${(d.ipv4 ? d.ipv4.totalLength - d.ipv4.ihl : d.ipv6!.payloadLength)}`;
  }
  const frag = d.fragment ? ' (fragment)' : '';
  return `${vlan}${fam} ${ip.src} > ${ip.dst}: ip-proto-${d.l4Protocol}${frag}${d.truncated ? ' [|ip]' : ''}`;
}
