// eBPF -> WebAssembly code generation.
//
// Every eBPF function (see cfg.ts) becomes one Wasm function of type
//
//   (r0..r9: i64, depth: i32, fuel: i32) -> (r0..r5: i64, fuel: i32)
//
// Registers live in i64 locals. A callee receives the caller's R0-R9 (the
// interpreter has one register file, so a callee sees them) and hands back
// R0-R5; R6-R9 are the caller's own locals, so they survive the call as the
// ABI says, and R10 is recomputed from the depth: stackTop - depth * 512, with
// the 512-byte frame zeroed on entry like the interpreter does. When the
// caller vouches (unchecked mode only, `stackDepth`) that a function cannot
// address more than N bytes below its frame top, only those N bytes (rounded
// up to 8) are zeroed: the bytes below cannot be read or written by any code,
// so the results stay those of the interpreter. memory.fill of 512 bytes per
// call was most of the cost of a call and of a trivial program's run.
//
// Control flow is recovered from the CFG with the algorithm of N. Ramsey,
// "Beyond Relooper" (ICFP 2022): a walk of the dominator tree where loop
// headers open a `loop`, blocks with two or more forward predecessors
// ("merge nodes") are placed after a `block` that forward branches leave,
// and every other block is inlined at its only predecessor's branch. When a
// function's graph is irreducible, the whole function falls back to a
// dispatcher: `loop { block... br_table }` on a label local.
//
// Budget: `fuel` counts down by each block's instruction count when the
// block starts (calls end blocks, so the count is exact at every call and
// exit), and is tested at loop headers (every cycle passes one) and at exit:
// a program cannot run more than about `budget` instructions plus one loop
// body. The result's insnCount is budget - fuel, as exact as the interpreter's.
//
// Checked mode keeps a one-region cache in locals (start, end, writable) and
// tests every access inline; a miss calls the host, which either throws the
// interpreter's RuntimeFault or refills the cache from the region table.
// Unchecked mode emits the bare load/store; an access outside the memory traps
// and the trap's code offset is mapped back to the instruction.
//
// Atomics: on a shared memory the Wasm threads atomics are used; they need
// natural alignment, and a misaligned address is a FAULT_MISALIGNED, as in
// the interpreter (which uses JS Atomics there). On an unshared memory,
// where nothing runs concurrently, a plain load/op/store is equivalent
// (V8 also accepts the atomic opcodes there, but they trap when misaligned,
// which the interpreter allows on unshared memory).
//
// Helpers are imports; R1-R5 go out as i64 parameters and R0 comes back as
// the i64 result. Faults are an import that throws the RuntimeFault.

import type { Instruction } from '../../isa/instruction.js';
import { BPF_PSEUDO_FUNC, MAX_CALL_FRAMES, STACK_SIZE } from '../../isa/opcodes.js';
import type { JmpOp } from '../../isa/table.js';
import { CODE_ADDR_TAG } from '../interpreter.js';
import { type FunctionGraph, type ProgramCfg, buildCfg, functionGraph } from './cfg.js';
import { CACHE_ENTRIES, type LookupGlobals, emitCacheReset, lookupFunction } from './maplookup.js';
import { AtomicOp, Code, I32, I64, ModuleBuilder, Op, type ValType } from './wasm.js';

/** Layout of the per-memory scratch area the compiled code and the host share. */
export const SCRATCH = {
  R0: 0,
  ARGS: 8, // R1..R5, 5 x i64
  REGION_START: 48, // i64
  REGION_END: 56, // i64
  REGION_WRITABLE: 64, // i32
  FUEL_OUT: 68, // i32, fuel left after `run`
  CALL_DEPTH: 72, // i32, the caller's depth, stored before bpf_tail_call and helper callx (HelperContext.callDepth)
  RET: 76, // i32, set by the host when a helper asked to return from the calling function (HelperContext.ret)
  SIZE: 80,
} as const;

/** Codes passed to the `fault` import. */
export const enum FaultKind {
  BUDGET = 0,
  JUMP = 1, // a = target slot
  FALLOFF = 2,
  UNSUPPORTED = 3,
  CALL_DEPTH = 4,
  CALLX = 5, // a = lo, b = hi of the target value
  MISALIGNED = 6, // a = address, b = size
}

export interface JitCompileOptions {
  /** Test every memory access against the region table (unverified programs). */
  readonly checked: boolean;
  /** The memory the module will run on is shared (use Wasm atomics). */
  readonly shared: boolean;
  /**
   * How helper arguments cross into JS: as five i64 parameters (default; V8
   * makes the BigInts the helpers take), or stored to the scratch area with
   * only i32 parameters (the JS side reads them back as BigInts). Kept for
   * the micro-benchmark that compares them.
   */
  readonly helperAbi?: 'i64' | 'scratch';
  /**
   * Run bpf_map_lookup_elem (helper 1) inside the module for array and hash
   * maps (maplookup.ts; default true). False keeps every helper call in JS,
   * for measurements.
   */
  readonly inlineHelpers?: boolean;
  /**
   * Bytes below its frame top that each function may address, by the slot of
   * the function's entry (from a verifier's per-subprogram stack depth). The
   * prologue zeroes only that many bytes (rounded up to 8; 0: none) instead of
   * the whole 512-byte frame. Functions without an entry are zeroed in full.
   * Ignored in checked mode (unverified code may address the whole frame).
   */
  readonly stackDepth?: ReadonlyMap<number, number>;
}

/** Bytes of a frame to zero on entry to the function at `slot` (see JitCompileOptions.stackDepth). */
export function frameZeroBytes(opts: JitCompileOptions, slot: number): number {
  if (opts.checked || !opts.stackDepth) return STACK_SIZE;
  const d = opts.stackDepth.get(slot);
  if (d === undefined || !Number.isFinite(d) || d >= STACK_SIZE) return STACK_SIZE;
  if (d <= 0) return 0;
  return Math.ceil(d / 8) * 8;
}

export interface CompiledCode {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly cfg: ProgramCfg;
  /** Sorted absolute module offsets at which an instruction's code starts, and that instruction's slot. */
  readonly offsets: Int32Array;
  readonly offsetPcs: Int32Array;
  /** Slots of the function entries, in function order (entry 0 = slot 0). */
  readonly entrySlots: readonly number[];
  /** Functions compiled with the irreducible-graph dispatcher. */
  readonly dispatchers: number;
  readonly helperAbi: 'i64' | 'scratch';
  /** The module contains the inline map lookup (it imports `mapcheck`). */
  readonly inlineLookup: boolean;
}

// Imported functions.
const F_HELPER = 0; // scratch ABI: (id, pc, fuel) -> (); i64 ABI: (r1..r5, id, pc, fuel) -> r0
const F_FAULT = 1; // (kind, pc, a, b) -> ()
const F_MEMSLOW = 2; // (pc, lo, hi, depth) -> ()
const F_STOP0 = 3; // (pc, fuel) -> ()
const F_MAPCHECK = 4; // (handle) -> info, imported only with the inline map lookup (maplookup.ts)
// Globals.
const G_SCRATCH = 0; // imported, i32
// Per-instance state set by the entry points (globals, not the shared
// scratch area, so a run nested in a helper cannot disturb its caller's).
const G_STACKTOP = 1; // i32
const G_PKTSTART = 2; // i32, the packet LD_ABS/LD_IND read
const G_PKTLEN = 3; // i32
const G_BATCHINDEX = 4; // i32, exported: the run of a batch in progress
// The inline map lookup's handle cache: handles, infos, next entry to replace.
const G_LOOKUP: LookupGlobals = {
  handles: Array.from({ length: CACHE_ENTRIES }, (_, j) => 5 + j),
  infos: Array.from({ length: CACHE_ENTRIES }, (_, j) => 5 + CACHE_ENTRIES + j),
  next: 5 + 2 * CACHE_ENTRIES,
};

// Parameters and fixed locals of every compiled eBPF function.
const DEPTH = 10;
const FUEL = 11;
const NPARAMS = 12;

const FN_PARAMS: ValType[] = [I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I32, I32];
const FN_RESULTS: ValType[] = [I64, I64, I64, I64, I64, I64, I32];

const CMP64: Record<JmpOp, Op> = {
  jeq: Op.i64_eq, jne: Op.i64_ne, jgt: Op.i64_gt_u, jge: Op.i64_ge_u, jlt: Op.i64_lt_u, jle: Op.i64_le_u,
  jsgt: Op.i64_gt_s, jsge: Op.i64_ge_s, jslt: Op.i64_lt_s, jsle: Op.i64_le_s, jset: Op.i64_and,
};
const CMP32: Record<JmpOp, Op> = {
  jeq: Op.i32_eq, jne: Op.i32_ne, jgt: Op.i32_gt_u, jge: Op.i32_ge_u, jlt: Op.i32_lt_u, jle: Op.i32_le_u,
  jsgt: Op.i32_gt_s, jsge: Op.i32_ge_s, jslt: Op.i32_lt_s, jsle: Op.i32_le_s, jset: Op.i32_and,
};
const ALU_SIMPLE64: Partial<Record<string, Op>> = {
  add: Op.i64_add, sub: Op.i64_sub, mul: Op.i64_mul, or: Op.i64_or, and: Op.i64_and, xor: Op.i64_xor,
  lsh: Op.i64_shl, rsh: Op.i64_shr_u, arsh: Op.i64_shr_s,
};
const ALU_SIMPLE32: Partial<Record<string, Op>> = {
  add: Op.i32_add, sub: Op.i32_sub, mul: Op.i32_mul, or: Op.i32_or, and: Op.i32_and, xor: Op.i32_xor,
  lsh: Op.i32_shl, rsh: Op.i32_shr_u, arsh: Op.i32_shr_s,
};
const LOAD: Record<number, [Op, number]> = { 1: [Op.i64_load8_u, 0], 2: [Op.i64_load16_u, 1], 4: [Op.i64_load32_u, 2], 8: [Op.i64_load, 3] };
const LOADSX: Record<number, [Op, number]> = { 1: [Op.i64_load8_s, 0], 2: [Op.i64_load16_s, 1], 4: [Op.i64_load32_s, 2] };
const STORE: Record<number, [Op, number]> = { 1: [Op.i64_store8, 0], 2: [Op.i64_store16, 1], 4: [Op.i64_store32, 2], 8: [Op.i64_store, 3] };

/** Compile a program to a Wasm module (bytes). Never throws on odd programs: what cannot run becomes a fault. */
export function compileProgram(insns: readonly Instruction[], opts: JitCompileOptions): CompiledCode {
  const cfg = buildCfg(insns);
  const m = new ModuleBuilder();
  const tHelper = opts.helperAbi === 'scratch' ? m.type([I32, I32, I32], []) : m.type([I64, I64, I64, I64, I64, I32, I32, I32], [I64]);
  const tFault = m.type([I32, I32, I32, I32], []);
  const tMem = m.type([I32, I32, I32, I32], []);
  const tStop = m.type([I32, I32], []);
  m.importFunc('env', 'helper', tHelper);
  m.importFunc('env', 'fault', tFault);
  m.importFunc('env', 'memslow', tMem);
  m.importFunc('env', 'stop0', tStop);
  const inlineLookup = opts.inlineHelpers !== false && insns.some((x) => x.op.kind === 'call' && x.imm === 1);
  if (inlineLookup) m.importFunc('env', 'mapcheck', m.type([I32], [I32]));
  m.importMemory('env', 'memory', 1, opts.shared ? 65536 : undefined, opts.shared);
  m.importGlobal('env', 'scratch', I32, false);
  m.global(I32, true, 0); // G_STACKTOP
  m.global(I32, true, 0); // G_PKTSTART
  m.global(I32, true, 0); // G_PKTLEN
  m.global(I32, true, 0); // G_BATCHINDEX
  if (inlineLookup) for (let j = 0; j < 2 * CACHE_ENTRIES + 1; j++) m.global(I32, true, 0); // G_LOOKUP

  const tFn = m.type(FN_PARAMS, FN_RESULTS);
  const fnIndex = new Map<number, number>(); // entry insn -> function index
  for (const e of cfg.entries) fnIndex.set(e, m.declare(tFn));
  const tRun = m.type(Array<ValType>(14).fill(I32), [I64]);
  const tBatch = m.type(Array<ValType>(8).fill(I32), [I32]);
  const fRun = m.declare(tRun);
  const fBatch = m.declare(tBatch);
  const fLookup = inlineLookup ? m.declare(m.type([I64, I64, I64, I64], [I64])) : -1;

  const gens: FnGen[] = [];
  let dispatchers = 0;
  for (const e of cfg.entries) {
    const g = new FnGen(cfg, functionGraph(cfg, e), fnIndex, opts, fLookup);
    g.generate();
    if (g.dispatcher) dispatchers++;
    m.define(fnIndex.get(e)!, g.code);
    gens.push(g);
  }
  m.define(fRun, runEntry(fnIndex.get(0)!, inlineLookup));
  m.define(fBatch, batchEntry(fnIndex.get(0)!, inlineLookup));
  if (inlineLookup) m.define(fLookup, lookupFunction(opts.checked, G_LOOKUP, F_MAPCHECK));
  m.exportFunc('run', fRun);
  m.exportFunc('batch', fBatch);
  m.exportGlobal('batchIndex', G_BATCHINDEX);
  const built = m.build();

  // Offset map for traps: absolute offset of each instruction's code. Functions
  // are laid out in order and marks increase within each, so this is sorted.
  let total = 0;
  for (const g of gens) total += g.nmarks;
  const offsets = new Int32Array(total);
  const offsetPcs = new Int32Array(total);
  let k = 0;
  gens.forEach((g, f) => {
    const base = built.codeStarts[f]!;
    const ms = g.marks;
    for (let i = 0; i < 2 * g.nmarks; i += 2) { offsets[k] = base + ms[i]!; offsetPcs[k++] = ms[i + 1]!; }
  });
  return {
    bytes: built.bytes, cfg, offsets, offsetPcs,
    entrySlots: cfg.entries.map((e) => cfg.slot[e]!), dispatchers, helperAbi: opts.helperAbi ?? 'i64', inlineLookup,
  };
}

/**
 * `run(stackTop, fuel, pktStart, pktLen, a1lo, a1hi, ..., a5lo, a5hi) -> r0`:
 * R1-R5 arrive as i32 halves (cheap to pass from JS, no BigInt), the fuel
 * left goes to the scratch area. Every other register starts at zero, as in
 * the interpreter.
 */
function runEntry(main: number, inlineLookup: boolean): Code {
  const c = new Code(14);
  const fuel = c.local(I32);
  const r0 = c.local(I64);
  if (inlineLookup) emitCacheReset(c, G_LOOKUP);
  c.get(0); c.gset(G_STACKTOP);
  c.get(2); c.gset(G_PKTSTART);
  c.get(3); c.gset(G_PKTLEN);
  c.i64s(0);
  for (let r = 1; r <= 5; r++) {
    c.get(2 * r + 3); c.op(Op.i64_extend_i32_u); c.i64s(32); c.op(Op.i64_shl);
    c.get(2 * r + 2); c.op(Op.i64_extend_i32_u); c.op(Op.i64_or);
  }
  for (let r = 6; r <= 9; r++) c.i64s(0);
  c.i32(0);
  c.get(1);
  c.call(main);
  c.set(fuel);
  for (let r = 5; r >= 1; r--) c.op(Op.drop);
  c.set(r0);
  c.gget(G_SCRATCH); c.get(fuel); c.mem(Op.i32_store, 2, SCRATCH.FUEL_OUT);
  c.get(r0);
  c.end();
  return c;
}

/**
 * `batch(stackTop, budget, n, args, r0s, counts, pktStart, pktLen) -> n`:
 * run the program n times; run k takes R1-R5 from args + 40k, leaves R0 at
 * r0s + 8k and its instruction count at counts + 4k. The index of the run in
 * progress is kept in the exported global `batchIndex` so the host can
 * resume after a fault.
 */
function batchEntry(main: number, inlineLookup: boolean): Code {
  const c = new Code(8);
  const i = c.local(I32);
  const fuel = c.local(I32);
  const r0 = c.local(I64);
  const argp = c.local(I32);
  if (inlineLookup) emitCacheReset(c, G_LOOKUP);
  c.get(0); c.gset(G_STACKTOP);
  c.get(6); c.gset(G_PKTSTART);
  c.get(7); c.gset(G_PKTLEN);
  c.get(3); c.set(argp);
  c.block();
  c.loop();
  c.get(i); c.get(2); c.op(Op.i32_ge_u); c.brIf(1);
  c.get(i); c.gset(G_BATCHINDEX);
  c.i64s(0);
  for (let r = 1; r <= 5; r++) { c.get(argp); c.mem(Op.i64_load, 0, (r - 1) * 8); }
  for (let r = 6; r <= 9; r++) c.i64s(0);
  c.i32(0);
  c.get(1);
  c.call(main);
  c.set(fuel);
  for (let r = 5; r >= 1; r--) c.op(Op.drop);
  c.set(r0);
  c.get(4); c.get(i); c.i32(3); c.op(Op.i32_shl); c.op(Op.i32_add); c.get(r0); c.mem(Op.i64_store, 0, 0);
  c.get(5); c.get(i); c.i32(2); c.op(Op.i32_shl); c.op(Op.i32_add); c.get(1); c.get(fuel); c.op(Op.i32_sub); c.mem(Op.i32_store, 0, 0);
  c.get(argp); c.i32(40); c.op(Op.i32_add); c.set(argp);
  c.get(i); c.i32(1); c.op(Op.i32_add); c.set(i);
  c.br(0);
  c.end();
  c.end();
  c.get(i);
  c.end();
  return c;
}

/** Code generation for one eBPF function. */
class FnGen {
  readonly code: Code;
  /** (offset in code, slot) pairs, one per emitted instruction. */
  marks: Int32Array;
  nmarks = 0;
  dispatcher = false;
  private readonly R10: number;
  private readonly T64: number;
  private readonly A: number;
  private readonly RS: number;
  private readonly RE: number;
  private readonly T32: number;
  private readonly T32B: number;
  private readonly RW: number;
  private readonly blockPos: Int32Array;
  private readonly loopPos: Int32Array;

  constructor(
    private readonly cfg: ProgramCfg,
    private readonly g: FunctionGraph,
    private readonly fnIndex: ReadonlyMap<number, number>,
    private readonly opts: JitCompileOptions,
    /** The inline map lookup function, -1 when the module has none. */
    private readonly fLookup = -1,
  ) {
    // About 15 bytes of Wasm per instruction unchecked, 40 checked.
    const n = g.rpo.length * 4 + 16;
    this.code = new Code(NPARAMS, n * (opts.checked ? 48 : 24));
    this.marks = new Int32Array(2 * n);
    const c = this.code;
    this.R10 = c.local(I64);
    this.T64 = c.local(I64);
    this.A = c.local(I64);
    this.RS = c.local(I64);
    this.RE = c.local(I64);
    this.T32 = c.local(I32);
    this.T32B = c.local(I32);
    this.RW = c.local(I32);
    const nb = cfg.blocks.length;
    this.blockPos = new Int32Array(nb).fill(-1);
    this.loopPos = new Int32Array(nb).fill(-1);
  }

  private reg(r: number): number {
    return r === 10 ? this.R10 : r;
  }

  generate(): void {
    const c = this.code;
    // Prologue: R10 = stackTop - depth * 512; zero the frame below it (or the
    // part of it the function may address, see JitCompileOptions.stackDepth).
    const zero = frameZeroBytes(this.opts, this.cfg.slot[this.g.entry]!);
    c.gget(G_STACKTOP); c.get(DEPTH); c.i32(9); c.op(Op.i32_shl); c.op(Op.i32_sub);
    if (zero > 0) c.tee(this.T32);
    c.op(Op.i64_extend_i32_u); c.set(this.R10);
    if (zero > 0) { c.get(this.T32); c.i32(zero); c.op(Op.i32_sub); c.i32(0); c.i32(zero); c.memoryFill(); }
    if (this.g.reducible) this.structured(); else this.dispatch();
    c.op(Op.unreachable);
    c.end();
  }

  // ---- control flow ---------------------------------------------------------

  /**
   * Ramsey's dominator-tree walk, with an explicit stack instead of
   * recursion (programs have up to a million instructions). Stack entries
   * are four numbers: action, block, target, label depth.
   */
  private structured(): void {
    const { g, code: c } = this;
    const blocks = this.cfg.blocks;
    // Merge children of each block in the dominator tree, highest RPO first.
    const mergeKids: number[][] = [];
    for (let i = 1; i < g.rpo.length; i++) {
      const b = g.rpo[i]!;
      if (!g.merge[b]) continue;
      (mergeKids[g.idom[b]!] ??= []).push(b);
    }
    for (const ks of mergeKids) ks?.sort((a, b) => g.order[b]! - g.order[a]!);

    const TREE = 0, CODE = 1, BRANCH = 2, END = 3, ELSE = 4;
    const st: number[] = [TREE, g.rpo[0]!, 0, 0];
    const push = (act: number, x: number, to: number, d: number): void => { st.push(act, x, to, d); };
    while (st.length) {
      const d = st.pop()!, to = st.pop()!, x = st.pop()!, act = st.pop()!;
      switch (act) {
        case END: c.end(); break;
        case ELSE: c.else(); break;
        case TREE: {
          let dd = d;
          const loop = g.loopHeader[x] === 1;
          if (loop) { this.loopPos[x] = dd; c.loop(); dd++; }
          const ys = mergeKids[x];
          if (loop) push(END, 0, 0, 0);
          if (ys) {
            // Open the blocks, outermost (highest RPO) first; each merge child follows its block.
            for (let j = 0; j < ys.length; j++) { this.blockPos[ys[j]!] = dd + j; c.block(); }
            for (let j = 0; j < ys.length; j++) { push(TREE, ys[j]!, 0, dd + j); push(END, 0, 0, 0); }
            dd += ys.length;
          }
          push(CODE, x, 0, dd);
          break;
        }
        case CODE: {
          const b = blocks[x]!;
          this.blockBody(x, g.loopHeader[x] === 1);
          if (b.fault || b.first < 0) break;
          const k = this.cfg.insns[b.last]!.op.kind;
          if (k === 'exit') break;
          if (k === 'jcond') {
            c.if();
            push(END, 0, 0, 0);
            push(BRANCH, x, b.succ[1]!, d + 1);
            push(ELSE, 0, 0, 0);
            push(BRANCH, x, b.succ[0]!, d + 1);
          } else {
            push(BRANCH, x, b.succ[0]!, d);
          }
          break;
        }
        case BRANCH:
          if (g.order[to]! <= g.order[x]!) c.br(d - 1 - this.loopPos[to]!);
          else if (g.merge[to]) c.br(d - 1 - this.blockPos[to]!);
          else push(TREE, to, 0, d);
          break;
      }
    }
  }

  /** Irreducible fallback: `loop { block*n { br_table } code0 } code1 } ... }` on a label local. */
  private dispatch(): void {
    this.dispatcher = true;
    const { g, code: c } = this;
    const n = g.rpo.length;
    const lbl = c.local(I32); // zero: rpo[0] is the entry
    const idx = new Int32Array(this.cfg.blocks.length).fill(-1);
    g.rpo.forEach((b, i) => { idx[b] = i; });
    c.loop();
    for (let k = 0; k < n; k++) c.block();
    c.get(lbl);
    c.brTable(Array.from({ length: n }, (_, k) => k), 0);
    for (let k = 0; k < n; k++) {
      c.end();
      const x = g.rpo[k]!;
      const b = this.cfg.blocks[x]!;
      const d = n - k; // labels: the loop and the blocks of nodes k+1..n-1
      this.blockBody(x, true);
      if (b.fault || b.first < 0) continue;
      const last = this.cfg.insns[b.last]!;
      if (last.op.kind === 'exit') continue;
      const go = (to: number, depth: number): void => {
        c.i32(idx[to]!); c.set(lbl); c.br(depth - 1);
      };
      if (last.op.kind === 'jcond') {
        c.if();
        go(b.succ[0]!, d + 1);
        c.else();
        go(b.succ[1]!, d + 1);
        c.end();
        c.op(Op.unreachable);
      } else {
        go(b.succ[0]!, d);
      }
    }
    c.end();
  }

  /**
   * Everything of a block but its branch: the fuel update (and test at loop
   * headers), the instructions, and for a conditional jump the condition on
   * the stack. Exit and fault blocks leave nothing to branch on.
   */
  private blockBody(x: number, testFuel: boolean): void {
    const c = this.code;
    const b = this.cfg.blocks[x]!;
    if (b.fault) {
      const f = b.fault;
      if (f.kind === 'jump') this.fault(FaultKind.JUMP, f.from, f.target);
      else this.fault(FaultKind.FALLOFF, f.pc);
      return;
    }
    const len = b.last - b.first + 1;
    c.get(FUEL); c.i32(len); c.op(Op.i32_sub);
    if (testFuel) {
      c.tee(FUEL); c.i32(0); c.op(Op.i32_lt_s);
      c.if(); this.fault(FaultKind.BUDGET, this.cfg.slot[b.first]!); c.end();
    } else {
      c.set(FUEL);
    }
    for (let i = b.first; i <= b.last; i++) this.insn(i, b.last - i);
  }

  /** Call the fault import (it throws); the code after it is unreachable. */
  private fault(kind: FaultKind, pc: number, a = 0, b = 0): void {
    const c = this.code;
    c.i32(kind); c.i32(pc); c.i32(a); c.i32(b); c.call(F_FAULT); c.op(Op.unreachable);
  }

  // ---- instructions ---------------------------------------------------------

  /** Emit instruction i; `after` = instructions after it in its block (for exact counts). */
  private insn(i: number, after: number): void {
    const c = this.code;
    const x = this.cfg.insns[i]!;
    const o = x.op;
    const pc = this.cfg.slot[i]!;
    if (2 * this.nmarks === this.marks.length) {
      const m = new Int32Array(this.marks.length * 2);
      m.set(this.marks);
      this.marks = m;
    }
    this.marks[2 * this.nmarks] = c.len;
    this.marks[2 * this.nmarks++ + 1] = pc;
    const d = this.reg(x.dst & 0xf);
    if ((x.dst & 0xf) > 10 || (x.src & 0xf) > 10 && (o.srcReg || o.kind === 'stx' || o.kind === 'ldx' || o.kind === 'ldsx' || o.kind === 'ld_ind')) {
      this.fault(FaultKind.UNSUPPORTED, pc);
      return;
    }
    const s = this.reg(x.src & 0xf);
    switch (o.kind) {
      case 'alu': if (o.is64) this.alu64(x, d, s); else this.alu32(x, d, s); break;
      case 'neg':
        if (o.is64) { c.i64s(0); c.get(d); c.op(Op.i64_sub); c.set(d); }
        else { c.i32(0); c.get(d); c.op(Op.i32_wrap_i64); c.op(Op.i32_sub); c.op(Op.i64_extend_i32_u); c.set(d); }
        break;
      case 'mov':
        if (o.srcReg) {
          c.get(s);
          if (!o.is64) { c.op(Op.i32_wrap_i64); c.op(Op.i64_extend_i32_u); }
        } else if (o.is64) {
          c.i64s(x.imm);
        } else {
          c.i64(x.imm, 0);
        }
        c.set(d);
        break;
      case 'movsx':
        c.get(s);
        if (o.is64) c.op(o.size === 1 ? Op.i64_extend8_s : o.size === 2 ? Op.i64_extend16_s : Op.i64_extend32_s);
        else { c.op(Op.i32_wrap_i64); c.op(o.size === 1 ? Op.i32_extend8_s : Op.i32_extend16_s); c.op(Op.i64_extend_i32_u); }
        c.set(d);
        break;
      case 'endian': this.endian(x, d); break;
      case 'ld_imm64': {
        if (x.src === 0) {
          c.i64(x.imm, x.imm2); c.set(d);
        } else if (x.src === BPF_PSEUDO_FUNC) {
          const t = pc + x.imm + 1;
          if (t >= 0 && t < this.cfg.slots && this.cfg.insnAt[t]! >= 0) { c.i64(t, CODE_ADDR_TAG); c.set(d); }
          else this.fault(FaultKind.JUMP, pc, t);
        } else {
          this.fault(FaultKind.UNSUPPORTED, pc);
        }
        break;
      }
      case 'ldx': case 'ldsx': {
        const [op, align] = (o.kind === 'ldx' ? LOAD : LOADSX)[o.size]!;
        this.address(s, x.off, o.size, false, pc);
        c.mem(op, align, this.memOffset(x.off));
        c.set(d);
        break;
      }
      case 'st': case 'stx': {
        const [op, align] = STORE[o.size]!;
        this.address(d, x.off, o.size, true, pc);
        if (o.kind === 'st') c.i64s(x.imm); else c.get(s);
        c.mem(op, align, this.memOffset(x.off));
        break;
      }
      case 'atomic': this.atomic(x, d, s, pc); break;
      case 'ld_abs': case 'ld_ind': this.ldPacket(x, s, pc, after); break;
      case 'ja': case 'exit': case 'jcond':
        if (o.kind === 'exit') this.exit(pc);
        else if (o.kind === 'jcond') this.cond(x, d, s);
        break; // ja: the branch is the structure's
      case 'call': this.helperCall(pc, x.imm, -1); break;
      case 'call_local': {
        const t = pc + x.imm + 1;
        const ti = t >= 0 && t < this.cfg.slots ? this.cfg.insnAt[t]! : -1;
        this.localCall(pc, ti >= 0 ? this.fnIndex.get(ti)! : -1, t);
        break;
      }
      case 'callx': {
        const r = (x.dst & 0xf) !== 0 ? x.dst & 0xf : x.imm;
        if (r < 0 || r > 10) this.fault(FaultKind.UNSUPPORTED, pc);
        else this.callx(pc, this.reg(r));
        break;
      }
      default: this.fault(FaultKind.UNSUPPORTED, pc); // kfunc calls need a loader
    }
  }

  private alu64(x: Instruction, d: number, s: number): void {
    const c = this.code;
    const o = x.op;
    const k = !o.srcReg;
    const simple = ALU_SIMPLE64[o.alu!];
    if (simple !== undefined) { c.get(d); this.src64(k, x.imm, s); c.op(simple); c.set(d); return; }
    switch (o.alu) {
      case 'div':
        if (k) {
          if (x.imm === 0) c.i64s(0); else { c.get(d); c.i64s(x.imm); c.op(Op.i64_div_u); }
        } else {
          c.get(s); c.op(Op.i64_eqz); c.if(I64); c.i64s(0); c.else(); c.get(d); c.get(s); c.op(Op.i64_div_u); c.end();
        }
        c.set(d);
        return;
      case 'mod':
        if (k) {
          if (x.imm !== 0) { c.get(d); c.i64s(x.imm); c.op(Op.i64_rem_u); c.set(d); }
        } else {
          c.get(s); c.op(Op.i64_eqz); c.op(Op.i32_eqz); c.if(); c.get(d); c.get(s); c.op(Op.i64_rem_u); c.set(d); c.end();
        }
        return;
      case 'sdiv':
        if (k) {
          if (x.imm === 0) c.i64s(0);
          else if (x.imm === -1) { c.i64s(0); c.get(d); c.op(Op.i64_sub); }
          else { c.get(d); c.i64s(x.imm); c.op(Op.i64_div_s); }
        } else {
          c.get(s); c.op(Op.i64_eqz);
          c.if(I64); c.i64s(0);
          c.else();
          c.get(s); c.i64s(-1); c.op(Op.i64_eq);
          c.if(I64); c.i64s(0); c.get(d); c.op(Op.i64_sub);
          c.else(); c.get(d); c.get(s); c.op(Op.i64_div_s);
          c.end();
          c.end();
        }
        c.set(d);
        return;
      case 'smod': // rem_s does not trap on INT64_MIN % -1 (it is 0, as in eBPF)
        if (k) {
          if (x.imm !== 0) { c.get(d); c.i64s(x.imm); c.op(Op.i64_rem_s); c.set(d); }
        } else {
          c.get(s); c.op(Op.i64_eqz); c.op(Op.i32_eqz); c.if(); c.get(d); c.get(s); c.op(Op.i64_rem_s); c.set(d); c.end();
        }
        return;
    }
  }

  private alu32(x: Instruction, d: number, s: number): void {
    const c = this.code;
    const o = x.op;
    const k = !o.srcReg;
    const simple = ALU_SIMPLE32[o.alu!];
    if (simple !== undefined) { this.wrapped(d); this.src32(k, x.imm, s); c.op(simple); c.op(Op.i64_extend_i32_u); c.set(d); return; }
    switch (o.alu) {
      case 'div':
        if (k) {
          if (x.imm === 0) c.i32(0); else { this.wrapped(d); this.src32(k, x.imm, s); c.op(Op.i32_div_u); }
        } else {
          this.src32(k, x.imm, s); c.op(Op.i32_eqz); c.if(I32); c.i32(0); c.else(); this.wrapped(d); this.src32(k, x.imm, s); c.op(Op.i32_div_u); c.end();
        }
        break;
      case 'mod':
        if (k) {
          this.wrapped(d);
          if (x.imm !== 0) { this.src32(k, x.imm, s); c.op(Op.i32_rem_u); }
        } else {
          this.src32(k, x.imm, s); c.op(Op.i32_eqz); c.if(I32); this.wrapped(d); c.else(); this.wrapped(d); this.src32(k, x.imm, s); c.op(Op.i32_rem_u); c.end();
        }
        break;
      case 'sdiv':
        if (k) {
          if (x.imm === 0) c.i32(0);
          else if (x.imm === -1) { c.i32(0); this.wrapped(d); c.op(Op.i32_sub); }
          else { this.wrapped(d); this.src32(k, x.imm, s); c.op(Op.i32_div_s); }
        } else {
          this.src32(k, x.imm, s); c.op(Op.i32_eqz);
          c.if(I32); c.i32(0);
          c.else();
          this.src32(k, x.imm, s); c.i32(-1); c.op(Op.i32_eq);
          c.if(I32); c.i32(0); this.wrapped(d); c.op(Op.i32_sub);
          c.else(); this.wrapped(d); this.src32(k, x.imm, s); c.op(Op.i32_div_s);
          c.end();
          c.end();
        }
        break;
      case 'smod':
        if (k) {
          this.wrapped(d);
          if (x.imm !== 0) { this.src32(k, x.imm, s); c.op(Op.i32_rem_s); }
        } else {
          this.src32(k, x.imm, s); c.op(Op.i32_eqz); c.if(I32); this.wrapped(d); c.else(); this.wrapped(d); this.src32(k, x.imm, s); c.op(Op.i32_rem_s); c.end();
        }
        break;
    }
    c.op(Op.i64_extend_i32_u);
    c.set(d);
  }

  /** Push the 64-bit source operand: the immediate (sign-extended) or register s. */
  private src64(k: boolean, imm: number, s: number): void {
    if (k) this.code.i64s(imm); else this.code.get(s);
  }

  /** Push the 32-bit source operand: the immediate or the low half of register s. */
  private src32(k: boolean, imm: number, s: number): void {
    if (k) this.code.i32(imm); else this.wrapped(s);
  }

  /** Push the low 32 bits of register r. */
  private wrapped(r: number): void {
    this.code.get(r);
    this.code.op(Op.i32_wrap_i64);
  }

  /** Byte-swap the i32 on the stack. */
  private bswap32(): void {
    const c = this.code;
    c.tee(this.T32); c.i32(8); c.op(Op.i32_rotr); c.i32(0xff00ff00 | 0); c.op(Op.i32_and);
    c.get(this.T32); c.i32(8); c.op(Op.i32_rotl); c.i32(0x00ff00ff); c.op(Op.i32_and);
    c.op(Op.i32_or);
  }

  private endian(x: Instruction, d: number): void {
    const c = this.code;
    const size = x.op.size;
    if (x.op.endian === 'le') {
      if (size === 8) return;
      c.get(d); c.i64(size === 2 ? 0xffff : 0xffffffff, 0); c.op(Op.i64_and); c.set(d);
      return;
    }
    if (size === 2) {
      c.get(d); c.op(Op.i32_wrap_i64); c.tee(this.T32); c.i32(0xff); c.op(Op.i32_and); c.i32(8); c.op(Op.i32_shl);
      c.get(this.T32); c.i32(8); c.op(Op.i32_shr_u); c.i32(0xff); c.op(Op.i32_and); c.op(Op.i32_or);
      c.op(Op.i64_extend_i32_u);
    } else if (size === 4) {
      c.get(d); c.op(Op.i32_wrap_i64); this.bswap32(); c.op(Op.i64_extend_i32_u);
    } else {
      c.get(d); c.op(Op.i32_wrap_i64); this.bswap32(); c.op(Op.i64_extend_i32_u); c.i64s(32); c.op(Op.i64_shl);
      c.get(d); c.i64s(32); c.op(Op.i64_shr_u); c.op(Op.i32_wrap_i64); this.bswap32(); c.op(Op.i64_extend_i32_u);
      c.op(Op.i64_or);
    }
    c.set(d);
  }

  /** Constant offset folded into the memarg (unchecked, non-negative offsets). */
  private memOffset(off: number): number {
    return !this.opts.checked && off > 0 ? off : 0;
  }

  /**
   * Push the i32 address of base + off for an access of `size` bytes. Checked
   * mode tests it against the cached region first (and calls the host on a
   * miss); unchecked mode folds a non-negative offset into the memarg.
   */
  private address(base: number, off: number, size: number, write: boolean, pc: number): void {
    const c = this.code;
    if (!this.opts.checked) {
      c.get(base); c.op(Op.i32_wrap_i64);
      if (off < 0) { c.i32(off); c.op(Op.i32_add); }
      return;
    }
    const A = this.A;
    c.get(base);
    if (off !== 0) { c.i64s(off); c.op(Op.i64_add); }
    c.set(A);
    // ok = base < 2^32 && A >= rs && A + size <= re (&& writable)
    c.get(base); c.i64s(32); c.op(Op.i64_shr_u); c.op(Op.i64_eqz);
    c.get(A); c.get(this.RS); c.op(Op.i64_ge_s); c.op(Op.i32_and);
    c.get(A); c.i64s(size); c.op(Op.i64_add); c.get(this.RE); c.op(Op.i64_le_s); c.op(Op.i32_and);
    if (write) { c.get(this.RW); c.op(Op.i32_and); }
    c.op(Op.i32_eqz);
    c.if();
    c.i32(pc); c.get(base); c.op(Op.i32_wrap_i64); c.get(base); c.i64s(32); c.op(Op.i64_shr_u); c.op(Op.i32_wrap_i64);
    c.get(DEPTH);
    c.call(F_MEMSLOW);
    c.gget(G_SCRATCH); c.mem(Op.i64_load, 3, SCRATCH.REGION_START); c.set(this.RS);
    c.gget(G_SCRATCH); c.mem(Op.i64_load, 3, SCRATCH.REGION_END); c.set(this.RE);
    c.gget(G_SCRATCH); c.mem(Op.i32_load, 2, SCRATCH.REGION_WRITABLE); c.set(this.RW);
    c.end();
    c.get(A); c.op(Op.i32_wrap_i64);
  }

  private atomic(x: Instruction, d: number, s: number, pc: number): void {
    const c = this.code;
    const size = x.op.size;
    const a = x.op.atomic!;
    this.address(d, x.off, size, true, pc);
    if (!this.opts.checked && x.off > 0) { c.i32(x.off); c.op(Op.i32_add); }
    c.set(this.T32B); // the address
    if (this.opts.shared) {
      c.get(this.T32B); c.i32(size - 1); c.op(Op.i32_and);
      c.if(); c.i32(FaultKind.MISALIGNED); c.i32(pc); c.get(this.T32B); c.i32(size); c.call(F_FAULT); c.op(Op.unreachable); c.end();
      this.atomicReal(size, a, s);
    } else {
      this.atomicPlain(size, a, s);
    }
  }

  /** Read-modify-write with plain loads and stores (unshared memory: nothing runs concurrently). Address in T32B. */
  private atomicPlain(size: number, a: string, s: number): void {
    const c = this.code;
    const T = this.T64;
    const addr = this.T32B;
    const [ld, la] = LOAD[size]!;
    const [st, sa] = STORE[size]!;
    c.get(addr); c.mem(ld, la); c.set(T); // old (zero-extended for 32-bit)
    if (a === 'cmpxchg') {
      // compare the low `size` bytes of R0 with old
      c.get(T);
      c.get(0);
      if (size === 4) { c.i64(0xffffffff, 0); c.op(Op.i64_and); }
      c.op(Op.i64_eq);
      c.if(); c.get(addr); c.get(s); c.mem(st, sa); c.end();
      c.get(T); c.set(0);
      return;
    }
    const op = a.replace('fetch ', '');
    c.get(addr);
    if (op === 'xchg') c.get(s);
    else { c.get(T); c.get(s); c.op(op === 'add' ? Op.i64_add : op === 'or' ? Op.i64_or : op === 'and' ? Op.i64_and : Op.i64_xor); }
    c.mem(st, sa);
    if (a.startsWith('fetch') || a === 'xchg') { c.get(T); c.set(s); }
  }

  /** Wasm threads atomics (shared memory, naturally aligned address in T32B). */
  private atomicReal(size: number, a: string, s: number): void {
    const c = this.code;
    const addr = this.T32B;
    const w = size === 4;
    const align = w ? 2 : 3;
    const val = (r: number): void => { c.get(r); if (w) c.op(Op.i32_wrap_i64); };
    const ext = (): void => { if (w) c.op(Op.i64_extend_i32_u); };
    if (a === 'cmpxchg') {
      c.get(addr); val(0); val(s);
      c.atomic(w ? AtomicOp.i32_rmw_cmpxchg : AtomicOp.i64_rmw_cmpxchg, align);
      ext(); c.set(0);
      return;
    }
    const op = a.replace('fetch ', '');
    const table: Record<string, [AtomicOp, AtomicOp]> = {
      add: [AtomicOp.i32_rmw_add, AtomicOp.i64_rmw_add], or: [AtomicOp.i32_rmw_or, AtomicOp.i64_rmw_or],
      and: [AtomicOp.i32_rmw_and, AtomicOp.i64_rmw_and], xor: [AtomicOp.i32_rmw_xor, AtomicOp.i64_rmw_xor],
      xchg: [AtomicOp.i32_rmw_xchg, AtomicOp.i64_rmw_xchg],
    };
    c.get(addr); val(s);
    c.atomic(table[op]![w ? 0 : 1], align);
    if (a.startsWith('fetch') || a === 'xchg') { ext(); c.set(s); } else c.op(Op.drop);
  }

  /** LD_ABS / LD_IND: R0 = big-endian load from the packet; out of range ends the program with R0 = 0. */
  private ldPacket(x: Instruction, s: number, pc: number, after: number): void {
    const c = this.code;
    const size = x.op.size;
    const off = this.T32;
    if (x.op.kind === 'ld_ind') { c.get(s); c.op(Op.i32_wrap_i64); c.i32(x.imm); c.op(Op.i32_add); } else c.i32(x.imm);
    c.tee(off); c.i32(0); c.op(Op.i32_lt_s);
    c.get(off); c.gget(G_PKTLEN); c.i32(size); c.op(Op.i32_sub); c.op(Op.i32_gt_s);
    c.op(Op.i32_or);
    c.if();
    c.i32(pc); c.get(FUEL); c.i32(after); c.op(Op.i32_add); c.call(F_STOP0); c.op(Op.unreachable);
    c.end();
    c.gget(G_PKTSTART); c.get(off); c.op(Op.i32_add);
    if (size === 1) {
      c.mem(Op.i64_load8_u, 0);
    } else if (size === 2) {
      c.mem(Op.i32_load16_u, 0); c.tee(off); c.i32(8); c.op(Op.i32_shr_u);
      c.get(off); c.i32(0xff); c.op(Op.i32_and); c.i32(8); c.op(Op.i32_shl); c.op(Op.i32_or);
      c.op(Op.i64_extend_i32_u);
    } else {
      c.mem(Op.i32_load, 0); this.bswap32(); c.op(Op.i64_extend_i32_u);
    }
    c.set(0);
  }

  /** Condition of a conditional jump, as an i32 on the stack. */
  private cond(x: Instruction, d: number, s: number): void {
    const c = this.code;
    const o = x.op;
    if (o.is64) {
      c.get(d);
      if (o.srcReg) c.get(s); else c.i64s(x.imm);
      c.op(CMP64[o.jmp!]);
      if (o.jmp === 'jset') { c.i64s(0); c.op(Op.i64_ne); }
    } else {
      c.get(d); c.op(Op.i32_wrap_i64);
      if (o.srcReg) { c.get(s); c.op(Op.i32_wrap_i64); } else c.i32(x.imm);
      c.op(CMP32[o.jmp!]);
    }
  }

  private exit(pc: number): void {
    const c = this.code;
    c.get(FUEL); c.i32(0); c.op(Op.i32_lt_s);
    c.if(); this.fault(FaultKind.BUDGET, pc); c.end();
    for (let r = 0; r <= 5; r++) c.get(r);
    c.get(FUEL);
    c.op(Op.return);
  }

  /** Helper call: helper `id`, or (idLocal >= 0) the id in that i32 local. Arguments go through the scratch area. */
  private helperCall(pc: number, id: number, idLocal: number): void {
    const c = this.code;
    if (id === 1 && idLocal < 0 && this.fLookup >= 0) {
      // Inline lookup; -1 means the host decides (see maplookup.ts).
      c.get(1); c.get(2);
      if (this.opts.checked) { c.get(this.RS); c.get(this.RE); } else { c.i64s(0); c.i64s(0); }
      c.call(this.fLookup);
      c.tee(this.T64); c.i64s(-1); c.op(Op.i64_ne);
      c.if(); c.get(this.T64); c.set(0);
      c.else(); this.helperCallHost(pc, id, idLocal);
      c.end();
      return;
    }
    this.helperCallHost(pc, id, idLocal);
  }

  private helperCallHost(pc: number, id: number, idLocal: number): void {
    const c = this.code;
    if (this.opts.helperAbi === 'scratch') {
      for (let r = 1; r <= 5; r++) { c.gget(G_SCRATCH); c.get(r); c.mem(Op.i64_store, 3, SCRATCH.ARGS + (r - 1) * 8); }
    } else {
      for (let r = 1; r <= 5; r++) c.get(r);
    }
    // bpf_tail_call may return from the calling function (a tail call made in a
    // bpf-to-bpf subprogram): the host reads the depth and raises the RET flag.
    const mayReturn = id === 12 || idLocal >= 0;
    if (mayReturn) { c.gget(G_SCRATCH); c.get(DEPTH); c.mem(Op.i32_store, 2, SCRATCH.CALL_DEPTH); }
    if (idLocal >= 0) c.get(idLocal); else c.i32(id);
    c.i32(pc); c.get(FUEL);
    c.call(F_HELPER);
    if (this.opts.helperAbi === 'scratch') { c.gget(G_SCRATCH); c.mem(Op.i64_load, 3, SCRATCH.R0); }
    c.set(0);
    if (mayReturn) {
      c.gget(G_SCRATCH); c.mem(Op.i32_load, 2, SCRATCH.RET);
      c.if();
      c.gget(G_SCRATCH); c.i32(0); c.mem(Op.i32_store, 2, SCRATCH.RET);
      this.exit(pc);
      c.end();
    }
  }


  /** bpf-to-bpf call of function `fn` (-1: the target slot `t` is not an instruction). */
  private localCall(pc: number, fn: number, t: number): void {
    const c = this.code;
    c.get(DEPTH); c.i32(MAX_CALL_FRAMES - 1); c.op(Op.i32_eq);
    c.if(); this.fault(FaultKind.CALL_DEPTH, pc); c.end();
    if (fn < 0) { this.fault(FaultKind.JUMP, pc, t); return; }
    for (let r = 0; r <= 9; r++) c.get(r);
    c.get(DEPTH); c.i32(1); c.op(Op.i32_add);
    c.get(FUEL);
    c.call(fn);
    c.set(FUEL);
    for (let r = 5; r >= 0; r--) c.set(r);
  }

  /** callx: a code address (CODE_ADDR_TAG:slot) calls that function, a small non-negative value is a helper id. */
  private callx(pc: number, r: number): void {
    const c = this.code;
    const lo = this.T32B;
    c.get(r); c.op(Op.i32_wrap_i64); c.set(lo);
    c.get(r); c.i64s(32); c.op(Op.i64_shr_u); c.op(Op.i32_wrap_i64); c.tee(this.T32);
    c.i32(CODE_ADDR_TAG); c.op(Op.i32_eq);
    c.if();
    {
      // Chain of tests over the known entries; anything else is reported by the host.
      let opened = 0;
      for (const e of this.cfg.entries) {
        c.get(lo); c.i32(this.cfg.slot[e]!); c.op(Op.i32_eq);
        c.if();
        this.localCall(pc, this.fnIndex.get(e)!, 0);
        c.else();
        opened++;
      }
      c.i32(FaultKind.CALLX); c.i32(pc); c.get(lo); c.get(this.T32); c.call(F_FAULT); c.op(Op.unreachable);
      for (let k = 0; k < opened; k++) c.end();
    }
    c.else();
    c.get(this.T32); c.op(Op.i32_eqz); c.get(lo); c.i32(0); c.op(Op.i32_ge_s); c.op(Op.i32_and);
    c.if();
    this.helperCall(pc, 0, lo);
    c.else();
    c.i32(FaultKind.CALLX); c.i32(pc); c.get(lo); c.get(this.T32); c.call(F_FAULT); c.op(Op.unreachable);
    c.end();
    c.end();
  }
}

