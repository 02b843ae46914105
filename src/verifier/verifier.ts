// The verifier: abstract interpretation of every path of a program, as
// Documentation/bpf/verifier.rst describes the kernel's (reimplemented from
// that documentation, the tnum paper and experiments on Linux 6.18; no
// kernel code). Each path carries a state (state.ts); conditional jumps fork
// it; at prune points a state that an already verified state subsumes ends
// its path; loops are explored iteration by iteration until their state
// repeats or the path leaves them, within the kernel's budget of 1,000,000
// processed instructions.
//
// The result says whether the program is safe, why not (a VerifierError
// with the instruction, path, registers and a hint), a log in the kernel's
// format, and what the engines may rely on (`proof`).

import { type DecodeError, VerifierError, type VerifierPathStep } from '../errors.js';
import { type Instruction, decode, imm64 } from '../isa/instruction.js';
import { helperName } from '../isa/helper-names.js';
import {
  Scalar, scalarAlu, scalarNeg, scalarEndian, scalarSext, branchTaken, refine, U64_MAX,
} from './bounds.js';
import { type Cfg, buildCfg, denseArray, liveness, useDef } from './cfg.js';
import { type HelperProto, helperProto, helperArgCount, MAP_TYPE, READONLY_FROM_PROGS } from './helper-protos.js';
import { type ContextDescription, checkCtxAccess, progTypeContext } from './progtypes.js';
import {
  Reg, Frame, VState, type Checkpoint, type HistNode, type PathNode, type Spill, type RefEntry,
  NOT_INIT, SCALAR, PTR_CTX, PTR_STACK, MAP_PTR, MAP_VALUE, MAP_KEY, PKT, PKT_END, PKT_META, MEM, FUNC,
  STACK_INVALID, STACK_MISC, STACK_ZERO, STACK_SPILL, STACK_SIZE, SLOTS,
  REG_NOT_INIT, REG_UNKNOWN, constReg, scalarReg, statesSafe, pathToArray, typeName, isPointer, type CompareOptions,
} from './state.js';
import { formatFrame, formatKernelInsn, formatReg, insnLine, type MapDesc } from './log.js';

export interface MapInfo {
  /** enum bpf_map_type. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  readonly name?: string;
  /** Inner map of a map-in-map. */
  readonly inner?: MapInfo;
}

export interface FuncInfo {
  /** Slot of the function's first instruction. */
  readonly insn: number;
  readonly name: string;
}

export interface LineInfo {
  /** Slot of the first instruction of the line. */
  readonly insn: number;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** The source text of the line. */
  readonly text?: string;
}

export interface VerifyOptions {
  /** UAPI enum bpf_prog_type (ignored when `ctx` is given). */
  readonly progType: number;
  /** UAPI enum bpf_attach_type, for program types whose rules depend on it (cgroup_skb egress returns 0..3). */
  readonly expectedAttachType?: number;
  /** Maps: LD_IMM64 with src 1 (map) or 2 (map value) and imm = i refers to maps[i]. */
  readonly maps?: readonly MapInfo[];
  readonly funcs?: readonly FuncInfo[];
  readonly lineInfo?: readonly LineInfo[];
  /** 0: no log; 1: the failing path; 2: every instruction of every path. */
  readonly logLevel?: 0 | 1 | 2;
  /** The strict rules of an unprivileged loader (no pointer leaks, no uninitialised stack reads, no loops). */
  readonly unprivileged?: boolean;
  /** A host-defined hook's context (overrides the program type's). */
  readonly ctx?: ContextDescription;
  /** Extra helper prototypes (host-defined helpers, or overrides of the kernel's), by id. */
  readonly helpers?: readonly HelperProto[];
  /** Processed-instruction budget (default 1,000,000, the kernel's). */
  readonly maxProcessed?: number;
  /** Collect the per-instruction abstract states (for the playground and tests). */
  readonly collectStates?: boolean;
  /** Testing aid: explore every path without state pruning (exponential; for checking the pruning itself). */
  readonly noPrune?: boolean;
}

export interface VerifyStats {
  /** Instructions processed (the kernel's `processed N insns`). */
  readonly processed: number;
  readonly totalStates: number;
  readonly peakStates: number;
  readonly maxStatesPerInsn: number;
  /** Deepest stack use of each subprogram, in bytes. */
  readonly stackDepth: readonly number[];
  readonly timeMs: number;
}

/** What the verifier proved, for the engines (they never import the verifier). */
export interface Proof {
  /** The instruction at this slot was reached on some path. */
  visited(pc: number): boolean;
  /** A memory access at this slot still needs a run-time check (not proven, or never reached). */
  accessNeedsCheck(pc: number): boolean;
  /** Regions the memory access at this slot touched on the verified paths (`stack`, `ctx`, `map_value`, `pkt`, `mem`). */
  regions(pc: number): readonly string[];
  /** Value of the instruction's dst or src register before it runs, when it is the same constant on every path. */
  constantAt(pc: number, reg: number): bigint | undefined;
}

export interface InsnState {
  readonly pc: number;
  readonly insn: string;
  /** Each distinct state seen before the instruction (at most 8), registers and stack in kernel notation. */
  readonly states: ReadonlyArray<{ readonly frame: number; readonly regs: Record<string, string>; readonly stack: Record<string, string> }>;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly log: string;
  readonly stats: VerifyStats;
  readonly error?: VerifierError;
  readonly proof: Proof;
  /** Per-instruction abstract states (with `collectStates` or logLevel 2). */
  readonly states?: readonly InsnState[];
}

const MAX_VAR_OFF = 1 << 29;
const MAX_PACKET_OFF = 0xffff;
const COMPLEXITY_LIMIT = 1_000_000;
/** States kept per instruction for pruning. */
const MAX_STATES_PER_INSN = 64;
const BPF_MAX_VAR_SIZ = 1 << 29;
const SKB_TYPES = new Set([1, 3, 4, 8]);

/** A failure found while interpreting: thrown inside, turned into a VerifierError with context. */
class Reject {
  constructor(
    readonly code: string,
    readonly msg: string,
    readonly regs: number,
    readonly hint?: string,
  ) {}
}

function reject(code: string, msg: string, regs = 0, hint?: string): never {
  throw new Reject(code, msg, regs, hint);
}

interface Pending {
  st: VState;
  from: number;
  logLen: number;
  /** Level 1: the jump's line as the kernel leaves it when it resumes the other edge. */
  jumpLine?: string;
}

export function verify(insns: readonly Instruction[], opts: VerifyOptions): VerifyResult {
  return new Verifier(insns, opts).run();
}

/**
 * Verify raw bytecode (little-endian, 8 bytes a slot). Encodings the
 * decoder refuses (unknown opcodes, reserved fields, a broken LD_IMM64) are
 * verifier rejections too, at their slot.
 */
export function verifyBytes(bytes: Uint8Array, opts: VerifyOptions): VerifyResult {
  let insns: Instruction[];
  try {
    insns = decode(bytes, { strict: false });
  } catch (e) {
    if ((e as { name?: string }).name !== 'DecodeError') throw e;
    const d = e as DecodeError;
    const error = new VerifierError(d.code, d.message.replace(/^insn \d+: /, ''), d.index, {});
    const log = opts.logLevel ? `${error.reason}\nprocessed 0 insns (limit ${COMPLEXITY_LIMIT}) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n` : '';
    const proof: Proof = { visited: () => false, accessNeedsCheck: () => true, regions: () => [], constantAt: () => undefined };
    return { ok: false, log, error, proof, stats: { processed: 0, totalStates: 0, peakStates: 0, maxStatesPerInsn: 0, stackDepth: [], timeMs: 0 } };
  }
  return verify(insns, opts);
}

class Verifier {
  private readonly t0 = now();
  private cfg!: Cfg;
  private live!: Uint16Array;
  private readonly ctx: ContextDescription | undefined;
  private readonly maps: readonly MapInfo[];
  /** Index of each map's inner-map template (map-in-map), or -1. */
  private readonly innerOf: number[];
  private readonly level: number;
  private readonly unpriv: boolean;
  private readonly limit: number;
  private readonly lines: string[] = [];
  private readonly pending: Pending[] = [];
  private explored: (Checkpoint[] | undefined)[] = [];
  private processed = 0;
  private totalStates = 0;
  private curStates = 0;
  private peakStates = 0;
  private maxStatesPerInsn = 0;
  private idGen = 0;
  private visitedMask!: Uint8Array;
  private regionMask!: Uint8Array;
  private constDst!: (bigint | null | undefined)[];
  private constSrc!: (bigint | null | undefined)[];
  private stackDepth: number[] = [];
  private collected?: Map<number, InsnState['states'][number][]>;
  /** The state being interpreted (for error reports). */
  private cur: VState | null = null;
  private readonly cmpPrune: CompareOptions;
  private readonly cmpExact: CompareOptions;
  private readonly cmpAllPrecise: CompareOptions;
  /** Unprivileged mode: how each pointer-arithmetic instruction was first used (see sanitizeAlu). */
  private readonly aluSanitize = new Map<number, string>();
  /** The current instruction marked registers precise (the kernel's log then prints the effect on its own line). */
  private precisionWalked = false;
  /** The current jump's log line, not written yet (forks made now remember it). */
  private linePending: string | undefined;

  constructor(private readonly insns: readonly Instruction[], private readonly opts: VerifyOptions) {
    this.ctx = opts.ctx ?? progTypeContext(opts.progType, opts.expectedAttachType ?? 0);
    // Inner maps of map-in-maps get their own indexes after the program's maps.
    const maps = [...(opts.maps ?? [])];
    this.innerOf = maps.map((m) => {
      if (!m.inner) return -1;
      maps.push(m.inner);
      return maps.length - 1;
    });
    this.maps = maps;
    this.level = opts.logLevel ?? 0;
    this.unpriv = opts.unprivileged ?? false;
    this.limit = opts.maxProcessed ?? COMPLEXITY_LIMIT;
    if (opts.collectStates || this.level >= 2) this.collected = new Map();
    // Without privileges Linux keeps no precision marks: every scalar counts when comparing states.
    this.cmpPrune = { exact: false, allowUninitStack: !this.unpriv, ...(this.unpriv ? { allPrecise: true } : {}) };
    this.cmpExact = { exact: true, allowUninitStack: !this.unpriv };
    this.cmpAllPrecise = { exact: false, allowUninitStack: !this.unpriv, allPrecise: true };
  }

  private get progType(): number {
    return this.ctx?.progType ?? this.opts.progType;
  }

  private log(s: string): void {
    if (this.level > 0) this.lines.push(s);
  }

  run(): VerifyResult {
    let error: VerifierError | undefined;
    try {
      this.cfg = buildCfg(this.insns, { unprivileged: this.unpriv });
      const n = this.cfg.nslots;
      this.live = liveness(this.cfg, (id) => {
        const p = this.protoOf(id);
        if (!p) return helperArgCount(id);
        return Math.max(p.args.length, ...Object.values(p.argsByType ?? {}).map((a) => a.length));
      });
      this.explored = denseArray<Checkpoint[] | undefined>(n, undefined);
      this.visitedMask = new Uint8Array(n);
      this.regionMask = new Uint8Array(n);
      this.constDst = denseArray<bigint | null | undefined>(n, undefined);
      this.constSrc = denseArray<bigint | null | undefined>(n, undefined);
      this.stackDepth = new Array<number>(this.cfg.subprogs.length).fill(0);
      if (!this.ctx) {
        throw new VerifierError('PROG_TYPE', `program type ${this.opts.progType} is not supported (give a ContextDescription)`, -1);
      }
      this.checkMapRefs();
      if (this.level >= 2) this.logLiveness();
      this.explore();
      this.checkStackDepth();
    } catch (e) {
      if (e instanceof VerifierError) error = e;
      else if (e instanceof Reject) error = this.toError(e);
      else throw e;
      if (error) this.log(error.reason);
    }
    if (!error && this.level === 1) this.lines.length = 0;
    this.log(`processed ${this.processed} insns (limit ${COMPLEXITY_LIMIT}) max_states_per_insn ${this.maxStatesPerInsn} ` +
      `total_states ${this.totalStates} peak_states ${this.peakStates} mark_read 0`);
    const stats: VerifyStats = {
      processed: this.processed, totalStates: this.totalStates, peakStates: this.peakStates,
      maxStatesPerInsn: this.maxStatesPerInsn, stackDepth: this.stackDepth, timeMs: now() - this.t0,
    };
    const ok = !error;
    const visited = this.visitedMask;
    const regionMask = this.regionMask;
    const constDst = this.constDst;
    const constSrc = this.constSrc;
    const at = this.cfg?.at;
    const REGION_NAMES = ['stack', 'ctx', 'map_value', 'pkt', 'mem'];
    const proof: Proof = {
      visited: (pc) => ok && !!visited?.[pc],
      accessNeedsCheck: (pc) => !ok || !visited?.[pc],
      regions: (pc) => REGION_NAMES.filter((_, i) => ((regionMask?.[pc] ?? 0) >> i) & 1),
      constantAt: (pc, reg) => {
        const x = at?.[pc];
        if (!ok || !x) return undefined;
        const c = reg === x.dst ? constDst?.[pc] : reg === (x.src & 0xf) ? constSrc?.[pc] : undefined;
        return c === null || c === undefined ? undefined : c;
      },
    };
    const result: VerifyResult = {
      ok, log: this.lines.length ? this.lines.join('\n') + '\n' : '', stats, proof,
      ...(error ? { error } : {}),
      ...(this.collected ? { states: this.statesJson() } : {}),
    };
    return result;
  }

  // ---------------------------------------------------------------------
  // Exploration

  private explore(): void {
    const f0 = new Frame(0, 0, -1);
    f0.regs[1] = new Reg({ type: PTR_CTX });
    f0.regs[10] = new Reg({ type: PTR_STACK, frame: 0 });
    const st0 = new VState([f0], [], 0);
        this.pending.push({ st: st0, from: -1, logLen: 0 });
    while (this.pending.length) {
      const p = this.pending.pop()!;
      const st = p.st;
      if (this.level === 1) {
        // As the kernel does: back to where the branch was taken; the jump's line is
        // left without its effect and the state of the other edge follows on it.
        this.lines.length = p.logLen;
        const full = this.fullState(st);
        this.log(p.jumpLine ? `${p.jumpLine} ${st.pc}: ${full}` : `${st.pc}: ${full}`);
      } else if (this.level > 1) {
        const full = this.fullState(st);
        if (p.from >= 0) this.log(`\nfrom ${p.from} to ${st.pc}: ${full}`);
        this.log(`${st.pc}: ${full}`);
      }
      this.cur = st;
      this.runPath(st, p.from >= 0);
      this.cur = null;
    }
  }

  private runPath(st: VState, afterJump: boolean): void {
    let first = afterJump;
    for (;;) {
      const pc = st.pc;
      if (pc < 0 || pc >= this.cfg.nslots || !this.cfg.at[pc]) {
        throw this.toError(new Reject('INTERNAL', `verifier reached invalid insn ${pc}`, 0));
      }
      if (this.cfg.prunePoint[pc] || first) {
        first = false;
        if (this.isStateVisited(st)) {
          if (this.level >= 2) this.log(`${pc}: safe`);
          this.endPath(st);
          return;
        }
      }
      if (++this.processed > this.limit) {
        throw this.toError(new Reject('TOO_COMPLEX',
          `BPF program is too large. Processed ${this.processed} insn`, 0,
          'the verifier explores every path and loop iteration: bound loops by small constants, or use bpf_loop()'));
      }
      this.visitedMask[pc] = 1;
      this.recordConsts(st);
      if (this.collected) this.collect(st);
      const done = this.step(st);
      if (done) {
        this.endPath(st);
        return;
      }
    }
  }

  private endPath(st: VState): void {
    let c = st.parent;
    while (c) {
      c.branches--;
      if (c.branches > 0) break;
      this.curStates--;
      c = c.parent;
    }
  }

  /** Queue `child` (a fork of the running state) to be explored later. */
  private push(child: VState, from: number): void {
    if (child.parent) child.parent.branches++;
    this.pending.push({ st: child, from, logLen: this.lines.length, ...(this.linePending ? { jumpLine: this.linePending } : {}) });
    if (this.pending.length > 8192) {
      throw this.toError(new Reject('TOO_COMPLEX', 'The sequence of 8193 jumps is too complex.', 0,
        'too many pending branches: simplify the control flow'));
    }
  }

  /** Prune the path if a verified state subsumes it; else maybe store it as a checkpoint. */
  private isStateVisited(st: VState): boolean {
    const pc = st.pc;
    if (this.opts.noPrune) return false;
    let list = this.explored[pc];
    const liveFn = this.liveFn(st);
    const sig = this.typeSig(st, liveFn[liveFn.length - 1]!);
    const cbEntry = st.cur.callback !== undefined && this.cfg.subprogs[st.cur.subprog]!.start === pc;
    if (list && cbEntry) {
      // Callback iterations: a state included in an earlier iteration's entry state adds nothing
      // (the helper bounds the iterations, so this is not a termination argument); otherwise widen.
      let last: Checkpoint | undefined;
      for (const cp of list) {
        if (cp.branches === 0 || cp.state.frames.length !== st.frames.length) continue;
        if (statesSafe(cp.state, st, this.cmpAllPrecise, liveFn)) return true;
        last = cp;
      }
      if (last) this.widen(st, last.state);
    }
    if (list) {
      let evict = false;
      let loopChecks = 0;
      for (let i = list.length - 1; i >= 0; i--) {
        const cp = list[i]!;
        if (cp.branches > 0) {
          // A state above us on this very path: the same state again is an infinite loop.
          // (Checked against the few most recent iterations: a loop that does not change its
          // state repeats at once; one that cycles slowly runs into the budget instead.)
          if (this.cfg.loopHead[pc] && loopChecks++ < 8 &&
            statesSafe(cp.state, st, this.cmpExact, liveFn)) {
            this.log(`infinite loop detected at insn ${pc}`);
            throw this.toError(new Reject('INFINITE_LOOP', `infinite loop detected at insn ${pc}`, 0,
              'nothing the loop condition depends on changes between iterations'));
          }
          continue;
        }
        const os = cp.sig;
        if (os && cp.state.frames.length === st.frames.length &&
          (((os[0] ^ sig[0]) & ~os[2]) !== 0 || ((os[1] ^ sig[1]) & ~os[3]) !== 0)) {
          cp.miss++;
          continue;
        }
        if (statesSafe(cp.state, st, this.cmpPrune, liveFn, cp.reads)) {
          cp.hits++;
          this.propagatePrecision(cp, st);
          // What the old state's paths read, this path's ancestors must compare too.
          for (const key of cp.reads) this.markStackRead(st, key);
          return true;
        }
        cp.miss++;
        // A finished state that keeps missing is not worth comparing against (the kernel drops these too).
        if (cp.miss > cp.hits * 16 + 64) evict = true;
      }
      if (evict) {
        list = list.filter((c) => c.branches > 0 || c.miss <= c.hits * 16 + 64);
        this.explored[pc] = list;
      }
    }
    const force = this.cfg.loopHead[pc] === 1 || this.cfg.subprogStarting(pc) > 0;
    if (!force && !(st.jmpsSince >= 2 && st.insnsSince >= 8)) return false;
    if (!list) { list = []; this.explored[pc] = list; }
    if (list.length >= MAX_STATES_PER_INSN) {
      // Evict the least useful state (one still being explored stays alive through its
      // children's parent links; it only stops serving as a comparison point).
      let worst = 0;
      const score = (c: Checkpoint): number => c.miss - 3 * c.hits;
      for (let i = 1; i < list.length; i++) if (score(list[i]!) >= score(list[worst]!)) worst = i;
      list.splice(worst, 1);
    }
    const cp: Checkpoint = {
      pc, state: st.snapshot(), branches: 1, parent: st.parent, histAt: st.hist, hits: 0, miss: 0,
      reads: new Set(), written: st.written, allMarked: false, sig,
    };
    list.push(cp);
    st.parent = cp;
    st.written = new Set();
    st.insnsSince = 0;
    st.jmpsSince = 0;
    this.totalStates++;
    this.curStates++;
    this.peakStates = Math.max(this.peakStates, this.curStates);
    this.maxStatesPerInsn = Math.max(this.maxStatesPerInsn, list.length);
    return false;
  }

  /** Forget the scalar values that changed since `old` (callback iterations converge in a few rounds). */
  private widen(st: VState, old: VState): void {
    for (let f = 0; f < st.frames.length; f++) {
      const of = old.frames[f]!;
      const cf = st.frames[f]!;
      for (let r = 0; r < 10; r++) {
        const o = of.regs[r]!;
        const c = cf.regs[r]!;
        if (o.type === SCALAR && c.type === SCALAR && !o.s.includes(c.s)) cf.regs[r] = new Reg({ type: SCALAR });
      }
      for (let s = 0; s < SLOTS; s++) {
        const o = of.spill[s];
        const c = cf.spill[s];
        if (o && c && o.reg.type === SCALAR && c.reg.type === SCALAR && !o.reg.s.includes(c.reg.s)) {
          cf.own().spill[s] = { ...c, reg: new Reg({ type: SCALAR }) };
        }
        for (let i = 0; i < 8; i++) {
          const b = s * 8 + i;
          if (of.kind[b] === STACK_MISC && cf.kind[b] === STACK_ZERO) cf.own().kind[b] = STACK_MISC;
        }
      }
    }
  }

  /**
   * Register types of the live registers of the current frame, 4 bits each (two halves of
   * 5 registers), and the mask of those that are not initialised (an old state's wildcard).
   * A stored state can only include the current one where the types agree.
   */
  private typeSig(st: VState, live: number): [number, number, number, number] {
    const regs = st.cur.regs;
    let lo = 0; let hi = 0; let wlo = 0; let whi = 0;
    for (let r = 0; r < 10; r++) {
      if (!((live >> r) & 1)) continue;
      const t = regs[r]!.type & 0xf;
      const sh = (r % 5) * 4;
      if (r < 5) { lo |= t << sh; if (t === NOT_INIT) wlo |= 0xf << sh; } else { hi |= t << sh; if (t === NOT_INIT) whi |= 0xf << sh; }
    }
    return [lo, hi, wlo, whi];
  }

  /** Which registers matter in each frame of a state at its pc (static liveness), as bit masks. */
  private liveFn(st: VState): number[] {
    const last = st.frames.length - 1;
    const out: number[] = [];
    for (let f = 0; f <= last; f++) {
      if (f === last) { out.push(this.live[st.pc]!); continue; }
      const callee = st.frames[f + 1]!;
      const cs = callee.callsite;
      if (callee.callback) out.push(this.live[cs]! | this.live[cs + 1]!);
      else out.push(this.live[cs + 1]! & 0x3c0);
    }
    return out;
  }

  // ---------------------------------------------------------------------
  // Precision tracking

  private markRegPrecise(st: VState, regs: number[]): void {
    const f = st.frames.length - 1;
    const set: PreciseSet = { regs: new Map([[f, 0]]), slots: new Set() };
    const marked = new Set<Reg>();
    for (const r of regs) {
      const reg = st.cur.regs[r]!;
      // Precise already: a walk from where it was marked covered its sources.
      if (reg.type !== SCALAR || reg.precise) continue;
      reg.precise = true;
      marked.add(reg);
      set.regs.set(f, set.regs.get(f)! | (1 << r));
    }
    if (marked.size) {
      this.precisionWalked = true;
      if (this.level >= 2) {
        const names = regs.filter((r) => marked.has(st.cur.regs[r]!)).map((r) => `r${r}`).join(',');
        this.log(`mark_precise: frame${f}: last_idx ${st.pc} first_idx ${st.parent?.pc ?? 0} subseq_idx -1 regs=${names}`);
      }
      this.backtrack(st, set, marked);
    }
  }

  private markSlotPrecise(st: VState, frame: number, slot: number): void {
    const sp = st.frames[frame]!.spill[slot];
    if (!sp || sp.reg.type !== SCALAR || sp.reg.precise) return;
    sp.reg.precise = true;
    this.backtrack(st, { regs: new Map(), slots: new Set([frame * SLOTS + slot]) }, new Set([sp.reg]));
  }

  /** Walk the path backwards, marking the sources of the set precise in every checkpoint above. */
  private backtrack(st: VState, set: PreciseSet, marked: Set<Reg>): void {
    let node = st.hist;
    let cp = st.parent;
    for (;;) {
      const stop = cp ? cp.histAt : null;
      while (node !== stop && node) {
        if (!this.backtrackInsn(node, set)) { this.markAllPrecise(st); return; }
        node = node.prev;
      }
      if (!cp) return;
      // Mark in the checkpoint; drop what is not a scalar there. Where everything was
      // precise before this walk began, an earlier walk went on from here: stop.
      // (A register object shared with the state being walked from was marked by
      // this walk itself: that one does not count.)
      const s = cp.state;
      let fresh = 0;
      for (const [f, mask] of set.regs) {
        let m = mask;
        for (let r = 0; r < 10; r++) {
          if (!(m & (1 << r))) continue;
          const reg = s.frames[f]?.regs[r];
          if (!reg || reg.type !== SCALAR) { m &= ~(1 << r); continue; }
          if (!reg.precise) { reg.precise = true; marked.add(reg); fresh++; } else if (marked.has(reg)) fresh++;
        }
        set.regs.set(f, m);
      }
      for (const k of [...set.slots]) {
        const f = Math.floor(k / SLOTS);
        const sp = s.frames[f]?.spill[k % SLOTS];
        if (!sp || sp.reg.type !== SCALAR) { set.slots.delete(k); continue; }
        if (!sp.reg.precise) { sp.reg.precise = true; marked.add(sp.reg); fresh++; } else if (marked.has(sp.reg)) fresh++;
      }
      if (fresh === 0) return;
      node = cp.histAt;
      cp = cp.parent;
    }
  }

  /** One instruction backwards; false when the history cannot be followed (then everything is marked). */
  private backtrackInsn(n: HistNode, set: PreciseSet): boolean {
    const x = this.cfg.at[n.slot]!;
    const f = n.frame;
    let m = set.regs.get(f) ?? 0;
    const has = (r: number): boolean => (m & (1 << r)) !== 0;
    const bit = (r: number): number => 1 << r;
    switch (x.op.kind) {
      case 'alu':
        if (has(x.dst) && x.op.srcReg) m |= bit(x.src);
        break;
      case 'neg': case 'endian':
        break;
      case 'mov': case 'movsx':
        if (has(x.dst)) { m &= ~bit(x.dst); if (x.op.srcReg) m |= bit(x.src); }
        break;
      case 'ld_imm64':
        m &= ~bit(x.dst);
        break;
      case 'ldx': case 'ldsx':
        if (has(x.dst)) {
          m &= ~bit(x.dst);
          if (n.spi >= 0) set.slots.add(n.spi);
        }
        break;
      case 'st':
        if (n.spi >= 0) set.slots.delete(n.spi);
        break;
      case 'stx':
        if (n.spi >= 0 && set.slots.has(n.spi)) { set.slots.delete(n.spi); m |= bit(x.src); }
        break;
      case 'atomic':
        if (has(x.src) || has(0) || (n.spi >= 0 && set.slots.has(n.spi))) return false;
        break;
      case 'ld_abs': case 'ld_ind':
        m &= ~0b111111;
        break;
      case 'ja':
        break;
      case 'jcond': {
        const regs = bit(x.dst) | (x.op.srcReg ? bit(x.src) : 0) | (n.linked & 0x3ff);
        if (m & regs) m |= regs;
        // A refinement reached a spilled or other-frame copy too: not followed, mark everything.
        if (n.linked & (1 << 15) && (m & regs || set.slots.size)) return false;
        break;
      }
      case 'call': {
        if (has(0)) m &= ~1;
        // Callback-taking helpers re-enter subprograms: not followed.
        if (this.protoOf(x.imm)?.callback) { set.regs.set(f, m); return emptySet(set); }
        break;
      }
      case 'exit': {
        // Backwards over a return: the caller's R0 was the callee's.
        if (n.linked) return emptySet(set); // a callback's return into its helper: not followed
        const caller = set.regs.get(f - 1) ?? 0;
        set.regs.set(f, caller & 1);
        set.regs.set(f - 1, caller & ~1);
        return true;
      }
      case 'call_local': {
        // Backwards over a call: the callee's arguments were the caller's R1-R5.
        const callee = set.regs.get(f + 1) ?? 0;
        set.regs.delete(f + 1);
        set.regs.set(f, m | (callee & 0b111110));
        return true;
      }
      default:
        // kfunc and indirect calls (refused anyway).
        return emptySet(set);
    }
    set.regs.set(f, m);
    return true;
  }

  private markAllPrecise(st: VState): void {
    const markState = (s: VState): void => {
      for (const fr of s.frames) {
        for (const r of fr.regs) if (r.type === SCALAR) r.precise = true;
        for (const sp of fr.spill) if (sp && sp.reg.type === SCALAR) sp.reg.precise = true;
      }
    };
    markState(st);
    // A checkpoint marked wholly had all of its ancestors marked too.
    for (let c = st.parent; c && !c.allMarked; c = c.parent) {
      markState(c.state);
      c.allMarked = true;
    }
  }

  /** The pruned path relied on the old state's precise registers: make them precise on this path too. */
  private propagatePrecision(old: Checkpoint, st: VState): void {
    for (let f = 0; f < old.state.frames.length; f++) {
      const of = old.state.frames[f]!;
      const cf = st.frames[f]!;
      const regs: number[] = [];
      for (let r = 0; r < 10; r++) {
        if (of.regs[r]!.type === SCALAR && of.regs[r]!.precise && cf.regs[r]!.type === SCALAR && !cf.regs[r]!.precise) regs.push(r);
      }
      if (regs.length) {
        if (f === st.frames.length - 1) this.markRegPrecise(st, regs);
        else { this.markAllPrecise(st); return; }
      }
      for (let s = 0; s < SLOTS; s++) {
        const o = of.spill[s];
        if (o && o.reg.type === SCALAR && o.reg.precise) this.markSlotPrecise(st, f, s);
      }
    }
  }

  // ---------------------------------------------------------------------
  // One instruction

  private newId(): number {
    return ++this.idGen;
  }

  /** Record the executed instruction in the path history. */
  private record(st: VState, slot: number, spi = -1, linked = 0): void {
    st.hist = { slot, frame: st.frames.length - 1, spi, linked, prev: st.hist };
  }

  /** Interpret the instruction at st.pc. Returns true when the path ended. */
  private step(st: VState): boolean {
    const pc = st.pc;
    const x = this.cfg.at[pc]!;
    const fr = st.cur;
    st.insnsSince++;
    const line = this.level > 0 ? insnLine(pc, x) : '';
    this.precisionWalked = false;
    const k = x.op.kind;
    let effectMask = 0;
    let effectSlots: number[] | undefined;
    let spi = -1;
    try {
      switch (k) {
        case 'alu': case 'neg': case 'mov': case 'movsx': case 'endian':
          this.aluInsn(st, x);
          if (this.level > 0) effectMask = useDef(x, helperArgCount).use | (1 << x.dst);
          st.pc = pc + 1;
          break;
        case 'ld_imm64':
          this.ldImm64(st, x);
          effectMask = 1 << x.dst;
          st.pc = pc + 2;
          break;
        case 'ldx': case 'ldsx': {
          this.checkRegInit(fr, x.src);
          if (x.dst === 10) reject('FP_READ_ONLY', 'frame pointer is read only', 0);
          const ptr = fr.regs[x.src]!;
          const r = this.memAccess(st, x.src, ptr, x.off, x.op.size, false, undefined, k === 'ldsx', pc);
          spi = r.spi;
          fr.regs[x.dst] = r.value!;
          effectMask = (1 << x.src) | (1 << x.dst);
          // A fill shows the slot it read, as the kernel's log does.
          if (r.spi >= 0 && Math.floor(r.spi / SLOTS) === st.frames.length - 1) effectSlots = [r.spi % SLOTS];
          st.pc = pc + 1;
          break;
        }
        case 'st': case 'stx': {
          this.checkRegInit(fr, x.dst);
          let val: Reg;
          if (k === 'stx') {
            this.checkRegInit(fr, x.src);
            val = fr.regs[x.src]!;
            const p = fr.regs[x.dst]!;
            const slotStart = !this.unpriv && p.type === PTR_STACK && p.fixedOff() && (((p.off + x.off) % 8) + 8) % 8 === 0;
            const fits = x.op.size === 8 || (!this.unpriv && val.type === SCALAR && val.s.umax < (1n << BigInt(x.op.size * 8)));
            if (slotStart && fits && val.type === SCALAR && val.id === 0 && !val.s.isConst()) {
              // The spilled copy and the register stay linked (a bound learned on one holds for the other).
              const linkedVal = val.with({ id: this.newId() });
              linkedVal.precise = val.precise;
              fr.regs[x.src] = linkedVal;
              val = linkedVal;
            }
          } else {
            val = constReg(BigInt(x.imm));
          }
          const ptr = fr.regs[x.dst]!;
          if (this.unpriv && k === 'stx' && isPointer(val.type) && ptr.type !== PTR_STACK && ptr.type !== SCALAR && ptr.type !== NOT_INIT) {
            reject('PTR_LEAK', `R${x.src} leaks addr into ${ptr.type === MAP_VALUE ? 'map' : ptr.type === PTR_CTX ? 'ctx' : ptr.type === PKT || ptr.type === PKT_META ? 'packet' : 'mem'}`, 1 << x.src,
              'unprivileged programs may not store pointers outside the stack');
          }
          const r = this.memAccess(st, x.dst, ptr, x.off, x.op.size, true, val, false, pc, k === 'st');
          spi = r.spi;
          if (k === 'stx' && ptr.type === PTR_STACK && x.op.size < 8 && val.type === SCALAR && val.s.isConst()) {
            // A narrow store of a constant leaves zero (or misc) bytes: which one depends on the value.
            this.markRegPrecise(st, [x.src]);
          }
          if (r.spi >= 0) effectSlots = [r.spi % SLOTS];
          effectMask = (1 << x.dst) | (k === 'stx' ? 1 << x.src : 0);
          st.pc = pc + 1;
          break;
        }
        case 'atomic':
          spi = this.atomicInsn(st, x, pc);
          effectMask = (1 << x.dst) | (1 << x.src) | (x.op.atomic === 'cmpxchg' ? 1 : 0);
          st.pc = pc + 1;
          break;
        case 'ld_abs': case 'ld_ind':
          this.ldAbs(st, x);
          effectMask = 1;
          st.pc = pc + 1;
          break;
        case 'ja': {
          st.jmpsSince++;
          st.pc = pc + 1 + (x.op.is64 ? x.off : x.imm);
          this.record(st, pc);
          this.log(line);
          return false;
        }
        case 'jcond': {
          st.jmpsSince++;
          this.linePending = this.level > 0 ? line : undefined;
          const linked = this.condJump(st, x, pc);
          this.linePending = undefined;
          this.record(st, pc, -1, linked);
          effectMask = (1 << x.dst) | (x.op.srcReg ? 1 << x.src : 0);
          if (this.level > 0) this.logEffect(line, st, effectMask);
          return false;
        }
        case 'call': {
          st.jmpsSince++; // calls and exits count as jumps for the checkpoint heuristic, as in Linux
          this.record(st, pc);
          const r = this.helperCall(st, x, pc, line);
          return r;
        }
        case 'call_local': {
          st.jmpsSince++;
          this.record(st, pc);
          this.log(line);
          this.localCall(st, x, pc);
          return false;
        }
        case 'kfunc_call':
          reject('KFUNC', 'kernel function calls (kfuncs) are not supported', 0,
            'kfuncs need the kernel\'s BTF; tsbpf verifies helper calls only');
          break;
        case 'callx':
          reject('CALLX', 'indirect calls (callx) are not supported', 0);
          break;
        case 'exit': {
          st.jmpsSince++;
          this.record(st, pc, -1, st.cur.callback ? 1 : 0);
          this.log(line);
          return this.exitInsn(st, pc);
        }
      }
    } catch (e) {
      if (e instanceof Reject) this.log(line);
      throw e;
    }
    this.record(st, pc, spi);
    if (this.level > 0) this.logEffect(line, st, effectMask, effectSlots);
    return false;
  }

  /** `N: (op) insn ; effect`, or, after a precision walk, the effect on a line of its own (as Linux prints it). */
  private logEffect(line: string, st: VState, mask: number, slots?: number[]): void {
    if (!this.precisionWalked) {
      this.log(this.withEffect(line, st, mask, slots));
      return;
    }
    const e = this.withEffect('', st, mask, slots);
    const text = e.slice(e.indexOf(';') + 1).trim();
    if (this.level < 2) this.log(line);
    else {
      // The insn line goes before the mark_precise lines already written for it.
      let i = this.lines.length;
      while (i > 0 && this.lines[i - 1]!.startsWith('mark_precise:')) i--;
      this.lines.splice(i, 0, line);
    }
    this.log(`${st.pc}: ${text}`);
  }

  private withEffect(line: string, st: VState, mask: number, slots?: number[]): string {
    const fr = st.cur;
    let m = mask;
    if (slots && slots.length) m |= 1 << 10;
    // Effects print without precision marks (Linux marks the stored states, not the running one).
    const text = formatFrame(fr, this.mapDescs(), m, slots ?? [], false);
    const frame = st.frames.length > 1 && text ? `frame${st.frames.length - 1}: ` : '';
    const refs = st.refs.length ? ` refs=${st.refs.map((r) => r.id).join(',')}` : '';
    return `${padInsn(line)};${text ? ' ' + frame + text : ''}${refs}`;
  }

  private mapDescs(): readonly MapDesc[] {
    return this.maps;
  }

  private fullState(st: VState): string {
    const parts: string[] = [];
    for (let i = 0; i < st.frames.length; i++) {
      const t = formatFrame(st.frames[i]!, this.maps);
      parts.push(i === 0 ? t : `frame${i}: ${t}`);
    }
    return parts.join(' ');
  }

  private checkRegInit(fr: Frame, r: number): void {
    if (fr.regs[r]!.type === NOT_INIT) {
      reject('UNINIT_REG', `R${r} !read_ok`, 1 << r,
        `R${r} is read before anything was written to it on this path: set it on every path that reaches here`);
    }
  }

  // ---- ALU ----

  private aluInsn(st: VState, x: Instruction): void {
    const fr = st.cur;
    const k = x.op.kind;
    const is64 = x.op.is64;
    if (x.op.srcReg) this.checkRegInit(fr, x.src);
    if (k !== 'mov' && k !== 'movsx') this.checkRegInit(fr, x.dst);
    if (x.dst === 10) reject('FP_READ_ONLY', 'frame pointer is read only', 0);
    const dst = fr.regs[x.dst]!;
    const src = x.op.srcReg ? fr.regs[x.src]! : constReg(is64 ? BigInt(x.imm) : BigInt(x.imm >>> 0));
    switch (k) {
      case 'mov':
        if (src.type === SCALAR) {
          if (is64 && x.op.srcReg) {
            let s = src;
            if (s.id === 0 && !s.s.isConst()) {
              s = src.with({ id: this.newId() });
              s.precise = src.precise;
              fr.regs[x.src] = s;
            }
            fr.regs[x.dst] = s;
          } else {
            fr.regs[x.dst] = scalarReg(scalarAlu('mov', REG_UNKNOWN.s, src.s, is64));
          }
        } else if (is64) {
          fr.regs[x.dst] = src;
        } else {
          // Partial copy of a pointer.
          if (this.unpriv) reject('PTR_LEAK', `R${x.src} partial copy of pointer`, 1 << x.src);
          fr.regs[x.dst] = scalarReg(Scalar.urange(0n, 0xffffffffn));
        }
        return;
      case 'movsx':
        if (src.type !== SCALAR) {
          if (this.unpriv) reject('PTR_LEAK', `R${x.src} sign-extension of pointer`, 1 << x.src);
          fr.regs[x.dst] = REG_UNKNOWN;
          return;
        }
        fr.regs[x.dst] = scalarReg(scalarSext(src.s, x.op.size as 1 | 2 | 4, is64));
        return;
      case 'neg':
        if (dst.type !== SCALAR) {
          if (this.unpriv) reject('PTR_ARITH', `R${x.dst} pointer arithmetic prohibited`, 1 << x.dst);
          fr.regs[x.dst] = REG_UNKNOWN;
          return;
        }
        fr.regs[x.dst] = scalarReg(scalarNeg(dst.s, is64));
        return;
      case 'endian':
        if (dst.type !== SCALAR) {
          if (this.unpriv) reject('PTR_ARITH', `R${x.dst} pointer arithmetic prohibited`, 1 << x.dst);
          fr.regs[x.dst] = REG_UNKNOWN;
          return;
        }
        fr.regs[x.dst] = scalarReg(scalarEndian(dst.s, x.op.endian!, x.op.size));
        return;
      default:
        break;
    }
    const op = x.op.alu!;
    if (!x.op.srcReg) {
      if ((op === 'div' || op === 'sdiv' || op === 'mod' || op === 'smod') && x.imm === 0) {
        reject('DIV_BY_ZERO', 'div by zero', 0, 'a division by the constant 0: divide by a register, or not at all');
      }
      if ((op === 'lsh' || op === 'rsh' || op === 'arsh') && (x.imm < 0 || x.imm >= (is64 ? 64 : 32))) {
        reject('BAD_SHIFT', `invalid shift ${x.imm}`, 0, `shift amounts are 0..${is64 ? 63 : 31}`);
      }
    }
    if (dst.type === SCALAR && src.type === SCALAR && (op === 'and' || op === 'or') && src.s.isConst() &&
      (is64 ? dst.s.smin === -1n && dst.s.smax === 0n : dst.s.s32min === -1 && dst.s.s32max === 0)) {
      // A mask that is either 0 or all ones (`x s>> 63`): Linux follows each value separately,
      // pushing the 0 case and going on with the all-ones one.
      const child = st.fork();
      child.cur.regs[x.dst] = constReg(0n);
      child.path = st.path;
      this.push(child, st.pc);
      fr.regs[x.dst] = constReg(is64 ? -1n : 0xffffffffn);
      this.aluInsn(st, x);
      return;
    }
    if (dst.type === SCALAR && src.type === SCALAR) {
      const r = scalarAlu(op, dst.s, src.s, is64);
      // Linked registers survive adding a constant (their difference is known).
      if (is64 && dst.id && src.s.isConst() && (op === 'add' || op === 'sub')) {
        const d = op === 'add' ? src.s.svalue : -src.s.svalue;
        fr.regs[x.dst] = scalarReg(r, dst.id, dst.idOff + d);
      } else {
        fr.regs[x.dst] = scalarReg(r);
      }
      return;
    }
    this.pointerArith(st, x, dst, src);
  }

  private pointerArith(st: VState, x: Instruction, dst: Reg, src: Reg): void {
    const fr = st.cur;
    const op = x.op.alu!;
    const d = x.dst;
    const sym = formatKernelInsn(x).split(' ')[1];
    if (!x.op.is64) {
      // A 32-bit difference involving a pointer is a (meaningless) number for root; nothing else is allowed.
      if (op === 'sub' && !this.unpriv) {
        fr.regs[d] = scalarReg(Scalar.urange(0n, 0xffffffffn));
        return;
      }
      reject('PTR_ARITH', `R${d} 32-bit pointer arithmetic prohibited`, 1 << d);
    }
    if (isPointer(dst.type) && isPointer(src.type) && op !== 'add' && op !== 'sub') {
      reject('PTR_ARITH', `R${d} pointer ${sym} pointer prohibited`, (1 << d) | (1 << x.src));
    }
    if (op !== 'add' && op !== 'sub') {
      if (op === 'and' || op === 'or' || op === 'xor') {
        reject('PTR_ARITH', `R${d} bitwise operator ${sym} on pointer prohibited`, (1 << d) | (1 << x.src));
      }
      reject('PTR_ARITH', `R${d} pointer arithmetic with ${sym} operator prohibited`, (1 << d) | (1 << x.src));
    }
    if (isPointer(dst.type) && isPointer(src.type)) {
      if (op === 'add') reject('PTR_ARITH', `R${d} pointer += pointer prohibited`, (1 << d) | (1 << x.src));
      // ptr - ptr: a scalar (a leak in unprivileged mode unless both are the same kind).
      if (this.unpriv && dst.type !== src.type) reject('PTR_ARITH', `R${d} pointer -= pointer prohibited`, (1 << d) | (1 << x.src));
      fr.regs[d] = REG_UNKNOWN;
      return;
    }
    let ptr: Reg;
    let sc: Reg;
    let scReg: number;
    if (isPointer(dst.type)) { ptr = dst; sc = src; scReg = x.op.srcReg ? x.src : -1; } else {
      if (op === 'sub') reject('PTR_ARITH', `R${d} tried to subtract pointer from scalar`, (1 << d) | (1 << x.src));
      ptr = src; sc = dst; scReg = d;
    }
    const tn = typeName(ptr.type, ptr.maybeNull, ptr.ringbuf);
    if (ptr.maybeNull) reject('PTR_ARITH', `R${d} pointer arithmetic on ${tn} prohibited, null-check it first`, 1 << d,
      'check the pointer against NULL before doing arithmetic on it');
    if (ptr.type === PKT_END || ptr.type === MAP_PTR || ptr.type === FUNC) {
      reject('PTR_ARITH', `R${d} pointer arithmetic on ${tn} prohibited`, 1 << d);
    }
    if (ptr.type === PTR_CTX && !sc.s.isConst()) {
      reject('PTR_ARITH', `R${d} variable ctx access var_off=${'(0x0; 0x0)'} disallowed`, 1 << d);
    }
    // The pointer's new offset depends on the scalar's exact value, constant or not.
    if (scReg >= 0) this.markRegPrecise(st, [scReg]);
    if (this.unpriv && scReg >= 0) this.sanitizeAlu(st.pc, ptr, sc, scReg, d, op);
    if (sc.s.isConst()) {
      const v = sc.s.svalue;
      const off = BigInt(ptr.off) + (op === 'add' ? v : -v);
      if (off >= BigInt(MAX_VAR_OFF) || off <= -BigInt(MAX_VAR_OFF)) {
        reject('PTR_OOB', `value ${v} makes ${typeName(ptr.type)} pointer be out of bounds`, 1 << d);
      }
      fr.regs[d] = ptr.with({ off: Number(off) });
      if (ptr.type === PKT || ptr.type === PKT_META) {
        // A constant move keeps the id; the proven range stays relative to the base.
        fr.regs[d] = ptr.with({ off: Number(off) });
      }
      return;
    }
    if (this.unpriv && ptr.type === PTR_STACK) {
      reject('PTR_ARITH', `R${d} variable stack access prohibited`, 1 << d);
    }
    const vs = scalarAlu(op, ptr.s, sc.s, true);
    const c: Partial<ConstructorParameters<typeof Reg>[0]> = { s: vs };
    if (ptr.type === PKT || ptr.type === PKT_META) {
      if (sc.s.umax > BigInt(MAX_PACKET_OFF) && op === 'add') {
        // The kernel refuses an offset that can exceed the largest packet.
      }
      c.id = this.newId();
      c.range = 0;
    }
    fr.regs[d] = ptr.with(c);
  }

  /**
   * Unprivileged pointer arithmetic must mask the same way on every path (Linux's Spectre
   * hardening): the scalar's sign and bound, its being constant, and the kind of pointer must not
   * change between visits of the instruction; a scalar of mixed sign is refused outright.
   */
  private sanitizeAlu(pc: number, ptr: Reg, sc: Reg, scReg: number, d: number, op: string): void {
    const s = sc.s;
    if (!s.isConst() && s.smin < 0n && s.smax > 0n) {
      reject('PTR_ARITH', `R${scReg} has unknown scalar with mixed signed bounds, pointer arithmetic with it prohibited for !root`, 1 << scReg,
        'bound the offset to non-negative values first (e.g. use an unsigned type)');
    }
    const neg = s.smax < 0n;
    const limit = neg ? -s.smin : s.umax;
    const key = `${ptr.type}:${ptr.map}:${op}:${s.isConst() ? 'k' : 'v'}:${neg ? '-' : '+'}${limit}`;
    const seen = this.aluSanitize.get(pc);
    if (seen === undefined) this.aluSanitize.set(pc, key);
    else if (seen !== key) {
      reject('PTR_ARITH', `R${d} tried to add from different maps, paths or scalars, pointer arithmetic with it prohibited for !root`, 1 << d,
        'unprivileged programs must add the same kind of offset on every path reaching this instruction');
    }
  }

  private ldImm64(st: VState, x: Instruction): void {
    const fr = st.cur;
    if (x.dst === 10) reject('FP_READ_ONLY', 'frame pointer is read only', 0);
    switch (x.src) {
      case 0:
        fr.regs[x.dst] = constReg(imm64(x));
        return;
      case 1: case 2: {
        const m = this.maps[x.imm];
        if (x.imm < 0 || !m) {
          reject('BAD_MAP', `fd ${x.imm} is not pointing to valid bpf_map`, 0,
            `give the program's maps in order: LD_IMM64 imm is an index into the map list (${this.maps.length} given)`);
        }
        if (x.src === 1) {
          fr.regs[x.dst] = new Reg({ type: MAP_PTR, map: x.imm });
          return;
        }
        if (m.type !== MAP_TYPE.ARRAY) reject('BAD_MAP', 'direct value access on this map type is not allowed', 0);
        if (x.imm2 < 0 || x.imm2 >= m.valueSize) {
          reject('BAD_MAP', `invalid access to map value pointer, value_size=${m.valueSize} off=${x.imm2}`, 0);
        }
        fr.regs[x.dst] = new Reg({ type: MAP_VALUE, map: x.imm, off: x.imm2 });
        return;
      }
      case 4: {
        const target = st.pc + 1 + x.imm;
        fr.regs[x.dst] = new Reg({ type: FUNC, subprog: this.cfg.subprogStarting(target) });
        return;
      }
      default:
        reject('BAD_LD_IMM64', `unsupported LD_IMM64 pseudo source ${x.src} (BTF ids and map indexes need a loader)`, 0);
    }
  }

  // ---- Memory ----

  private noteRegion(pc: number, bit: number): void {
    this.regionMask[pc]! |= 1 << bit;
  }

  /**
   * Check a load or store of `size` bytes at ptr + off and perform its
   * effect on the state. Returns the loaded value and the stack slot touched.
   */
  private memAccess(
    st: VState, regno: number, ptr: Reg, off: number, size: number, write: boolean,
    val: Reg | undefined, signExt: boolean, pc: number, isImm = false,
  ): { value?: Reg; spi: number } {
    const ext = (v: Reg): Reg => v;
    const loadedScalar = (): Reg => {
      if (signExt) {
        const half = 1n << BigInt(size * 8 - 1);
        return scalarReg(Scalar.srange(-half, half - 1n));
      }
      return size === 8 ? REG_UNKNOWN : scalarReg(Scalar.urange(0n, (1n << BigInt(size * 8)) - 1n));
    };
    const tn = typeName(ptr.type, ptr.maybeNull, ptr.ringbuf);
    if (ptr.maybeNull) {
      reject('NULL_DEREF', `R${regno} invalid mem access '${tn}'`, 1 << regno,
        'check the pointer against NULL first: if (!p) return 0;');
    }
    switch (ptr.type) {
      case SCALAR:
        reject('SCALAR_DEREF', `R${regno} invalid mem access 'scalar'`, 1 << regno,
          'this register holds a number, not a pointer');
        break;
      case PTR_STACK:
        this.noteRegion(pc, 0);
        return this.stackAccess(st, regno, ptr, off, size, write, val, signExt, isImm, loadedScalar);
      case PTR_CTX: {
        this.noteRegion(pc, 1);
        if (ptr.off !== 0 || !ptr.fixedOff()) {
          reject('CTX_ACCESS', `dereference of modified ctx ptr R${regno} off=${ptr.off} disallowed`, 1 << regno,
            'read context fields through the unmodified context pointer: ctx->field');
        }
        const a = checkCtxAccess(this.ctx!, off, size, write);
        if (!a.ok) {
          reject('CTX_ACCESS', `invalid bpf_context access off=${off} size=${size}`, 1 << regno,
            `${this.ctx!.name} has no ${write ? 'writable' : 'readable'} field of ${size} bytes at offset ${off} for this program type`);
        }
        if (write) return { spi: -1 }; // pointers stored into the context: a leak only without privileges (checked before)
        switch (a.kind) {
          case 'pkt': return { value: new Reg({ type: PKT }), spi: -1 };
          case 'pkt_end': return { value: new Reg({ type: PKT_END }), spi: -1 };
          case 'pkt_meta': return { value: new Reg({ type: PKT_META }), spi: -1 };
          default: return { value: ext(loadedScalar()), spi: -1 };
        }
      }
      case MAP_VALUE: case MEM: case MAP_KEY: {
        this.noteRegion(pc, ptr.type === MAP_VALUE ? 2 : 4);
        const limit = ptr.type === MEM ? ptr.memSize : ptr.type === MAP_KEY ? this.maps[ptr.map]!.keySize : this.maps[ptr.map]!.valueSize;
        if (write && ptr.type === MAP_KEY) reject('MAP_KEY_WRITE', `R${regno} cannot write into map_key`, 1 << regno);
        this.checkRegion(regno, ptr, off, size, limit, ptr.type === MEM ? 'memory' : 'map value',
          ptr.type === MEM ? 'mem_size' : 'value_size');
        return { value: write ? undefined : loadedScalar(), spi: -1 };
      }
      case PKT: case PKT_META: {
        this.noteRegion(pc, 3);
        if (write && !this.packetWritable()) reject('PKT_WRITE', `cannot write into packet`, 1 << regno);
        this.checkPacket(regno, ptr, off, size);

        return { value: write ? undefined : loadedScalar(), spi: -1 };
      }
      default:
        reject('BAD_DEREF', `R${regno} invalid mem access '${tn}'`, 1 << regno);
    }
  }

  private packetWritable(): boolean {
    const t = this.progType;
    return t === 3 || t === 4 || t === 6 || t === 10 || t === 11 || t === 12 || t === 14 || (this.opts.ctx !== undefined);
  }

  /** Bounds of a map value / memory access with a (possibly variable) offset. */
  private checkRegion(regno: number, ptr: Reg, off: number, size: number, limit: number, what: string, sizeName: string): void {
    const s = ptr.s;
    const base = ptr.off + off;
    if (s.smin < 0n) {
      reject('NEGATIVE_OFFSET', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`, 1 << regno,
        'use an unsigned index, or check `if (idx < 0) return 0;` before the access');
    }
    if (s.umax >= BigInt(MAX_VAR_OFF)) {
      reject('UNBOUNDED_ACCESS', `R${regno} unbounded memory access, make sure to bounds check any such access`, 1 << regno,
        `bound the index before adding it to the pointer: if (idx >= N) return 0; (N * size <= ${limit})`);
    }
    const lo = BigInt(base) + s.smin;
    if (lo < 0n || lo + BigInt(size) > BigInt(limit)) {
      reject(what === 'memory' ? 'MEM_BOUNDS' : 'MAP_VALUE_BOUNDS',
        `invalid access to ${what}, ${sizeName}=${limit} off=${lo} size=${size}\nR${regno} min value is outside of the allowed memory range`,
        1 << regno, `the ${what} is ${limit} bytes: this access reaches byte ${lo + BigInt(size)}`);
    }
    const hi = BigInt(base) + s.umax;
    if (hi + BigInt(size) > BigInt(limit)) {
      reject(what === 'memory' ? 'MEM_BOUNDS' : 'MAP_VALUE_BOUNDS',
        `invalid access to ${what}, ${sizeName}=${limit} off=${hi} size=${size}\nR${regno} max value is outside of the allowed memory range`,
        1 << regno, `bound the index so that offset + ${size} <= ${limit}: if (idx > ${limit - size - base}) return 0;`);
    }
  }

  private checkPacket(regno: number, ptr: Reg, off: number, size: number): void {
    const s = ptr.s;
    if (s.smin < 0n) {
      reject('NEGATIVE_OFFSET', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`, 1 << regno);
    }
    const o = ptr.off + off;
    if (o < 0 || ptr.range < 0 || o + size > ptr.range || s.umax > BigInt(MAX_PACKET_OFF)) {
      const end = o + size;
      reject('PKT_ACCESS', `invalid access to packet, off=${o} size=${size}, R${regno}(id=${ptr.id},off=${o},r=${ptr.range})\n` +
        `R${regno} offset is outside of the packet`, 1 << regno,
        `add \`if (data + ${end} > data_end) return ${this.progType === 6 ? 'XDP_DROP' : 'TC_ACT_SHOT'};\` before this access (proven: ${Math.max(ptr.range, 0)} bytes)`);
    }
  }

  private stackAccess(
    st: VState, regno: number, ptr: Reg, off: number, size: number, write: boolean,
    val: Reg | undefined, signExt: boolean, isImm: boolean, loadedScalar: () => Reg,
  ): { value?: Reg; spi: number } {
    const fr = st.frames[ptr.frame]!;
    const total = ptr.off + off;
    if (!ptr.fixedOff()) {
      // Variable offset (privileged only): every byte it may touch must be inside the stack.
      const lo = BigInt(total) + ptr.s.smin;
      const hi = BigInt(total) + ptr.s.smax + BigInt(size);
      if (lo < -BigInt(STACK_SIZE) || hi > 0n) {
        reject('STACK_BOUNDS', `invalid variable-offset ${write ? 'write to' : 'read from'} stack R${regno} var_off=${'(0x0; 0x0)'} off=${total} size=${size}`,
          1 << regno, 'bound the index so the access stays within fp-512..fp-1');
      }
      const from = Number(lo) + STACK_SIZE;
      const to = Number(hi) + STACK_SIZE;
      this.touchDepth(fr, -Number(lo));
      if (write) {
        for (let b = from; b < to; b++) {
          const slot = b >> 3;
          const sp = fr.spill[slot];
          if (sp) {
            fr.own().spill[slot] = undefined;
            for (let i = 0; i < 8; i++) if (fr.kind[slot * 8 + i] === STACK_SPILL) fr.own().kind[slot * 8 + i] = STACK_MISC;
          }
          if (fr.kind[b] !== STACK_INVALID || true) fr.own().kind[b] = STACK_MISC;
        }
        return { spi: -1 };
      }
      this.markStackRange(st, ptr.frame, from, to);
      for (let b = from; b < to; b++) {
        const k = fr.kind[b]!;
        if (k === STACK_INVALID && this.unpriv) {
          reject('UNINIT_STACK', `invalid variable-offset read from stack R${regno} off=${total} size=${size}`, 1 << regno);
        }
        const sp = fr.spill[b >> 3];
        if (k === STACK_SPILL && sp && sp.reg.type !== SCALAR && this.unpriv) {
          reject('PTR_LEAK', `leaking pointer from stack off ${b - STACK_SIZE}`, 1 << regno);
        }
      }
      return { value: loadedScalar(), spi: -1 };
    }
    if (total % size !== 0) {
      reject('MISALIGNED', `misaligned stack access off 0+${ptr.off}+${off} size ${size}`, 1 << regno,
        `stack accesses must be aligned to their size (${size})`);
    }
    if (total < -STACK_SIZE || total + size > 0 || total >= 0) {
      reject('STACK_BOUNDS', `invalid ${write ? 'write to' : 'read from'} stack R${regno} off=${total} size=${size}`, 1 << regno,
        'the stack is 512 bytes: offsets from fp-512 to fp-1');
    }
    const b0 = total + STACK_SIZE;
    const slot = b0 >> 3;
    const at = b0 & 7;
    const spiKey = ptr.frame * SLOTS + slot;
    this.touchDepth(fr, -total);
    if (write && size === 8) st.written.add(spiKey);
    else if (!write) this.markStackRead(st, spiKey);
    if (write) {
      const v = val!;
      const old = fr.spill[slot];
      if (isPointer(v.type) && size !== 8) {
        reject('SPILL_SIZE', 'invalid size of register spill', 1 << regno, 'pointers are spilled as 8-byte values');
      }
      if (old && isPointer(old.reg.type) && size !== 8 && this.unpriv) {
        reject('SPILL_CORRUPT', 'attempt to corrupt spilled pointer on stack', 1 << regno);
      }
      if (size === 8 && (v.type !== SCALAR || !this.unpriv)) {
        // (Without privileges Linux keeps no spilled numbers, only their bytes: see below.)
        fr.own().spill[slot] = { reg: v, at: 0, size: 8 };
        for (let i = 0; i < 8; i++) fr.own().kind[b0 + i] = STACK_SPILL;
        if (v.type === SCALAR && v.s.isConst() && v.s.value === 0n && isImm) {
          // `*(u64 *)(r10 - 8) = 0` is a spilled constant too (printed as fp-8=0).
        }
        return { spi: spiKey };
      }
      // Narrow store: the bytes become zero or misc; a spill in the slot is broken up.
      if (old) {
        fr.own().spill[slot] = undefined;
        for (let i = 0; i < 8; i++) {
          if (fr.kind[slot * 8 + i] === STACK_SPILL) {
            fr.own().kind[slot * 8 + i] = old.reg.type === SCALAR && old.reg.s.isConst() && old.reg.s.value === 0n ? STACK_ZERO : STACK_MISC;
          }
        }
      }
      if (at === 0 && v.type === SCALAR && !this.unpriv) {
        // A number stored at the start of a slot is kept as a narrow spill (as Linux does): a fill
        // of the same bytes gives the register back when its value fits.
        fr.own().spill[slot] = { reg: v, at: 0, size };
        for (let i = 0; i < size; i++) fr.own().kind[b0 + i] = STACK_SPILL;
        return { spi: spiKey };
      }
      const zero = v.type === SCALAR && v.s.isConst() && (v.s.value & ((1n << BigInt(size * 8)) - 1n)) === 0n;
      for (let i = 0; i < size; i++) fr.own().kind[b0 + i] = zero ? STACK_ZERO : STACK_MISC;
      return { spi: spiKey };
    }
    // Read.
    const sp = fr.spill[slot];
    if (sp && sp.size === 8) {
      if (size !== 8) {
        if (isPointer(sp.reg.type)) reject('FILL_SIZE', 'invalid size of register fill', 1 << regno, 'read spilled pointers back with 8-byte loads');
        // Part of a spilled scalar.
        if (sp.reg.s.isConst()) {
          const v = (sp.reg.s.value >> BigInt(at * 8)) & ((1n << BigInt(size * 8)) - 1n);
          const r = signExt ? BigInt.asIntN(size * 8, v) : v;
          return { value: constReg(r), spi: spiKey };
        }
        if (at === 0) return { value: narrowFill(sp.reg, size, signExt), spi: spiKey };
        return { value: loadedScalar(), spi: spiKey };
      }
      return { value: sp.reg, spi: spiKey };
    }
    if (sp && at === 0 && size <= sp.size) {
      // A fill of a narrow spill: the register when its value fits in the bytes read.
      const bits = BigInt(size * 8);
      const r = sp.reg.s;
      if (r.isConst()) {
        const v = r.value & ((1n << bits) - 1n);
        return { value: constReg(signExt ? BigInt.asIntN(size * 8, v) : v), spi: spiKey };
      }
      return { value: narrowFill(sp.reg, size, signExt), spi: spiKey };
    }
    let allZero = true;
    for (let i = 0; i < size; i++) {
      const k = fr.kind[b0 + i]!;
      if (k === STACK_INVALID) {
        if (this.unpriv) {
          reject('UNINIT_STACK', `invalid read from stack R${regno} off=${total} size=${size}`, 1 << regno,
            'this stack memory was never written on this path: initialise it first (e.g. = {} or memset)');
        }
        allZero = false;
      } else if (k !== STACK_ZERO) {
        allZero = false;
      }
    }
    if (allZero) return { value: constReg(0n), spi: spiKey };
    return { value: loadedScalar(), spi: spiKey };
  }

  /** A path read stack slot `key` (frame * 64 + slot): the checkpoints above it, up to a write, must compare it. */
  private markStackRead(st: VState, key: number): void {
    if (st.written.has(key)) return;
    for (let c = st.parent; c; c = c.parent) {
      if (c.reads.has(key)) return;
      c.reads.add(key);
      if (c.written.has(key)) return;
    }
  }

  /** Stack bytes [from, to) of a frame (offsets from fp-512) were read. */
  private markStackRange(st: VState, frame: number, from: number, to: number): void {
    for (let sl = from >> 3; sl <= (to - 1) >> 3; sl++) this.markStackRead(st, frame * SLOTS + sl);
  }

  private touchDepth(fr: Frame, bytes: number): void {
    if (bytes > fr.depth) fr.depth = bytes;
    const sp = fr.subprog;
    if (bytes > this.stackDepth[sp]!) this.stackDepth[sp] = bytes;
  }

  private atomicInsn(st: VState, x: Instruction, pc: number): number {
    const fr = st.cur;
    this.checkRegInit(fr, x.dst);
    this.checkRegInit(fr, x.src);
    const a = x.op.atomic!;
    if (a === 'cmpxchg') this.checkRegInit(fr, 0);
    const ptr = fr.regs[x.dst]!;
    const v = fr.regs[x.src]!;
    if (v.type !== SCALAR && this.unpriv) {
      reject('PTR_LEAK', `R${x.src} leaks addr into mem`, 1 << x.src);
    }
    if (ptr.type === PTR_CTX || ptr.type === PKT || ptr.type === PKT_META || ptr.type === PKT_END) {
      reject('ATOMIC_TARGET', `BPF_ATOMIC stores into R${x.dst} ${typeName(ptr.type)} is not allowed`, 1 << x.dst);
    }
    // Atomics need aligned addresses (ordinary loads and stores of map values do not).
    if (ptr.type === MAP_VALUE || ptr.type === MEM) {
      const off = ptr.off + x.off;
      if (off % x.op.size !== 0 || !ptr.s.var_.mask && ptr.s.var_.value % BigInt(x.op.size) !== 0n ||
        ((ptr.s.var_.value | ptr.s.var_.mask) & BigInt(x.op.size - 1)) !== 0n) {
        reject('MISALIGNED', `misaligned value access off ${tnumFormatOff(ptr)}+${ptr.off}+${x.off} size ${x.op.size}`, 1 << x.dst,
          `atomic operations need an address aligned to ${x.op.size} bytes`);
      }
    }
    const rd = this.memAccess(st, x.dst, ptr, x.off, x.op.size, false, undefined, false, pc);
    if (ptr.type === PTR_STACK && ptr.fixedOff()) {
      // Read-modify-write: the slot now holds an unknown scalar.
      const total = ptr.off + x.off;
      const b0 = total + STACK_SIZE;
      const f = st.frames[ptr.frame]!;
      const slot = b0 >> 3;
      if (f.spill[slot] && f.spill[slot]!.reg.type !== SCALAR && this.unpriv) {
        reject('SPILL_CORRUPT', 'attempt to corrupt spilled pointer on stack', 1 << x.dst);
      }
      // Read-modify-write leaves a number behind, whatever was there.
      f.own().spill[slot] = undefined;
      for (let i = 0; i < 8; i++) if (f.kind[slot * 8 + i] === STACK_SPILL) f.own().kind[slot * 8 + i] = STACK_MISC;
      this.memAccess(st, x.dst, ptr, x.off, x.op.size, true, REG_UNKNOWN, false, pc);
    } else {
      this.memAccess(st, x.dst, ptr, x.off, x.op.size, true, REG_UNKNOWN, false, pc);
    }
    const loaded = x.op.size === 8 ? REG_UNKNOWN : scalarReg(Scalar.urange(0n, 0xffffffffn));
    if (a === 'cmpxchg') fr.regs[0] = loaded;
    else if (a.startsWith('fetch') || a === 'xchg') fr.regs[x.src] = loaded;
    return rd.spi;
  }

  private ldAbs(st: VState, x: Instruction): void {
    const fr = st.cur;
    if (!SKB_TYPES.has(this.progType)) {
      reject('LD_ABS', 'BPF_LD_[ABS|IND] instructions not allowed for this program type', 0);
    }
    if (st.refs.length) reject('LD_ABS', 'BPF_LD_[ABS|IND] cannot be mixed with socket references', 0);
    const r6 = fr.regs[6]!;
    if (r6.type !== PTR_CTX) reject('LD_ABS', 'at the time of BPF_LD_ABS|IND R6 != pointer to skb', 1 << 6);
    if (x.op.kind === 'ld_ind') {
      this.checkRegInit(fr, x.src);
      if (fr.regs[x.src]!.type !== SCALAR) reject('LD_ABS', `R${x.src} pointer as ld_ind index`, 1 << x.src);
    }
    for (let r = 1; r <= 5; r++) fr.regs[r] = REG_NOT_INIT;
    fr.regs[0] = scalarReg(Scalar.urange(0n, (1n << BigInt(x.op.size * 8)) - 1n));
  }

  // ---- Jumps ----

  /** Returns the mask of registers linked to the compared ones (for precision backtracking). */
  private condJump(st: VState, x: Instruction, pc: number): number {
    const fr = st.cur;
    const is64 = x.op.is64;
    const op = x.op.jmp!;
    this.checkRegInit(fr, x.dst);
    if (x.op.srcReg) this.checkRegInit(fr, x.src);
    const a = fr.regs[x.dst]!;
    const b = x.op.srcReg ? fr.regs[x.src]! : constReg(BigInt(x.imm));
    const target = pc + 1 + x.off;
    const next = pc + 1;
    const linked = this.linkedMask(st, a, b, x);

    const follow = (taken: boolean): void => { st.pc = taken ? target : next; };

    if (a.type === SCALAR && b.type === SCALAR) {
      const t = branchTaken(op, a.s, b.s, is64);
      if (t !== -1) {
        this.markRegPrecise(st, x.op.srcReg ? [x.dst, x.src] : [x.dst]);
        follow(t === 1);
        return linked;
      }
      // Both edges possible: refine each.
      const aT = a.s.clone(); const bT = b.s.clone();
      const okT = refine(op, aT, bT, is64, true);
      const aF = a.s.clone(); const bF = b.s.clone();
      const okF = refine(op, aF, bF, is64, false);
      if (!okT || !okF) this.markRegPrecise(st, x.op.srcReg ? [x.dst, x.src] : [x.dst]);
      if (okT && okF) {
        const child = st.fork();
        this.applyRefined(child.cur, child, x, a, b, aT, bT);
        child.pc = target;
        child.path = { pc, taken: true, prev: st.path } as PathNode;
        this.pushFork(child, st, pc);
        this.applyRefined(fr, st, x, a, b, aF, bF);
        st.pc = next;
        st.path = { pc, taken: false, prev: st.path };
        return linked;
      }
      if (okT) { this.applyRefined(fr, st, x, a, b, aT, bT); follow(true); } else { this.applyRefined(fr, st, x, a, b, aF, bF); follow(false); }
      return linked;
    }

    // Null checks: a maybe-null pointer against 0.
    const isZero = (r: Reg): boolean => r.type === SCALAR && r.s.isConst() && r.s.value === 0n;
    // Null checks: Linux recognises them against an immediate 0 only (a register holding 0 is an ordinary pointer comparison).
    if ((op === 'jeq' || op === 'jne') && !x.op.srcReg && isPointer(a.type) && isZero(b)) {
      const p = a;
      const eqTaken = op === 'jeq';
      if (!p.maybeNull) {
        // A valid pointer is never NULL.
        follow(!eqTaken);
        return linked;
      }
      const child = st.fork();
      child.pc = target;
      child.path = { pc, taken: true, prev: st.path };
      this.markNull(child, p, eqTaken);
      this.pushFork(child, st, pc);
      this.markNull(st, p, !eqTaken);
      st.pc = next;
      st.path = { pc, taken: false, prev: st.path };
      return linked;
    }

    // Packet pointer against packet end (or meta against data): the fall-through grows the proven range.
    if (this.pktCompare(st, x, a, b, pc)) return linked;

    if (isPointer(a.type) || isPointer(b.type)) {
      if (this.unpriv) reject('PTR_COMPARE', `R${isPointer(a.type) ? x.dst : x.src} pointer comparison prohibited`, (1 << x.dst) | (x.op.srcReg ? 1 << x.src : 0));
    }
    // Unrelated pointers: both edges, nothing learned.
    const child = st.fork();
    child.pc = target;
    child.path = { pc, taken: true, prev: st.path };
    this.pushFork(child, st, pc);
    st.pc = next;
    st.path = { pc, taken: false, prev: st.path };
    return linked;
  }

  private pushFork(child: VState, _st: VState, pc: number): void {
    this.push(child, pc);
  }

  /**
   * Registers of the current frame linked (same scalar id) to the compared ones; bit 15 when
   * a copy lives elsewhere (spilled, or in another frame): precision walks do not follow those.
   */
  private linkedMask(st: VState, a: Reg, b: Reg, x: Instruction): number {
    const ids: number[] = [];
    if (a.type === SCALAR && a.id) ids.push(a.id);
    if (x.op.srcReg && b.type === SCALAR && b.id) ids.push(b.id);
    if (!ids.length) return 0;
    let m = 0;
    const last = st.frames.length - 1;
    st.frames.forEach((f, fi) => {
      for (let r = 0; r < 10; r++) {
        const reg = f.regs[r]!;
        if (reg.type !== SCALAR || !ids.includes(reg.id)) continue;
        m |= fi === last ? 1 << r : 1 << 15;
      }
      for (const sp of f.spill) if (sp && sp.reg.type === SCALAR && ids.includes(sp.reg.id)) m |= 1 << 15;
    });
    return m;
  }

  private applyRefined(fr: Frame, st: VState, x: Instruction, a: Reg, b: Reg, as: Scalar, bs: Scalar): void {
    const na = new Reg({ type: SCALAR, s: as, id: a.id, idOff: a.idOff });
    na.precise = a.precise;
    fr.regs[x.dst] = na;
    this.syncLinked(st, na);
    if (x.op.srcReg) {
      const nb = new Reg({ type: SCALAR, s: bs, id: b.id, idOff: b.idOff });
      nb.precise = b.precise;
      fr.regs[x.src] = nb;
      this.syncLinked(st, nb);
    }
  }

  /** Registers that hold the same scalar (plus a known constant) as `r` learn what a branch taught about it. */
  private syncLinked(st: VState, r: Reg): void {
    if (!r.id) return;
    for (const f of st.frames) {
      for (let i = 0; i < 10; i++) {
        const q = f.regs[i]!;
        if (q === r || q.type !== SCALAR || q.id !== r.id) continue;
        const s = q.idOff === r.idOff ? r.s : scalarAlu('add', r.s, Scalar.const(q.idOff - r.idOff), true);
        const n = new Reg({ type: SCALAR, s, id: q.id, idOff: q.idOff });
        n.precise = q.precise;
        f.regs[i] = n;
      }
      for (let sl = 0; sl < SLOTS; sl++) {
        const sp = f.spill[sl];
        if (!sp || sp.reg.type !== SCALAR || sp.reg.id !== r.id || sp.reg === r) continue;
        const q = sp.reg;
        const s = q.idOff === r.idOff ? r.s : scalarAlu('add', r.s, Scalar.const(q.idOff - r.idOff), true);
        const n = new Reg({ type: SCALAR, s, id: q.id, idOff: q.idOff });
        n.precise = q.precise;
        f.own().spill[sl] = { ...sp, reg: n };
      }
    }
  }

  /** On one edge of a null check: every copy of the pointer (same id) is NULL, or is valid. */
  private markNull(st: VState, p: Reg, isNull: boolean): void {
    const id = p.id;
    const conv = (q: Reg): Reg => {
      if (isNull) return constReg(0n);
      return q.with({ maybeNull: false, id: 0 });
    };
    const match = (q: Reg): boolean => q.maybeNull && id !== 0 && q.id === id;
    for (const f of st.frames) {
      for (let i = 0; i < 11; i++) if (match(f.regs[i]!)) f.regs[i] = conv(f.regs[i]!);
      for (let s = 0; s < SLOTS; s++) {
        const sp = f.spill[s];
        if (sp && match(sp.reg)) f.own().spill[s] = { ...sp, reg: conv(sp.reg) };
      }
    }
    if (isNull && p.refId) {
      // A failed reservation holds nothing.
      st.refs = st.refs.filter((r) => r.id !== p.refId);
    }
  }

  private pktCompare(st: VState, x: Instruction, a: Reg, b: Reg, pc: number): boolean {
    const op = x.op.jmp!;
    if (!x.op.is64) return false;
    let ptrIsA: boolean;
    let ptr: Reg;
    if (a.type === PKT && b.type === PKT_END) { ptr = a; ptrIsA = true; } else if (b.type === PKT && a.type === PKT_END) { ptr = b; ptrIsA = false; } else if (a.type === PKT_META && b.type === PKT) { ptr = a; ptrIsA = true; } else if (b.type === PKT_META && a.type === PKT) { ptr = b; ptrIsA = false; } else return false;
    // Normalise to "ptr OP end".
    const o = ptrIsA ? op : swapOp(op);
    let edge: { taken: number; notTaken: number } | undefined; // range on each edge (-1: ptr >= end, -2: ptr > end)
    // range for "ptr <= end" is off, for "ptr < end" is off+1.
    const off = ptr.off;
    switch (o) {
      case 'jgt': edge = { taken: -2, notTaken: off }; break;
      case 'jge': edge = { taken: -1, notTaken: off + 1 }; break;
      case 'jlt': edge = { taken: off + 1, notTaken: -1 }; break;
      case 'jle': edge = { taken: off, notTaken: -2 }; break;
      default: edge = undefined;
    }
    const ptrReg = ptrIsA ? x.dst : x.src;
    if (edge && ptr.range < 0) {
      // An earlier compare already placed the pointer at or beyond the end.
      const beyond = ptr.range === -2;
      let taken: boolean | undefined;
      if (o === 'jgt' && beyond) taken = true;
      if (o === 'jge') taken = true;
      if (o === 'jlt') taken = false;
      if (o === 'jle' && beyond) taken = false;
      if (taken !== undefined) { st.pc = taken ? pc + 1 + x.off : pc + 1; return true; }
    }
    const child = st.fork();
    child.pc = pc + 1 + x.off;
    child.path = { pc, taken: true, prev: st.path };
    if (edge) this.setPktRange(child, ptr, ptrReg, edge.taken);
    this.pushFork(child, st, pc);
    if (edge) this.setPktRange(st, ptr, ptrReg, edge.notTaken);
    st.pc = pc + 1;
    st.path = { pc, taken: false, prev: st.path };
    return true;
  }

  private setPktRange(st: VState, ptr: Reg, regno: number, range: number): void {
    const fr = st.cur;
    if (range < 0) {
      fr.regs[regno] = ptr.with({ range });
      return;
    }
    if (!ptr.fixedOff() && ptr.s.umax > BigInt(MAX_PACKET_OFF)) return;
    // Every packet pointer with the same id (same variable part) gets the range.
    for (const f of st.frames) {
      for (let i = 0; i < 11; i++) {
        const q = f.regs[i]!;
        if (q.type === ptr.type && q.id === ptr.id && q.range >= 0 && q.range < range) f.regs[i] = q.with({ range });
      }
      for (let s = 0; s < SLOTS; s++) {
        const sp = f.spill[s];
        if (sp && sp.reg.type === ptr.type && sp.reg.id === ptr.id && sp.reg.range >= 0 && sp.reg.range < range) {
          f.own().spill[s] = { ...sp, reg: sp.reg.with({ range }) };
        }
      }
    }
  }

  // ---- Calls ----

  private helperCall(st: VState, x: Instruction, pc: number, line: string): boolean {
    const fr = st.cur;
    const id = x.imm;
    const proto = this.protoOf(id);
    const name = helperName(id) ?? (proto ? proto.name : undefined);
    const label = `${name ?? 'unknown'}#${id}`;
    if (!name) reject('UNKNOWN_HELPER', `invalid func unknown#${id}`, 0, 'helper ids are listed in <linux/bpf.h> (BPF_FUNC_*)');
    if (!proto) {
      reject('UNSUPPORTED_HELPER', `helper ${label} is not supported by tsbpf`, 0,
        'tsbpf models the common helpers only (see docs/verifier.md)');
    }
    const allowed = this.ctx?.helpers ? this.ctx.helpers.includes(id) : (proto.progTypes ? proto.progTypes.includes(this.progType) : true);
    if (!allowed) reject('HELPER_NOT_ALLOWED', `program of this type cannot use helper ${label}`, 0);
    if (this.unpriv && proto.privileged) reject('UNKNOWN_HELPER', `unknown func ${label}`, 0);
    if (proto.id === 12 && st.refs.length) {
      reject('REF_LEAK', 'tail_call would lead to reference leak', 0, 'release references (ringbuf submit/discard) before the tail call');
    }
    // Arguments.
    let mapIdx = -1;
    let callback = -1;
    let allocSize = 0;
    let releaseRef = 0;
    let keyIsZero = false;
    let keySlots: Array<[number, number]> | undefined;
    const sizes: number[] = [];
    const args = proto.argsByType?.[this.progType] ?? proto.args;
    for (let i = 0; i < args.length; i++) {
      const r = i + 1;
      const t = args[i]!;
      this.checkRegInit(fr, r);
      const reg = fr.regs[r]!;
      switch (t) {
        case 'anything':
          if (this.unpriv && isPointer(reg.type)) reject('PTR_LEAK', `R${r} leaks addr into helper function`, 1 << r);
          break;
        case 'map_ptr':
          if (reg.type !== MAP_PTR || reg.maybeNull) this.argType(r, reg, 'map_ptr');
          mapIdx = reg.map;
          if (proto.mapTypes && !proto.mapTypes.includes(this.maps[mapIdx]!.type)) {
            reject('MAP_TYPE', `cannot pass map_type ${this.maps[mapIdx]!.type} into func ${label}`, 1 << r);
          }
          if ((proto.id === 2 || proto.id === 3) && READONLY_FROM_PROGS.includes(this.maps[mapIdx]!.type)) {
            reject('MAP_WRITE', 'write into map forbidden', 1 << r, 'programs change this kind of map only through its own helpers');
          }
          break;
        case 'map_key': case 'map_value': case 'uninit_map_value': {
          const m = this.maps[mapIdx];
          if (!m) reject('ARG_TYPE', `R${r} map pointer argument missing`, 1 << r);
          const sz = t === 'map_key' ? m.keySize : m.valueSize;
          keyIsZero = this.helperMem(st, r, reg, sz, t === 'uninit_map_value', pc, t === 'map_key' ? 'map_key' : 'map_value') && t === 'map_key';
          if (keyIsZero && reg.type === PTR_STACK) {
            const b0 = reg.off + STACK_SIZE;
            keySlots = [];
            for (let sl = b0 >> 3; sl <= (b0 + sz - 1) >> 3; sl++) keySlots.push([reg.frame, sl]);
          }
          break;
        }
        case 'ctx':
          if (reg.type !== PTR_CTX) this.argType(r, reg, 'ctx');
          if (reg.off !== 0) reject('ARG_TYPE', `dereference of modified ctx ptr R${r} off=${reg.off} disallowed`, 1 << r);
          break;
        case 'mem': case 'mem_or_null': case 'uninit_mem': {
          const sreg = fr.regs[r + 1]!;
          this.checkRegInit(fr, r + 1);
          const zeroOk = args[i + 1] === 'size_or_zero';
          if (t === 'mem_or_null' && reg.type === SCALAR && reg.s.isConst() && reg.s.value === 0n) {
            // NULL: it being exactly 0 (and the size too) is what makes the call valid.
            this.markRegPrecise(st, [r]);
            if (sreg.type !== SCALAR || !sreg.s.isConst() || sreg.s.value !== 0n) {
              reject('ARG_SIZE', `R${r + 1} size must be 0 for a NULL R${r}`, 1 << (r + 1));
            }
            this.markRegPrecise(st, [r + 1]);
            i++;
            break;
          }
          const memTypes = [PTR_STACK, PKT, PKT_META, MAP_KEY, MAP_VALUE, MEM];
          if (!memTypes.includes(reg.type) || reg.maybeNull) {
            this.argType(r, reg, 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem');
          }
          const size = this.sizeArg(st, r + 1, sreg, zeroOk);
          sizes[r + 1] = size;
          if (size > 0) this.helperMem(st, r, reg, size, t === 'uninit_mem', pc, 'mem');
          i++;
          break;
        }
        case 'size': case 'size_or_zero':
          sizes[r] = this.sizeArg(st, r, reg, t === 'size_or_zero');
          break;
        case 'alloc_size':
          if (reg.type !== SCALAR || !reg.s.isConst()) {
            reject('ARG_SIZE', `R${r} is not a known constant'`, 1 << r, 'ringbuf reservations need a constant size');
          }
          this.markRegPrecise(st, [r]);
          allocSize = Number(reg.s.value);
          break;
        case 'ringbuf_mem':
          if (reg.type !== MEM || !reg.ringbuf || reg.maybeNull) this.argType(r, reg, 'ringbuf_mem');
          if (reg.off !== 0 || !reg.fixedOff()) {
            reject('ARG_TYPE', `R${r} must have zero offset when passed to release func`, 1 << r);
          }
          releaseRef = reg.refId;
          break;
        case 'func':
          if (reg.type !== FUNC) this.argType(r, reg, 'func');
          callback = reg.subprog;
          break;
        case 'stack_or_null':
          if (!(reg.type === PTR_STACK || (reg.type === SCALAR && reg.s.isConst() && reg.s.value === 0n))) {
            this.argType(r, reg, 'fp');
          }
          if (reg.type === SCALAR) this.markRegPrecise(st, [r]);
          break;
      }
    }
    if (proto.callback) {
      // Verify the callback: a fork enters it (and, each time it returns, again or not).
      this.log(line);
      const child = st.fork();
      this.enterCallback(child, pc, callback, proto);
      this.push(child, pc);
      this.afterHelper(st, proto, pc, -1, 0, false);
      return false;
    }
    if (releaseRef) this.releaseRef(st, releaseRef);
    this.afterHelper(st, proto, pc, mapIdx, allocSize, keyIsZero, keySlots);
    if (proto.retMaxFromArg !== undefined && sizes[proto.retMaxFromArg] !== undefined) {
      // The helper returns at most the buffer size (or a negative error).
      const r0 = Scalar.unknown();
      r0.smax = BigInt(sizes[proto.retMaxFromArg]!);
      r0.s32max = Math.min(r0.s32max, sizes[proto.retMaxFromArg]!);
      r0.sync();
      fr.regs[0] = scalarReg(r0);
    }
    if (this.level > 0) this.logEffect(line, st, 1);
    return false;
  }

  private protoOf(id: number): HelperProto | undefined {
    return this.opts.helpers?.find((p) => p.id === id) ?? this.ctx?.helperProtos?.find((p) => p.id === id) ?? helperProto(id);
  }

  private argType(r: number, reg: Reg, expected: string): never {
    const got = reg.type === NOT_INIT ? 'not_init' : typeName(reg.type, reg.maybeNull, reg.ringbuf);
    reject('ARG_TYPE', `R${r} type=${got} expected=${expected}`, 1 << r,
      `argument ${r} of this helper must be a ${expected}`);
  }

  /** A size argument: a bounded non-negative scalar. Returns its upper bound. */
  private sizeArg(st: VState, r: number, reg: Reg, zeroOk: boolean): number {
    if (reg.type !== SCALAR) reject('ARG_SIZE', `R${r} type=${typeName(reg.type)} expected=scalar`, 1 << r);
    this.markRegPrecise(st, [r]);
    if (reg.s.smin < 0n) {
      reject('ARG_SIZE', `R${r} min value is negative, either use unsigned or 'var &= const'`, 1 << r,
        'bound the size: if (len > N) len = N; or len &= N - 1;');
    }
    if (reg.s.umax >= BigInt(BPF_MAX_VAR_SIZ)) {
      reject('ARG_SIZE', `R${r} unbounded memory access, use 'var &= const' or 'if (var < const)'`, 1 << r,
        'bound the size before the call: if (len > N) return 0;');
    }
    if (reg.s.umin === 0n && !zeroOk) {
      if (reg.s.umax === 0n) reject('ARG_SIZE', `R${r} invalid zero-sized read`, 1 << r);
      reject('ARG_SIZE', `R${r} invalid zero-sized read: u64=[0,${reg.s.umax}]`, 1 << r,
        'the size may be 0 here: check `if (len == 0) return 0;` or use a size of at least 1');
    }
    return Number(reg.s.umax);
  }

  /**
   * Memory a helper reads (or, `write`, fills) through a pointer argument.
   * Returns true when the memory is stack bytes known to be all zero (a constant key 0).
   */
  private helperMem(st: VState, r: number, reg: Reg, size: number, write: boolean, pc: number, what: string): boolean {
    switch (reg.type) {
      case PTR_STACK: {
        const fr = st.frames[reg.frame]!;
        const lo = BigInt(reg.off) + reg.s.smin;
        const hi = BigInt(reg.off) + reg.s.smax + BigInt(size);
        if (lo < -BigInt(STACK_SIZE) || hi > 0n) {
          reject('STACK_BOUNDS', `invalid indirect access to stack R${r} off=${lo} size=${size}`, 1 << r,
            'the buffer passed to the helper must lie inside the 512-byte stack');
        }
        this.touchDepth(fr, -Number(lo));
        const from = Number(lo) + STACK_SIZE;
        const to = Number(hi) + STACK_SIZE;
        if (!write) this.markStackRange(st, reg.frame, from, to);
        let zero = reg.fixedOff();
        for (let b = from; b < to; b++) {
          const slot = b >> 3;
          if (write) {
            if (fr.spill[slot]) {
              const sp = fr.spill[slot]!;
              fr.own().spill[slot] = undefined;
              for (let i = 0; i < 8; i++) if (fr.kind[slot * 8 + i] === STACK_SPILL) fr.own().kind[slot * 8 + i] = sp.reg.type === SCALAR ? STACK_MISC : STACK_MISC;
            }
            fr.own().kind[b] = STACK_MISC;
            continue;
          }
          const k = fr.kind[b]!;
          if (k !== STACK_ZERO) zero = false;
          if (k === STACK_INVALID && this.unpriv) {
            reject('UNINIT_STACK', `invalid indirect read from stack R${r} off ${reg.off}+${b - from} size ${size}`, 1 << r,
              `initialise the ${what} on the stack before passing it`);
          }
          const sp = fr.spill[slot];
          if (k === STACK_SPILL && sp && sp.reg.type === SCALAR && sp.reg.s.isConst() && sp.reg.s.value === 0n) {
            // A spilled zero reads as zero bytes.
          } else if (k === STACK_SPILL) {
            zero = false;
          }
        }
        this.noteRegion(pc, 0);
        return zero && !write;
      }
      case MAP_VALUE: case MEM: case MAP_KEY: {
        if (reg.maybeNull) reject('NULL_DEREF', `R${r} invalid mem access '${typeName(reg.type, true, reg.ringbuf)}'`, 1 << r);
        const limit = reg.type === MEM ? reg.memSize : reg.type === MAP_KEY ? this.maps[reg.map]!.keySize : this.maps[reg.map]!.valueSize;
        this.checkRegion(r, reg, 0, size, limit, reg.type === MEM ? 'memory' : 'map value', reg.type === MEM ? 'mem_size' : 'value_size');
        return false;
      }
      case PKT: case PKT_META:
        if (write && !this.packetWritable()) reject('PKT_WRITE', 'cannot write into packet', 1 << r);
        this.checkPacket(r, reg, 0, size);
        return false;
      case PTR_CTX:
        if (what === 'mem') {
          reject('ARG_TYPE', `R${r} type=ctx expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem`, 1 << r);
        }
        this.argType(r, reg, what === 'map_key' ? 'fp' : what);
        break;
      default:
        this.argType(r, reg, what === 'map_key' || what === 'map_value' ? 'fp' : 'fp, pkt, map_value, mem');
    }
  }

  private afterHelper(st: VState, proto: HelperProto, pc: number, mapIdx: number, allocSize: number, keyIsZero: boolean,
    keySlots?: Array<[number, number]>): void {
    const fr = st.cur;
    for (let r = 1; r <= 5; r++) fr.regs[r] = REG_NOT_INIT;
    switch (proto.ret) {
      case 'integer':
        fr.regs[0] = REG_UNKNOWN;
        break;
      case 'void':
        fr.regs[0] = REG_NOT_INIT;
        break;
      case 'map_value_or_null': {
        const m = this.maps[mapIdx]!;
        if (m.type === MAP_TYPE.ARRAY_OF_MAPS || m.type === MAP_TYPE.HASH_OF_MAPS) {
          const inner = this.innerOf[mapIdx] ?? -1;
          if (inner < 0) reject('BAD_MAP', `map-in-map ${m.name ?? mapIdx} has no inner map template`, 0);
          fr.regs[0] = new Reg({ type: MAP_PTR, map: inner, maybeNull: true, id: this.newId() });
          break;
        }
        const constKey = keyIsZero && (m.type === MAP_TYPE.ARRAY || m.type === MAP_TYPE.PERCPU_ARRAY) && m.maxEntries > 0;
        if (constKey && keySlots) for (const [f, sl] of keySlots) this.markSlotPrecise(st, f, sl);
        fr.regs[0] = constKey
          ? new Reg({ type: MAP_VALUE, map: mapIdx })
          : new Reg({ type: MAP_VALUE, map: mapIdx, maybeNull: true, id: this.newId() });
        break;
      }
      case 'ringbuf_mem_or_null': {
        this.newId(); // Linux spends one id on the call before the reference's (keeps the log's numbers alike)
        const id = this.newId();
        fr.regs[0] = new Reg({ type: MEM, ringbuf: true, maybeNull: true, id, refId: id, memSize: allocSize });
        st.refs = [...st.refs, { id, insn: pc } as RefEntry];
        break;
      }
    }
    if (proto.changesPacket) this.clearPacketPointers(st);
    st.pc = pc + 1;
  }

  private clearPacketPointers(st: VState): void {
    for (const f of st.frames) {
      for (let i = 0; i < 11; i++) {
        const t = f.regs[i]!.type;
        if (t === PKT || t === PKT_END || t === PKT_META) f.regs[i] = REG_UNKNOWN;
      }
      for (let s = 0; s < SLOTS; s++) {
        const sp = f.spill[s];
        if (sp && (sp.reg.type === PKT || sp.reg.type === PKT_END || sp.reg.type === PKT_META)) f.own().spill[s] = { ...sp, reg: REG_UNKNOWN };
      }
    }
  }

  private releaseRef(st: VState, id: number): void {
    if (!st.refs.some((r) => r.id === id)) reject('REF_RELEASE', `release of an unacquired reference id=${id}`, 0);
    st.refs = st.refs.filter((r) => r.id !== id);
    for (const f of st.frames) {
      for (let i = 0; i < 11; i++) if (f.regs[i]!.refId === id) f.regs[i] = REG_NOT_INIT;
      for (let s = 0; s < SLOTS; s++) {
        const sp = f.spill[s];
        if (sp && sp.reg.refId === id) {
          f.own().spill[s] = undefined;
          for (let i = 0; i < 8; i++) f.own().kind[s * 8 + i] = STACK_MISC;
        }
      }
    }
  }

  private enterCallback(st: VState, pc: number, subprog: number, proto: HelperProto): void {
    if (st.frames.length >= 8) reject('CALL_TOO_DEEP', `the call stack of ${st.frames.length + 1} frames is too deep`, 0);
    const caller = st.cur;
    const sp = this.cfg.subprogs[subprog]!;
    const f = new Frame(subprog, st.frames.length, pc, { helper: proto.id, retMin: proto.callback!.retMin, retMax: proto.callback!.retMax });
    // bpf_loop(nr, fn, ctx, flags): fn(index, ctx).
    f.regs[1] = scalarReg(Scalar.urange(0n, 0xffffffffn));
    f.regs[2] = caller.regs[3]!;
    f.regs[10] = new Reg({ type: PTR_STACK, frame: f.frameno });
    st.frames = [...st.frames, f];
    st.pc = sp.start;
  }

  private localCall(st: VState, x: Instruction, pc: number): void {
    if (st.frames.length >= 8) {
      reject('CALL_TOO_DEEP', `the call stack of ${st.frames.length + 1} frames is too deep`, 0);
    }
    const target = pc + 1 + x.imm;
    const sp = this.cfg.subprogStarting(target);
    const caller = st.cur;
    const f = new Frame(sp, st.frames.length, pc);
    for (let r = 1; r <= 5; r++) f.regs[r] = caller.regs[r]!;
    f.regs[10] = new Reg({ type: PTR_STACK, frame: f.frameno });
    st.frames = [...st.frames, f];
    st.pc = target;
    if (this.level > 0) {
      this.log(`caller:\n ${formatFrame(caller, this.maps)}\ncallee:\n frame${f.frameno}: ${formatFrame(f, this.maps)}`);
    }
  }

  private exitInsn(st: VState, pc: number): boolean {
    const fr = st.cur;
    if (st.frames.length > 1) {
      const r0 = fr.regs[0]!;
      if (fr.callback) {
        this.checkRegInit(fr, 0);
        if (r0.type !== SCALAR) reject('RET_TYPE', `At callback return the register R0 is not a known value (${typeName(r0.type, r0.maybeNull)})`, 1);
        this.markRegPrecise(st, [0]);
        if (r0.s.smin < fr.callback.retMin || r0.s.smax > fr.callback.retMax) {
          reject('RET_RANGE', `At callback return the register R0 has smin=${r0.s.smin} smax=${r0.s.smax} should have been in [${fr.callback.retMin}, ${fr.callback.retMax}]`, 1,
            `return ${fr.callback.retMin} (continue) or ${fr.callback.retMax} (stop) from the callback`);
        }
        // Back in the helper: call the callback again (another iteration), or finish.
        const callsite = fr.callsite;
        const frames = st.frames.slice(0, -1);
        const proto = this.protoOf(fr.callback.helper)!;
        const subprog = fr.subprog;
        st.frames = frames;
        const again = st.fork();
        again.pc = callsite;
        this.enterCallback(again, callsite, subprog, proto);
        this.push(again, pc);
        this.afterHelper(st, proto, callsite, -1, 0, false);
        if (this.level > 0) this.log(`returning from callback:\n ${this.fullState(st)}`);
        return false;
      }
      if (r0.type === PTR_STACK && r0.frame >= fr.frameno) {
        reject('RET_STACK_PTR', 'cannot return stack pointer to the caller frame', 1);
      }
      st.frames = st.frames.slice(0, -1);
      const caller = st.cur;
      caller.regs[0] = r0;
      for (let r = 1; r <= 5; r++) caller.regs[r] = REG_NOT_INIT;
      st.pc = fr.callsite + 1;
      if (this.level > 0) {
        this.log(`returning from callee:\n frame${fr.frameno}: ${formatFrame(fr, this.maps)}\nto caller at ${st.pc}:\n ${formatFrame(caller, this.maps)}`);
      }
      return false;
    }
    this.checkRegInit(fr, 0);
    if (st.refs.length) {
      const r = st.refs[0]!;
      reject('UNRELEASED_REF', `Unreleased reference id=${r.id} alloc_insn=${r.insn}`, 0,
        `every path must submit or discard the ringbuf reservation made at insn ${r.insn}`);
    }
    const r0 = fr.regs[0]!;
    const range = this.ctx?.returnRange;
    if (range) {
      if (r0.type !== SCALAR) {
        reject('RET_TYPE', `At program exit the register R0 is not a known value (${typeName(r0.type, r0.maybeNull)})`, 1,
          `return a number in [${range[0]}, ${range[1]}]`);
      }
      this.markRegPrecise(st, [0]);
      if (r0.s.smin < range[0] || r0.s.smax > range[1]) {
        reject('RET_RANGE', `At program exit the register R0 has smin=${r0.s.smin} smax=${r0.s.smax} should have been in [${range[0]}, ${range[1]}]`, 1,
          `this program type returns a value in [${range[0]}, ${range[1]}]`);
      }
    } else if (this.unpriv && isPointer(r0.type)) {
      reject('PTR_LEAK', 'R0 leaks addr as return value', 1, 'return a number, not a pointer');
    }
    return true;
  }

  // ---------------------------------------------------------------------
  // Reports

  private toError(r: Reject): VerifierError {
    const st = this.cur;
    const pc = st ? st.pc : -1;
    const x = pc >= 0 ? this.cfg?.at[pc] : undefined;
    let regs: string | undefined;
    if (st) {
      let mask = r.regs;
      if (!mask && x) mask = useDef(x, helperArgCount).use & 0x7ff;
      const t = formatFrame(st.cur, this.maps, mask, []);
      if (t) regs = t;
    }
    const details: ConstructorParameters<typeof VerifierError>[3] = {
      ...(regs ? { regs } : {}),
      path: st ? pathToArray(st.path) as VerifierPathStep[] : [],
      ...(r.hint ? { hint: r.hint } : {}),
      ...(x ? { insn: formatKernelInsn(x) } : {}),
      ...(this.sourceOf(pc) ? { source: this.sourceOf(pc)! } : {}),
    };
    return new VerifierError(r.code, r.msg, pc, details);
  }

  private sourceOf(pc: number): { file?: string; line?: number; column?: number; text?: string } | undefined {
    const li = this.opts.lineInfo;
    if (!li || pc < 0) return undefined;
    let best: LineInfo | undefined;
    for (const l of li) if (l.insn <= pc && (!best || l.insn >= best.insn)) best = l;
    if (!best) return undefined;
    const { file, line, column, text } = best;
    return { ...(file !== undefined ? { file } : {}), ...(line !== undefined ? { line } : {}), ...(column !== undefined ? { column } : {}), ...(text !== undefined ? { text } : {}) };
  }

  /** Every LD_IMM64 map reference, reachable or not, names a map (Linux resolves them all at load). */
  private checkMapRefs(): void {
    for (let pc = 0; pc < this.cfg.nslots; pc++) {
      const x = this.cfg.at[pc];
      if (!x || x.op.kind !== 'ld_imm64' || (x.src !== 1 && x.src !== 2)) continue;
      const m = this.maps[x.imm];
      const fail = (code: string, msg: string, hint?: string): never => {
        throw new VerifierError(code, msg, pc, hint ? { hint, insn: formatKernelInsn(x) } : { insn: formatKernelInsn(x) });
      };
      if (x.imm < 0 || !m || x.imm >= (this.opts.maps?.length ?? 0)) {
        fail('BAD_MAP', `fd ${x.imm} is not pointing to valid bpf_map`,
          `give the program's maps in order: LD_IMM64 imm is an index into the map list (${this.opts.maps?.length ?? 0} given)`);
      }
      if (x.src === 2) {
        if (m.type !== MAP_TYPE.ARRAY) fail('BAD_MAP', 'no direct value access support for this map type');
        if (x.imm2 < 0 || x.imm2 >= m.valueSize) fail('BAD_MAP', `invalid access to map value pointer, value_size=${m.valueSize} off=${x.imm2}`);
      }
    }
  }

  private checkStackDepth(): void {
    // Combined stack of the deepest call chain (each frame rounded up to 32 bytes as the kernel does).
    const sps = this.cfg.subprogs;
    const memo = new Map<number, number>();
    const depth = (k: number): number => {
      const m = memo.get(k);
      if (m !== undefined) return m;
      const own = Math.ceil(Math.max(this.stackDepth[k]!, 1) / 32) * 32;
      let best = 0;
      for (const c of sps[k]!.calls) best = Math.max(best, depth(c));
      for (const c of sps[k]!.funcRefs) best = Math.max(best, depth(c));
      memo.set(k, own + best);
      return own + best;
    };
    const total = depth(0);
    if (sps.length > 1 && total > STACK_SIZE) {
      throw new VerifierError('STACK_TOO_DEEP', `combined stack size of ${sps.length} calls is ${total}. Too large`, -1,
        { hint: 'move large buffers into a per-CPU array map' });
    }
  }

  private logLiveness(): void {
    this.log('func#0 @0');
    for (let k = 1; k < this.cfg.subprogs.length; k++) this.log(`func#${k} @${this.cfg.subprogs[k]!.start}`);
    this.log('Live regs before insn:');
    for (let s = 0; s < this.cfg.nslots; s++) {
      const x = this.cfg.at[s];
      if (!x) continue;
      let m = '';
      for (let r = 0; r < 10; r++) m += (this.live[s]! >> r) & 1 ? String(r) : '.';
      this.log(`${String(s).padStart(7)}: ${m} (${x.op.opcode.toString(16).padStart(2, '0')}) ${formatKernelInsn(x)}`);
    }
  }

  private collect(st: VState): void {
    const pc = st.pc;
    let l = this.collected!.get(pc);
    if (!l) { l = []; this.collected!.set(pc, l); }
    if (l.length >= 8) return;
    const fr = st.cur;
    const regs: Record<string, string> = {};
    for (let i = 0; i <= 10; i++) if (fr.regs[i]!.type !== NOT_INIT) regs[`R${i}`] = formatReg(fr.regs[i]!, this.maps);
    const stack: Record<string, string> = {};
    const text = formatFrame(fr, this.maps, 0);
    for (const part of text.split(' ').filter(Boolean)) {
      const eq = part.indexOf('=');
      stack[part.slice(0, eq)] = part.slice(eq + 1);
    }
    const e = { frame: st.frames.length - 1, regs, stack };
    const key = JSON.stringify(e);
    if (!l.some((o) => JSON.stringify(o) === key)) l.push(e);
  }

  /** The instruction's dst and src registers when they hold the same constant on every visit (for the engines). */
  private recordConsts(st: VState): void {
    const pc = st.pc;
    const x = this.cfg.at[pc]!;
    const fr = st.cur;
    const one = (arr: Array<bigint | null | undefined>, reg: number): void => {
      const v = arr[pc];
      if (v === null) return;
      const r = fr.regs[reg]!;
      const c = r.type === SCALAR && r.s.var_.mask === 0n ? r.s.var_.value : null;
      arr[pc] = v === undefined || v === c ? c : null;
    };
    one(this.constDst, x.dst);
    one(this.constSrc, x.src & 0xf);
  }

  private statesJson(): InsnState[] {
    const out: InsnState[] = [];
    for (let pc = 0; pc < this.cfg?.nslots; pc++) {
      const x = this.cfg.at[pc];
      if (!x) continue;
      out.push({ pc, insn: formatKernelInsn(x), states: this.collected!.get(pc) ?? [] });
    }
    return out;
  }
}

interface PreciseSet {
  regs: Map<number, number>;
  slots: Set<number>;
}

function emptySet(set: PreciseSet): boolean {
  if (set.slots.size) return false;
  for (const v of set.regs.values()) if (v) return false;
  return true;
}

function swapOp(op: string): string {
  switch (op) {
    case 'jgt': return 'jlt';
    case 'jlt': return 'jgt';
    case 'jge': return 'jle';
    case 'jle': return 'jge';
    default: return op;
  }
}

/** The low `size` bytes of a spilled scalar, read back (the register itself when its value fits). */
function narrowFill(reg: Reg, size: number, signExt: boolean): Reg {
  const bits = BigInt(size * 8);
  const r = reg.s;
  if (!signExt && r.umin >= 0n && r.umax < (1n << bits)) return reg;
  if (signExt && r.smin >= -(1n << (bits - 1n)) && r.smax < (1n << (bits - 1n))) return reg;
  if (signExt) return scalarReg(scalarSext(r, size as 1 | 2 | 4, true));
  return scalarReg(size === 4 ? scalarAlu('mov', Scalar.unknown(), r, false) : scalarAlu('and', r, Scalar.const((1n << bits) - 1n), true));
}

/** A pointer's variable offset as Linux prints it in alignment errors: `0` or `(0x0; 0x7)`. */
function tnumFormatOff(p: Reg): string {
  const t = p.s.var_;
  return t.mask === 0n ? t.value.toString() : `(0x${t.value.toString(16)}; 0x${t.mask.toString(16)})`;
}

/** The kernel aligns the `;` of an instruction's effect at column 38, or further by steps of 8. */
function padInsn(line: string): string {
  return line.padEnd(38 + 8 * Math.ceil(Math.max(0, line.length + 3 - 38) / 8));
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

// Re-exports used by tests and the CLI.
export { MAP_KEY, U64_MAX, STACK_MISC, type Spill };
