// Helpers every program type may call (beyond the base ones in helpers.ts):
// bpf_loop, strings (strncmp, strtol, strtoul, snprintf, trace_vprintk),
// clocks (ktime_get_boot_ns, ktime_get_coarse_ns, jiffies64), and the
// tracing helpers that read the host's idea of the kernel: probe_read*,
// get_current_*, get_stackid / get_stack.
//
// Semantics follow the kernel's helper documentation (bpf-helpers(7)) and,
// where it is silent, the kernel itself through BPF_PROG_TEST_RUN.

import { RuntimeFault } from '../errors.js';
import type { HelperContext, HelperSpec } from './helpers.js';
import { mapFromHandle } from './maps/index.js';
import type { HelperFamily, HostEnv, RunHost } from './progtypes/types.js';

const EINVAL = -22;
const E2BIG = -7;
const EFAULT = -14;
const ERANGE = -34;
const EEXIST = -17;
const ENOENT = -2;
/** BPF_MAX_LOOPS. */
export const BPF_MAX_LOOPS = 1 << 23;
/** MAX_BPRINTF_VARARGS. */
const MAX_VARARGS = 12;

const num = (v: bigint): number => Number(v & 0xffffffffn);

function hostOf(ctx: HelperContext): RunHost | undefined {
  return ctx.host as RunHost | undefined;
}

function envOf(ctx: HelperContext): HostEnv | undefined {
  return hostOf(ctx)?.env;
}

// ---- strings ------------------------------------------------------------------

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * The kernel's strtol/strtoul parser: leading white space, an optional
 * sign (strtol only; strtoul refuses '-'), base 0/8/10/16 (low 5 bits of
 * flags) with the 0 / 0x prefixes, at most 63 bytes read. Returns the bytes
 * consumed and the value, or an errno.
 */
export function parseInteger(bytes: Uint8Array, flags: number, signed: boolean): { consumed: number; value: bigint } | number {
  if ((flags & ~0x1f) !== 0) return EINVAL;
  let base = flags & 0x1f;
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return EINVAL;
  if (bytes.length === 0) return EINVAL;
  const s = bytes.subarray(0, Math.min(bytes.length, 63));
  let i = 0;
  const at = (k: number): number => (k < s.length ? s[k]! : 0);
  while (i < s.length && isSpace(s[i]!)) i++;
  let neg = false;
  if (at(i) === 0x2d) { // '-'
    if (!signed) return EINVAL;
    neg = true;
    i++;
  }
  const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 32 : c);
  const isX = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (lower(c) >= 0x61 && lower(c) <= 0x66);
  if (base === 0) {
    if (at(i) === 0x30) base = lower(at(i + 1)) === 0x78 && isX(at(i + 2)) ? 16 : 8;
    else base = 10;
  }
  if (base === 16 && at(i) === 0x30 && lower(at(i + 1)) === 0x78) i += 2;
  let v = 0n;
  let digits = 0;
  let overflow = false;
  const B = BigInt(base);
  for (; i < s.length; i++) {
    const c = lower(s[i]!);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x7a) d = c - 0x61 + 10;
    else break;
    if (d >= base) break;
    v = v * B + BigInt(d);
    if (v > 0xffffffffffffffffn) overflow = true;
    digits++;
  }
  if (digits === 0) return EINVAL;
  if (overflow) return ERANGE;
  if (signed) {
    if (neg) {
      if (v > 0x8000000000000000n) return ERANGE;
      return { consumed: i, value: BigInt.asUintN(64, -v) };
    }
    if (v > 0x7fffffffffffffffn) return ERANGE;
  }
  return { consumed: i, value: v };
}

function strtox(signed: boolean) {
  return (buf: bigint, len: bigint, flags: bigint, res: bigint, _5: bigint, ctx: HelperContext): number => {
    const n = num(len);
    if (n === 0 || flags > 0xffffffffn) return EINVAL;
    const at = ctx.checkAccess(buf, n, false);
    const r = parseInteger(ctx.memory.u8.slice(at, at + n), num(flags), signed);
    if (typeof r === 'number') return r;
    const ra = ctx.checkAccess(res, 8, true);
    ctx.memory.view.setBigUint64(ra, r.value, true);
    return r.consumed;
  };
}

function strncmp(s1: bigint, size: bigint, s2: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const n = num(size);
  const a = ctx.checkAccess(s1, n, false);
  const m = ctx.memory.u8;
  // s2 is a NUL-terminated constant string (read-only map value).
  const r2 = ctx.checked ? ctx.memory.findRegion(Number(s2 & 0xffffffffn), 1) : undefined;
  const b = ctx.checkAccess(s2, 1, false);
  const bEnd = r2 ? r2.end : ctx.memory.size;
  for (let i = 0; i < n; i++) {
    const c1 = m[a + i]!;
    const c2 = b + i < bEnd ? m[b + i]! : 0;
    if (c1 !== c2) return c1 < c2 ? -1 : 1;
    if (c1 === 0) return 0;
  }
  return 0;
}

/** Format `fmt` with the kernel's printf rules (bpf_snprintf, bpf_trace_vprintk); undefined for a bad format. */
export function bprintf(fmt: string, args: readonly bigint[], readStr: (addr: bigint) => string, readBytes: (addr: bigint, n: number) => Uint8Array | undefined): string | undefined {
  let out = '';
  let ai = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%') { out += c; continue; }
    if (fmt[i + 1] === '%') { out += '%'; i++; continue; }
    let j = i + 1;
    let flags = '';
    while (j < fmt.length && '-+ 0#'.includes(fmt[j]!)) flags += fmt[j++];
    let width = '';
    while (j < fmt.length && fmt[j]! >= '0' && fmt[j]! <= '9') width += fmt[j++];
    let prec: number | undefined;
    if (fmt[j] === '.') {
      j++;
      let p = '';
      while (j < fmt.length && fmt[j]! >= '0' && fmt[j]! <= '9') p += fmt[j++];
      prec = p ? Number(p) : 0;
    }
    let len = 0;
    if (fmt[j] === 'h') { len = fmt[j + 1] === 'h' ? 8 : 16; j += len === 8 ? 2 : 1; }
    else if (fmt[j] === 'l') { len = 64; j += fmt[j + 1] === 'l' ? 2 : 1; }
    else if (fmt[j] === 'z') { len = 64; j++; }
    const conv = fmt[j];
    if (conv === undefined || !'diuxXcsop'.includes(conv) || ai >= args.length) return undefined;
    const v = args[ai++]!;
    const bits = conv === 'p' ? 64 : len || 32;
    let s: string;
    switch (conv) {
      case 'd': case 'i': {
        const n = BigInt.asIntN(bits, v);
        s = (n < 0n ? -n : n).toString();
        if (prec !== undefined) s = s.padStart(prec, '0');
        s = (n < 0n ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '') + s;
        break;
      }
      case 'u': s = BigInt.asUintN(bits, v).toString(); break;
      case 'x': s = (flags.includes('#') && v !== 0n ? '0x' : '') + BigInt.asUintN(bits, v).toString(16); break;
      case 'X': s = (flags.includes('#') && v !== 0n ? '0X' : '') + BigInt.asUintN(bits, v).toString(16).toUpperCase(); break;
      case 'o': s = (flags.includes('#') ? '0' : '') + BigInt.asUintN(bits, v).toString(8); break;
      case 'c': s = String.fromCharCode(Number(v & 0xffn)); break;
      case 's': s = readStr(v); if (prec !== undefined) s = s.slice(0, prec); break;
      default: { // %p and its extensions
        const ext = fmt[j + 1];
        if (ext === 'K' || ext === 'x') { j++; s = BigInt.asUintN(64, v).toString(16).padStart(16, '0'); if (ext === 'K') s = '0'.repeat(16); break; }
        if (ext === 'i' || ext === 'I') {
          const kind = fmt[j + 2];
          if (kind === '4') {
            j += 2;
            const b = readBytes(v, 4);
            if (!b) return undefined;
            s = ext === 'I' ? Array.from(b).join('.') : Array.from(b, (x) => String(x).padStart(3, '0')).join('.');
            break;
          }
          if (kind === '6') {
            j += 2;
            const b = readBytes(v, 16);
            if (!b) return undefined;
            const words = Array.from({ length: 8 }, (_, k) => ((b[2 * k]! << 8) | b[2 * k + 1]!).toString(16).padStart(ext === 'i' ? 4 : 1, '0'));
            s = words.join(ext === 'i' ? '' : ':');
            break;
          }
          return undefined;
        }
        if (ext === 'k' || ext === 'u') {
          if (fmt[j + 2] !== 's') return undefined;
          j += 2;
          s = readStr(v);
          break;
        }
        s = '0x' + BigInt.asUintN(64, v).toString(16);
      }
    }
    const w = width ? Number(width) : 0;
    if (s.length < w) {
      if (flags.includes('-')) s = s.padEnd(w);
      else if (flags.includes('0') && 'diuxXo'.includes(conv) && prec === undefined) {
        const sign = /^[-+ ]/.test(s) ? s[0]! : '';
        s = sign + s.slice(sign.length).padStart(w - sign.length, '0');
      } else s = s.padStart(w);
    }
    out += s;
    i = j;
  }
  return out;
}

/** Read up to 64 KiB of a NUL-terminated string at a pointer: linear memory first, then the host's kernel memory. */
function readCStr(ctx: HelperContext, addr: bigint, max = 4096): string {
  const b = readAny(ctx, addr, 1, false, max);
  if (!b) return '(efault)';
  const nul = b.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? b.subarray(0, nul) : b);
}

/** The format string and varargs of snprintf / trace_vprintk. */
function formatArgs(ctx: HelperContext, fmtAddr: bigint, fmtSize: number | undefined, data: bigint, dataLen: bigint): string | number {
  const dl = num(dataLen);
  if (dataLen > 0xffffffffn || (dl & 7) !== 0 || dl / 8 > MAX_VARARGS) return EINVAL;
  if (dl > 0 && data === 0n) return EINVAL;
  let fmt: string;
  if (fmtSize !== undefined) {
    if (fmtSize <= 0) return EINVAL;
    const at = ctx.checkAccess(fmtAddr, fmtSize, false);
    const b = ctx.memory.u8.subarray(at, at + fmtSize);
    const nul = b.indexOf(0);
    if (nul < 0) return EINVAL;
    fmt = new TextDecoder().decode(b.subarray(0, nul));
  } else {
    const at = ctx.checkAccess(fmtAddr, 1, false);
    fmt = ctx.memory.readCString(at, 65536);
  }
  const args: bigint[] = [];
  if (dl > 0) {
    const a = ctx.checkAccess(data, dl, false);
    for (let k = 0; k < dl; k += 8) args.push(ctx.memory.view.getBigUint64(a + k, true));
  }
  const s = bprintf(fmt, args, (p) => readCStr(ctx, p), (p, n) => readAny(ctx, p, n, false));
  return s === undefined ? EINVAL : s;
}

function snprintf(str: bigint, size: bigint, fmt: bigint, data: bigint, dataLen: bigint, ctx: HelperContext): number {
  const n = num(size);
  const s = formatArgs(ctx, fmt, undefined, data, dataLen);
  if (typeof s === 'number') {
    if (n > 0) { const at = ctx.checkAccess(str, n, true); ctx.memory.u8[at] = 0; }
    return s;
  }
  const bytes = new TextEncoder().encode(s);
  if (n > 0) {
    const at = ctx.checkAccess(str, n, true);
    const k = Math.min(bytes.length, n - 1);
    ctx.memory.u8.set(bytes.subarray(0, k), at);
    ctx.memory.u8[at + k] = 0;
  }
  return bytes.length + 1;
}

function traceVprintk(fmt: bigint, fmtSize: bigint, data: bigint, dataLen: bigint, _5: bigint, ctx: HelperContext): number {
  const s = formatArgs(ctx, fmt, num(fmtSize), data, dataLen);
  if (typeof s === 'number') return s;
  ctx.log(s);
  return new TextEncoder().encode(s).length;
}

// ---- bpf_loop -------------------------------------------------------------------

function bpfLoop(nr: bigint, fn: bigint, cbCtx: bigint, flags: bigint, _5: bigint, ctx: HelperContext): number {
  if (flags !== 0n) return EINVAL;
  const n = num(nr);
  if (nr > 0xffffffffn || n > BPF_MAX_LOOPS) return E2BIG;
  const h = hostOf(ctx);
  if (!h) throw new RuntimeFault('FAULT_HELPER', 'bpf_loop needs the Runtime (callbacks run through it)', ctx.pc);
  for (let i = 0; i < n; i++) {
    const r = h.callback(fn, [BigInt(i), cbCtx], ctx.pc);
    if (r !== 0n) return i + 1;
  }
  return n;
}

// ---- reading the host's kernel --------------------------------------------------

/**
 * `n` bytes at a pointer: from the linear memory when the address is in a
 * region there (a BPF stack, a map value...), else from the host's kernel
 * (or user) memory. With `upTo`, as many bytes as are mapped, at most upTo.
 */
export function readAny(ctx: HelperContext, addr: bigint, n: number, user: boolean, upTo?: number): Uint8Array | undefined {
  const a = BigInt.asUintN(64, addr);
  if (a < 0x100000000n && !user) {
    const r = ctx.memory.regionAt(Number(a));
    if (r) {
      const at = Number(a);
      if (upTo !== undefined) return ctx.memory.u8.slice(at, Math.min(r.end, at + upTo));
      if (at + n <= r.end) return ctx.memory.u8.slice(at, at + n);
    }
  }
  const km = envOf(ctx)?.kernelMemory;
  if (!km) return undefined;
  return upTo !== undefined ? km.readUpTo(a, upTo, user) : km.read(a, n, user);
}

function probeRead(user: boolean) {
  return (dst: bigint, size: bigint, src: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number => {
    const n = num(size);
    const at = ctx.checkAccess(dst, n, true);
    if (n === 0) return 0;
    const b = readAny(ctx, src, n, user);
    if (!b) { ctx.memory.u8.fill(0, at, at + n); return EFAULT; }
    ctx.memory.u8.set(b, at);
    return 0;
  };
}

function probeReadStr(user: boolean) {
  return (dst: bigint, size: bigint, src: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number => {
    const n = num(size);
    if (n === 0) return 0;
    const at = ctx.checkAccess(dst, n, true);
    const b = readAny(ctx, src, 0, user, n);
    if (!b || b.length === 0) { ctx.memory.u8.fill(0, at, at + n); return EFAULT; }
    const nul = b.indexOf(0);
    const k = nul >= 0 ? nul : Math.min(b.length, n - 1);
    if (nul < 0 && b.length < n - 1) { ctx.memory.u8.fill(0, at, at + n); return EFAULT; }
    ctx.memory.u8.set(b.subarray(0, k), at);
    ctx.memory.u8[at + k] = 0;
    return k + 1;
  };
}

function task(ctx: HelperContext): HostEnv['task'] {
  const e = envOf(ctx);
  return e ? e.task : { pid: 0, tgid: 0, uid: 0, gid: 0, comm: '', cgroupId: 0n, taskAddr: 0n };
}

const BPF_F_SKIP_FIELD_MASK = 0xff;
const BPF_F_USER_STACK = 1 << 8;
const BPF_F_REUSE_STACKID = 1 << 10;

function stackOf(ctx: HelperContext, flags: number): bigint[] {
  const e = envOf(ctx);
  const st = (flags & BPF_F_USER_STACK ? e?.userStack : e?.kernelStack) ?? [];
  return st.slice(flags & BPF_F_SKIP_FIELD_MASK);
}

function getStackid(_ctx: bigint, map: bigint, flags: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const f = Number(flags & 0xffffffffn);
  if (flags > 0xffffffffn || (f & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | (1 << 9) | BPF_F_REUSE_STACKID)) !== 0) return EINVAL;
  const m = mapFromHandle(ctx.memory, num(map));
  if (!m) throw new RuntimeFault('FAULT_HELPER', 'bpf_get_stackid: R2 is not a map', ctx.pc);
  const ips = stackOf(ctx, f);
  if (ips.length === 0) return EFAULT;
  const depth = Math.floor(m.valueSize / 8);
  const val = new Uint8Array(m.valueSize);
  const dv = new DataView(val.buffer);
  ips.slice(0, depth).forEach((ip, k) => dv.setBigUint64(k * 8, BigInt.asUintN(64, ip), true));
  // Bucket: FNV-1a of the frames (the kernel's jhash bucket cannot be reproduced).
  let h = 0x811c9dc5;
  for (const b of val) h = Math.imul(h ^ b, 0x01000193);
  const id = (h >>> 0) % Math.max(1, m.maxEntries);
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, id, true);
  let cur: Uint8Array | undefined;
  try { cur = m.lookup(key); } catch { cur = undefined; }
  if (cur && !cur.every((x, k) => x === val[k]) && !(f & BPF_F_REUSE_STACKID)) return EEXIST;
  try { m.update(key, val, 0); } catch { return ENOENT; }
  return id;
}

function getStack(_ctx: bigint, buf: bigint, size: bigint, flags: bigint, _5: bigint, ctx: HelperContext): number {
  const n = num(size);
  const f = Number(flags & 0xffffffffn);
  if (flags > 0xffffffffn || (f & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | (1 << 11))) !== 0 || (n & 7) !== 0) {
    if (n > 0) { const at = ctx.checkAccess(buf, n, true); ctx.memory.u8.fill(0, at, at + n); }
    return EINVAL;
  }
  const at = ctx.checkAccess(buf, n, true);
  const ips = stackOf(ctx, f).slice(0, n / 8);
  ctx.memory.u8.fill(0, at, at + n);
  ips.forEach((ip, k) => ctx.memory.view.setBigUint64(at + k * 8, BigInt.asUintN(64, ip), true));
  return ips.length * 8;
}

function nowNs(ctx: HelperContext): bigint {
  return ctx.now();
}

export const MISC_HELPERS: readonly HelperSpec[] = [
  { id: 181, name: 'loop', impl: bpfLoop },
  { id: 182, name: 'strncmp', impl: strncmp },
  { id: 105, name: 'strtol', impl: strtox(true) },
  { id: 106, name: 'strtoul', impl: strtox(false) },
  { id: 165, name: 'snprintf', impl: snprintf },
  { id: 177, name: 'trace_vprintk', impl: traceVprintk },
  { id: 125, name: 'ktime_get_boot_ns', impl: (_1, _2, _3, _4, _5, ctx) => nowNs(ctx) + (envOf(ctx)?.bootOffsetNs ?? 0n) },
  {
    id: 160, name: 'ktime_get_coarse_ns', impl: (_1, _2, _3, _4, _5, ctx) => {
      const tick = BigInt(Math.round(1e9 / (envOf(ctx)?.hz ?? 250)));
      const t = nowNs(ctx);
      return t - (t % tick);
    },
  },
  { id: 118, name: 'jiffies64', impl: (_1, _2, _3, _4, _5, ctx) => (nowNs(ctx) * BigInt(envOf(ctx)?.hz ?? 250)) / 1_000_000_000n },
  { id: 42, name: 'get_numa_node_id', impl: () => 0 },
  // Tracing: the host's kernel and task.
  { id: 4, name: 'probe_read', impl: probeRead(false) },
  { id: 45, name: 'probe_read_str', impl: probeReadStr(false) },
  { id: 113, name: 'probe_read_kernel', impl: probeRead(false) },
  { id: 115, name: 'probe_read_kernel_str', impl: probeReadStr(false) },
  { id: 112, name: 'probe_read_user', impl: probeRead(true) },
  { id: 114, name: 'probe_read_user_str', impl: probeReadStr(true) },
  { id: 14, name: 'get_current_pid_tgid', impl: (_1, _2, _3, _4, _5, ctx) => { const t = task(ctx); return (BigInt(t.tgid >>> 0) << 32n) | BigInt(t.pid >>> 0); } },
  { id: 15, name: 'get_current_uid_gid', impl: (_1, _2, _3, _4, _5, ctx) => { const t = task(ctx); return (BigInt(t.gid >>> 0) << 32n) | BigInt(t.uid >>> 0); } },
  {
    id: 16, name: 'get_current_comm', impl: (buf, size, _3, _4, _5, ctx) => {
      const n = num(size);
      const at = ctx.checkAccess(buf, n, true);
      if (n === 0) return 0;
      const c = new TextEncoder().encode(task(ctx).comm).subarray(0, 15);
      ctx.memory.u8.fill(0, at, at + n);
      ctx.memory.u8.set(c.subarray(0, n - 1), at);
      return 0;
    },
  },
  { id: 35, name: 'get_current_task', impl: (_1, _2, _3, _4, _5, ctx) => task(ctx).taskAddr },
  { id: 158, name: 'get_current_task_btf', impl: (_1, _2, _3, _4, _5, ctx) => task(ctx).taskAddr },
  { id: 80, name: 'get_current_cgroup_id', impl: (_1, _2, _3, _4, _5, ctx) => task(ctx).cgroupId },
  { id: 27, name: 'get_stackid', impl: getStackid },
  { id: 67, name: 'get_stack', impl: getStack },
  { id: 174, name: 'get_attach_cookie', impl: () => 0 },
];

/** Families allowed to call each of MISC_HELPERS (absent: every family). */
export const MISC_HELPER_FAMILIES: ReadonlyMap<number, readonly HelperFamily[]> = new Map<number, readonly HelperFamily[]>([
  [4, ['tracing']], [45, ['tracing']], [112, ['tracing', 'sock']], [114, ['tracing', 'sock']],
  [14, ['tracing', 'sock', 'raw']], [15, ['tracing', 'sock', 'raw']], [16, ['tracing', 'sock', 'raw']],
  [35, ['tracing']], [158, ['tracing']], [80, ['tracing', 'sock', 'raw']], [27, ['tracing']], [67, ['tracing', 'raw']],
  [174, ['tracing']],
]);
