// Control-flow analysis for the JIT: basic blocks, functions, reverse
// postorder, dominators, loops, and whether a function's graph is reducible.
//
// Functions are found the way the interpreter runs code: it has no notion of
// function boundaries, only a dynamic call stack. So a function is "every
// block reachable from an entry by jumps and fall-through" (calls fall through
// to the next instruction). Entries are slot 0, every `call` target and every
// `lddw rX, func` target. A block reachable from two entries is compiled into
// both functions; for programs as compilers emit them the sets are disjoint.
//
// Jumps to a slot that is not an instruction start, and falling off the end
// of the program, lead to "fault blocks": nodes without instructions whose
// code reports the same RuntimeFault as the interpreter.

import type { Instruction } from '../../isa/instruction.js';
import { slotIndices } from '../../isa/instruction.js';
import { BPF_PSEUDO_FUNC } from '../../isa/opcodes.js';

export interface BasicBlock {
  readonly id: number;
  /** First and last instruction index (inclusive); -1 for fault blocks. */
  readonly first: number;
  readonly last: number;
  /** Successors: [fall/jump] or [taken, fall-through] for a conditional jump; [] for exit and faults. */
  readonly succ: number[];
  /** Fault blocks: what to report. */
  readonly fault?: { readonly kind: 'jump'; readonly from: number; readonly target: number } | { readonly kind: 'falloff'; readonly pc: number };
}

export interface ProgramCfg {
  readonly insns: readonly Instruction[];
  /** Slot of each instruction, plus the slot count at the end. */
  readonly slot: readonly number[];
  readonly slots: number;
  /** Instruction index starting at each slot, -1 where none starts. */
  readonly insnAt: Int32Array;
  readonly blocks: readonly BasicBlock[];
  /** Block of each instruction. */
  readonly blockOf: Int32Array;
  /** Function entries (instruction indices), entry 0 first. */
  readonly entries: readonly number[];
}

/** Valid target instruction of a jump from slot `from` by `off`, or -1. */
function targetOf(cfg: { insnAt: Int32Array; slots: number }, from: number, off: number): number {
  const t = from + 1 + off;
  return t >= 0 && t < cfg.slots ? cfg.insnAt[t]! : -1;
}

export function buildCfg(insns: readonly Instruction[]): ProgramCfg {
  const slot = slotIndices(insns);
  const slots = slot[insns.length]!;
  const n = insns.length;
  const insnAt = new Int32Array(slots + 1).fill(-1);
  for (let i = 0; i < n; i++) insnAt[slot[i]!] = i;
  const base = { insnAt, slots };

  // Leaders.
  const leader = new Uint8Array(n + 1);
  leader[0] = 1;
  const entrySet = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const k = x.op.kind;
    const s = slot[i]!;
    if (k === 'ja' || k === 'jcond') {
      const t = targetOf(base, s, k === 'ja' && !x.op.is64 ? x.imm : x.off);
      if (t >= 0) leader[t] = 1;
      leader[i + 1] = 1;
    } else if (k === 'exit' || k === 'call' || k === 'callx' || k === 'kfunc_call') {
      leader[i + 1] = 1;
    } else if (k === 'call_local') {
      const t = targetOf(base, s, x.imm);
      if (t >= 0) { leader[t] = 1; entrySet.add(t); }
      leader[i + 1] = 1;
    } else if (k === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC) {
      const t = targetOf(base, s, x.imm);
      if (t >= 0) { leader[t] = 1; entrySet.add(t); }
    }
  }

  const blocks: BasicBlock[] = [];
  const blockOf = new Int32Array(n).fill(-1);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && !leader[j + 1]) j++;
    const id = blocks.length;
    blocks.push({ id, first: i, last: j, succ: [] });
    for (let k = i; k <= j; k++) blockOf[k] = id;
    i = j + 1;
  }
  const faultBlocks = new Map<string, number>();
  const faultBlock = (key: string, fault: NonNullable<BasicBlock['fault']>): number => {
    let id = faultBlocks.get(key);
    if (id === undefined) {
      id = blocks.length;
      blocks.push({ id, first: -1, last: -1, succ: [], fault });
      faultBlocks.set(key, id);
    }
    return id;
  };
  const jumpTo = (from: number, off: number): number => {
    const t = targetOf(base, slot[from]!, off);
    if (t >= 0) return blockOf[t]!;
    const target = slot[from]! + 1 + off;
    return faultBlock(`j${slot[from]}:${target}`, { kind: 'jump', from: slot[from]!, target });
  };
  const fallFrom = (i: number): number =>
    i + 1 < n ? blockOf[i + 1]! : faultBlock('end', { kind: 'falloff', pc: slot[n - 1]! });

  const nReal = blocks.length;
  for (let b = 0; b < nReal; b++) {
    const blk = blocks[b]!;
    const x = insns[blk.last]!;
    const k = x.op.kind;
    if (k === 'exit') continue;
    if (k === 'ja') blk.succ.push(jumpTo(blk.last, x.op.is64 ? x.off : x.imm));
    else if (k === 'jcond') blk.succ.push(jumpTo(blk.last, x.off), fallFrom(blk.last));
    else blk.succ.push(fallFrom(blk.last));
  }
  const entries = [...entrySet].sort((a, b) => a - b);
  return { insns, slot, slots, insnAt, blocks, blockOf, entries };
}

/** The graph of one function, ready for structuring. Node ids are block ids. */
export interface FunctionGraph {
  /** Entry instruction index. */
  readonly entry: number;
  /** Blocks in reverse postorder; rpo[0] is the entry block. */
  readonly rpo: readonly number[];
  /** Position in `rpo` of each block id (-1 when not in this function). */
  readonly order: Int32Array;
  /** Immediate dominator (block id) of each block of the function; entry -> itself. */
  readonly idom: Int32Array;
  /** True when every retreating edge goes to a block that dominates its source. */
  readonly reducible: boolean;
  /** Blocks that are the target of a back edge. */
  readonly loopHeader: Uint8Array;
  /** Blocks with two or more forward in-edges (counting parallel edges). */
  readonly merge: Uint8Array;
}

export function functionGraph(cfg: ProgramCfg, entry: number): FunctionGraph {
  const nb = cfg.blocks.length;
  const start = cfg.blockOf[entry]!;
  // Iterative DFS for postorder.
  const state = new Uint8Array(nb); // 0 new, 1 on stack, 2 done
  const post: number[] = [];
  const stack: number[] = [start];
  const next: number[] = [0];
  state[start] = 1;
  while (stack.length) {
    const top = stack.length - 1;
    const b = stack[top]!;
    const succ = cfg.blocks[b]!.succ;
    const k = next[top]!;
    if (k < succ.length) {
      next[top] = k + 1;
      const s = succ[k]!;
      if (state[s] === 0) {
        state[s] = 1;
        stack.push(s);
        next.push(0);
      }
    } else {
      state[b] = 2;
      post.push(b);
      stack.pop();
      next.pop();
    }
  }
  const rpo = post.reverse();
  const order = new Int32Array(nb).fill(-1);
  rpo.forEach((b, i) => { order[b] = i; });

  // Predecessors in compressed rows: preds of b are pred[predStart[b] .. predStart[b + 1]).
  const predStart = new Int32Array(nb + 1);
  for (const b of rpo) for (const s of cfg.blocks[b]!.succ) predStart[s + 1]++;
  for (let i = 0; i < nb; i++) predStart[i + 1] += predStart[i]!;
  const pred = new Int32Array(predStart[nb]!);
  const fill = predStart.slice(0, nb);
  for (const b of rpo) for (const s of cfg.blocks[b]!.succ) pred[fill[s]!++] = b;

  // Dominators (Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm").
  const idom = new Int32Array(nb).fill(-1);
  idom[start] = start;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (order[a]! > order[b]!) a = idom[a]!;
      while (order[b]! > order[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 1; i < rpo.length; i++) {
      const b = rpo[i]!;
      let d = -1;
      for (let k = predStart[b]!; k < predStart[b + 1]!; k++) {
        const p = pred[k]!;
        if (idom[p] === -1) continue;
        d = d === -1 ? p : intersect(p, d);
      }
      if (d !== idom[b]) { idom[b] = d; changed = true; }
    }
  }
  const dominates = (a: number, b: number): boolean => {
    for (;;) {
      if (a === b) return true;
      if (b === start) return false;
      b = idom[b]!;
    }
  };

  let reducible = true;
  const loopHeader = new Uint8Array(nb);
  const merge = new Uint8Array(nb);
  const fwdIn = new Int32Array(nb);
  for (const b of rpo) {
    for (const s of cfg.blocks[b]!.succ) {
      if (order[s]! <= order[b]!) {
        loopHeader[s] = 1;
        if (!dominates(s, b)) reducible = false;
      } else {
        fwdIn[s]++;
      }
    }
  }
  for (const b of rpo) if (fwdIn[b]! >= 2) merge[b] = 1;
  return { entry, rpo, order, idom, reducible, loopHeader, merge };
}
