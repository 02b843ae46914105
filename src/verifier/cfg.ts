// Structure pass: the control-flow graph over instruction slots, the
// subprograms (every bpf-to-bpf call target and every function pointer
// starts one), and the structural checks the kernel makes before it
// interprets anything: jumps in range and not into the second slot of an
// LD_IMM64, no fall-through past the end of a subprogram, every instruction
// reachable, a call graph without recursion and at most 8 frames deep, valid
// encodings, and a program no longer than the kernel allows.
//
// Everything is indexed by slot (an LD_IMM64 takes two), as the kernel's log
// numbers instructions.

import { VerifierError } from '../errors.js';
import { type Instruction, width } from '../isa/instruction.js';
import { type OpSpec, reservedFieldSet } from '../isa/table.js';
import { BPF_PSEUDO_FUNC, MAX_CALL_FRAMES } from '../isa/opcodes.js';

/** Largest program the kernel loads for a privileged user (BPF_COMPLEXITY_LIMIT_INSNS). */
export const MAX_INSNS_PRIVILEGED = 1_000_000;
/** Largest program for an unprivileged user (BPF_MAXINSNS). */
export const MAX_INSNS_UNPRIVILEGED = 4096;

export interface Subprog {
  /** Position in `Cfg.subprogs` (0 is the main program). */
  readonly index: number;
  /** First slot. */
  readonly start: number;
  /** One past the last slot. */
  readonly end: number;
  /** Subprograms called directly (call_local) from this one. */
  readonly calls: Set<number>;
  /** Subprograms whose address this one takes (LD_IMM64 src=4: callbacks). */
  readonly funcRefs: Set<number>;
}

export interface Cfg {
  readonly insns: readonly Instruction[];
  /** Number of slots. */
  readonly nslots: number;
  /** Instruction starting at each slot (undefined for the second slot of an LD_IMM64). */
  readonly at: readonly (Instruction | undefined)[];
  /** Slot of each instruction (by position in `insns`). */
  readonly slotOf: Int32Array;
  readonly subprogs: readonly Subprog[];
  /** Subprogram index of each slot. */
  readonly subprogAt: Int32Array;
  /** Slots where the verifier may compare states (jump targets, after conditional jumps and calls). */
  readonly prunePoint: Uint8Array;
  /** Slots that are targets of a back-edge (loop heads). */
  readonly loopHead: Uint8Array;
  /** Successor slots within the subprogram (calls fall through; their targets are subprogram entries). */
  succ(slot: number): number[];
  /** Subprogram starting at the slot, or -1. */
  subprogStarting(slot: number): number;
}

export interface CfgOptions {
  readonly unprivileged?: boolean;
  /** Override the instruction-count limit (default: 1,000,000, or 4096 when unprivileged). */
  readonly maxInsns?: number;
}

const RESERVED = new Map<OpSpec, readonly ('dst' | 'src' | 'off' | 'imm')[]>();

/** The first reserved field of an instruction that is not zero. */
function reservedOf(x: Instruction): 'dst' | 'src' | 'off' | 'imm' | undefined {
  let r = RESERVED.get(x.op);
  if (!r) {
    r = (['dst', 'src', 'off', 'imm'] as const).filter((f) =>
      reservedFieldSet(x.op, { opcode: x.op.opcode, dst: 0, src: 0, off: 0, imm: 0, [f]: 1 }) === f);
    RESERVED.set(x.op, r);
  }
  for (const f of r) if (x[f] !== 0) return f;
  return undefined;
}

/** A packed array (large `new Array(n)` gets slow dictionary elements in V8). */
export function denseArray<T>(n: number, v: T): T[] {
  const a: T[] = [];
  for (let i = 0; i < n; i++) a.push(v);
  return a;
}

function fail(code: string, msg: string, pc: number, hint?: string): never {
  throw new VerifierError(code, msg, pc, hint ? { hint } : {});
}

/** Target slot of a jump, call_local or LD_IMM64 src=4 at `slot`, or undefined. */
export function jumpTarget(x: Instruction, slot: number): number | undefined {
  switch (x.op.kind) {
    case 'ja': return slot + 1 + (x.op.is64 ? x.off : x.imm);
    case 'jcond': return slot + 1 + x.off;
    case 'call_local': return slot + 1 + x.imm;
    case 'ld_imm64': return x.src === BPF_PSEUDO_FUNC ? slot + 1 + x.imm : undefined;
    default: return undefined;
  }
}

export function buildCfg(insns: readonly Instruction[], opts: CfgOptions = {}): Cfg {
  if (insns.length === 0) fail('EMPTY', 'program has no instructions', -1);
  const n = insns.length;
  const slotOf = new Int32Array(n);
  let nslots = 0;
  for (let i = 0; i < n; i++) {
    slotOf[i] = nslots;
    nslots += width(insns[i]!);
  }
  const limit = opts.maxInsns ?? (opts.unprivileged ? MAX_INSNS_UNPRIVILEGED : MAX_INSNS_PRIVILEGED);
  if (nslots > limit) {
    fail('TOO_LARGE', `program of ${nslots} instructions is too large (limit ${limit})`, -1,
      'split the program with tail calls or bpf-to-bpf calls, or make the loop a bpf_loop() callback');
  }
  const at: (Instruction | undefined)[] = denseArray<Instruction | undefined>(nslots, undefined);
  for (let i = 0; i < n; i++) at[slotOf[i]!] = insns[i];

  // Encodings: reserved fields and register numbers (decode() checks these
  // too, but instructions may come from builders or a non-strict decode).
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const s = slotOf[i]!;
    const bad = reservedOf(x);
    if (bad) fail('RESERVED_FIELD', `${x.op.name} uses reserved fields (${bad} = ${x[bad]})`, s);
    if (x.dst > 10 || x.dst < 0) fail('BAD_REGISTER', `R${x.dst} is invalid`, s);
    if (x.src > 10 && x.op.kind !== 'ld_imm64' && x.op.discr?.field !== 'src') fail('BAD_REGISTER', `R${x.src} is invalid`, s);
    if (x.op.kind === 'ld_imm64' && x.src > 6) fail('BAD_LD_IMM64', 'invalid bpf_ld_imm64 insn', s);
    if (x.op.kind === 'ld_imm64' && x.src === 0 && x.op.operands.includes('src') === false) { /* unreachable */ }
  }

  // Subprograms: entries are slot 0 and every call_local / function-pointer target.
  const entries = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    if (x.op.kind !== 'call_local' && !(x.op.kind === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC)) continue;
    const s = slotOf[i]!;
    const t = jumpTarget(x, s)!;
    if (t < 0 || t >= nslots || at[t] === undefined) {
      fail('BAD_CALL_TARGET', x.op.kind === 'call_local' ? 'call to invalid destination' :
        `function pointer at insn ${s} points to invalid insn ${t}`, s);
    }
    entries.add(t);
  }
  const starts = [...entries].sort((a, b) => a - b);
  const subprogAt = new Int32Array(nslots);
  const subprogs: Subprog[] = starts.map((start, k) => {
    const end = k + 1 < starts.length ? starts[k + 1]! : nslots;
    for (let s = start; s < end; s++) subprogAt[s] = k;
    return { index: k, start, end, calls: new Set<number>(), funcRefs: new Set<number>() };
  });
  const subprogStart = new Map<number, number>(starts.map((s, k) => [s, k]));

  // Jumps stay inside their subprogram and land on an instruction.
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const s = slotOf[i]!;
    const sp = subprogs[subprogAt[s]!]!;
    if (x.op.kind === 'ja' || x.op.kind === 'jcond') {
      const t = jumpTarget(x, s)!;
      if (t < sp.start || t >= sp.end) fail('JUMP_OUT_OF_RANGE', `jump out of range from insn ${s} to ${t}`, s);
      if (at[t] === undefined) fail('JUMP_INTO_LDIMM64', `jump into the middle of ldimm64 insn ${t - 1}`, s);
    } else if (x.op.kind === 'call_local') {
      sp.calls.add(subprogStart.get(jumpTarget(x, s)!)!);
    } else if (x.op.kind === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC) {
      sp.funcRefs.add(subprogStart.get(jumpTarget(x, s)!)!);
    }
  }
  // Each subprogram ends with exit or an unconditional jump.
  for (const sp of subprogs) {
    let last = sp.end - 1;
    if (at[last] === undefined) last--;
    const x = at[last]!;
    if (x.op.kind !== 'exit' && x.op.kind !== 'ja') {
      fail('FALL_THROUGH', 'last insn is not an exit or jmp', last,
        'every path must end with `exit` (return); a subprogram cannot run into the next one');
    }
  }

  const succ = (slot: number): number[] => {
    const x = at[slot]!;
    const next = slot + width(x);
    switch (x.op.kind) {
      case 'exit': return [];
      case 'ja': return [jumpTarget(x, slot)!];
      case 'jcond': {
        const t = jumpTarget(x, slot)!;
        return t === next ? [next] : [next, t];
      }
      default: return [next];
    }
  };

  // Depth-first walk of each subprogram from its entry: reachability, back-edges.
  const prunePoint = new Uint8Array(nslots);
  const loopHead = new Uint8Array(nslots);
  const color = new Uint8Array(nslots); // 0 white, 1 on the DFS stack, 2 done
  const reached = new Uint8Array(nslots);
  const nextSucc = new Uint8Array(nslots);
  const stk = new Int32Array(nslots + 1);
  const spReached = new Uint8Array(subprogs.length);
  const spQueue: number[] = [0];
  spReached[0] = 1;
  /** k-th successor of a slot (0 or 1), or -1. */
  const succK = (slot: number, k: number): number => {
    const x = at[slot]!;
    switch (x.op.kind) {
      case 'exit': return -1;
      case 'ja': return k === 0 ? jumpTarget(x, slot)! : -1;
      case 'jcond': {
        if (k === 0) return slot + 1;
        const t = jumpTarget(x, slot)!;
        return k === 1 && t !== slot + 1 ? t : -1;
      }
      default: return k === 0 ? slot + width(x) : -1;
    }
  };
  const firstVisit = (slot: number): void => {
    color[slot] = 1;
    reached[slot] = 1;
    const x = at[slot]!;
    const kind = x.op.kind;
    if (kind === 'call_local' || (kind === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC)) {
      const k = subprogStart.get(jumpTarget(x, slot)!)!;
      if (!spReached[k]) { spReached[k] = 1; spQueue.push(k); }
      prunePoint[slot + width(x)] = 1;
    } else if (kind === 'call' || kind === 'kfunc_call' || kind === 'callx') {
      prunePoint[slot + 1] = 1;
    } else if (kind === 'jcond') {
      prunePoint[slot + 1] = 1;
      prunePoint[jumpTarget(x, slot)!] = 1;
    } else if (kind === 'ja') {
      prunePoint[jumpTarget(x, slot)!] = 1;
    }
  };
  while (spQueue.length) {
    const sp = subprogs[spQueue.pop()!]!;
    let top = 0;
    stk[top++] = sp.start;
    firstVisit(sp.start);
    while (top > 0) {
      const slot = stk[top - 1]!;
      const t = succK(slot, nextSucc[slot]!);
      if (t < 0) {
        color[slot] = 2;
        top--;
        continue;
      }
      nextSucc[slot]!++;
      if (color[t] === 1) {
        if (opts.unprivileged) fail('BACK_EDGE', `back-edge from insn ${slot} to ${t}`, slot,
          'unprivileged programs cannot loop; unroll the loop');
        loopHead[t] = 1;
        prunePoint[t] = 1;
      } else if (color[t] === 0) {
        stk[top++] = t;
        firstVisit(t);
      }
    }
  }
  for (let s = 0; s < nslots; s++) {
    if (at[s] !== undefined && !reached[s]) {
      fail('UNREACHABLE', `unreachable insn ${s}`, s, 'remove the dead code (or the jump that skips it)');
    }
  }

  // Call graph: no recursion, at most MAX_CALL_FRAMES frames.
  const edges = (k: number): number[] => [...subprogs[k]!.calls, ...subprogs[k]!.funcRefs];
  const depth = new Int32Array(subprogs.length).fill(-1); // frames needed from here (memoised)
  const onStack = new Uint8Array(subprogs.length);
  const callSite = (from: number, to: number): number => {
    const sp = subprogs[from]!;
    for (let s = sp.start; s < sp.end; s++) {
      const x = at[s];
      if (x && (x.op.kind === 'call_local' || (x.op.kind === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC)) &&
        jumpTarget(x, s) === subprogs[to]!.start) return s;
    }
    return sp.start;
  };
  const frames = (k: number): number => {
    if (depth[k]! >= 0) return depth[k]!;
    onStack[k] = 1;
    let d = 0;
    for (const c of edges(k)) {
      if (onStack[c]) {
        fail('RECURSION', `recursive call from insn ${callSite(k, c)} to the subprogram at insn ${subprogs[c]!.start}`,
          callSite(k, c), 'eBPF has no recursion: rewrite it as a bounded loop');
      }
      d = Math.max(d, frames(c));
    }
    onStack[k] = 0;
    depth[k] = d + 1;
    return d + 1;
  };
  const total = frames(0);
  if (total > MAX_CALL_FRAMES) {
    fail('CALL_TOO_DEEP', `the call stack of ${total} frames is too deep`, 0,
      `at most ${MAX_CALL_FRAMES} frames: inline some of the functions`);
  }

  return {
    insns, nslots, at, slotOf, subprogs, subprogAt, prunePoint, loopHead, succ,
    subprogStarting: (slot) => subprogStart.get(slot) ?? -1,
  };
}

/** Registers read (`use`) and written (`def`) by an instruction, as bit masks of r0..r10. */
export function useDef(x: Instruction, helperArgs: (id: number) => number): { use: number; def: number } {
  const b = (r: number): number => 1 << r;
  const ARGS = 0b111110; // r1..r5
  const CALLER_SAVED = 0b111111; // r0..r5
  switch (x.op.kind) {
    case 'alu': return { use: b(x.dst) | (x.op.srcReg ? b(x.src) : 0), def: b(x.dst) };
    case 'mov': return { use: x.op.srcReg ? b(x.src) : 0, def: b(x.dst) };
    case 'movsx': return { use: b(x.src), def: b(x.dst) };
    case 'neg': case 'endian': return { use: b(x.dst), def: b(x.dst) };
    case 'ld_imm64': return { use: 0, def: b(x.dst) };
    case 'ldx': case 'ldsx': return { use: b(x.src), def: b(x.dst) };
    case 'st': return { use: b(x.dst), def: 0 };
    case 'stx': return { use: b(x.dst) | b(x.src), def: 0 };
    case 'atomic': {
      const a = x.op.atomic!;
      if (a === 'cmpxchg') return { use: b(x.dst) | b(x.src) | b(0), def: b(0) };
      return { use: b(x.dst) | b(x.src), def: a.startsWith('fetch') || a === 'xchg' ? b(x.src) : 0 };
    }
    case 'ld_abs': return { use: b(6), def: CALLER_SAVED };
    case 'ld_ind': return { use: b(6) | b(x.src), def: CALLER_SAVED };
    case 'ja': return { use: 0, def: 0 };
    case 'jcond': return { use: b(x.dst) | (x.op.srcReg ? b(x.src) : 0), def: 0 };
    case 'call': {
      const n = helperArgs(x.imm);
      return { use: ((1 << (n + 1)) - 1) & ARGS, def: CALLER_SAVED };
    }
    case 'call_local': case 'kfunc_call': return { use: ARGS, def: CALLER_SAVED };
    case 'callx': return { use: ARGS | b(x.dst), def: CALLER_SAVED };
    case 'exit': return { use: b(0), def: 0 };
  }
}

/**
 * Registers live before each slot: read on some path before being written.
 * A state comparison may ignore the dead ones (the kernel does the same).
 */
export function liveness(cfg: Cfg, helperArgs: (id: number) => number): Uint16Array {
  const live = new Uint16Array(cfg.nslots);
  const ud = denseArray<{ use: number; def: number } | undefined>(cfg.nslots, undefined);
  const succs = denseArray<number[]>(cfg.nslots, []);
  for (let s = 0; s < cfg.nslots; s++) {
    const x = cfg.at[s];
    if (!x) continue;
    ud[s] = useDef(x, helperArgs);
    succs[s] = cfg.succ(s);
  }
  // Iterate to a fixpoint, walking slots backwards (fast for forward code).
  let changed = true;
  while (changed) {
    changed = false;
    for (let s = cfg.nslots - 1; s >= 0; s--) {
      const u = ud[s];
      if (!u) continue;
      let out = 0;
      for (const t of succs[s]!) out |= live[t]!;
      const inn = (u.use | (out & ~u.def)) & 0x3ff;
      if (inn !== live[s]) { live[s] = inn; changed = true; }
    }
  }
  return live;
}
