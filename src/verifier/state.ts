// Abstract machine state of one verification path: registers (a type plus a
// numeric domain), a 512-byte stack per frame tracked by byte and by 8-byte
// slot, the call frames, and the references a path holds.
//
// Register objects are immutable once they are in a state (a transfer
// function builds a new one), so copying a state copies arrays of
// references. The one exception is `precise`, a mark that only ever goes
// from false to true: sharing it between states only makes pruning more
// conservative.

import { Scalar } from './bounds.js';
import * as T from './tnum.js';

// Register types (the kernel's names in comments, printed by `typeName`).
export const NOT_INIT = 0;
export const SCALAR = 1;
export const PTR_CTX = 2;       // ctx
export const PTR_STACK = 3;     // fp
export const MAP_PTR = 4;       // map_ptr (CONST_PTR_TO_MAP)
export const MAP_VALUE = 5;     // map_value
export const MAP_KEY = 6;       // map_key
export const PKT = 7;           // pkt
export const PKT_END = 8;       // pkt_end
export const PKT_META = 9;      // pkt_meta
export const MEM = 10;          // mem (ringbuf reservation, helper memory)
export const FUNC = 11;         // func (callback address)
export type RegType = number;

const TYPE_NAMES = ['', 'scalar', 'ctx', 'fp', 'map_ptr', 'map_value', 'map_key', 'pkt', 'pkt_end', 'pkt_meta', 'mem', 'func'];

export function typeName(t: RegType, maybeNull = false, ringbuf = false): string {
  if (t === MEM && ringbuf) return maybeNull ? 'ringbuf_mem_or_null' : 'ringbuf_mem';
  return TYPE_NAMES[t]! + (maybeNull ? '_or_null' : '');
}

export function isPointer(t: RegType): boolean {
  return t >= PTR_CTX;
}

/** Pointer types whose pointee may be read/written with variable offsets checked against a size. */
export function isPacket(t: RegType): boolean {
  return t === PKT || t === PKT_META;
}

export interface RegInit {
  type: RegType;
  s?: Scalar;
  off?: number;
  id?: number;
  idOff?: bigint;
  refId?: number;
  range?: number;
  map?: number;
  memSize?: number;
  frame?: number;
  subprog?: number;
  maybeNull?: boolean;
  ringbuf?: boolean;
}

const ZERO = Scalar.const(0n);
const UNKNOWN = Scalar.unknown();

/**
 * One register. Scalars keep their value in `s`; pointers keep a fixed
 * offset `off` and a variable offset `s` (a constant 0 when there is none).
 */
export class Reg {
  readonly type: RegType;
  readonly s: Scalar;
  readonly off: number;
  /** Scalars: link id (copies share it; `idOff` is the constant difference). Pointers: null-check / packet id. */
  readonly id: number;
  readonly idOff: bigint;
  /** Reference held (ringbuf reservation); 0 for none. */
  readonly refId: number;
  /** Packet pointers: bytes proven readable from the pointer's base (pkt + var part). */
  readonly range: number;
  /** Map index (map_ptr, map_value, map_key). */
  readonly map: number;
  /** mem: size of the region in bytes. */
  readonly memSize: number;
  /** fp: frame the stack pointer points into. */
  readonly frame: number;
  /** func: subprogram index. */
  readonly subprog: number;
  readonly maybeNull: boolean;
  readonly ringbuf: boolean;
  /** The scalar's exact range mattered to a safety decision (precision tracking). */
  precise = false;

  constructor(i: RegInit) {
    this.type = i.type;
    this.s = i.s ?? (i.type === SCALAR ? UNKNOWN : ZERO);
    this.off = i.off ?? 0;
    this.id = i.id ?? 0;
    this.idOff = i.idOff ?? 0n;
    this.refId = i.refId ?? 0;
    this.range = i.range ?? 0;
    this.map = i.map ?? -1;
    this.memSize = i.memSize ?? 0;
    this.frame = i.frame ?? 0;
    this.subprog = i.subprog ?? -1;
    this.maybeNull = i.maybeNull ?? false;
    this.ringbuf = i.ringbuf ?? false;
  }

  /** A copy with some fields changed (precision is not copied). */
  with(c: Partial<RegInit>): Reg {
    return new Reg({
      type: this.type, s: this.s, off: this.off, id: this.id, idOff: this.idOff, refId: this.refId,
      range: this.range, map: this.map, memSize: this.memSize, frame: this.frame, subprog: this.subprog,
      maybeNull: this.maybeNull, ringbuf: this.ringbuf, ...c,
    });
  }

  isConst(): boolean {
    return this.type === SCALAR && this.s.isConst();
  }

  /** A pointer's offset is a known constant (no variable part). */
  fixedOff(): boolean {
    return this.s.isConst() && this.s.value === 0n;
  }
}

export const REG_NOT_INIT = new Reg({ type: NOT_INIT });
export const REG_UNKNOWN = new Reg({ type: SCALAR });

export function scalarReg(s: Scalar, id = 0, idOff = 0n): Reg {
  return new Reg({ type: SCALAR, s, id, idOff });
}

export function constReg(v: bigint): Reg {
  return new Reg({ type: SCALAR, s: Scalar.const(v) });
}

// Stack byte kinds.
export const STACK_INVALID = 0;
export const STACK_MISC = 1;
export const STACK_ZERO = 2;
export const STACK_SPILL = 3;

/** A register saved in one 8-byte stack slot; narrow scalars keep their byte offset and size. */
export interface Spill {
  readonly reg: Reg;
  /** Offset of the stored bytes inside the slot (0 for an 8-byte spill). */
  readonly at: number;
  readonly size: number;
}

export const STACK_SIZE = 512;
export const SLOTS = STACK_SIZE / 8;
const EMPTY_KIND = new Uint8Array(0);

export class Frame {
  regs: Reg[];
  /** Kind of each stack byte; index 0 is fp-512, index 511 is fp-1. */
  kind: Uint8Array;
  /** Spilled register of each slot; slot 0 is fp-512..fp-505, slot 63 is fp-8..fp-1. */
  spill: (Spill | undefined)[];
  /** Slot index of the call instruction that created this frame (-1 for the main frame). */
  readonly callsite: number;
  readonly subprog: number;
  /** Frame number (0 = main). */
  readonly frameno: number;
  /** Deepest stack byte touched (bytes below fp). */
  depth: number;
  /** Callback frame: the helper call that invokes it, and the range its return value must be in. */
  readonly callback?: { readonly helper: number; readonly retMin: bigint; readonly retMax: bigint };

  constructor(subprog: number, frameno: number, callsite: number, callback?: Frame['callback'], bare = false) {
    this.regs = bare ? [] : new Array<Reg>(11).fill(REG_NOT_INIT);
    this.kind = bare ? EMPTY_KIND : new Uint8Array(STACK_SIZE);
    this.spill = bare ? [] : new Array<Spill | undefined>(SLOTS).fill(undefined);
    this.subprog = subprog;
    this.frameno = frameno;
    this.callsite = callsite;
    this.depth = 0;
    if (callback) this.callback = callback;
  }

  /** The stack arrays are shared with another frame (copy on write: call `own()` before changing them). */
  private shared = false;

  clone(): Frame {
    const f = new Frame(this.subprog, this.frameno, this.callsite, this.callback, true);
    f.regs = this.regs.slice();
    f.kind = this.kind;
    f.spill = this.spill;
    f.shared = true;
    this.shared = true;
    f.depth = this.depth;
    return f;
  }

  /** This frame's own stack arrays, copied first if they are shared. */
  own(): this {
    if (this.shared) {
      this.kind = this.kind.slice();
      this.spill = this.spill.slice();
      this.shared = false;
    }
    return this;
  }
}

/** A reference the path must release before it ends. */
export interface RefEntry {
  readonly id: number;
  /** Slot of the instruction that acquired it. */
  readonly insn: number;
}

/** Branch decisions of a path, as a persistent list (shared tails). */
export interface PathNode {
  readonly pc: number;
  readonly taken: boolean;
  readonly prev: PathNode | null;
}

export function pathToArray(p: PathNode | null): Array<{ pc: number; taken: boolean }> {
  const out: Array<{ pc: number; taken: boolean }> = [];
  for (; p; p = p.prev) out.push({ pc: p.pc, taken: p.taken });
  return out.reverse();
}

/** Precision backtracking history: one node per executed instruction, shared between forks. */
export interface HistNode {
  readonly slot: number;
  /** Frame the instruction ran in. */
  readonly frame: number;
  /** Stack slot touched (frame * 64 + slot) by a load/store through a fixed stack pointer, else -1. */
  readonly spi: number;
  /** Conditional jumps: registers linked (same scalar id) to the compared ones. */
  readonly linked: number;
  readonly prev: HistNode | null;
}

/** A stored state at a prune point, with what precision tracking needs. */
export interface Checkpoint {
  readonly pc: number;
  readonly state: VState;
  /** Paths still being explored below this checkpoint (0: fully verified, usable for pruning). */
  branches: number;
  readonly parent: Checkpoint | null;
  /** History of the path when this checkpoint was made (precision backtracking stops here). */
  readonly histAt: HistNode | null;
  /** Stack slots (frame * 64 + slot) some path below read before writing: only these matter when comparing. */
  readonly reads: Set<number>;
  /** Stack slots fully written between `parent` and this checkpoint (a read below stops here). */
  readonly written: Set<number>;
  /** Every scalar of this state and its ancestors is marked precise. */
  allMarked: boolean;
  /** Register types of the live registers (a quick filter before a full comparison). */
  readonly sig?: readonly [number, number, number, number];
  /** Times this state pruned another, and missed: for evicting useless states. */
  hits: number;
  miss: number;
}

export class VState {
  frames: Frame[];
  refs: RefEntry[];
  /** Slot of the next instruction. */
  pc: number;
  /** Nearest checkpoint above this path (precision backtracking, branch counting). */
  parent: Checkpoint | null;
  /** Instructions executed on this path (newest first). */
  hist: HistNode | null;
  path: PathNode | null;
  /** Instructions since the last checkpoint (checkpoint heuristics). */
  /** Stack slots (frame * 64 + slot) fully written since `parent`. */
  written = new Set<number>();
  insnsSince = 0;
  jmpsSince = 0;

  constructor(frames: Frame[], refs: RefEntry[], pc: number) {
    this.frames = frames;
    this.refs = refs;
    this.pc = pc;
    this.parent = null;
    this.hist = null;
    this.path = null;
  }

  get cur(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  /** A copy for a branch: frames copied, history started afresh under the same parent. */
  fork(): VState {
    const s = new VState(this.frames.map((f) => f.clone()), this.refs.slice(), this.pc);
    s.parent = this.parent;
    s.hist = this.hist;
    s.path = this.path;
    s.insnsSince = this.insnsSince;
    s.jmpsSince = this.jmpsSince;
    s.written = new Set(this.written);
    return s;
  }

  /** A frozen copy to store at a checkpoint. */
  snapshot(): VState {
    const s = new VState(this.frames.map((f) => f.clone()), this.refs.slice(), this.pc);
    s.path = this.path;
    return s;
  }
}

// ---- Subsumption: is every concrete state of `cur` one of `old`? ----

/** Maps ids of the old state to ids of the current one (they must correspond one to one). */
export class IdMap {
  private m: Map<number, number> | undefined;
  private back: Map<number, number> | undefined;
  reset(): this {
    this.m?.clear();
    this.back?.clear();
    return this;
  }
  check(o: number, c: number): boolean {
    if (o === 0 && c === 0) return true;
    if (o === 0 || c === 0) return false;
    if (!this.m) { this.m = new Map(); this.back = new Map(); }
    const x = this.m.get(o);
    if (x !== undefined) return x === c;
    if (this.back!.has(c)) return false;
    this.m.set(o, c);
    this.back!.set(c, o);
    return true;
  }
}

export interface CompareOptions {
  /** Exact comparison (infinite-loop detection): precision marks ignored, ranges equal. */
  readonly exact: boolean;
  /** Reads of uninitialised stack give unknown scalars (privileged), so invalid and misc bytes are alike. */
  readonly allowUninitStack: boolean;
  /** Treat every old scalar as precise (comparing against states whose precision marks are not final). */
  readonly allPrecise?: boolean;
}

/** old ⊇ cur for one register. */
export function regSafe(old: Reg, cur: Reg, idmap: IdMap, o: CompareOptions): boolean {
  if (old.type === NOT_INIT) return !o.exact || cur.type === NOT_INIT;
  if (old.type !== cur.type) return false;
  switch (old.type) {
    case SCALAR: {
      if (o.exact) return old.s.equals(cur.s) && idmap.check(old.id, cur.id) && old.idOff === cur.idOff;
      if (!old.precise && !o.allPrecise) return true;
      if (!old.s.includes(cur.s)) return false;
      // A linked old register is only as good as its link: the current one must be linked the same way.
      if (old.id !== 0) return idmap.check(old.id, cur.id) && old.idOff === cur.idOff;
      return true;
    }
    case PTR_CTX:
      return old.off === cur.off && old.s.equals(cur.s);
    case PTR_STACK:
      return old.off === cur.off && old.frame === cur.frame && (o.exact ? old.s.equals(cur.s) : old.s.includes(cur.s));
    case MAP_PTR:
      return old.map === cur.map && old.maybeNull === cur.maybeNull && (!old.maybeNull || idmap.check(old.id, cur.id));
    case FUNC:
      return old.subprog === cur.subprog;
    case PKT_END:
      return true;
    case PKT: case PKT_META:
      if (old.off !== cur.off || !(o.exact ? old.s.equals(cur.s) : old.s.includes(cur.s))) return false;
      if (o.exact ? old.range !== cur.range : cur.range < old.range) return false;
      return idmap.check(old.id, cur.id);
    case MAP_VALUE: case MAP_KEY: case MEM:
      if (old.map !== cur.map || old.memSize !== cur.memSize || old.maybeNull !== cur.maybeNull || old.ringbuf !== cur.ringbuf) return false;
      if (old.off !== cur.off || !(o.exact ? old.s.equals(cur.s) : old.s.includes(cur.s))) return false;
      if (!idmap.check(old.id, cur.id)) return false;
      return idmap.check(old.refId, cur.refId);
    default:
      return false;
  }
}

/** old ⊇ cur for one frame's stack. */
export function stackSafe(old: Frame, cur: Frame, idmap: IdMap, o: CompareOptions, reads?: Set<number>): boolean {
  if (o.exact) return stackEqual(old, cur, idmap, o);
  if (reads) {
    const fbase = old.frameno * SLOTS;
    for (const key of reads) {
      const slot = key - fbase;
      if (slot < 0 || slot >= SLOTS) continue;
      if (!slotSafe(old, cur, slot, idmap, o)) return false;
    }
    return true;
  }
  for (let slot = 0; slot < SLOTS; slot++) {
    if (!slotSafe(old, cur, slot, idmap, o)) return false;
  }
  return true;
}

/** Exactly the same stack (infinite-loop detection). */
function stackEqual(old: Frame, cur: Frame, idmap: IdMap, o: CompareOptions): boolean {
  if (old.kind !== cur.kind) {
    const a = old.kind;
    const b = cur.kind;
    for (let i = 0; i < STACK_SIZE; i++) if (a[i] !== b[i]) return false;
  }
  if (old.spill === cur.spill) return true;
  for (let sl = 0; sl < SLOTS; sl++) {
    const x = old.spill[sl];
    const y = cur.spill[sl];
    if (x === y) continue;
    if (!x || !y || x.at !== y.at || x.size !== y.size || !regSafe(x.reg, y.reg, idmap, o)) return false;
  }
  return true;
}

function slotSafe(old: Frame, cur: Frame, slot: number, idmap: IdMap, o: CompareOptions): boolean {
  {
    const base = slot * 8;
    const os = old.spill[slot];
    const cs = cur.spill[slot];
    if (os && os.size === 8 && os.at === 0) {
      if (os.reg.type === SCALAR && !os.reg.precise && !o.exact && !o.allPrecise) {
        // Any scalar bytes will do.
        if (cs && cs.reg.type !== SCALAR) return false;
        for (let i = 0; i < 8; i++) {
          if (cur.kind[base + i] === STACK_INVALID && !o.allowUninitStack) return false;
        }
        return true;
      }
      if (cs && cs.size === 8 && cs.at === 0) {
        return regSafe(os.reg, cs.reg, idmap, o);
      }
      if (!cs && os.reg.type === SCALAR && !o.exact) {
        // Old spilled a precise scalar; current bytes are all zero and 0 fits.
        let zero = true;
        for (let i = 0; i < 8; i++) if (cur.kind[base + i] !== STACK_ZERO) zero = false;
        if (zero && os.reg.s.containsValue(0n)) return true;
      }
      return false;
    }
    // Byte by byte.
    for (let i = 0; i < 8; i++) {
      const ok = old.kind[base + i]!;
      const ck = cur.kind[base + i]!;
      if (o.exact) {
        if (ok !== ck) return false;
        continue;
      }
      if (ok === STACK_INVALID) {
        if (!o.allowUninitStack) continue; // a read would have failed on the old path
        if (ck === STACK_SPILL && cs && cs.reg.type !== SCALAR) return false;
        continue;
      }
      if (ok === STACK_MISC) {
        if (ck === STACK_MISC || ck === STACK_ZERO) continue;
        if (ck === STACK_INVALID && o.allowUninitStack) continue;
        if (ck === STACK_SPILL && cs && cs.reg.type === SCALAR) continue;
        return false;
      }
      if (ok === STACK_ZERO) {
        if (ck === STACK_ZERO) continue;
        if (ck === STACK_SPILL && cs && cs.reg.type === SCALAR && cs.reg.s.isConst() && cs.reg.s.value === 0n) continue;
        return false;
      }
      // Old narrow spill.
      if (ok === STACK_SPILL) {
        if (!os) return false;
        if (!cs || cs.at !== os.at || cs.size !== os.size) {
          if (os.reg.type === SCALAR && !os.reg.precise && !o.allPrecise && (ck === STACK_MISC || ck === STACK_ZERO || (ck === STACK_SPILL && cs?.reg.type === SCALAR))) continue;
          return false;
        }
        if (!regSafe(os.reg, cs.reg, idmap, o)) return false;
      }
    }
    if (o.exact && (!!os !== !!cs)) return false;
  }
  return true;
}

/**
 * old ⊇ cur: every execution from `cur` is one the verification from `old`
 * covered. `live[frame]` is the mask of the registers that matter in each frame.
 */
export function statesSafe(
  old: VState, cur: VState, o: CompareOptions, live: readonly number[],
  reads?: Set<number>,
): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  if (old.refs.length !== cur.refs.length) return false;
  const idmap = new IdMap();
  for (let f = 0; f < old.frames.length; f++) {
    const of = old.frames[f]!;
    const cf = cur.frames[f]!;
    if (of.callsite !== cf.callsite || of.subprog !== cf.subprog) return false;
    const mask = live[f]!;
    for (let r = 0; r < 10; r++) {
      if (!((mask >> r) & 1)) continue;
      const a = of.regs[r]!;
      const b = cf.regs[r]!;
      if (a === b && !o.exact && a.id === 0 && a.refId === 0) continue; // the same register object
      if (!regSafe(a, b, idmap, o)) return false;
    }
    if (!stackSafe(of, cf, idmap, o, reads)) return false;
  }
  for (let i = 0; i < old.refs.length; i++) {
    if (!idmap.check(old.refs[i]!.id, cur.refs[i]!.id)) return false;
  }
  return true;
}

export { T as tnum };
