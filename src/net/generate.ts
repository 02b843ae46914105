// Deterministic synthetic traffic for demos, tests and benchmarks. Every
// generator is lazy (constant memory however many packets are asked for) and
// fully determined by its seed. Addresses come from the documentation ranges
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).

import { PcapError } from '../errors.js';
import { LINKTYPE_ETHERNET } from './linktype.js';
import { buildPacket, type EthSpec, type PacketSpec } from './packet.js';
import type { PacketRecord } from './record.js';

/** Small, fast, seedable PRNG (sfc32). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed = 1) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(xs: readonly T[], weights?: readonly number[]): T {
    if (!weights) return xs[this.int(xs.length)]!;
    const total = weights.reduce((a, b) => a + b, 0);
    let r = this.float() * total;
    for (let i = 0; i < xs.length; i++) {
      r -= weights[i]!;
      if (r < 0) return xs[i]!;
    }
    return xs[xs.length - 1]!;
  }

  /** Exponentially distributed with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }
}

/**
 * Frame sizes (bytes on the wire without FCS, link header included): a fixed
 * size, a uniform range, weighted choices, or 'imix' (64/576/1500 at 7:4:1).
 * A size below the headers' length gives headers only.
 */
export type SizeDistribution =
  | number
  | 'imix'
  | { readonly uniform: readonly [number, number] }
  | { readonly choices: readonly number[]; readonly weights?: readonly number[] };

function sampler(dist: SizeDistribution, rng: Rng): () => number {
  if (typeof dist === 'number') return () => dist;
  if (dist === 'imix') return () => rng.pick([64, 576, 1500], [7, 4, 1]);
  if ('uniform' in dist) { const [lo, hi] = dist.uniform; return () => rng.range(lo, hi); }
  return () => rng.pick(dist.choices, dist.weights);
}

export interface CommonOptions {
  readonly seed?: number;
  /** Timestamp of the first packet, ns since the epoch; default 2024-01-01T00:00:00Z. */
  readonly start?: bigint;
  /** Mean packet rate (packets per second, exponential inter-arrival); default 10000. */
  readonly pps?: number;
  /** 802.1Q VLAN id to tag every frame with. */
  readonly vlan?: number;
}

export interface FlowOptions extends CommonOptions {
  /** Number of flows; default 10. */
  readonly flows?: number;
  /** Data packets per flow: a number or an inclusive [min, max]; default [1, 20]. TCP adds handshake and teardown. */
  readonly packetsPerFlow?: number | readonly [number, number];
  /** Share of TCP flows (rest UDP); default 0.5. */
  readonly tcpFraction?: number;
  /** Share of IPv6 flows; default 0. */
  readonly ipv6Fraction?: number;
  /** Frame size distribution of data packets; default 'imix'. */
  readonly sizes?: SizeDistribution;
  /** Flows open at once, interleaved; default 8. */
  readonly concurrency?: number;
}

export const DEFAULT_START = 1_704_067_200_000_000_000n;

const ETH_A = '02:00:5e:00:53:01';
const ETH_B = '02:00:5e:00:53:02';

function ethOf(o: CommonOptions, fromClient: boolean): EthSpec {
  return { src: fromClient ? ETH_A : ETH_B, dst: fromClient ? ETH_B : ETH_A, ...(o.vlan !== undefined ? { vlan: o.vlan } : {}) };
}

function record(data: Uint8Array, ts: bigint): PacketRecord {
  return { data, ts, origLen: data.length, caplen: data.length, linkType: LINKTYPE_ETHERNET, interfaceId: 0 };
}

class Clock {
  private t: bigint;
  private readonly mean: number;
  constructor(o: CommonOptions, private readonly rng: Rng) {
    this.t = o.start ?? DEFAULT_START;
    const pps = o.pps ?? 10000;
    if (!(pps > 0)) throw new PcapError('NET_GENERATE', `pps must be positive, not ${pps}`, 0, 0);
    this.mean = 1e9 / pps;
  }
  /** Current time, then advance by one inter-arrival gap. */
  tick(): bigint {
    const t = this.t;
    this.t += BigInt(Math.max(1, Math.round(this.rng.exp(this.mean))));
    return t;
  }
}

function headerLen(v6: boolean, tcp: boolean, vlan: boolean): number {
  return 14 + (vlan ? 4 : 0) + (v6 ? 40 : 20) + (tcp ? 20 : 8);
}

interface Flow {
  v6: boolean;
  tcp: boolean;
  client: string;
  server: string;
  sport: number;
  dport: number;
  /** Steps: 'syn', 'synack', 'ack', data..., 'fin', 'finack', 'lastack'. */
  steps: number;
  step: number;
  cseq: number;
  sseq: number;
}

/**
 * N flows of TCP (handshake, data both ways, FIN teardown, sequence numbers
 * consistent) and UDP, interleaved, with frame sizes drawn from `sizes`.
 */
export function* generateFlows(opts: FlowOptions = {}): Generator<PacketRecord, void, undefined> {
  const rng = new Rng(opts.seed ?? 1);
  const clock = new Clock(opts, rng);
  const size = sampler(opts.sizes ?? 'imix', rng);
  const total = opts.flows ?? 10;
  const ppf = opts.packetsPerFlow ?? [1, 20];
  const conc = Math.max(1, opts.concurrency ?? 8);
  const active: Flow[] = [];
  let started = 0;
  const vlan = opts.vlan !== undefined;
  const open = (): Flow => {
    const v6 = rng.float() < (opts.ipv6Fraction ?? 0);
    const tcp = rng.float() < (opts.tcpFraction ?? 0.5);
    const n = typeof ppf === 'number' ? ppf : rng.range(ppf[0], ppf[1]);
    const c = rng.range(1, 254);
    const s = rng.range(1, 254);
    const dport = tcp ? rng.pick([80, 443, 22, 8080, 5432]) : rng.range(10000, 19999);
    started++;
    return {
      v6, tcp,
      client: v6 ? `2001:db8:1::${c.toString(16)}` : `192.0.2.${c}`,
      server: v6 ? `2001:db8:2::${s.toString(16)}` : `203.0.113.${s}`,
      sport: rng.range(32768, 60999), dport,
      steps: tcp ? n + 6 : n, step: 0, cseq: rng.u32(), sseq: rng.u32(),
    };
  };
  while (started < total || active.length > 0) {
    while (active.length < conc && started < total) active.push(open());
    const i = rng.int(active.length);
    const f = active[i]!;
    const ts = clock.tick();
    const ip = (fromClient: boolean): PacketSpec => {
      const [src, dst] = fromClient ? [f.client, f.server] : [f.server, f.client];
      return f.v6 ? { ipv6: { src, dst } } : { ipv4: { src, dst, id: rng.int(65536), df: f.tcp } };
    };
    let spec: PacketSpec;
    if (f.tcp) {
      const k = f.step;
      const last = f.steps - 1;
      const pad = (target: number): number => Math.max(0, target - headerLen(f.v6, true, vlan));
      if (k === 0) {
        spec = { eth: ethOf(opts, true), ...ip(true), tcp: { sport: f.sport, dport: f.dport, seq: f.cseq, flags: 'S' } };
        f.cseq = (f.cseq + 1) >>> 0;
      } else if (k === 1) {
        spec = { eth: ethOf(opts, false), ...ip(false), tcp: { sport: f.dport, dport: f.sport, seq: f.sseq, ack: f.cseq, flags: 'SA' } };
        f.sseq = (f.sseq + 1) >>> 0;
      } else if (k === 2) {
        spec = { eth: ethOf(opts, true), ...ip(true), tcp: { sport: f.sport, dport: f.dport, seq: f.cseq, ack: f.sseq, flags: 'A' } };
      } else if (k < last - 2) {
        const fromClient = rng.float() < 0.5;
        const payload = pad(size());
        if (fromClient) {
          spec = { eth: ethOf(opts, true), ...ip(true), tcp: { sport: f.sport, dport: f.dport, seq: f.cseq, ack: f.sseq, flags: 'PA' }, payload };
          f.cseq = (f.cseq + payload) >>> 0;
        } else {
          spec = { eth: ethOf(opts, false), ...ip(false), tcp: { sport: f.dport, dport: f.sport, seq: f.sseq, ack: f.cseq, flags: 'PA' }, payload };
          f.sseq = (f.sseq + payload) >>> 0;
        }
      } else if (k === last - 2) {
        spec = { eth: ethOf(opts, true), ...ip(true), tcp: { sport: f.sport, dport: f.dport, seq: f.cseq, ack: f.sseq, flags: 'FA' } };
        f.cseq = (f.cseq + 1) >>> 0;
      } else if (k === last - 1) {
        spec = { eth: ethOf(opts, false), ...ip(false), tcp: { sport: f.dport, dport: f.sport, seq: f.sseq, ack: f.cseq, flags: 'FA' } };
        f.sseq = (f.sseq + 1) >>> 0;
      } else {
        spec = { eth: ethOf(opts, true), ...ip(true), tcp: { sport: f.sport, dport: f.dport, seq: f.cseq, ack: f.sseq, flags: 'A' } };
      }
    } else {
      const fromClient = f.step === 0 || rng.float() < 0.5;
      const payload = Math.max(0, size() - headerLen(f.v6, false, vlan));
      const [sport, dport] = fromClient ? [f.sport, f.dport] : [f.dport, f.sport];
      spec = { eth: ethOf(opts, fromClient), ...ip(fromClient), udp: { sport, dport }, payload };
    }
    f.step++;
    if (f.step >= f.steps) active.splice(i, 1);
    yield record(buildPacket(spec), ts);
  }
}

export interface SynFloodOptions extends CommonOptions {
  /** Number of SYNs; default 1000. */
  readonly count?: number;
  readonly target?: string;
  readonly dport?: number;
}

/** A SYN flood: SYNs from random spoofed sources in 198.51.100.0/24 and random ports to one target port. */
export function* synFlood(opts: SynFloodOptions = {}): Generator<PacketRecord, void, undefined> {
  const rng = new Rng(opts.seed ?? 2);
  const clock = new Clock({ pps: 100000, ...opts }, rng);
  const n = opts.count ?? 1000;
  const target = opts.target ?? '203.0.113.10';
  for (let i = 0; i < n; i++) {
    const data = buildPacket({
      eth: ethOf(opts, true),
      ipv4: { src: `198.51.100.${rng.range(1, 254)}`, dst: target, ttl: rng.range(32, 128), id: rng.int(65536) },
      tcp: { sport: rng.range(1024, 65535), dport: opts.dport ?? 80, seq: rng.u32(), flags: 'S', window: rng.pick([1024, 2048, 4096, 65535]) },
    });
    yield record(data, clock.tick());
  }
}

export interface DnsOptions extends CommonOptions {
  /** Number of queries; default 100. */
  readonly count?: number;
  readonly server?: string;
  /** Names to ask for; default a fixed list of example.* names. */
  readonly names?: readonly string[];
  /** Query types with weights; default A 60, AAAA 25, MX 5, TXT 5, HTTPS 5. */
  readonly qtypes?: readonly { readonly type: number; readonly weight: number }[];
  /** Also emit the server's answer after each query (NOERROR, one A/AAAA record, else none); default false. */
  readonly responses?: boolean;
}

export const DNS_A = 1;
export const DNS_MX = 15;
export const DNS_TXT = 16;
export const DNS_AAAA = 28;
export const DNS_HTTPS = 65;

const DEFAULT_NAMES = ['example.com', 'www.example.com', 'mail.example.org', 'api.example.net', 'cdn.example.com',
  'example.org', 'ns1.example.net', 'test.example'];

/**
 * A DNS message with one question. `response` makes it an answer (QR, RA):
 * with `rdata`, one record of the question's type carrying it, else none.
 */
export function dnsMessage(id: number, name: string, qtype: number, response?: { readonly rdata?: Uint8Array }): Uint8Array {
  const answer = response?.rdata;
  const labels = name.split('.').filter((l) => l.length > 0).map((l) => new TextEncoder().encode(l));
  for (const l of labels) if (l.length > 63) throw new PcapError('NET_BUILD', `DNS label longer than 63 bytes in '${name}'`, 0, 0);
  const qname = labels.reduce((a, l) => a + 1 + l.length, 1);
  const ans = answer ? 12 + answer.length : 0;
  const b = new Uint8Array(12 + qname + 4 + ans);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, id);
  dv.setUint16(2, response ? 0x8180 : 0x0100); // response+RD+RA / query+RD
  dv.setUint16(4, 1);
  dv.setUint16(6, answer ? 1 : 0);
  let o = 12;
  for (const l of labels) { b[o++] = l.length; b.set(l, o); o += l.length; }
  b[o++] = 0;
  dv.setUint16(o, qtype); dv.setUint16(o + 2, 1); o += 4;
  if (answer) {
    dv.setUint16(o, 0xc00c); // pointer to the question name
    dv.setUint16(o + 2, qtype); dv.setUint16(o + 4, 1);
    dv.setUint32(o + 6, 300);
    dv.setUint16(o + 10, answer.length);
    b.set(answer, o + 12);
  }
  return b;
}

/** A mix of DNS queries (and optionally answers) from clients in 192.0.2.0/24 to one resolver. */
export function* dnsQueries(opts: DnsOptions = {}): Generator<PacketRecord, void, undefined> {
  const rng = new Rng(opts.seed ?? 3);
  const clock = new Clock({ pps: 1000, ...opts }, rng);
  const n = opts.count ?? 100;
  const server = opts.server ?? '203.0.113.53';
  const names = opts.names ?? DEFAULT_NAMES;
  const qt = opts.qtypes ?? [
    { type: DNS_A, weight: 60 }, { type: DNS_AAAA, weight: 25 }, { type: DNS_MX, weight: 5 },
    { type: DNS_TXT, weight: 5 }, { type: DNS_HTTPS, weight: 5 },
  ];
  for (let i = 0; i < n; i++) {
    const client = `192.0.2.${rng.range(1, 254)}`;
    const sport = rng.range(1024, 65535);
    const id = rng.int(65536);
    const name = rng.pick(names);
    const type = rng.pick(qt.map((q) => q.type), qt.map((q) => q.weight));
    yield record(buildPacket({
      eth: ethOf(opts, true), ipv4: { src: client, dst: server, id: rng.int(65536) }, udp: { sport, dport: 53 },
      payload: dnsMessage(id, name, type),
    }), clock.tick());
    if (opts.responses) {
      const rdata = type === DNS_A ? Uint8Array.of(192, 0, 2, rng.range(1, 254))
        : type === DNS_AAAA ? Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, rng.range(1, 254)) : undefined;
      yield record(buildPacket({
        eth: ethOf(opts, false), ipv4: { src: server, dst: client, id: rng.int(65536) }, udp: { sport: 53, dport: sport },
        payload: dnsMessage(id, name, type, rdata ? { rdata } : {}),
      }), clock.tick());
    }
  }
}

/** Merge time-ordered record streams into one, by timestamp (stable: ties keep argument order). */
export function* mergeByTime(...sources: Iterable<PacketRecord>[]): Generator<PacketRecord, void, undefined> {
  const its = sources.map((s) => s[Symbol.iterator]());
  const heads = its.map((it) => it.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (h.done) continue;
      if (best < 0 || h.value.ts < (heads[best]!.value as PacketRecord).ts) best = i;
    }
    if (best < 0) return;
    yield heads[best]!.value as PacketRecord;
    heads[best] = its[best]!.next();
  }
}
