// Shared pieces of the runtime-load tests: fixture paths, packets, the
// kernel side (libbpf-loaded objects through test/fixtures/progs/tools/objrun,
// or the kernel oracle for objects libbpf no longer opens) and the
// comparison of tsbpf's results and maps with the kernel's.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelAvailable } from '../../src/cli/kernel-oracle.js';
import { buildPacket, type PacketSpec } from '../../src/net/packet.js';
import type { BpfMap } from '../../src/runtime/maps/index.js';

export const ROOT = new URL('../../../', import.meta.url);
export const path = (rel: string): string => new URL(rel, ROOT).pathname;
export const read = (rel: string): Uint8Array => new Uint8Array(readFileSync(path(rel)));
export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

const MAC_A = '02:00:00:00:00:01';
const MAC_B = '02:00:00:00:00:02';
const eth = { src: MAC_A, dst: MAC_B };
const v4 = { src: '10.0.0.1', dst: '10.0.0.2' };

/** Packets every differential case may use, by name. */
export const PACKETS: Record<string, Uint8Array> = {
  udp_dns: buildPacket({ eth, ipv4: v4, udp: { sport: 40000, dport: 53 }, payload: 'abcdefghijklmnopqrstuvwxyz' }),
  udp_echo: buildPacket({ eth, ipv4: { ...v4, ttl: 17 }, udp: { sport: 1234, dport: 7 }, payload: 'ping ping ping' }),
  udp_num: buildPacket({ eth, ipv4: v4, udp: { sport: 1, dport: 9999 }, payload: '123 abc and more' }),
  udp_hex: buildPacket({ eth, ipv4: v4, udp: { sport: 1, dport: 9999 }, payload: '0x1f abd---------' }),
  udp_neg: buildPacket({ eth, ipv4: v4, udp: { sport: 1, dport: 9999 }, payload: '  -42 abc!-------' }),
  udp_nonum: buildPacket({ eth, ipv4: v4, udp: { sport: 1, dport: 9999 }, payload: 'no number here' }),
  udp_nocsum: buildPacket({ eth, ipv4: { src: '192.168.1.1', dst: '192.168.1.2' }, udp: { sport: 5, dport: 53, checksum: 0 }, payload: 8 }),
  udp_big: buildPacket({ eth, ipv4: { src: '172.16.0.9', dst: '10.0.0.2' }, udp: { sport: 9, dport: 4789 }, payload: 1400 }),
  tcp_syn: buildPacket({ eth, ipv4: { src: '10.0.0.3', dst: '10.0.0.2' }, tcp: { sport: 50000, dport: 80, flags: 'S', seq: 1 } }),
  tcp_data: buildPacket({ eth, ipv4: { src: '10.0.0.3', dst: '10.0.0.2', tos: 0x10 }, tcp: { sport: 50000, dport: 443, flags: 'PA', seq: 2, ack: 3 }, payload: 100 }),
  icmp: buildPacket({ eth, ipv4: { src: '10.9.8.7', dst: '10.0.0.2' }, icmp: { id: 1, seq: 1 }, payload: 56 }),
  udp6: buildPacket({ eth, ipv6: { src: 'fd00::1', dst: 'fd00::2' }, udp: { sport: 1000, dport: 53 }, payload: 20 }),
  tcp6: buildPacket({ eth, ipv6: { src: 'fd00::1', dst: 'fd00::2' }, tcp: { sport: 1000, dport: 22 } }),
  vlan_udp: buildPacket({ eth: { ...eth, vlan: 42 }, ipv4: v4, udp: { sport: 2, dport: 53 }, payload: 10 }),
  qinq_tcp: buildPacket({ eth: { ...eth, vlan: [{ id: 10, tpid: 0x88a8 }, 20] }, ipv4: v4, tcp: { sport: 3, dport: 4 } }),
  frag: buildPacket({ eth, ipv4: { ...v4, fragOffset: 100, protocol: 17 }, payload: 30 }),
  arp: new Uint8Array([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
    0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
  ]),
  eth_only: new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]),
  ip_short: new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17]),
  bcast_udp: buildPacket({ eth: { src: MAC_A, dst: 'ff:ff:ff:ff:ff:ff' }, ipv4: { src: '10.0.0.1', dst: '10.255.255.255' }, udp: { sport: 68, dport: 67 }, payload: 30 }),
  host_udp: buildPacket({ eth: { src: MAC_A, dst: '00:00:00:00:00:00' }, ipv4: v4, udp: { sport: 1, dport: 2 }, payload: 4 }),
};

/** Packets beyond one page (XDP fragments; too big for a test-run skb). */
export const BIG_PACKETS: Record<string, Uint8Array> = {
  jumbo: buildPacket({ eth, ipv4: v4, udp: { sport: 9, dport: 9 }, payload: 3600 - 42 }),
  huge: buildPacket({ eth, ipv4: v4, udp: { sport: 9, dport: 9 }, payload: 10000 - 42 }),
  skb_max: buildPacket({ eth, ipv4: v4, udp: { sport: 9, dport: 9 }, payload: 3712 - 42 }),
  skb_over: buildPacket({ eth, ipv4: v4, udp: { sport: 9, dport: 9 }, payload: 3713 - 42 }),
};

export function packet(spec: PacketSpec): Uint8Array {
  return buildPacket(spec);
}

// ---- the kernel side ------------------------------------------------------------

let objrunPath: string | undefined | null = null;

/** tools/objrun built with cc + libbpf into a temp dir (undefined when that fails). */
export function objrun(): string | undefined {
  if (objrunPath !== null) return objrunPath;
  const out = join(mkdtempSync(join(tmpdir(), 'tsbpf-objrun-')), 'objrun');
  try {
    execFileSync('cc', ['-O2', path('test/fixtures/progs/tools/objrun.c'), '-lbpf', '-o', out], { stdio: 'pipe', timeout: 120_000 });
    objrunPath = out;
  } catch {
    objrunPath = undefined;
  }
  return objrunPath;
}

/** Why the kernel comparisons cannot run here, or undefined when they can. */
export function kernelSkip(): string | undefined {
  const k = kernelAvailable();
  if (!k.ok) return `kernel oracle unavailable: ${k.reason}`;
  if (!objrun()) return 'cannot build test/fixtures/progs/tools/objrun (cc and libbpf-dev needed)';
  return undefined;
}

export interface KernelRun {
  readonly retval: number;
  readonly data: Uint8Array;
  readonly ctx: Uint8Array;
  readonly duration: number;
}

export interface KernelMapDump {
  readonly name: string;
  readonly type: number;
  /** Possible CPUs of a per-CPU map (0 otherwise). */
  readonly percpu: number;
  readonly entries: [string, string][];
}

export interface RunRequest {
  readonly prog: string;
  readonly data?: Uint8Array;
  readonly ctx?: Uint8Array;
  readonly repeat?: number;
}

/**
 * Load `obj` with libbpf and run the requests in order (maps keep their
 * state), after applying the map updates; then dump every map.
 */
export function kernelSession(obj: string, reqs: readonly RunRequest[], updates: readonly { map: string; key: Uint8Array; value: Uint8Array }[] = [], types: Record<string, number> = {}): { runs: (KernelRun | { error: string })[]; maps: KernelMapDump[] } {
  const lines: string[] = [];
  for (const u of updates) lines.push(`update ${u.map} ${hex(u.key)} ${hex(u.value)}`);
  for (const r of reqs) lines.push(`run ${r.prog} ${r.data ? hex(r.data) : '-'} ${r.ctx ? hex(r.ctx) : '-'} ${r.repeat ?? 1}`);
  lines.push('dump');
  const args = [path(obj), ...Object.entries(types).map(([p, t]) => `${p}=${t}`)];
  const res = spawnSync(objrun()!, args, { input: lines.join('\n') + '\n', encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  if (res.status !== 0) throw new Error(`objrun failed: ${res.stderr}`);
  const out = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const head = out.shift()!;
  if (head['error']) throw new Error(`kernel refused ${obj}: ${String(head['error'])}\n${String(head['log'] ?? '')}`);
  for (let i = 0; i < updates.length; i++) {
    const u = out.shift()!;
    if (u['error']) throw new Error(`kernel map update ${updates[i]!.map}: ${String(u['error'])}`);
  }
  const runs = reqs.map(() => {
    const r = out.shift()!;
    if (r['error']) return { error: String(r['error']) };
    return { retval: r['retval'] as number, data: unhex(r['data'] as string), ctx: unhex(r['ctx'] as string), duration: r['duration'] as number };
  });
  const maps = (out.shift()!['maps'] as KernelMapDump[]);
  return { runs, maps };
}

// ---- comparing maps -------------------------------------------------------------

/** Our map for a kernel map name: libbpf names global data `<obj prefix>.bss`. */
export function matchMap(kernelName: string, ours: ReadonlyMap<string, BpfMap>): BpfMap | undefined {
  const direct = ours.get(kernelName);
  if (direct) return direct;
  for (const [n, m] of ours) if (n.startsWith('.') && kernelName.endsWith(n)) return m;
  return undefined;
}

/** Sum the per-CPU slots of a kernel value as 64-bit words (counters), or take it as is. */
function foldPercpu(v: Uint8Array, cpus: number, valueSize: number): Uint8Array {
  if (cpus <= 1) return v.slice(0, valueSize);
  const stride = Math.ceil(valueSize / 8) * 8;
  const out = new Uint8Array(stride);
  const dv = new DataView(out.buffer);
  for (let c = 0; c < cpus; c++) {
    const s = new DataView(v.buffer, v.byteOffset + c * stride, stride);
    for (let k = 0; k + 8 <= stride; k += 8) dv.setBigUint64(k, BigInt.asUintN(64, dv.getBigUint64(k, true) + s.getBigUint64(k, true)), true);
  }
  return out.slice(0, valueSize);
}

const SKIP_TYPES = new Set([3, 4, 12, 13, 27]); // prog array, perf event array, map-in-maps, ringbuf

/** Differences between the kernel's maps and ours ([] when they agree). */
export function diffMaps(kmaps: readonly KernelMapDump[], ours: ReadonlyMap<string, BpfMap>, keysOnly: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const k of kmaps) {
    if (SKIP_TYPES.has(k.type)) continue;
    const m = matchMap(k.name, ours);
    if (!m) { out.push(`map ${k.name}: not in tsbpf`); continue; }
    const theirs = new Map<string, string>();
    for (const [kk, vv] of k.entries) theirs.set(kk, hex(foldPercpu(unhex(vv), k.percpu, m.valueSize)));
    const mine = new Map<string, string>();
    for (const [kk, vv] of m.entries()) mine.set(hex(kk), hex(vv.slice(0, m.valueSize)));
    for (const [kk, vv] of theirs) {
      const x = mine.get(kk);
      if (x === undefined) out.push(`map ${k.name}: key ${kk} missing in tsbpf (kernel: ${vv})`);
      else if (x !== vv && !keysOnly.includes(k.name)) out.push(`map ${k.name}: key ${kk}: tsbpf ${x}, kernel ${vv}`);
    }
    for (const kk of mine.keys()) if (!theirs.has(kk)) out.push(`map ${k.name}: key ${kk} only in tsbpf (${mine.get(kk)})`);
  }
  return out;
}
