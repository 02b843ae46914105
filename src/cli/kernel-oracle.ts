// The Linux kernel as a live oracle (node only). Loads and test-runs eBPF
// programs through native/bpf-oracle.c, a small C driver of the bpf(2)
// syscall, built with gcc on first use into a cache directory and rebuilt
// whenever its source changes.
//
//   const k = kernelAvailable();
//   if (k.ok) {
//     const r = kernelTestRun({ insns, progType: KERNEL_PROG_TYPE.XDP, data: packet });
//     r.retval, r.dataOut, r.maps[0]
//   }
//
// Failures are typed (`OracleError`, code ORACLE_*); a verifier rejection is
// data for kernelLoad() and an error (ORACLE_LOAD, with the log) for
// kernelTestRun(). Nothing here throws anything else, nor hangs: every child
// process has a timeout.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsbpfError } from '../errors.js';

/**
 * A failure of the oracle itself or a program the kernel refused.
 * Codes: ORACLE_UNAVAILABLE (not Linux, not privileged, no gcc, no syscall),
 * ORACLE_BUILD (gcc failed), ORACLE_PROTOCOL (the driver's output could not be
 * read), ORACLE_ARGS (bad request), ORACLE_MAP (map creation or fill failed),
 * ORACLE_LOAD (BPF_PROG_LOAD refused the program; see `verifierLog`),
 * ORACLE_RUN (BPF_PROG_TEST_RUN failed). `stage` is where it happened.
 */
export class OracleError extends TsbpfError {
  constructor(
    code: string,
    readonly reason: string,
    readonly stage: string,
    readonly errno = 0,
    readonly verifierLog = '',
  ) {
    super('OracleError', code, `kernel oracle (${stage}): ${reason}`);
  }
}

/** enum bpf_prog_type (UAPI <linux/bpf.h>): the types the oracle is commonly used with. */
export const KERNEL_PROG_TYPE = {
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  CGROUP_SKB: 8,
  LWT_IN: 10,
  SK_SKB: 14,
  RAW_TRACEPOINT: 17,
  FLOW_DISSECTOR: 22,
  TRACING: 26,
  SK_LOOKUP: 30,
  /** Context is a plain user buffer copied back after the run; needs BPF_F_SLEEPABLE. */
  SYSCALL: 31,
} as const;

/** enum bpf_map_type numbers of the common maps. */
export const KERNEL_MAP_TYPE = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LPM_TRIE: 11,
  QUEUE: 22,
  STACK: 23,
  RINGBUF: 27,
} as const;

/** BPF_F_SLEEPABLE, needed to load SYSCALL programs. */
export const BPF_F_SLEEPABLE = 1 << 4;

export interface KernelMap {
  /** enum bpf_map_type. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  /** Entries written with BPF_MAP_UPDATE_ELEM before the run (per-CPU: one CPU's value, copied to all). */
  readonly entries?: ReadonlyArray<{ readonly key: Uint8Array; readonly value: Uint8Array }>;
}

export interface KernelLoadOptions {
  /** Bytecode, 8 bytes a slot. LD_IMM64 with src 1 or 2 holds a map index in imm, replaced by its fd. */
  readonly insns: Uint8Array;
  /** enum bpf_prog_type (see KERNEL_PROG_TYPE). */
  readonly progType: number;
  readonly expectedAttachType?: number;
  /** BPF_F_* load flags. */
  readonly progFlags?: number;
  /** Default "GPL". */
  readonly license?: string;
  /** Verifier log level: 0, 1 (default), 2, | 4 for statistics. */
  readonly logLevel?: number;
  /** Verifier log buffer in bytes (default 16 MiB). */
  readonly logSize?: number;
  /**
   * Load without CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON and CAP_NET_ADMIN (the
   * strict verifier rules). The kernel allows this only for SOCKET_FILTER and
   * CGROUP_SKB, and only when kernel.unprivileged_bpf_disabled is 0.
   */
  readonly unprivileged?: boolean;
  /**
   * With `unprivileged`: when kernel.unprivileged_bpf_disabled is 2 (the
   * usual default), lower it to 0 for the load and restore it (default true).
   */
  readonly lowerUnprivSysctl?: boolean;
  readonly maps?: readonly KernelMap[];
  /** Child process timeout in ms (default 60000). */
  readonly timeoutMs?: number;
}

export interface KernelLoadResult {
  readonly loaded: boolean;
  /** Where it failed: 'ok', 'args', 'caps', 'map_create', 'map_update', 'prog_load', 'test_run'. */
  readonly stage: string;
  readonly errno: number;
  readonly error: string;
  readonly verifierLog: string;
  /** Instructions the verifier processed (bpf_prog_info.verified_insns). */
  readonly verifiedInsns: number;
  /** kernel.unprivileged_bpf_disabled as found before the request (-1 if unreadable). */
  readonly unprivSysctl: number;
}

export interface KernelTestRunOptions extends KernelLoadOptions {
  readonly data?: Uint8Array;
  readonly ctx?: Uint8Array;
  /** Runs of BPF_PROG_TEST_RUN (default 1); `durationNs` is the mean. */
  readonly repeat?: number;
  readonly dataOutSize?: number;
  readonly ctxOutSize?: number;
  /** BPF_F_TEST_* flags. */
  readonly testFlags?: number;
  /** Dump every map after the run (default true). */
  readonly dumpMaps?: boolean;
}

export interface KernelMapDump {
  readonly entries: ReadonlyArray<{ readonly key: Uint8Array; readonly value: Uint8Array }>;
  /** Why the map could not be (fully) dumped, e.g. queue/stack maps have no keys. */
  readonly error?: string;
}

export interface KernelTestRunResult {
  /** The kernel's 32-bit test.retval (R0 truncated to 32 bits for every program type). */
  readonly retval: number;
  /** Mean ns a run as the kernel reports it (0 for SYSCALL programs, which are not timed). */
  readonly durationNs: number;
  readonly dataOut: Uint8Array;
  /** ctx_out; for SYSCALL programs the context as the program left it. */
  readonly ctxOut: Uint8Array;
  readonly maps: readonly KernelMapDump[];
  readonly verifierLog: string;
  readonly verifiedInsns: number;
}

/** What the driver printed for one request. */
interface RawResult {
  loaded: boolean;
  stage: string;
  errno: number;
  error: string;
  verifier_log: string;
  verified_insns: number;
  unpriv_sysctl: number;
  ran: boolean;
  retval?: number;
  duration_ns?: number;
  data_out?: string;
  ctx_out?: string;
  maps: Array<{ entries: Array<{ key: string; value: string }>; error?: string }>;
}

// ------------------------------------------------------------------ build

const SOURCE_CANDIDATES = ['../../../native/bpf-oracle.c', '../../native/bpf-oracle.c'];

function sourcePath(): string {
  for (const rel of SOURCE_CANDIDATES) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new OracleError('ORACLE_UNAVAILABLE', 'native/bpf-oracle.c not found next to this module', 'build');
}

function cacheDir(src: string): string {
  const root = dirname(dirname(src));
  const nm = join(root, 'node_modules');
  try {
    if (statSync(nm).isDirectory()) return join(nm, '.cache', 'tsbpf');
  } catch { /* no node_modules: fall back to the temp dir */ }
  return join(tmpdir(), 'tsbpf-cache');
}

let binaryCache: string | undefined;

/**
 * Path of the compiled driver, building it if needed (gcc, into
 * node_modules/.cache/tsbpf/ or the temp dir, named by the source's hash).
 */
export function oracleBinary(): string {
  if (binaryCache && existsSync(binaryCache)) return binaryCache;
  if (process.platform !== 'linux') {
    throw new OracleError('ORACLE_UNAVAILABLE', `the kernel oracle needs Linux (this is ${process.platform})`, 'build');
  }
  const src = sourcePath();
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
  const dir = cacheDir(src);
  const bin = join(dir, `bpf-oracle-${hash}`);
  if (!existsSync(bin)) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new OracleError('ORACLE_BUILD', `cannot create ${dir}: ${(e as Error).message}`, 'build');
    }
    // Build to a private name, then rename: parallel test processes may race.
    const tmp = `${bin}.${process.pid}.tmp`;
    const r = spawnSync('gcc', ['-O2', '-Wall', '-o', tmp, src], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) {
      const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new OracleError(missing ? 'ORACLE_UNAVAILABLE' : 'ORACLE_BUILD',
        missing ? 'gcc is not installed' : `gcc: ${r.error.message}`, 'build');
    }
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      const hint = /linux\/bpf\.h/.test(r.stderr) ? ' (install linux-libc-dev for <linux/bpf.h>)' : '';
      throw new OracleError(/linux\/bpf\.h/.test(r.stderr) ? 'ORACLE_UNAVAILABLE' : 'ORACLE_BUILD',
        `gcc failed${hint}: ${r.stderr.trim().split('\n').slice(0, 5).join(' | ')}`, 'build');
    }
    try {
      renameSync(tmp, bin);
    } catch (e) {
      throw new OracleError('ORACLE_BUILD', `cannot install ${bin}: ${(e as Error).message}`, 'build');
    }
    // Drop the builds of older sources.
    try {
      for (const f of readdirSync(dir)) {
        if (/^bpf-oracle-[0-9a-f]{16}$/.test(f) && join(dir, f) !== bin) rmSync(join(dir, f), { force: true });
      }
    } catch { /* stale binaries are harmless */ }
  }
  binaryCache = bin;
  return bin;
}

// ------------------------------------------------------------------ protocol

function hex(b: Uint8Array): string {
  return b.length === 0 ? '-' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function unhex(s: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(s ?? '', 'hex'));
}

function u32(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new OracleError('ORACLE_ARGS', `${name} must be an integer in [0, 2^32), got ${v}`, 'args');
  }
  return v;
}

function requestText(o: KernelTestRunOptions, run: boolean): string {
  const lines: string[] = [];
  const set = (k: string, v: number | undefined): void => {
    if (u32(k, v) !== undefined) lines.push(`${k} ${v}`);
  };
  if (!(o.insns instanceof Uint8Array) || o.insns.length === 0 || o.insns.length % 8 !== 0) {
    throw new OracleError('ORACLE_ARGS', 'insns must be a non-empty Uint8Array, 8 bytes a slot', 'args');
  }
  set('prog_type', o.progType);
  set('expected_attach_type', o.expectedAttachType);
  set('prog_flags', o.progFlags);
  set('log_level', o.logLevel);
  set('log_size', o.logSize);
  if (o.license !== undefined) {
    if (!/^[\x21-\x7e]{1,127}$/.test(o.license)) {
      throw new OracleError('ORACLE_ARGS', 'license must be 1-127 printable characters without spaces', 'args');
    }
    lines.push(`license ${o.license}`);
  }
  if (o.unprivileged) {
    lines.push('unpriv 1');
    lines.push(`unpriv_sysctl ${o.lowerUnprivSysctl === false ? 0 : 1}`);
  }
  (o.maps ?? []).forEach((m, i) => {
    for (const [k, v] of [['keySize', m.keySize], ['valueSize', m.valueSize], ['maxEntries', m.maxEntries], ['type', m.type]] as const) u32(k, v);
    lines.push(`map ${m.type} ${m.keySize} ${m.valueSize} ${m.maxEntries} ${u32('flags', m.flags ?? 0)}`);
    for (const e of m.entries ?? []) lines.push(`fill ${i} ${hex(e.key)} ${hex(e.value)}`);
  });
  lines.push(`insns ${hex(o.insns)}`);
  if (o.data) lines.push(`data ${hex(o.data)}`);
  if (o.ctx) lines.push(`ctx ${hex(o.ctx)}`);
  set('data_out_size', o.dataOutSize);
  set('ctx_out_size', o.ctxOutSize);
  set('test_flags', o.testFlags);
  set('repeat', run ? (o.repeat ?? 1) : 0);
  if (o.dumpMaps === false) lines.push('dump 0');
  lines.push('run');
  return lines.join('\n') + '\n';
}

function runDriver(text: string, count: number, timeoutMs: number): RawResult[] {
  const bin = oracleBinary();
  const r = spawnSync(bin, [], { input: text, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 30 });
  if (r.error) {
    const timedOut = (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    throw new OracleError('ORACLE_PROTOCOL', timedOut ? `driver timed out after ${timeoutMs} ms` : `cannot run driver: ${r.error.message}`, 'driver');
  }
  if (r.status !== 0) {
    throw new OracleError('ORACLE_PROTOCOL', `driver exited with ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().slice(0, 300)}`, 'driver');
  }
  const out: RawResult[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as RawResult);
    } catch {
      throw new OracleError('ORACLE_PROTOCOL', `unreadable driver output: ${line.slice(0, 200)}`, 'driver');
    }
  }
  if (out.length !== count) {
    throw new OracleError('ORACLE_PROTOCOL', `driver answered ${out.length} of ${count} requests`, 'driver');
  }
  return out;
}

function toLoadResult(r: RawResult): KernelLoadResult {
  return {
    loaded: r.loaded, stage: r.stage, errno: r.errno, error: r.error, verifierLog: r.verifier_log,
    verifiedInsns: r.verified_insns, unprivSysctl: r.unpriv_sysctl,
  };
}

const STAGE_CODE: Record<string, string> = {
  args: 'ORACLE_ARGS', caps: 'ORACLE_UNAVAILABLE', map_create: 'ORACLE_MAP', map_update: 'ORACLE_MAP',
  prog_load: 'ORACLE_LOAD', test_run: 'ORACLE_RUN',
};

function toRunResult(r: RawResult): KernelTestRunResult {
  if (r.stage !== 'ok' || !r.ran) {
    throw new OracleError(STAGE_CODE[r.stage] ?? 'ORACLE_PROTOCOL', r.error || 'program did not run', r.stage, r.errno, r.verifier_log);
  }
  return {
    retval: r.retval ?? 0,
    durationNs: r.duration_ns ?? 0,
    dataOut: unhex(r.data_out),
    ctxOut: unhex(r.ctx_out),
    maps: r.maps.map((m) => ({
      entries: m.entries.map((e) => ({ key: unhex(e.key), value: unhex(e.value) })),
      ...(m.error ? { error: m.error } : {}),
    })),
    verifierLog: r.verifier_log,
    verifiedInsns: r.verified_insns,
  };
}

// ------------------------------------------------------------------ API

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/** True when this process holds CAP_BPF or CAP_SYS_ADMIN in its effective set. */
function privileged(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (!m) return false;
    const eff = BigInt('0x' + m[1]);
    return ((eff >> 39n) & 1n) === 1n || ((eff >> 21n) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * Whether the kernel oracle can be used here: Linux, root or CAP_BPF, gcc and
 * <linux/bpf.h> to build the driver, and a 2-instruction program that loads
 * and runs. `TSBPF_NO_KERNEL=1` in the environment turns it off.
 */
export function kernelAvailable(): { ok: true } | { ok: false; reason: string } {
  if (availability) return availability;
  availability = probe();
  return availability;
}

function probe(): { ok: true } | { ok: false; reason: string } {
  if (process.env['TSBPF_NO_KERNEL']) return { ok: false, reason: 'TSBPF_NO_KERNEL is set' };
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (!privileged()) return { ok: false, reason: 'not root and no CAP_BPF/CAP_SYS_ADMIN: bpf() program loads are not permitted' };
  try {
    // r0 = 7; exit
    const insns = new Uint8Array([0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const r = kernelTestRun({ insns, progType: KERNEL_PROG_TYPE.SOCKET_FILTER, data: new Uint8Array(64), logLevel: 0 });
    if (r.retval !== 7) return { ok: false, reason: `probe program returned ${r.retval}, expected 7` };
    return { ok: true };
  } catch (e) {
    const err = e as OracleError;
    return { ok: false, reason: err.errno ? `${err.message} (errno ${err.errno})` : err.message };
  }
}

/** BPF_PROG_LOAD only (plus map creation). A verifier rejection is a result with `loaded: false`. */
export function kernelLoad(o: KernelLoadOptions): KernelLoadResult {
  const [r] = runDriver(requestText(o, false), 1, o.timeoutMs ?? 60_000);
  const res = toLoadResult(r!);
  if (!res.loaded && res.stage !== 'prog_load') {
    throw new OracleError(STAGE_CODE[res.stage] ?? 'ORACLE_PROTOCOL', res.error, res.stage, res.errno, res.verifierLog);
  }
  return res;
}

/** Load and BPF_PROG_TEST_RUN a program; throws OracleError (ORACLE_LOAD with the log) if it does not load. */
export function kernelTestRun(o: KernelTestRunOptions): KernelTestRunResult {
  const [r] = runDriver(requestText(o, true), 1, o.timeoutMs ?? 60_000);
  return toRunResult(r!);
}

/**
 * Many requests through one driver process (much cheaper than one process
 * each). A request that fails yields its OracleError in place of a result.
 */
export function kernelTestRunBatch(reqs: readonly KernelTestRunOptions[], timeoutMs = 600_000): Array<KernelTestRunResult | OracleError> {
  const out: Array<KernelTestRunResult | OracleError> = [];
  const texts: string[] = [];
  const sent: number[] = [];
  reqs.forEach((q, i) => {
    try {
      texts.push(requestText(q, true));
      sent.push(i);
    } catch (e) {
      out[i] = e as OracleError;
    }
  });
  if (sent.length === 0) return out;
  const raw = runDriver(texts.join(''), sent.length, timeoutMs);
  raw.forEach((r, k) => {
    try {
      out[sent[k]!] = toRunResult(r);
    } catch (e) {
      out[sent[k]!] = e as OracleError;
    }
  });
  return out;
}
