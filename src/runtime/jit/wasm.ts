// A small WebAssembly binary writer: just what the JIT needs, no dependency.
//
// `Bytes` is a growable byte buffer with LEB128; `Code` adds the instructions
// the compiler emits (one method per opcode family, operands encoded inline);
// `ModuleBuilder` lays out the sections in the order the binary format
// requires (type, import, function, global, export, code) and returns the
// module bytes plus where each function body starts, so a trap offset that
// V8 reports can be mapped back to an eBPF instruction.
//
// Reference: the WebAssembly core specification, "Binary Format", and the
// threads proposal for the 0xFE atomic opcodes.

export const I32 = 0x7f;
export const I64 = 0x7e;
export type ValType = typeof I32 | typeof I64;
/** Block type of a block with no parameters and no results. */
export const EMPTY = 0x40;

/** Growable byte buffer with unsigned/signed LEB128 encoders. */
export class Bytes {
  buf: Uint8Array;
  len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private grow(n: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  byte(b: number): void {
    if (this.len === this.buf.length) this.grow(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    if (this.len + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Unsigned LEB128 of a non-negative integer below 2^32. */
  u32(v: number): void {
    v >>>= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>>= 7;
      if (v === 0) { this.byte(b); return; }
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of a 32-bit integer. */
  s32(v: number): void {
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { this.byte(b); return; }
      this.byte(b | 0x80);
    }
  }

  /**
   * Signed LEB128 of a 64-bit integer given as two 32-bit halves (lo, hi).
   * Avoids BigInt: the compiler emits many constants.
   */
  s64(lo: number, hi: number): void {
    lo >>>= 0;
    hi |= 0;
    if ((hi === 0 && lo < 0x80000000) || (hi === -1 && lo >= 0x80000000)) { this.s32(lo | 0); return; }
    // General case: 7 bits at a time over the 64-bit value (lo unsigned, hi signed).
    for (;;) {
      const b = lo & 0x7f;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>= 7;
      const done = (hi === 0 && lo === 0 && (b & 0x40) === 0) || (hi === -1 && lo === 0xffffffff && (b & 0x40) !== 0);
      if (done) { this.byte(b); return; }
      this.byte(b | 0x80);
    }
  }

  name(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u32(b.length);
    this.bytes(b);
  }

  /** Append `b` prefixed by its length (a section or a function body). */
  sized(b: Bytes): void {
    this.u32(b.len);
    if (this.len + b.len > this.buf.length) this.grow(b.len);
    this.buf.set(b.buf.subarray(0, b.len), this.len);
    this.len += b.len;
  }

  finish(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.buf.subarray(0, this.len));
  }
}

// Opcodes (core spec, section 5.4).
export const enum Op {
  unreachable = 0x00, block = 0x02, loop = 0x03, if = 0x04, else = 0x05, end = 0x0b,
  br = 0x0c, br_if = 0x0d, br_table = 0x0e, return = 0x0f, call = 0x10, drop = 0x1a, select = 0x1b,
  local_get = 0x20, local_set = 0x21, local_tee = 0x22, global_get = 0x23, global_set = 0x24,
  i32_load = 0x28, i64_load = 0x29,
  i32_load8_u = 0x2d, i32_load16_u = 0x2f,
  i64_load8_s = 0x30, i64_load8_u = 0x31, i64_load16_s = 0x32, i64_load16_u = 0x33,
  i64_load32_s = 0x34, i64_load32_u = 0x35,
  i32_store = 0x36, i64_store = 0x37, i32_store8 = 0x3a, i32_store16 = 0x3b,
  i64_store8 = 0x3c, i64_store16 = 0x3d, i64_store32 = 0x3e,
  i32_const = 0x41, i64_const = 0x42,
  i32_eqz = 0x45, i32_eq = 0x46, i32_ne = 0x47, i32_lt_s = 0x48, i32_lt_u = 0x49, i32_gt_s = 0x4a,
  i32_gt_u = 0x4b, i32_le_s = 0x4c, i32_le_u = 0x4d, i32_ge_s = 0x4e, i32_ge_u = 0x4f,
  i64_eqz = 0x50, i64_eq = 0x51, i64_ne = 0x52, i64_lt_s = 0x53, i64_lt_u = 0x54, i64_gt_s = 0x55,
  i64_gt_u = 0x56, i64_le_s = 0x57, i64_le_u = 0x58, i64_ge_s = 0x59, i64_ge_u = 0x5a,
  i32_add = 0x6a, i32_sub = 0x6b, i32_mul = 0x6c, i32_div_s = 0x6d, i32_div_u = 0x6e,
  i32_rem_s = 0x6f, i32_rem_u = 0x70, i32_and = 0x71, i32_or = 0x72, i32_xor = 0x73,
  i32_shl = 0x74, i32_shr_s = 0x75, i32_shr_u = 0x76, i32_rotl = 0x77, i32_rotr = 0x78,
  i64_add = 0x7c, i64_sub = 0x7d, i64_mul = 0x7e, i64_div_s = 0x7f, i64_div_u = 0x80,
  i64_rem_s = 0x81, i64_rem_u = 0x82, i64_and = 0x83, i64_or = 0x84, i64_xor = 0x85,
  i64_shl = 0x86, i64_shr_s = 0x87, i64_shr_u = 0x88, i64_rotl = 0x89, i64_rotr = 0x8a,
  i32_wrap_i64 = 0xa7, i64_extend_i32_s = 0xac, i64_extend_i32_u = 0xad,
  i32_extend8_s = 0xc0, i32_extend16_s = 0xc1,
  i64_extend8_s = 0xc2, i64_extend16_s = 0xc3, i64_extend32_s = 0xc4,
}

// Threads proposal (prefix 0xFE).
export const enum AtomicOp {
  i32_rmw_add = 0x1e, i64_rmw_add = 0x1f,
  i32_rmw_and = 0x2c, i64_rmw_and = 0x2d,
  i32_rmw_or = 0x33, i64_rmw_or = 0x34,
  i32_rmw_xor = 0x3a, i64_rmw_xor = 0x3b,
  i32_rmw_xchg = 0x41, i64_rmw_xchg = 0x42,
  i32_rmw_cmpxchg = 0x48, i64_rmw_cmpxchg = 0x49,
}

/** A function body under construction: locals and the instruction stream. */
export class Code extends Bytes {
  /** Types of the declared locals (after the parameters). */
  readonly locals: ValType[] = [];

  constructor(readonly nparams: number, capacity = 1024) {
    super(capacity);
  }

  /** Declare a local; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.nparams + this.locals.length - 1;
  }

  op(o: Op): void { this.byte(o); }
  get(l: number): void { this.byte(Op.local_get); this.u32(l); }
  set(l: number): void { this.byte(Op.local_set); this.u32(l); }
  tee(l: number): void { this.byte(Op.local_tee); this.u32(l); }
  gget(g: number): void { this.byte(Op.global_get); this.u32(g); }
  gset(g: number): void { this.byte(Op.global_set); this.u32(g); }
  i32(v: number): void { this.byte(Op.i32_const); this.s32(v); }
  /** i64.const of the 64-bit value with halves (lo, hi). */
  i64(lo: number, hi: number): void { this.byte(Op.i64_const); this.s64(lo, hi); }
  /** i64.const of a sign-extended 32-bit value. */
  i64s(v: number): void { this.byte(Op.i64_const); this.s32(v); }
  /** Load or store with alignment hint `align` (log2 bytes) and a constant offset. */
  mem(o: Op, align: number, offset = 0): void { this.byte(o); this.u32(align); this.u32(offset); }
  atomic(o: AtomicOp, align: number, offset = 0): void { this.byte(0xfe); this.u32(o); this.u32(align); this.u32(offset); }
  memoryFill(): void { this.byte(0xfc); this.u32(11); this.byte(0); }
  /** memory.size: the memory's size in 64 KiB pages (i32). */
  memorySize(): void { this.byte(0x3f); this.byte(0); }
  block(t: number = EMPTY): void { this.byte(Op.block); this.byte(t); }
  loop(t: number = EMPTY): void { this.byte(Op.loop); this.byte(t); }
  if(t: number = EMPTY): void { this.byte(Op.if); this.byte(t); }
  else(): void { this.byte(Op.else); }
  end(): void { this.byte(Op.end); }
  br(depth: number): void { this.byte(Op.br); this.u32(depth); }
  brIf(depth: number): void { this.byte(Op.br_if); this.u32(depth); }
  brTable(targets: readonly number[], dflt: number): void {
    this.byte(Op.br_table);
    this.u32(targets.length);
    for (const t of targets) this.u32(t);
    this.u32(dflt);
  }
  call(f: number): void { this.byte(Op.call); this.u32(f); }

  /** The body as the code section stores it: locals (run-length grouped) then instructions. */
  header(): Bytes {
    const h = new Bytes(16);
    const groups: Array<[number, ValType]> = [];
    for (const t of this.locals) {
      const g = groups[groups.length - 1];
      if (g && g[1] === t) g[0]++; else groups.push([1, t]);
    }
    h.u32(groups.length);
    for (const [n, t] of groups) { h.u32(n); h.byte(t); }
    return h;
  }
}

export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

interface Import {
  readonly module: string;
  readonly name: string;
  readonly kind: 'func' | 'memory' | 'global';
  readonly type?: number;
  readonly memory?: { readonly min: number; readonly max?: number; readonly shared: boolean };
  readonly global?: { readonly type: ValType; readonly mutable: boolean };
}

interface Global {
  readonly type: ValType;
  readonly mutable: boolean;
  readonly init: number;
}

export interface BuiltModule {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Absolute byte offset in `bytes` of the first instruction of each defined function, by defined index. */
  readonly codeStarts: readonly number[];
}

/**
 * Collects types, imports, globals, functions and exports, then writes the
 * binary. Function indices: imported functions first, then defined ones, as
 * the format numbers them; `funcIndex(k)` gives the index of defined function k.
 */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly typeKeys = new Map<string, number>();
  private readonly imports: Import[] = [];
  private importedFuncs = 0;
  private importedGlobals = 0;
  private readonly globals: Global[] = [];
  private readonly funcs: Array<{ type: number; code?: Code }> = [];
  private readonly exports: Array<{ name: string; kind: number; index: number }> = [];

  type(params: readonly ValType[], results: readonly ValType[]): number {
    const key = params.join(',') + '>' + results.join(',');
    let i = this.typeKeys.get(key);
    if (i === undefined) {
      i = this.types.length;
      this.types.push({ params, results });
      this.typeKeys.set(key, i);
    }
    return i;
  }

  /** Import a function; must be called before any function is defined. Returns its function index. */
  importFunc(module: string, name: string, type: number): number {
    if (this.funcs.length) throw new Error('imports must precede defined functions');
    this.imports.push({ module, name, kind: 'func', type });
    return this.importedFuncs++;
  }

  importMemory(module: string, name: string, min: number, max: number | undefined, shared: boolean): void {
    this.imports.push({ module, name, kind: 'memory', memory: { min, max, shared } });
  }

  /** Import a global; must precede defined globals. Returns its global index. */
  importGlobal(module: string, name: string, type: ValType, mutable: boolean): number {
    if (this.globals.length) throw new Error('global imports must precede defined globals');
    this.imports.push({ module, name, kind: 'global', global: { type, mutable } });
    return this.importedGlobals++;
  }

  global(type: ValType, mutable: boolean, init = 0): number {
    this.globals.push({ type, mutable, init });
    return this.importedGlobals + this.globals.length - 1;
  }

  /** Declare a function (body given later with `define`); returns its function index. */
  declare(type: number): number {
    this.funcs.push({ type });
    return this.importedFuncs + this.funcs.length - 1;
  }

  define(index: number, code: Code): void {
    this.funcs[index - this.importedFuncs]!.code = code;
  }

  exportFunc(name: string, index: number): void {
    this.exports.push({ name, kind: 0, index });
  }

  exportGlobal(name: string, index: number): void {
    this.exports.push({ name, kind: 3, index });
  }

  build(): BuiltModule {
    const out = new Bytes(4096);
    out.bytes(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
    const section = (id: number, s: Bytes): void => {
      out.byte(id);
      out.sized(s);
    };

    const ts = new Bytes();
    ts.u32(this.types.length);
    for (const t of this.types) {
      ts.byte(0x60);
      ts.u32(t.params.length);
      for (const p of t.params) ts.byte(p);
      ts.u32(t.results.length);
      for (const r of t.results) ts.byte(r);
    }
    section(1, ts);

    if (this.imports.length) {
      const is = new Bytes();
      is.u32(this.imports.length);
      for (const im of this.imports) {
        is.name(im.module);
        is.name(im.name);
        if (im.kind === 'func') {
          is.byte(0x00);
          is.u32(im.type!);
        } else if (im.kind === 'memory') {
          const m = im.memory!;
          is.byte(0x02);
          is.byte((m.max !== undefined ? 1 : 0) | (m.shared ? 2 : 0));
          is.u32(m.min);
          if (m.max !== undefined) is.u32(m.max);
        } else {
          is.byte(0x03);
          is.byte(im.global!.type);
          is.byte(im.global!.mutable ? 1 : 0);
        }
      }
      section(2, is);
    }

    const fs = new Bytes();
    fs.u32(this.funcs.length);
    for (const f of this.funcs) fs.u32(f.type);
    section(3, fs);

    if (this.globals.length) {
      const gs = new Bytes();
      gs.u32(this.globals.length);
      for (const g of this.globals) {
        gs.byte(g.type);
        gs.byte(g.mutable ? 1 : 0);
        if (g.type === I32) { gs.byte(Op.i32_const); gs.s32(g.init); } else { gs.byte(Op.i64_const); gs.s32(g.init); }
        gs.byte(Op.end);
      }
      section(6, gs);
    }

    if (this.exports.length) {
      const es = new Bytes();
      es.u32(this.exports.length);
      for (const e of this.exports) {
        es.name(e.name);
        es.byte(e.kind);
        es.u32(e.index);
      }
      section(7, es);
    }

    // Code section: the size of the section is needed before its content, so
    // the bodies are measured first and the offsets computed from there.
    const headers: Bytes[] = [];
    let content = lebSize(this.funcs.length);
    for (const f of this.funcs) {
      if (!f.code) throw new Error('function declared but not defined');
      const h = f.code.header();
      headers.push(h);
      const body = h.len + f.code.len;
      content += lebSize(body) + body;
    }
    out.byte(10);
    out.u32(content);
    out.u32(this.funcs.length);
    const codeStarts: number[] = [];
    this.funcs.forEach((f, k) => {
      const h = headers[k]!;
      const code = f.code!;
      out.u32(h.len + code.len);
      out.bytes(h.buf.subarray(0, h.len));
      codeStarts.push(out.len);
      out.bytes(code.buf.subarray(0, code.len));
    });
    return { bytes: out.finish(), codeStarts };
  }
}

function lebSize(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}
