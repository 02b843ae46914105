// The JIT engine: compiles a program to WebAssembly (compile.ts), instantiates
// it against a runtime's LinearMemory, and runs it with the interpreter's
// API and semantics: `run(env)` takes the same RunEnv and returns the same
// RunResult, and throws the same RuntimeFault (code, pc, address, region).
//
// A module is compiled per mode (checked / unchecked, shared / unshared
// memory) on first use and instantiated once per LinearMemory. The host side
// of a run lives in `Host`: the helper trampoline, the checked-mode slow path
// over the region table, and the fault reports.
//
// Crossing the boundary: `run` takes R1-R5 as i32 halves and returns R0 as
// an i64 (V8 makes the one BigInt); `runBatch` loops inside Wasm over
// argument and result arrays in the memory, so a batch pays the crossing
// once. Helpers get their five arguments as i64 parameters: the helper API
// takes BigInts, and V8's conversion measured faster than reading them from
// a scratch area (the alternative, kept behind `helperAbi: 'scratch'`).
//
// A helper that calls ctx.stop(), and an LD_ABS/LD_IND outside the packet,
// end the program by throwing a private signal that unwinds every Wasm
// frame at once; the entry point catches it. A batch records it (or a
// fault) for that run and resumes with the next.
//
// Browsers refuse synchronous compilation of modules over 4 KB on the main
// thread: call `compileAsync()` first there.

import { RuntimeFault, isTsbpfError } from '../../errors.js';
import type { Instruction } from '../../isa/instruction.js';
import { MAX_CALL_FRAMES, STACK_SIZE } from '../../isa/opcodes.js';
import { type HelperContext, HelperRegistry, defaultHelpers } from '../helpers.js';
import { CODE_ADDR_TAG, DEFAULT_BUDGET, type RunEnv, type RunResult, STACK_AREA, helperAccess, memFault, roFault } from '../interpreter.js';
import type { LinearMemory } from '../memory.js';
import { type CompiledCode, FaultKind, type JitCompileOptions, SCRATCH, compileProgram } from './compile.js';
import { mapInfo } from './maplookup.js';

const TWO32 = 4294967296;
/** Largest budget the i32 fuel counter holds (bigger budgets are clamped). */
const MAX_FUEL = 0x7fffffff;
/** Runs per call of the Wasm batch loop (bounds the argument/result area). */
const BATCH_CHUNK = 4096;

/** Thrown through the Wasm frames to end a run early with R0 (helper stop, LD_ABS out of range). */
class Stop {
  constructor(readonly r0: bigint, readonly count: number) {}
}

export interface JitMode {
  /** Per-access region checks (default true, like the interpreter). */
  readonly checked?: boolean;
  /** Compile for a shared memory (default: whatever the memory is). */
  readonly shared?: boolean;
  /** Helper-call ABI (see JitCompileOptions.helperAbi); for measurements. */
  readonly helperAbi?: 'i64' | 'scratch';
  /** Inline bpf_map_lookup_elem for array and hash maps (default true; see maplookup.ts). */
  readonly inlineHelpers?: boolean;
}

/** What a loader knows about a program beyond its instructions. */
export interface JitProgramOptions {
  /**
   * Bytes below the frame top each function may address, by the slot of its
   * entry (a verifier's per-subprogram stack depth; see
   * JitCompileOptions.stackDepth). Unchecked modules then zero only that part
   * of a frame on entry; checked modules always zero the whole frame.
   */
  readonly stackDepth?: ReadonlyMap<number, number>;
}

export interface CompileStats {
  readonly mode: string;
  readonly wasmBytes: number;
  /** Time to generate the module bytes, in milliseconds. */
  readonly generateMs: number;
  /** Time for WebAssembly.Module (validation and baseline compilation), in milliseconds. */
  readonly wasmCompileMs: number;
  readonly functions: number;
  /** Functions compiled with the irreducible-graph dispatcher. */
  readonly dispatchers: number;
}

/** Inputs of a batch: argument lists, R1-R5 flattened 5 per run, or a repeat count of env.args. */
export type BatchInputs = ReadonlyArray<ReadonlyArray<bigint | number>> | BigUint64Array | number;

export interface BatchResult {
  /** R0 of each run (0 for a run that faulted). */
  readonly r0: BigUint64Array;
  readonly insnCount: Uint32Array;
  /** Runs that faulted, by index. */
  readonly faults: ReadonlyMap<number, RuntimeFault>;
}

interface Mode {
  readonly key: string;
  readonly checked: boolean;
  readonly shared: boolean;
  readonly helperAbi: 'i64' | 'scratch';
  readonly inlineHelpers: boolean;
}

interface Compiled {
  readonly code: CompiledCode;
  readonly module: WebAssembly.Module;
  readonly stats: CompileStats;
}

interface Exports {
  run(stackTop: number, fuel: number, pktStart: number, pktLen: number, a1lo: number, a1hi: number, a2lo: number, a2hi: number,
    a3lo: number, a3hi: number, a4lo: number, a4hi: number, a5lo: number, a5hi: number): bigint;
  batch(stackTop: number, budget: number, n: number, args: number, r0s: number, counts: number, pktStart: number, pktLen: number): number;
  readonly batchIndex: WebAssembly.Global;
}

let sharedDefaultHelpers: HelperRegistry | undefined;

const NOOP = (): void => {};

function defaultNow(): bigint {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return BigInt(Math.round((p ? p.now() : Date.now()) * 1e6));
}

function defaultRandom(): number {
  return (Math.random() * TWO32) >>> 0;
}

function hex(a: number): string {
  return a < 0 ? '-0x' + (-a).toString(16) : '0x' + a.toString(16);
}

interface MemInfo {
  /** The scratch area (R0, R1-R5, region cache, packet, batch index). */
  readonly scratch: number;
  readonly shared: boolean;
  /** Argument/result area of batches, for `batchRuns` runs. */
  batch: number;
  batchRuns: number;
}

/** What the JIT keeps per memory. */
const memInfos = new WeakMap<LinearMemory, MemInfo>();

function memInfo(mem: LinearMemory): MemInfo {
  let s = memInfos.get(mem);
  if (!s) {
    s = { scratch: mem.alloc(SCRATCH.SIZE, 16), shared: mem.shared, batch: 0, batchRuns: 0 };
    memInfos.set(mem, s);
  }
  return s;
}

/** Where the JIT keeps its scratch area in `mem` (undefined before its first run there); for tests that compare memories. */
export function jitScratchArea(mem: LinearMemory): { readonly start: number; readonly size: number } | undefined {
  const s = memInfos.get(mem);
  return s ? { start: s.scratch, size: SCRATCH.SIZE } : undefined;
}

/**
 * The memory's DataView. LinearMemory refreshes its views whenever it grows
 * the memory itself; reading `WebAssembly.Memory.buffer` costs about 100 ns,
 * so it is re-read only when the view was detached by a growth that went
 * around LinearMemory.
 */
function viewOf(mem: LinearMemory): DataView {
  if (mem.u8.length === 0) mem.refresh();
  return mem.view;
}

/** The HelperContext of JIT runs (one per instance, reset per run). */
class JitCtx implements HelperContext {
  pc = 0;
  stopped = false;
  stopR0 = 0n;
  returning = false;
  /** The scratch area of the memory (CALL_DEPTH is stored there before bpf_tail_call). */
  scratch = 0;
  checked = true;
  cpu = 0;
  host: unknown = undefined;
  nowFn: () => bigint = defaultNow;
  randomFn: () => number = defaultRandom;
  logFn: (line: string) => void = NOOP;
  constructor(readonly memory: LinearMemory) {}
  now(): bigint { return this.nowFn(); }
  random(): number { return this.randomFn(); }
  log(line: string): void { this.logFn(line); }
  stop(r0: bigint | number): void {
    this.stopped = true;
    this.stopR0 = BigInt.asUintN(64, BigInt(r0));
  }
  ret(r0: bigint | number): void {
    this.returning = true;
    this.stopR0 = BigInt.asUintN(64, BigInt(r0));
  }
  /** Valid in bpf_tail_call (id 12) and helpers called through callx: the compiled code stores it before those calls. */
  get callDepth(): number {
    return viewOf(this.memory).getInt32(this.scratch + SCRATCH.CALL_DEPTH, true);
  }
  checkAccess(addr: bigint | number, size: number, write: boolean): number {
    return helperAccess(this.memory, this.checked, this.pc, addr, size, write);
  }
}

/** One instance of a compiled module on one memory, with the host functions it imports. */
class Host {
  readonly exports: Exports;
  readonly ctx: JitCtx;
  readonly scratch: number;
  busy = false;
  helpers: HelperRegistry = (sharedDefaultHelpers ??= defaultHelpers());
  budget = 0;
  /** Top of the stack area of the current run. */
  stackTop = 0;
  /** The packet of LD_ABS / LD_IND. */
  pktStart = 0;
  pktLen = 0;
  /** The budget as the caller gave it (for messages). */
  budgetShown = 0;

  constructor(readonly program: JitProgram, readonly compiled: Compiled, readonly mem: LinearMemory) {
    this.ctx = new JitCtx(mem);
    this.scratch = memInfo(mem).scratch;
    this.ctx.scratch = this.scratch;
    const imports = {
      env: {
        memory: mem.wasm,
        scratch: this.scratch,
        helper: compiled.code.helperAbi === 'scratch'
          ? (id: number, pc: number, fuel: number): void => this.helperScratch(id, pc, fuel)
          : (a: bigint, b: bigint, c: bigint, d: bigint, e: bigint, id: number, pc: number, fuel: number): bigint =>
            this.helper64(a, b, c, d, e, id, pc, fuel),
        fault: (kind: number, pc: number, a: number, b: number): void => this.fault(kind, pc, a, b),
        memslow: (pc: number, lo: number, hi: number, depth: number): void => this.memslow(pc, lo, hi, depth),
        stop0: (_pc: number, fuel: number): void => { throw new Stop(0n, this.budget - fuel); },
        ...(compiled.code.inlineLookup ? { mapcheck: (handle: number): number => mapInfo(mem, handle, this.helpers, this.ctx.cpu) } : {}),
      },
    };
    const inst = new WebAssembly.Instance(compiled.module, imports);
    this.exports = inst.exports as unknown as Exports;
  }

  /** A helper call with the arguments as i64 parameters (signed BigInts from V8) and R0 as the i64 result. */
  private helper64(a: bigint, b: bigint, c: bigint, d: bigint, e: bigint, id: number, pc: number, fuel: number): bigint {
    const h = this.helpers.get(id);
    if (!h) throw new RuntimeFault('FAULT_UNKNOWN_HELPER', `call to unknown helper ${id}`, pc);
    const ctx = this.ctx;
    ctx.pc = pc;
    let ret: bigint | number | void;
    try {
      ret = h.impl(a < 0n ? BigInt.asUintN(64, a) : a, b < 0n ? BigInt.asUintN(64, b) : b, c < 0n ? BigInt.asUintN(64, c) : c,
        d < 0n ? BigInt.asUintN(64, d) : d, e < 0n ? BigInt.asUintN(64, e) : e, ctx);
    } catch (err) {
      if (isTsbpfError(err)) throw err;
      throw new RuntimeFault('FAULT_HELPER', `helper ${h.name} (${id}) failed: ${err instanceof Error ? err.message : String(err)}`, pc);
    }
    if (ctx.stopped) {
      ctx.stopped = false;
      throw new Stop(ctx.stopR0, this.budget - fuel);
    }
    if (ctx.returning) {
      // Return from the calling function with R0 (the compiled code tests RET after bpf_tail_call and callx).
      ctx.returning = false;
      viewOf(this.mem).setInt32(this.scratch + SCRATCH.RET, 1, true);
      return ctx.stopR0;
    }
    // As the interpreter's writeR0; the Wasm boundary wraps a BigInt to 64 bits.
    if (ret === undefined) return 0n;
    if (typeof ret === 'bigint') return ret;
    return Number.isInteger(ret) && ret >= -0x80000000 && ret <= 0xffffffff ? BigInt(ret) : BigInt(Math.trunc(Number.isFinite(ret) ? ret : 0));
  }

  /** A helper call with the arguments in the scratch area. */
  private helperScratch(id: number, pc: number, fuel: number): void {
    const h = this.helpers.get(id);
    if (!h) throw new RuntimeFault('FAULT_UNKNOWN_HELPER', `call to unknown helper ${id}`, pc);
    const ctx = this.ctx;
    ctx.pc = pc;
    const mem = this.mem;
    const dv = viewOf(mem);
    const a = this.scratch + SCRATCH.ARGS;
    let ret: bigint | number | void;
    try {
      ret = h.impl(dv.getBigUint64(a, true), dv.getBigUint64(a + 8, true), dv.getBigUint64(a + 16, true),
        dv.getBigUint64(a + 24, true), dv.getBigUint64(a + 32, true), ctx);
    } catch (e) {
      if (isTsbpfError(e)) throw e;
      throw new RuntimeFault('FAULT_HELPER', `helper ${h.name} (${id}) failed: ${e instanceof Error ? e.message : String(e)}`, pc);
    }
    if (ctx.stopped) {
      ctx.stopped = false;
      throw new Stop(ctx.stopR0, this.budget - fuel);
    }
    if (ctx.returning) {
      ctx.returning = false;
      viewOf(mem).setInt32(this.scratch + SCRATCH.RET, 1, true);
      ret = ctx.stopR0;
    }
    writeR0(viewOf(mem), this.scratch + SCRATCH.R0, ret);
  }

  private fault(kind: number, pc: number, a: number, b: number): never {
    const p = this.program;
    switch (kind as FaultKind) {
      case FaultKind.BUDGET:
        throw new RuntimeFault('FAULT_BUDGET', `instruction budget of ${this.budgetShown} exhausted`, pc);
      case FaultKind.JUMP:
        throw new RuntimeFault('FAULT_JUMP', `jump to slot ${a}: not the start of an instruction of this program`, pc);
      case FaultKind.FALLOFF:
        throw new RuntimeFault('FAULT_FALL_THROUGH', 'execution fell off the end of the program', pc);
      case FaultKind.CALL_DEPTH:
        throw new RuntimeFault('FAULT_CALL_DEPTH', `call depth exceeds ${MAX_CALL_FRAMES} frames`, pc);
      case FaultKind.CALLX: {
        const lo = a, hi = b;
        const cfg = this.compiled.code.cfg;
        if (hi === CODE_ADDR_TAG && lo >= 0 && lo < cfg.slots && cfg.insnAt[lo]! >= 0) {
          throw new RuntimeFault('FAULT_UNSUPPORTED',
            `callx to slot ${lo}: the JIT calls only function addresses the program loads with lddw or calls directly`, pc);
        }
        const x = p.insnAtSlot(pc);
        const r = x ? ((x.dst & 0xf) !== 0 ? x.dst & 0xf : x.imm) : 0;
        const v = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
        throw new RuntimeFault('FAULT_CALL_TARGET', `callx r${r}: 0x${v.toString(16)} is neither a helper id nor a function address`, pc);
      }
      case FaultKind.MISALIGNED:
        throw new RuntimeFault('FAULT_MISALIGNED', `atomic access of ${b} bytes at ${hex(a >>> 0)} is not naturally aligned`, pc, a >>> 0);
      default:
        throw new RuntimeFault('FAULT_UNSUPPORTED', `${p.describe(pc)} cannot run without a loader`, pc);
    }
  }

  /**
   * Checked-mode miss: fault, or load the region of the access into the
   * scratch area. As in the interpreter, only the frames in use are stack:
   * the stack region is cut at the floor of the frame at `depth`.
   */
  private memslow(pc: number, lo: number, hi: number, depth: number): void {
    const x = this.program.insnAtSlot(pc)!;
    const k = x.op.kind;
    const write = k !== 'ldx' && k !== 'ldsx';
    const what = write ? (k === 'atomic' ? 'atomic access' : 'store') : 'load';
    const size = x.op.size;
    const a = (lo >>> 0) + x.off;
    const full = a + hi * TWO32;
    const mem = this.mem;
    let r = mem.findRegion(full, size);
    const top = this.stackTop;
    const floor = top - (depth + 1) * STACK_SIZE;
    if (r && r.end === top && r.start < floor) {
      r = full >= floor ? { start: floor, end: r.end, name: r.name, writable: r.writable } : undefined;
      if (!r) {
        throw new RuntimeFault('FAULT_MEMORY', `${what} of ${size} bytes at ${hex(full)}: below the stack frames in use [${hex(floor)}, ${hex(top)})`, pc, full, 'stack');
      }
    }
    if (!r) throw memFault(mem, pc, full, size, what, hi === 0 ? lo >>> 0 : -1);
    if (write && !r.writable) throw roFault(r, pc, full, size);
    const dv = viewOf(mem);
    const s = this.scratch;
    dv.setUint32(s + SCRATCH.REGION_START, r.start, true);
    dv.setUint32(s + SCRATCH.REGION_START + 4, 0, true);
    dv.setUint32(s + SCRATCH.REGION_END, r.end % TWO32, true);
    dv.setUint32(s + SCRATCH.REGION_END + 4, Math.floor(r.end / TWO32), true);
    dv.setInt32(s + SCRATCH.REGION_WRITABLE, r.writable ? 1 : 0, true);
  }

  /** The environment of the last setup (the same object again skips the property reads). */
  private lastEnv?: RunEnv;

  /** Prepare the host state of a run from its environment. */
  setup(env: RunEnv, checked: boolean): void {
    const ctx = this.ctx;
    ctx.stopped = false;
    ctx.returning = false;
    if (env === this.lastEnv) return;
    this.lastEnv = env;
    ctx.checked = checked;
    ctx.cpu = env.cpu ?? 0;
    ctx.host = env.host;
    ctx.nowFn = env.now ?? defaultNow;
    ctx.randomFn = env.random ?? defaultRandom;
    ctx.logFn = env.log ?? NOOP;
    this.helpers = env.helpers ?? (sharedDefaultHelpers ??= defaultHelpers());
    const budget = env.budget ?? DEFAULT_BUDGET;
    this.budgetShown = budget;
    this.budget = Math.max(0, Math.min(MAX_FUEL, Math.floor(budget)));
    this.pktStart = env.packet?.start ?? 0;
    this.pktLen = env.packet?.length ?? 0;
  }

  /** Turn what escaped the Wasm code into a RunResult or a RuntimeFault. */
  translate(e: unknown): RunResult {
    if (e instanceof Stop) return { r0: e.r0, insnCount: e.count };
    if (isTsbpfError(e)) throw e;
    if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
      const pc = this.trapPc(e);
      if (/out of bounds/.test(e.message)) {
        throw new RuntimeFault('FAULT_MEMORY', `memory access outside the linear memory (${e.message})`, pc);
      }
      if (/unaligned/.test(e.message)) {
        throw new RuntimeFault('FAULT_MEMORY', `misaligned atomic access (${e.message})`, pc);
      }
      throw new RuntimeFault('FAULT_INTERNAL', `internal error: ${e.message}`, pc);
    }
    throw new RuntimeFault('FAULT_INTERNAL', `internal error: ${e instanceof Error ? e.message : String(e)}`, -1);
  }

  /** Slot of the instruction whose code trapped, from the code offset in the stack trace (-1 when unknown). */
  private trapPc(e: Error): number {
    const m = /wasm-function\[\d+\]:0x([0-9a-f]+)/.exec(e.stack ?? '');
    if (!m) return -1;
    const off = parseInt(m[1]!, 16);
    const { offsets, offsetPcs } = this.compiled.code;
    let lo = 0, hi = offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid]! <= off) lo = mid + 1; else hi = mid;
    }
    return lo > 0 ? offsetPcs[lo - 1]! : -1;
  }
}

function writeR0(dv: DataView, at: number, v: bigint | number | void): void {
  if (v === undefined) { dv.setInt32(at, 0, true); dv.setInt32(at + 4, 0, true); return; }
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) {
      dv.setInt32(at, v | 0, true);
      dv.setInt32(at + 4, v < 0 ? -1 : 0, true);
      return;
    }
    v = BigInt(Math.trunc(Number.isFinite(v) ? v : 0));
  }
  dv.setBigUint64(at, BigInt.asUintN(64, v), true);
}

/** Argument registers as i32 halves (lo, hi) for `run`. */
const ARGV = new Int32Array(10);

function splitArgs(out: Int32Array, args: ReadonlyArray<bigint | number> | undefined): void {
  for (let i = 0; i < 5; i++) {
    const v = args !== undefined && i < args.length ? args[i]! : 0;
    if (typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) {
      out[2 * i] = v | 0;
      out[2 * i + 1] = v < 0 ? -1 : 0;
    } else {
      const u = BigInt.asUintN(64, BigInt(v));
      out[2 * i] = Number(u & 0xffffffffn) | 0;
      out[2 * i + 1] = Number(u >> 32n) | 0;
    }
  }
}

/** Write argument registers (missing ones are 0) as 64-bit little-endian values at `at`. */
function writeArgs(dv: DataView, at: number, args: ReadonlyArray<bigint | number> | undefined): void {
  for (let i = 0; i < 5; i++) {
    const v = args !== undefined && i < args.length ? args[i]! : 0;
    if (typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) {
      dv.setInt32(at + i * 8, v | 0, true);
      dv.setInt32(at + i * 8 + 4, v < 0 ? -1 : 0, true);
    } else {
      dv.setBigUint64(at + i * 8, BigInt.asUintN(64, BigInt(v)), true);
    }
  }
}

/**
 * A program compiled to WebAssembly. Immutable apart from its caches of
 * compiled modules and instances; any number of runs may share it.
 */
export class JitProgram {
  readonly insns: readonly Instruction[];
  private readonly compiled = new Map<string, Compiled>();
  private readonly hosts = new WeakMap<LinearMemory, Map<string, Host[]>>();
  private slotIndex?: Int32Array;
  /** The host of the last run (most programs run on one memory in one mode). */
  private last?: { readonly mem: LinearMemory; readonly checked: boolean; readonly host: Host };

  /** @param helperAbi how helper arguments are passed (default i64; 'scratch' for comparisons). */
  /** @param inlineHelpers default of JitMode.inlineHelpers (false: every helper call goes to JS; for comparisons). */
  /** @param opts what the loader vouches for (stack depths of a verified program). */
  constructor(
    insns: readonly Instruction[], private readonly helperAbi: 'i64' | 'scratch' = 'i64', private readonly inlineHelpers = true,
    private readonly opts: JitProgramOptions = {},
  ) {
    this.insns = insns;
  }

  private modeOf(mem: LinearMemory | undefined, m: JitMode): Mode {
    const checked = m.checked ?? true;
    const shared = m.shared ?? (mem ? memInfo(mem).shared : false);
    const helperAbi = m.helperAbi ?? this.helperAbi;
    const inlineHelpers = m.inlineHelpers ?? this.inlineHelpers;
    const key = (checked ? 'checked' : 'unchecked') + (shared ? '-shared' : '') + (helperAbi === 'scratch' ? '-scratch' : '') + (inlineHelpers ? '' : '-noinline');
    return { key, checked, shared, helperAbi, inlineHelpers };
  }

  private optionsOf(md: Mode): JitCompileOptions {
    return this.opts.stackDepth && !md.checked ? { ...md, stackDepth: this.opts.stackDepth } : md;
  }

  /** Compile the module of a mode now (it is otherwise compiled on first run). */
  compile(mode: JitMode = {}): CompileStats {
    return this.compiledFor(this.modeOf(undefined, mode)).stats;
  }

  /** Compile asynchronously (required for big modules on a browser's main thread). */
  async compileAsync(mode: JitMode = {}): Promise<CompileStats> {
    const md = this.modeOf(undefined, mode);
    const have = this.compiled.get(md.key);
    if (have) return have.stats;
    const t0 = now();
    const code = compileProgram(this.insns, this.optionsOf(md));
    const t1 = now();
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(code.bytes);
    } catch (e) {
      throw compileFailure(e);
    }
    const t2 = now();
    const c = { code, module, stats: statsOf(md, code, t1 - t0, t2 - t1) };
    this.compiled.set(md.key, c);
    return c.stats;
  }

  /** The generated module bytes of a mode (for inspection and tests). */
  wasm(mode: JitMode = {}): Uint8Array {
    return this.compiledFor(this.modeOf(undefined, mode)).code.bytes;
  }

  private compiledFor(md: Mode): Compiled {
    let c = this.compiled.get(md.key);
    if (!c) {
      const t0 = now();
      const code = compileProgram(this.insns, this.optionsOf(md));
      const t1 = now();
      let module: WebAssembly.Module;
      try {
        module = new WebAssembly.Module(code.bytes);
      } catch (e) {
        throw compileFailure(e);
      }
      const t2 = now();
      c = { code, module, stats: statsOf(md, code, t1 - t0, t2 - t1) };
      this.compiled.set(md.key, c);
    }
    return c;
  }

  private acquire(mem: LinearMemory, checked: boolean): Host {
    const last = this.last;
    if (last && last.mem === mem && last.checked === checked && !last.host.busy) return last.host;
    const md = this.modeOf(mem, { checked });
    let byMode = this.hosts.get(mem);
    if (!byMode) { byMode = new Map(); this.hosts.set(mem, byMode); }
    let pool = byMode.get(md.key);
    if (!pool) { pool = []; byMode.set(md.key, pool); }
    for (const h of pool) if (!h.busy) return h;
    // First run on this memory, or a run nested in a helper of another run.
    const h = new Host(this, this.compiledFor(md), mem);
    pool.push(h);
    this.last = { mem, checked, host: h };
    return h;
  }

  private begin(env: RunEnv): { host: Host; stackTop: number } {
    const mem = env.memory;
    const checked = env.checked ?? true;
    const host = this.acquire(mem, checked);
    const stackTop = env.stack + STACK_AREA;
    if (stackTop > viewOf(mem).byteLength) mem.refresh();
    if (stackTop > mem.u8.length || env.stack < 0) {
      throw new RuntimeFault('FAULT_MEMORY', `stack area ${hex(env.stack)} is outside the memory`, 0, env.stack, 'stack');
    }
    host.setup(env, checked);
    host.stackTop = stackTop;
    return { host, stackTop };
  }

  /** Run once. Same contract as the interpreter's `execute`. */
  run(env: RunEnv): RunResult {
    const { host, stackTop } = this.begin(env);
    const a = ARGV;
    splitArgs(a, env.args);
    host.busy = true;
    try {
      let r0 = host.exports.run(stackTop, host.budget, host.pktStart, host.pktLen, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!);
      if (r0 < 0n) r0 = BigInt.asUintN(64, r0);
      const fuel = viewOf(env.memory).getInt32(host.scratch + SCRATCH.FUEL_OUT, true);
      return { r0, insnCount: host.budget - fuel };
    } catch (e) {
      env.memory.refresh();
      return host.translate(e);
    } finally {
      host.busy = false;
    }
  }

  /**
   * Run the program once per input with the loop inside WebAssembly (env.args
   * is ignored unless `inputs` is a repeat count). A run that faults is
   * recorded in `faults` and the batch goes on with the next input.
   */
  runBatch(env: RunEnv, inputs: BatchInputs): BatchResult {
    const n = typeof inputs === 'number' ? inputs : inputs instanceof BigUint64Array ? Math.floor(inputs.length / 5) : inputs.length;
    const r0 = new BigUint64Array(n);
    const counts = new Uint32Array(n);
    const faults = new Map<number, RuntimeFault>();
    if (n === 0) return { r0, insnCount: counts, faults };
    const { host, stackTop } = this.begin(env);
    const mem = env.memory;
    const area = memInfo(mem);
    const chunk = Math.min(n, BATCH_CHUNK);
    if (area.batchRuns < chunk) {
      if (area.batch) mem.free(area.batch);
      area.batch = 0;
      area.batch = mem.alloc(chunk * 52, 16);
      area.batchRuns = chunk;
    }
    const argsAt = area.batch;
    const r0At = area.batch + chunk * 40;
    const countAt = area.batch + chunk * 48;
    host.busy = true;
    try {
      let filledRepeat = false;
      for (let base = 0; base < n; base += chunk) {
        const m = Math.min(chunk, n - base);
        let dv = viewOf(mem);
        if (typeof inputs === 'number') {
          if (!filledRepeat) { for (let k = 0; k < m; k++) writeArgs(dv, argsAt + k * 40, env.args); filledRepeat = true; }
        } else if (inputs instanceof BigUint64Array) {
          new BigUint64Array(dv.buffer, argsAt, m * 5).set(inputs.subarray(base * 5, (base + m) * 5));
        } else {
          for (let k = 0; k < m; k++) writeArgs(dv, argsAt + k * 40, inputs[base + k]);
        }
        let k = 0;
        while (k < m) {
          try {
            host.exports.batch(stackTop, host.budget, m - k, argsAt + k * 40, r0At + k * 8, countAt + k * 4, host.pktStart, host.pktLen);
            k = m;
          } catch (e) {
            mem.refresh();
            dv = mem.view;
            const at = k + (host.exports.batchIndex.value as number);
            try {
              const res = host.translate(e);
              dv.setBigUint64(r0At + at * 8, res.r0, true);
              dv.setUint32(countAt + at * 4, res.insnCount, true);
            } catch (f) {
              faults.set(base + at, f as RuntimeFault);
              dv.setBigUint64(r0At + at * 8, 0n, true);
              dv.setUint32(countAt + at * 4, 0, true);
            }
            host.ctx.stopped = false;
            k = at + 1;
          }
        }
        const buf = viewOf(mem).buffer;
        r0.set(new BigUint64Array(buf, r0At, m), base);
        counts.set(new Uint32Array(buf, countAt, m), base);
      }
    } finally {
      host.busy = false;
    }
    return { r0, insnCount: counts, faults };
  }

  /** Instruction starting at `slot`. */
  insnAtSlot(slot: number): Instruction | undefined {
    if (!this.slotIndex) {
      let n = 0;
      for (const x of this.insns) n += x.op.kind === 'ld_imm64' ? 2 : 1;
      const idx = new Int32Array(n + 1).fill(-1);
      let s = 0;
      this.insns.forEach((x, i) => { idx[s] = i; s += x.op.kind === 'ld_imm64' ? 2 : 1; });
      this.slotIndex = idx;
    }
    const i = slot >= 0 && slot < this.slotIndex.length ? this.slotIndex[slot]! : -1;
    return i >= 0 ? this.insns[i] : undefined;
  }

  /** The interpreter's wording for an instruction that cannot run. */
  describe(slot: number): string {
    const x = this.insnAtSlot(slot);
    if (!x) return 'this instruction';
    if (x.op.kind === 'ld_imm64') return `lddw with src ${x.src}`;
    if (x.op.kind === 'callx') return `callx through invalid register ${x.imm}`;
    return x.op.name;
  }
}

/**
 * The engine refused the module: beyond its limits (V8 takes at most about
 * 7.6 MB of code per function, some 500,000 instructions in one eBPF
 * function) or a synchronous compile on a browser's main thread.
 */
function compileFailure(e: unknown): RuntimeFault {
  const msg = e instanceof Error ? e.message : String(e);
  return new RuntimeFault('FAULT_JIT_COMPILE', `the JIT cannot compile this program: ${msg} (use the interpreter, or compileAsync in a browser)`, 0);
}

function now(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p ? p.now() : Date.now();
}

function statsOf(md: Mode, code: CompiledCode, gen: number, comp: number): CompileStats {
  return {
    mode: md.key, wasmBytes: code.bytes.length, generateMs: gen, wasmCompileMs: comp,
    functions: code.entrySlots.length, dispatchers: code.dispatchers,
  };
}

/** Compile a program for the JIT (modules are built per mode on first use, or by `compile`). */
export function jitCompile(insns: readonly Instruction[], opts: JitProgramOptions = {}): JitProgram {
  return new JitProgram(insns, 'i64', true, opts);
}

/** Run a JIT-compiled program: the JIT's counterpart of the interpreter's `execute`. */
export function jitExecute(p: JitProgram, env: RunEnv): RunResult {
  return p.run(env);
}
