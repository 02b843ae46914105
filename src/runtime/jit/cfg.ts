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
  if (n === 0) {
    // Nothing to run: the interpreter falls off the end at once.
    const blocks: BasicBlock[] = [{ id: 0, first: -1, last: -1, succ: [], fault: { kind: 'falloff', pc: 0 } }];
    return { insns, slot, slots, insnAt: Int32Array.of(-1), blocks, blockOf: Int32Array.of(0), entries: [0] };
  }
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
  const blocks = cfg.blocks;
  const start = cfg.blockOf[entry]!;

  // One iterative DFS: preorder numbers (for the dominator algorithm), DFS
  // tree parents, and postorder (reversed: the emission order).
  const dfn = new Int32Array(nb).fill(-1); // block -> preorder number
  const vertex: number[] = []; // preorder number -> block
  const parent: number[] = []; // preorder number -> parent's preorder number
  const post: number[] = [];
  const stack: number[] = [start];
  const next: number[] = [0];
  dfn[start] = 0;
  vertex.push(start);
  parent.push(-1);
  while (stack.length) {
    const top = stack.length - 1;
    const b = stack[top]!;
    const succ = blocks[b]!.succ;
    const k = next[top]!;
    if (k < succ.length) {
      next[top] = k + 1;
      const t = succ[k]!;
      if (dfn[t] === -1) {
        dfn[t] = vertex.length;
        vertex.push(t);
        parent.push(dfn[b]!);
        stack.push(t);
        next.push(0);
      }
    } else {
      post.push(b);
      stack.pop();
      next.pop();
    }
  }
  const rpo = post.reverse();
  const order = new Int32Array(nb).fill(-1);
  for (let i = 0; i < rpo.length; i++) order[rpo[i]!] = i;
  const n = vertex.length;

  // Predecessors (as preorder numbers) in compressed rows.
  const predStart = new Int32Array(n + 1);
  for (let v = 0; v < n; v++) for (const t of blocks[vertex[v]!]!.succ) predStart[dfn[t]! + 1]++;
  for (let i = 0; i < n; i++) predStart[i + 1] += predStart[i]!;
  const pred = new Int32Array(predStart[n]!);
  const fill = predStart.slice(0, n);
  for (let v = 0; v < n; v++) for (const t of blocks[vertex[v]!]!.succ) pred[fill[dfn[t]!]!++] = v;

  // Dominators: Lengauer and Tarjan, "A fast algorithm for finding dominators
  // in a flowgraph" (1979), simple version with path compression; all in
  // preorder numbers. Near-linear even where the iterative algorithm is
  // quadratic (long chains of blocks that all merge further down).
  const semi = new Int32Array(n);
  const idomN = new Int32Array(n);
  const ancestor = new Int32Array(n).fill(-1);
  const label = new Int32Array(n);
  const bucketHead = new Int32Array(n).fill(-1);
  const bucketNext = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) { semi[i] = i; label[i] = i; }
  const path: number[] = [];
  const evalNode = (v: number): number => {
    if (ancestor[v] === -1) return v;
    let x = v;
    while (ancestor[ancestor[x]!] !== -1) { path.push(x); x = ancestor[x]!; }
    while (path.length) {
      const y = path.pop()!;
      const a = ancestor[y]!;
      if (semi[label[a]!]! < semi[label[y]!]!) label[y] = label[a]!;
      ancestor[y] = ancestor[a]!;
    }
    return label[v]!;
  };
  for (let w = n - 1; w > 0; w--) {
    for (let k = predStart[w]!; k < predStart[w + 1]!; k++) {
      const u = evalNode(pred[k]!);
      if (semi[u]! < semi[w]!) semi[w] = semi[u]!;
    }
    const sw = semi[w]!;
    bucketNext[w] = bucketHead[sw]!;
    bucketHead[sw] = w;
    const pw = parent[w]!;
    ancestor[w] = pw;
    for (let v = bucketHead[pw]!; v !== -1; v = bucketNext[v]!) {
      const u = evalNode(v);
      idomN[v] = semi[u]! < semi[v]! ? u : pw;
    }
    bucketHead[pw] = -1;
  }
  for (let w = 1; w < n; w++) if (idomN[w] !== semi[w]) idomN[w] = idomN[idomN[w]!]!;
  const idom = new Int32Array(nb).fill(-1);
  idom[start] = start;
  for (let w = 1; w < n; w++) idom[vertex[w]!] = vertex[idomN[w]!]!;

  // Dominator-tree intervals, so "a dominates b" is two comparisons.
  const kidStart = new Int32Array(n + 1);
  for (let w = 1; w < n; w++) kidStart[idomN[w]! + 1]++;
  for (let i = 0; i < n; i++) kidStart[i + 1] += kidStart[i]!;
  const kids = new Int32Array(Math.max(0, n - 1));
  const kfill = kidStart.slice(0, n);
  for (let w = 1; w < n; w++) kids[kfill[idomN[w]!]!++] = w;
  const tin = new Int32Array(n);
  const tout = new Int32Array(n);
  let clock = 0;
  const ts: number[] = [0];
  const tk: number[] = [kidStart[0]!];
  tin[0] = clock++;
  while (ts.length) {
    const top = ts.length - 1;
    const v = ts[top]!;
    const k = tk[top]!;
    if (k < kidStart[v + 1]!) {
      tk[top] = k + 1;
      const c = kids[k]!;
      tin[c] = clock++;
      ts.push(c);
      tk.push(kidStart[c]!);
    } else {
      tout[v] = clock++;
      ts.pop();
      tk.pop();
    }
  }
  const dominates = (a: number, b: number): boolean => {
    const x = dfn[a]!, y = dfn[b]!;
    return tin[x]! <= tin[y]! && tout[y]! <= tout[x]!;
  };

  let reducible = true;
  const loopHeader = new Uint8Array(nb);
  const merge = new Uint8Array(nb);
  const fwdIn = new Int32Array(nb);
  for (const b of rpo) {
    for (const t of blocks[b]!.succ) {
      if (order[t]! <= order[b]!) {
        loopHeader[t] = 1;
        if (!dominates(t, b)) reducible = false;
      } else {
        fwdIn[t]++;
      }
    }
  }
  for (const b of rpo) if (fwdIn[b]! >= 2) merge[b] = 1;
  return { entry, rpo, order, idom, reducible, loopHeader, merge };
}
