// Helper functions callable with `call IMM`, by Linux UAPI id (BPF_FUNC_*
// in <linux/bpf.h>). The registry starts with the helpers that need nothing
// but the clock, a random source and a log; maps, packets and the rest are
// registered by the modules that own them.

import { RuntimeFault } from '../errors.js';
import type { LinearMemory } from './memory.js';

/** What a helper sees of the run that called it. */
export interface HelperContext {
  readonly memory: LinearMemory;
  /** Slot index of the calling instruction. */
  readonly pc: number;
  /** Run in checked mode: helpers must check pointers with `checkAccess`. */
  readonly checked: boolean;
  /** Monotonic clock in nanoseconds (injectable for tests). */
  now(): bigint;
  /** A random unsigned 32-bit integer. */
  random(): number;
  /** CPU number of the caller (the worker's index; 0 on the main thread). */
  readonly cpu: number;
  /** Host log (bpf_trace_printk output). */
  log(line: string): void;
  /**
   * Fail unless [addr, addr+size) lies in one region (writable if `write`);
   * in unchecked mode only the memory bounds are checked. Throws RuntimeFault.
   */
  checkAccess(addr: bigint | number, size: number, write: boolean): number;
  /** End the program at once with R0 = r0 once the helper returns. */
  stop(r0: bigint | number): void;
  /**
   * Call depth of the calling function (0: the program's entry function).
   * Engines set it for bpf_tail_call (id 12) at least; undefined when unknown.
   */
  readonly callDepth?: number | undefined;
  /**
   * Return from the calling function at once with R0 = r0 once the helper
   * returns (its bpf-to-bpf caller resumes; at depth 0 the program ends).
   * Optional: engines without it leave it undefined.
   */
  ret?(r0: bigint | number): void;
  /** Anything the embedding passes through (program type context, maps...). */
  readonly host: unknown;
}

/** A helper: five argument registers (as unsigned 64-bit bigints) in, R0 out. */
export type HelperImpl = (
  r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint, ctx: HelperContext,
) => bigint | number | void;

export interface HelperSpec {
  /** BPF_FUNC_* id. */
  readonly id: number;
  /** Name without the `bpf_` prefix as in the UAPI enum, e.g. `ktime_get_ns`. */
  readonly name: string;
  readonly impl: HelperImpl;
}

export class HelperRegistry {
  private readonly byId = new Map<number, HelperSpec>();

  constructor(specs: readonly HelperSpec[] = []) {
    for (const s of specs) this.register(s);
  }

  /** Add or replace the helper with this id. */
  register(spec: HelperSpec): this {
    if (!Number.isInteger(spec.id) || spec.id < 0 || spec.id > 0x7fffffff) throw new RangeError(`bad helper id ${spec.id}`);
    this.byId.set(spec.id, spec);
    return this;
  }

  unregister(id: number): this {
    this.byId.delete(id);
    return this;
  }

  get(id: number): HelperSpec | undefined {
    return this.byId.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  byName(name: string): HelperSpec | undefined {
    const n = name.startsWith('bpf_') ? name.slice(4) : name;
    for (const s of this.byId.values()) if (s.name === n) return s;
    return undefined;
  }

  list(): HelperSpec[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  /** A copy that can be extended without touching this one. */
  clone(): HelperRegistry {
    return new HelperRegistry(this.list());
  }
}

// UAPI ids of the helpers registered here.
export const BPF_FUNC_ktime_get_ns = 5;
export const BPF_FUNC_trace_printk = 6;
export const BPF_FUNC_get_prandom_u32 = 7;
export const BPF_FUNC_get_smp_processor_id = 8;

/** Sentinel of a helper call that failed the way the kernel reports it. */
const EINVAL = -22n;

/**
 * bpf_trace_printk(fmt, fmt_size, a1, a2, a3): the kernel accepts at most
 * three arguments and the conversions %d %i %u %x %X %c %p %s with l/ll
 * modifiers (and %%). Returns the number of bytes written, -EINVAL on a bad
 * format.
 */
function tracePrintk(fmt: bigint, size: bigint, a1: bigint, a2: bigint, a3: bigint, ctx: HelperContext): bigint {
  const n = Number(size);
  if (n <= 0 || n > 4096) return EINVAL;
  const at = ctx.checkAccess(fmt, n, false);
  const bytes = ctx.memory.u8.subarray(at, at + n);
  const nul = bytes.indexOf(0);
  if (nul < 0) return EINVAL; // the kernel wants the terminator inside fmt_size
  const f = new TextDecoder().decode(bytes.subarray(0, nul));
  const args = [a1, a2, a3];
  let ai = 0;
  let out = '';
  for (let i = 0; i < f.length; i++) {
    const c = f[i]!;
    if (c !== '%') { out += c; continue; }
    if (f[i + 1] === '%') { out += '%'; i++; continue; }
    let j = i + 1;
    while (j < f.length && '-+ 0#'.includes(f[j]!)) j++;
    let width = '';
    while (j < f.length && f[j]! >= '0' && f[j]! <= '9') width += f[j++];
    let longs = 0;
    while (f[j] === 'l' && longs < 2) { longs++; j++; }
    const conv = f[j];
    if (conv === undefined || !'diuxXcps'.includes(conv) || ai >= 3) return EINVAL;
    const v = args[ai++]!;
    const bits = longs > 0 || conv === 'p' ? 64 : 32;
    let s: string;
    switch (conv) {
      case 'd': case 'i': s = BigInt.asIntN(bits, v).toString(); break;
      case 'u': s = BigInt.asUintN(bits, v).toString(); break;
      case 'x': s = BigInt.asUintN(bits, v).toString(16); break;
      case 'X': s = BigInt.asUintN(bits, v).toString(16).toUpperCase(); break;
      case 'p': s = '0x' + BigInt.asUintN(64, v).toString(16); break;
      case 'c': s = String.fromCharCode(Number(v & 0xffn)); break;
      default: { // 's'
        const p = ctx.checkAccess(v, 1, false);
        s = ctx.memory.readCString(p, 256);
      }
    }
    const zero = f.slice(i + 1, j).includes('0') && !f.slice(i + 1, j).includes('-');
    const left = f.slice(i + 1, j).includes('-');
    const w = width ? Number(width) : 0;
    if (s.length < w) s = left ? s.padEnd(w) : s.padStart(w, zero ? '0' : ' ');
    out += s;
    i = j;
  }
  ctx.log(out);
  return BigInt(new TextEncoder().encode(out).length);
}

/** The helpers that need nothing but the run context. */
export const BASE_HELPERS: readonly HelperSpec[] = [
  { id: BPF_FUNC_ktime_get_ns, name: 'ktime_get_ns', impl: (_1, _2, _3, _4, _5, ctx) => ctx.now() },
  { id: BPF_FUNC_trace_printk, name: 'trace_printk', impl: tracePrintk },
  { id: BPF_FUNC_get_prandom_u32, name: 'get_prandom_u32', impl: (_1, _2, _3, _4, _5, ctx) => ctx.random() >>> 0 },
  { id: BPF_FUNC_get_smp_processor_id, name: 'get_smp_processor_id', impl: (_1, _2, _3, _4, _5, ctx) => ctx.cpu },
];

/** A fresh registry holding BASE_HELPERS. */
export function defaultHelpers(): HelperRegistry {
  return new HelperRegistry(BASE_HELPERS);
}

/**
 * The helper table of the bpf_conformance suite (and uBPF's test harness):
 * helper 5 is "unwind": it returns R1, and when R1 is 0 the program ends at
 * once with R0 = 0.
 */
export function conformanceHelpers(): HelperRegistry {
  return new HelperRegistry([{
    id: 5, name: 'unwind', impl: (r1, _2, _3, _4, _5, ctx) => {
      if (r1 === 0n) ctx.stop(0n);
      return r1;
    },
  }]);
}

/** Fault raised for a call to an id with no helper. */
export function unknownHelper(id: number, pc: number): RuntimeFault {
  return new RuntimeFault('FAULT_UNKNOWN_HELPER', `call to unknown helper ${id}`, pc);
}
