// The benchmark programs: which object, which packets, which map contents.
// Everything here is data shared by every engine (tsbpf's and the kernel's),
// so each engine starts from the same bytes.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { net } from '../src/core.js';
import { BenchError } from './errors.js';

/** Initial entries of one map, by the map's name in the object. */
export interface MapFill {
  readonly map: string;
  readonly entries: ReadonlyArray<{ readonly key: Uint8Array; readonly value: Uint8Array }>;
}

export interface BenchProgram {
  /** Name in the table and for --filter (also the object's file name and its program). */
  readonly name: string;
  /** One line for the docs. */
  readonly what: string;
  /** Frame of `size` bytes (Ethernet header included, no FCS). */
  packet(size: number): Uint8Array;
  /** Map contents before the first run (user-space updates). */
  readonly fills: readonly MapFill[];
  /** Maps whose contents must agree with the kernel's after one run from the initial state. */
  readonly compareMaps: readonly string[];
  /** Pure computation (the 1.5x target) rather than packet/map work (the 1.0x target). */
  readonly compute: boolean;
}

/** Frame sizes of the per-packet table. */
export const PACKET_SIZES = [64, 1500] as const;

const MAC_A = '02:00:5e:00:53:01';
const MAC_B = '02:00:5e:00:53:02';
const CLIENT = '198.51.100.7';
const SERVER = '192.0.2.10';

function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function be16(v: number): Uint8Array {
  return new Uint8Array([(v >> 8) & 0xff, v & 0xff]);
}

function udpPacket(size: number, sport: number, dport: number): Uint8Array {
  return net.buildPacket({
    eth: { src: MAC_A, dst: MAC_B },
    ipv4: { src: CLIENT, dst: SERVER, ttl: 64, id: 0x1234, df: true },
    udp: { sport, dport },
    payload: size - 14 - 20 - 8,
  });
}

function tcpPacket(size: number, sport: number, dport: number): Uint8Array {
  return net.buildPacket({
    eth: { src: MAC_A, dst: MAC_B },
    ipv4: { src: CLIENT, dst: SERVER, ttl: 64, id: 0x4321, df: true },
    tcp: { sport, dport, seq: 1000, ack: 2000, flags: 'PA' },
    payload: size - 14 - 20 - 20,
  });
}

// ---- firewall: 1,000 rules, the packet's flow is one of them -----------------

const FW_RULES = 1000;
const FW_SPORT = 40000;
const FW_DPORT = 443;

function firewallRules(): MapFill {
  const entries: Array<{ key: Uint8Array; value: Uint8Array }> = [];
  const server = net.parseIPv4(SERVER);
  for (let i = 0; i < FW_RULES; i++) {
    // struct flow_key { saddr, daddr (network order); sport, dport (network order); proto; pad[3] }
    const client = i === 617 ? net.parseIPv4(CLIENT) : new Uint8Array([10, (i >> 8) & 0xff, i & 0xff, 1 + (i % 200)]);
    const key = concat(client, server, be16(i === 617 ? FW_SPORT : 1024 + i), be16(FW_DPORT), new Uint8Array([6, 0, 0, 0]));
    // struct rule { u32 action; u32 pad; u64 hits }: one rule in three drops.
    const action = i === 617 ? 2 : i % 3 === 0 ? 1 : 2;
    entries.push({ key, value: concat(u32le(action), u32le(0), u64le(0n)) });
  }
  return { map: 'fw_rules', entries };
}

// ---- load balancer: 16 services, 8..64 backends each -------------------------

const LB_PORTS = [80, 443, 53, 8080, 8443, 3306, 5432, 6379, 9000, 9090, 11211, 25, 587, 993, 22, 123];

function lbFills(): MapFill[] {
  const vips: Array<{ key: Uint8Array; value: Uint8Array }> = [];
  const backends: Array<{ key: Uint8Array; value: Uint8Array }> = [];
  let next = 0;
  LB_PORTS.forEach((port, s) => {
    const count = 8 << (s % 4);
    for (const proto of [6, 17]) {
      // struct vip_key { u16 port (network order); u8 proto; u8 pad } -> struct vip_info { u32 first; u32 count }
      vips.push({ key: concat(be16(port), new Uint8Array([proto, 0])), value: concat(u32le(next), u32le(count)) });
    }
    for (let b = 0; b < count; b++, next++) {
      // struct backend { u32 addr (network order); u8 mac[6]; u16 pad }
      const addr = new Uint8Array([10, 1, s, b + 1]);
      const mac = new Uint8Array([0x02, 0x42, 0x0a, 0x01, s, b + 1]);
      backends.push({ key: u32le(next), value: concat(addr, mac, new Uint8Array(2)) });
    }
  });
  return [{ map: 'vips', entries: vips }, { map: 'backends', entries: backends }];
}

export const SUITE: readonly BenchProgram[] = [
  {
    name: 'xdp_drop',
    what: 'return XDP_DROP: the per-run overhead of each engine',
    packet: (size) => udpPacket(size, 5000, 53),
    fills: [],
    compareMaps: [],
    compute: false,
  },
  {
    name: 'parse_count',
    what: 'Ethernet (optional VLAN) / IPv4 / UDP|TCP parse, per-protocol packet and byte counters (array map, atomic adds)',
    packet: (size) => udpPacket(size, 5000, 53),
    fills: [],
    compareMaps: ['proto_stats'],
    compute: false,
  },
  {
    name: 'firewall',
    what: '5-tuple lookup in a hash map of 1,000 rules filled from user space, hit counter',
    packet: (size) => tcpPacket(size, FW_SPORT, FW_DPORT),
    fills: [firewallRules()],
    compareMaps: ['fw_rules', 'fw_misses'],
    compute: false,
  },
  {
    name: 'lb',
    what: 'Katran-style L4 load balancer: service lookup (hash), flow hash, backend pick (array), dst IP/MAC rewrite, incremental checksums, XDP_TX',
    packet: (size) => tcpPacket(size, 41234, 443),
    fills: lbFills(),
    compareMaps: ['vips', 'backends', 'lb_stats'],
    compute: false,
  },
  {
    name: 'alu_loop',
    what: '256 iterations of 64-bit ALU work (add, xor, rotate, multiply, shifts), result written to the packet',
    packet: (size) => udpPacket(size, 5000, 53),
    fills: [],
    compareMaps: [],
    compute: true,
  },
  {
    name: 'calls_loop',
    what: 'bpf-to-bpf calls: 32 iterations of a noinline function calling another twice (96 calls a run)',
    packet: (size) => udpPacket(size, 5000, 53),
    fills: [],
    compareMaps: [],
    compute: true,
  },
  {
    name: 'lru_update',
    what: 'LRU hash (4,096 entries) bumped or inserted at one of 65,536 pseudo-random keys (xorshift state in an array map)',
    packet: (size) => udpPacket(size, 5000, 53),
    fills: [{ map: 'rng_state', entries: [{ key: u32le(0), value: u64le(0x2545f4914f6cdd1dn) }] }],
    compareMaps: ['rng_state', 'lru_flows'],
    compute: false,
  },
];

/** The big program used only for compile and verification times. */
export const COMPILE_ONLY = 'unrolled';

/** The committed object of a program (bench/progs/NAME.o), from either the source tree or dist/. */
export function objectBytes(name: string): Uint8Array {
  for (const rel of ['../../bench/progs/', './progs/']) {
    try {
      return new Uint8Array(readFileSync(fileURLToPath(new URL(`${rel}${name}.o`, import.meta.url))));
    } catch { /* try the next location */ }
  }
  throw new BenchError('BENCH_OBJECT', `bench/progs/${name}.o not found (run bench/build.sh)`);
}
