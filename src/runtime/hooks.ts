// Host-defined hooks: the embedding API (DESIGN.md, "Who uses it" #3).
//
// A host declares a hook point: a name, the layout of the context its
// programs receive in R1 (a small schema of fields, or a struct from an
// object's BTF), the helpers allowed there (standard ones by id or name,
// plus the host's own), and what the return value means (a default verdict
// and a range). Programs attach to it in an order; `hook.run(values)` writes
// the context in place in linear memory and runs the chain: the first
// program whose verdict is not the default decides, as in tcx chains.
//
//   const hook = defineHook({
//     name: 'http_request',
//     ctx: { fields: [{ name: 'method', type: 'u32' }, { name: 'path', type: 'bytes[32]' },
//                     { name: 'retry_after', type: 'u32', write: true }] },
//     helpers: { standard: ['map_lookup_elem', 'ktime_get_ns'] },
//     returns: { default: 0, range: [0, 2] },
//   });
//   const link = hook.attach(program);
//   const verdict = hook.run({ method: 1, path: '/api' }); // bigint
//   link.update(newProgram);                                // atomic replace
//
// Guarantees:
// - cheap calls: the context block, its buffer and the stack are allocated
//   once per hook; a call zeroes the context, writes the given fields and
//   runs the programs with environment objects built at attach time;
// - atomic replacement: the chain is an immutable snapshot read once per
//   call; attach, update and detach publish a new one. A call in flight
//   (e.g. a host helper that updates a link) finishes on the snapshot it
//   started with; the next call sees the new one. Maps belong to the
//   runtime, not to the program, so they survive a swap;
// - safety: a fault, an exhausted budget or a verdict outside the declared
//   range ends the call with a HookError (cause: the RuntimeFault); the host
//   picks the verdict (`runOrDefault` returns the default and reports the
//   error). A program is checked at attach: only allowed helpers, valid
//   structure, and the verifier when the program can be verified against
//   the hook's ContextDescription. Runs are in checked mode (every access
//   tested against the region table, each context field its own region with
//   its own write right) unless the hook asks for `checked: false` and the
//   program was verified.
//
// Browser-safe: no node: modules.

import type { Btf } from '../elf/btf.js';
import { HookError, isTsbpfError } from '../errors.js';
import { helperId, helperName } from '../isa/helper-names.js';
import type { Instruction } from '../isa/instruction.js';
import type { MapSpec } from '../elf/maps.js';
import { type ContextDescription, type CtxField as VerifierCtxField, type HelperProto, type MapInfo, verify } from '../verifier/index.js';
import { BASE_HELPERS, type HelperImpl, HelperRegistry, type HelperSpec } from './helpers.js';
import { CODE_ADDR_TAG, DEFAULT_BUDGET, type PreparedProgram, type RunEnv, STACK_AREA, execute, prepare } from './interpreter.js';
import { JitProgram } from './jit/index.js';
import { type BpfMap, mapFromHandle } from './maps/index.js';
import { LinearMemory } from './memory.js';
import { Program, type Runtime } from './runtime.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../isa/opcodes.js';
import { RuntimeFault } from '../errors.js';
import { validate } from './validate.js';

// ---- definitions ----------------------------------------------------------------

/** Scalar field types (little-endian, as the program reads them). */
export type HookScalarType = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64';
/**
 * A field's type: a scalar; `bytes[N]` (N inline bytes: a string or byte
 * prefix); or `pointer` (a u32 holding the address of a buffer of up to
 * `buffer` bytes, with a companion u32 end field, like xdp_md's data and
 * data_end: the program bounds-checks its reads against the end).
 */
export type HookFieldType = HookScalarType | `bytes[${number}]` | 'pointer';

export interface HookFieldSpec {
  readonly name: string;
  readonly type: HookFieldType;
  /** Byte offset; default: after the previous field, naturally aligned (C layout). */
  readonly offset?: number;
  /** The program may read it (default true). */
  readonly read?: boolean;
  /** The program may write it (default false); the host reads it back with `hook.get`. Not for pointers. */
  readonly write?: boolean;
  /** pointer: capacity of the buffer in bytes (default 4096). */
  readonly buffer?: number;
  /** pointer: name of the end field (default NAME_end), placed right after the pointer unless listed with an offset. */
  readonly end?: string;
}

/** The context as a schema of fields. */
export interface HookSchema {
  readonly fields: readonly HookFieldSpec[];
  /** Total size (default: the end of the last field, rounded to the largest alignment). */
  readonly size?: number;
}

/** The context as a struct of an object's BTF (e.g. a header shared with the C program). */
export interface HookBtfContext {
  readonly btf: Btf;
  readonly struct: string;
  /** Members the program may write. */
  readonly write?: readonly string[];
  /** u32 members that are pointers to a buffer: member name -> end member and capacity. */
  readonly buffers?: Readonly<Record<string, { readonly end: string; readonly size?: number }>>;
}

/** A helper the host provides at its hook. */
export interface HostHelper {
  /** The id programs call (`static long (*f)(...) = (void *)ID;`); must not be a standard helper allowed here. */
  readonly id: number;
  readonly name: string;
  readonly impl: HelperImpl;
  /** Argument and return types for the verifier; without one, programs calling it run unverified (checked mode). */
  readonly proto?: Omit<HelperProto, 'id' | 'name'>;
}

export interface HookSpec {
  readonly name: string;
  readonly ctx: HookSchema | HookBtfContext;
  readonly helpers?: {
    /** Standard helpers (UAPI ids or names) allowed here; default map lookup/update/delete, ktime_get_ns, get_prandom_u32, get_smp_processor_id. */
    readonly standard?: readonly (number | string)[];
    readonly host?: readonly HostHelper[];
  };
  readonly returns?: {
    /** Verdict of a call when no program decides (and what the chain skips); default 0. */
    readonly default?: bigint | number;
    /** Inclusive range programs must return in (checked by the verifier, and at run time when unverified). */
    readonly range?: readonly [bigint | number, bigint | number];
  };
  /** Instructions per program run (default 1,000,000). */
  readonly budget?: number;
  /** Engine of attached programs (default 'interp'); attach may override. */
  readonly engine?: 'interp' | 'jit';
  /**
   * 'auto' (default): verify when the verifier can (known helpers), else run
   * checked; 'required': refuse programs that cannot be verified; 'off'.
   */
  readonly verify?: 'auto' | 'required' | 'off';
  /** Per-access run-time checks (default true). false only takes effect for verified programs. */
  readonly checked?: boolean;
  /** Memory for programs that do not bring their own (default: a fresh one on first attach). */
  readonly memory?: LinearMemory;
  /**
   * The Runtime whose programs attach here: the hook uses its memory, and
   * registers the host helpers in it so objects calling them load.
   */
  readonly runtime?: Runtime;
  /** Clock of bpf_ktime_get_ns (default: performance.now in ns). */
  readonly now?: () => bigint;
  readonly random?: () => number;
  /** bpf_trace_printk output. */
  readonly log?: (line: string) => void;
  /** Called by `runOrDefault` with the error of a failed call. */
  readonly onError?: (error: HookError) => void;
}

/** What can be attached: instructions ready to run (map references resolved) and where they live. */
export interface HookProgram {
  readonly name?: string;
  readonly insns: readonly Instruction[];
  /** The memory the program's maps live in (a Runtime's); default the hook's. */
  readonly memory?: LinearMemory;
  /** The helpers of the program's runtime (maps...), filtered by what the hook allows. */
  readonly helpers?: HelperRegistry;
  /** What helpers see as ctx.host (a Runtime's run host). */
  readonly host?: unknown;
  /**
   * Verify against the hook's context (throws VerifierError when refused).
   * Provided by a Runtime's programs, which know their maps; absent: the
   * program runs unverified, in checked mode.
   */
  verify?(ctx: ContextDescription, helperProtos: readonly HelperProto[]): void;
}

/** A Runtime program (loaded from an object: maps resolved), a HookProgram, or raw instructions. */
export type Attachable = Program | HookProgram | readonly Instruction[];

export interface AttachOptions {
  /** Position in the chain: lower runs first; equal orders keep attach order. Default 0. */
  readonly order?: number;
  readonly engine?: 'interp' | 'jit';
}

/** A laid-out context field. */
export interface HookField {
  readonly name: string;
  readonly type: HookFieldType;
  readonly offset: number;
  readonly size: number;
  readonly read: boolean;
  readonly write: boolean;
  /** pointer fields: buffer capacity and the end field. */
  readonly buffer?: number;
  readonly end?: string;
  /** The companion end field of a pointer. */
  readonly endOf?: string;
}

export type HookValue = number | bigint | string | Uint8Array;

export interface HookLinkInfo {
  readonly id: number;
  readonly program: string;
  readonly order: number;
  readonly engine: 'interp' | 'jit';
  /** The verifier accepted the current program. */
  readonly verified: boolean;
  /** Accesses checked at run time. */
  readonly checked: boolean;
  /** Why the program runs unverified, when it does. */
  readonly unverifiedReason?: string;
  /** Program runs through this link (all its programs) and how many failed. */
  readonly runs: number;
  readonly errors: number;
  /** Times the program was replaced. */
  readonly updates: number;
}

// ---- layout -----------------------------------------------------------------------

const SCALAR_SIZE: Record<HookScalarType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, i8: 1, i16: 2, i32: 4, i64: 8 };
const DEFAULT_STANDARD = ['map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'ktime_get_ns', 'get_prandom_u32', 'get_smp_processor_id'];
const DEFAULT_BUFFER = 4096;
const MAX_CTX = 1 << 16;
const MAX_BUFFER = 1 << 24;
/** Unmapped bytes after every hook area (an overrun faults in checked mode). */
const GUARD = 64;

function bytesLen(t: string): number | undefined {
  const m = /^bytes\[(\d+)\]$/.exec(t);
  return m ? Number(m[1]) : undefined;
}

function typeSize(t: HookFieldType): number {
  if (t === 'pointer') return 4;
  const b = bytesLen(t);
  if (b !== undefined) return b;
  return SCALAR_SIZE[t as HookScalarType];
}

function typeAlign(t: HookFieldType): number {
  return bytesLen(t) !== undefined ? 1 : typeSize(t);
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Lay out a schema (or BTF struct) into fields with offsets; throws HookError HOOK_SCHEMA. */
export function layoutContext(hook: string, ctx: HookSchema | HookBtfContext): { fields: HookField[]; size: number } {
  const specs = 'btf' in ctx ? btfFields(hook, ctx) : ctx.fields;
  const bad = (msg: string): never => { throw new HookError('HOOK_SCHEMA', msg, hook); };
  const fields: HookField[] = [];
  const names = new Set<string>();
  const endNames = new Set<string>();
  for (const s of specs) if (s.type === 'pointer') endNames.add(s.end ?? `${s.name}_end`);
  let cursor = 0;
  let maxAlign = 1;
  const place = (name: string, type: HookFieldType, offset: number | undefined, extra: Partial<HookField>): HookField => {
    if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) bad(`field name '${String(name)}' is not an identifier`);
    if (names.has(name)) bad(`field '${name}' is declared twice`);
    const size = typeSize(type);
    if (size === undefined || !Number.isInteger(size) || size <= 0) bad(`field '${name}': unknown type '${String(type)}'`);
    const align = typeAlign(type);
    const off = offset ?? alignUp(cursor, align);
    if (!Number.isInteger(off) || off < 0) bad(`field '${name}': bad offset ${off}`);
    if (off % align !== 0) bad(`field '${name}': offset ${off} is not aligned to ${align}`);
    for (const f of fields) {
      if (off < f.offset + f.size && f.offset < off + size) bad(`field '${name}' [${off}, ${off + size}) overlaps field '${f.name}'`);
    }
    names.add(name);
    cursor = Math.max(cursor, off + size);
    maxAlign = Math.max(maxAlign, align);
    const f: HookField = { name, type, offset: off, size, read: true, write: false, ...extra };
    fields.push(f);
    return f;
  };
  let pointers = 0;
  for (const s of specs) {
    if (s === null || typeof s !== 'object') bad('a field must be an object');
    if (endNames.has(s.name)) {
      // An end field listed explicitly: it must be a u32 at the given offset.
      if (s.type !== 'u32' && s.type !== 'pointer') bad(`field '${s.name}' is the end of a pointer and must be u32`);
      continue;
    }
    if (s.type === 'pointer') {
      if (++pointers > 1) bad('at most one pointer field (the verifier tracks one buffer per context)');
      if (s.write) bad(`pointer field '${s.name}' cannot be writable`);
      const cap = s.buffer ?? DEFAULT_BUFFER;
      if (!Number.isInteger(cap) || cap < 0 || cap > MAX_BUFFER) bad(`pointer field '${s.name}': buffer of ${cap} bytes (0..${MAX_BUFFER})`);
      const end = s.end ?? `${s.name}_end`;
      place(s.name, 'pointer', s.offset, { read: s.read ?? true, buffer: cap, end });
      const endSpec = specs.find((x) => x.name === end);
      place(end, 'u32', endSpec?.offset, { read: s.read ?? true, endOf: s.name });
      continue;
    }
    place(s.name, s.type, s.offset, { read: s.read ?? true, write: s.write ?? false });
  }
  let size = alignUp(cursor, maxAlign);
  if ('fields' in ctx && ctx.size !== undefined) {
    if (!Number.isInteger(ctx.size) || ctx.size < cursor) bad(`size ${ctx.size} is smaller than the fields (${cursor} bytes)`);
    size = ctx.size;
  }
  if ('btf' in ctx) size = Math.max(size, ctx.btf.sizeOf(ctx.btf.find(ctx.struct, 'struct')!.id));
  if (size > MAX_CTX) bad(`context of ${size} bytes is larger than ${MAX_CTX}`);
  if (size === 0) bad('the context has no fields');
  fields.sort((a, b) => a.offset - b.offset);
  return { fields, size };
}

/** Fields of a BTF struct: integers (and enums) by size and sign, arrays and nested records as bytes. */
function btfFields(hook: string, ctx: HookBtfContext): HookFieldSpec[] {
  const bad = (msg: string): never => { throw new HookError('HOOK_SCHEMA', msg, hook); };
  const st = ctx.btf.find(ctx.struct, 'struct');
  if (!st) return bad(`no struct '${ctx.struct}' in the BTF`);
  const writable = new Set(ctx.write ?? []);
  const ends = new Map<string, string>();
  for (const [p, b] of Object.entries(ctx.buffers ?? {})) ends.set(b.end, p);
  const out: HookFieldSpec[] = [];
  for (const m of st.members) {
    if (!m.name) bad(`struct ${ctx.struct}: anonymous members are not supported`);
    if (m.bitSize !== 0 || m.bitOffset % 8 !== 0) bad(`struct ${ctx.struct}: bitfield '${m.name}' is not supported`);
    const offset = m.bitOffset / 8;
    const t = ctx.btf.resolve(m.type);
    const size = ctx.btf.sizeOf(m.type);
    const buf = ctx.buffers?.[m.name];
    if (buf) {
      if (t.kind !== 'int' || size !== 4) bad(`struct ${ctx.struct}: buffer member '${m.name}' must be a __u32`);
      out.push({ name: m.name, type: 'pointer', offset, buffer: buf.size ?? DEFAULT_BUFFER, end: buf.end });
      continue;
    }
    if (ends.has(m.name)) {
      out.push({ name: m.name, type: 'u32', offset });
      continue;
    }
    let type: HookFieldType;
    if ((t.kind === 'int' || t.kind === 'enum' || t.kind === 'enum64') && [1, 2, 4, 8].includes(size)) {
      const signed = t.kind === 'int' ? t.signed : t.signed;
      type = `${signed ? 'i' : 'u'}${size * 8}` as HookScalarType;
    } else if (t.kind === 'array' || t.kind === 'struct' || t.kind === 'union') {
      type = `bytes[${size}]`;
    } else {
      return bad(`struct ${ctx.struct}: member '${m.name}' of kind ${t.kind} is not supported (integers, arrays, records)`);
    }
    out.push({ name: m.name, type, offset, write: writable.has(m.name) });
  }
  for (const w of writable) if (!st.members.some((m) => m.name === w)) bad(`struct ${ctx.struct} has no member '${w}'`);
  for (const [p, b] of Object.entries(ctx.buffers ?? {})) {
    if (!st.members.some((m) => m.name === p)) bad(`struct ${ctx.struct} has no member '${p}'`);
    if (!st.members.some((m) => m.name === b.end)) bad(`struct ${ctx.struct} has no member '${b.end}'`);
  }
  return out;
}

/** The verifier's view of a laid-out context. */
export function contextDescription(name: string, fields: readonly HookField[], size: number,
  helpers: readonly number[], range?: readonly [bigint, bigint], helperProtos: readonly HelperProto[] = []): ContextDescription {
  const vf: VerifierCtxField[] = fields.map((f) => {
    if (f.type === 'pointer') return { name: f.name, offset: f.offset, size: 4, read: f.read, kind: 'pkt' };
    if (f.endOf !== undefined) return { name: f.name, offset: f.offset, size: 4, read: f.read, kind: 'pkt_end' };
    const bytes = bytesLen(f.type) !== undefined;
    return {
      name: f.name, offset: f.offset, size: f.size, read: f.read, write: f.write, narrow: true,
      ...(bytes ? { wide: true, ...(f.write ? { narrowWrite: true } : {}) } : {}),
    };
  });
  return {
    name, size, fields: vf, helpers, progType: 0, ...(range ? { returnRange: range } : {}),
    ...(helperProtos.length ? { helperProtos } : {}),
  };
}

// ---- the hook ---------------------------------------------------------------------

type Setter = (v: HookValue) => void;

/** One program as the chain runs it (immutable: a replacement is a new Runner). */
interface Runner {
  readonly link: HookLinkImpl;
  readonly name: string;
  readonly exec: () => bigint;
  readonly verified: boolean;
  readonly checked: boolean;
  readonly unverifiedReason?: string;
  readonly engine: 'interp' | 'jit';
}

/** The memory areas of a hook in one LinearMemory. */
interface Areas {
  readonly memory: LinearMemory;
  readonly ctx: number;
  readonly buffer: number;
  readonly stack: number;
}

let nextLinkId = 1;

export interface Hook {
  readonly name: string;
  readonly fields: readonly HookField[];
  /** Size of the context in bytes. */
  readonly size: number;
  /** The verdict of a call no program decides. */
  readonly defaultVerdict: bigint;
  /** What the verifier checks programs against. */
  readonly context: ContextDescription;
  /** Helper ids allowed here (standard and host). */
  readonly helperIds: readonly number[];
  /** The links in chain order. */
  readonly links: readonly HookLink[];
  /** Address of the context block (after the first attach or `bind`), for hosts that write it themselves. */
  readonly ctxAddress: number | undefined;
  /** Bind the hook to a memory now (attach does it on first use). */
  bind(memory?: LinearMemory): LinearMemory;
  attach(program: Attachable, opts?: AttachOptions): HookLink;
  /** Zero the context, write `values`, run the chain; throws HookError when a program fails. */
  run(values?: Readonly<Record<string, HookValue | undefined>>): bigint;
  /** Like run, but a failure yields the default verdict (the error goes to `onError` and `lastError`). */
  runOrDefault(values?: Readonly<Record<string, HookValue | undefined>>, onError?: (e: HookError) => void): bigint;
  /** The error of the last failed call (cleared by a successful one). */
  readonly lastError: HookError | undefined;
  /** A context field after the last call (what a program wrote). Bytes come back as a copy. */
  get(field: string): number | bigint | Uint8Array;
  /** Counts: calls, calls that failed, and verdicts other than the default. */
  readonly stats: { readonly calls: number; readonly errors: number; readonly decided: number };
  /** Detach everything and free the hook's memory areas. */
  dispose(): void;
}

export interface HookLink {
  readonly id: number;
  readonly hook: Hook;
  readonly attached: boolean;
  readonly info: HookLinkInfo;
  /** Replace the program atomically (the next call runs the new one; maps are the runtime's and survive). */
  update(program: Attachable): void;
  detach(): void;
}

/** Declare a hook point. Throws HookError HOOK_SCHEMA on a bad definition. */
export function defineHook(spec: HookSpec): Hook {
  return new HookImpl(spec);
}

function toBig(v: bigint | number, what: string, hook: string): bigint {
  if (typeof v === 'bigint') return v;
  if (!Number.isSafeInteger(v)) throw new HookError('HOOK_SCHEMA', `${what} ${v} is not an integer`, hook);
  return BigInt(v);
}

class HookImpl implements Hook {
  readonly name: string;
  readonly fields: HookField[];
  readonly size: number;
  readonly defaultVerdict: bigint;
  readonly range: readonly [bigint, bigint] | undefined;
  readonly signed: boolean;
  readonly context: ContextDescription;
  readonly helperIds: number[];
  lastError: HookError | undefined;
  private readonly standard: number[];
  private readonly hostHelpers: readonly HostHelper[];
  private readonly hostProtos: HelperProto[];
  private readonly byName = new Map<string, HookField>();
  private readonly setters = new Map<string, Setter>();
  private readonly registries = new WeakMap<HelperRegistry, HelperRegistry>();
  private baseRegistry: HelperRegistry | undefined;
  private areas: Areas | undefined;
  /** The chain snapshot: replaced, never mutated. */
  private chain: readonly Runner[] = [];
  private readonly orders = new Map<HookLinkImpl, [number, number]>();
  private seq = 0;
  private running = false;
  private calls = 0;
  private errors = 0;
  private decided = 0;
  private readonly encoder = new TextEncoder();
  private pointerField: HookField | undefined;

  constructor(readonly spec: HookSpec) {
    if (!spec || typeof spec.name !== 'string' || spec.name === '') throw new HookError('HOOK_SCHEMA', 'a hook needs a name', String(spec?.name));
    this.name = spec.name;
    if (!spec.ctx || typeof spec.ctx !== 'object') throw new HookError('HOOK_SCHEMA', 'a hook needs a context (fields or a BTF struct)', this.name);
    const { fields, size } = layoutContext(this.name, spec.ctx);
    this.fields = fields;
    this.size = size;
    for (const f of fields) this.byName.set(f.name, f);
    this.pointerField = fields.find((f) => f.type === 'pointer');

    this.defaultVerdict = toBig(spec.returns?.default ?? 0, 'default verdict', this.name);
    const r = spec.returns?.range;
    if (r) {
      const lo = toBig(r[0], 'range', this.name);
      const hi = toBig(r[1], 'range', this.name);
      if (lo > hi) throw new HookError('HOOK_SCHEMA', `return range [${lo}, ${hi}] is empty`, this.name);
      if (this.defaultVerdict < lo || this.defaultVerdict > hi) {
        throw new HookError('HOOK_SCHEMA', `default verdict ${this.defaultVerdict} is outside the range [${lo}, ${hi}]`, this.name);
      }
      this.range = [lo, hi];
    }
    this.signed = (this.range?.[0] ?? 0n) < 0n || this.defaultVerdict < 0n;

    this.standard = (spec.helpers?.standard ?? DEFAULT_STANDARD).map((h) => {
      const id = typeof h === 'number' ? h : helperId(h.startsWith('bpf_') ? h.slice(4) : h);
      if (id === undefined || !Number.isInteger(id) || helperName(id) === undefined || id === 0) {
        throw new HookError('HOOK_SCHEMA', `unknown standard helper ${String(h)}`, this.name);
      }
      return id;
    });
    this.hostHelpers = spec.helpers?.host ?? [];
    const seen = new Set<number>(this.standard);
    for (const h of this.hostHelpers) {
      if (!Number.isInteger(h.id) || h.id <= 0 || h.id > 0x7fffffff) throw new HookError('HOOK_SCHEMA', `host helper '${h.name}': bad id ${h.id}`, this.name);
      if (seen.has(h.id)) throw new HookError('HOOK_SCHEMA', `host helper '${h.name}': id ${h.id} is already taken at this hook`, this.name);
      if (typeof h.impl !== 'function') throw new HookError('HOOK_SCHEMA', `host helper '${h.name}' has no impl`, this.name);
      seen.add(h.id);
    }
    this.hostProtos = this.hostHelpers.filter((h) => h.proto).map((h) => ({ ...h.proto!, id: h.id, name: h.name }));
    this.helperIds = [...seen].sort((a, b) => a - b);
    this.context = contextDescription(this.name, fields, size, this.helperIds, this.range, this.hostProtos);
    for (const f of fields) this.setters.set(f.name, this.makeSetter(f));
    if (spec.runtime) {
      if (spec.memory && spec.memory !== spec.runtime.memory) throw new HookError('HOOK_SCHEMA', 'memory and runtime disagree', this.name);
      for (const h of this.hostHelpers) {
        const have = spec.runtime.helpers.get(h.id);
        if (have && have.impl !== h.impl) throw new HookError('HOOK_SCHEMA', `host helper '${h.name}': the runtime already has helper ${h.id} ('${have.name}')`, this.name);
        if (!have) spec.runtime.registerHelper({ id: h.id, name: h.name, impl: h.impl });
      }
    }
  }

  get links(): readonly HookLink[] {
    return this.chain.map((r) => r.link);
  }

  get ctxAddress(): number | undefined {
    return this.areas?.ctx;
  }

  get stats(): { calls: number; errors: number; decided: number } {
    return { calls: this.calls, errors: this.errors, decided: this.decided };
  }

  bind(memory?: LinearMemory): LinearMemory {
    if (this.areas) {
      if (memory && memory !== this.areas.memory) {
        throw new HookError('HOOK_MEMORY', 'the hook is bound to another memory (every program of a hook must share one runtime)', this.name);
      }
      return this.areas.memory;
    }
    const m = memory ?? this.spec.memory ?? this.spec.runtime?.memory ?? new LinearMemory({ initialPages: 2 });
    const ctx = m.alloc(this.size + GUARD, 8);
    const cap = this.pointerField?.buffer ?? 0;
    const buffer = cap > 0 ? m.alloc(cap + GUARD, 8) : 0;
    const stack = m.alloc(STACK_AREA + GUARD, 16);
    try {
      // One region per field: in checked mode an access must stay inside one
      // field and respect its write right (padding is not accessible).
      for (const f of this.fields) if (f.read || f.write) m.addRegion(ctx + f.offset, f.size, `ctx.${f.name}`, f.write);
      m.addRegion(stack, STACK_AREA, 'stack', true);
    } catch (e) {
      m.free(ctx); m.free(stack); if (buffer) m.free(buffer);
      throw e;
    }
    this.areas = { memory: m, ctx, buffer, stack };
    this.writeBuffer(new Uint8Array(0));
    return m;
  }

  // ---- context values ----

  private valueError(f: HookField, msg: string): never {
    throw new HookError('HOOK_VALUE', `field '${f.name}': ${msg}`, this.name);
  }

  private makeSetter(f: HookField): Setter {
    const at = (): number => this.areas!.ctx + f.offset;
    if (f.type === 'pointer') {
      return (v) => {
        if (typeof v === 'string') v = this.encoder.encode(v);
        if (!(v instanceof Uint8Array)) this.valueError(f, 'expects bytes or a string');
        if (v.length > f.buffer!) this.valueError(f, `${v.length} bytes do not fit its buffer of ${f.buffer}`);
        this.writeBuffer(v);
      };
    }
    if (f.endOf !== undefined) return () => this.valueError(f, `is the end of '${f.endOf}' (set '${f.endOf}')`);
    const n = bytesLen(f.type);
    if (n !== undefined) {
      return (v) => {
        const m = this.areas!.memory;
        if (typeof v === 'string') {
          // Straight into linear memory; a longer string keeps its first n bytes.
          this.encoder.encodeInto(v, m.u8.subarray(at(), at() + n));
          return;
        }
        if (!(v instanceof Uint8Array)) this.valueError(f, 'expects bytes or a string');
        m.u8.set(v.length > n ? v.subarray(0, n) : v, at());
      };
    }
    const t = f.type as HookScalarType;
    const bits = SCALAR_SIZE[t] * 8;
    const signed = t[0] === 'i';
    if (bits === 64) {
      return (v) => {
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
        else return this.valueError(f, `expects an integer, got ${typeof v === 'number' ? v : typeof v}`);
        if (signed ? BigInt.asIntN(64, b) !== b : BigInt.asUintN(64, b) !== b) this.valueError(f, `${b} does not fit ${t}`);
        this.areas!.memory.view.setBigUint64(at(), BigInt.asUintN(64, b), true);
      };
    }
    const lo = signed ? -(2 ** (bits - 1)) : 0;
    const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    return (v) => {
      const x = typeof v === 'bigint' ? Number(v) : v;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) {
        this.valueError(f, `${typeof v === 'object' ? 'bytes' : String(v)} does not fit ${t}`);
      }
      const dv = this.areas!.memory.view;
      if (bits === 8) dv.setUint8(at(), x & 0xff);
      else if (bits === 16) dv.setUint16(at(), x & 0xffff, true);
      else dv.setUint32(at(), x >>> 0, true);
    };
  }

  private writeBuffer(v: Uint8Array): void {
    const f = this.pointerField;
    if (!f) return;
    const a = this.areas!;
    const m = a.memory;
    m.removeRegion(a.buffer);
    m.u8.set(v, a.buffer);
    m.view.setUint32(a.ctx + f.offset, a.buffer, true);
    m.view.setUint32(a.ctx + this.byName.get(f.end!)!.offset, a.buffer + v.length, true);
    if (v.length > 0) m.addRegion(a.buffer, v.length, `ctx.${f.name}[]`, false);
  }

  private write(values: Readonly<Record<string, HookValue | undefined>> | undefined): void {
    const a = this.areas!;
    const m = a.memory;
    // Views change only when the memory grows (LinearMemory refreshes them then); a detached view has length 0.
    if (m.u8.byteLength === 0) m.refresh();
    m.u8.fill(0, a.ctx, a.ctx + this.size);
    let buffered = false;
    if (values) {
      for (const k in values) {
        const v = values[k];
        if (v === undefined) continue;
        const set = this.setters.get(k);
        if (!set) throw new HookError('HOOK_VALUE', `the context has no field '${k}'`, this.name);
        set(v);
        if (k === this.pointerField?.name) buffered = true;
      }
    }
    if (this.pointerField && !buffered) this.writeBuffer(EMPTY);
  }

  get(field: string): number | bigint | Uint8Array {
    const f = this.byName.get(field);
    if (!f) throw new HookError('HOOK_VALUE', `the context has no field '${field}'`, this.name);
    if (!this.areas) throw new HookError('HOOK_VALUE', 'the hook has not run yet', this.name);
    const m = this.areas.memory;
    if (m.u8.byteLength === 0) m.refresh();
    const at = this.areas.ctx + f.offset;
    if (f.type === 'pointer') {
      const end = m.view.getUint32(this.areas.ctx + this.byName.get(f.end!)!.offset, true);
      return m.u8.slice(this.areas.buffer, end);
    }
    if (bytesLen(f.type) !== undefined) return m.u8.slice(at, at + f.size);
    switch (f.type) {
      case 'u8': return m.view.getUint8(at);
      case 'i8': return m.view.getInt8(at);
      case 'u16': return m.view.getUint16(at, true);
      case 'i16': return m.view.getInt16(at, true);
      case 'i32': return m.view.getInt32(at, true);
      case 'u64': return m.view.getBigUint64(at, true);
      case 'i64': return m.view.getBigInt64(at, true);
      default: return m.view.getUint32(at, true);
    }
  }

  // ---- attaching ----

  private registryFor(program: HookProgram): HelperRegistry {
    const src = program.helpers;
    const cached = src ? this.registries.get(src) : this.baseRegistry;
    if (cached) return cached;
    const reg = new HelperRegistry();
    const base = new HelperRegistry(BASE_HELPERS);
    for (const id of this.standard) {
      const s: HelperSpec | undefined = src?.get(id) ?? base.get(id);
      if (s) reg.register(s);
    }
    for (const h of this.hostHelpers) reg.register({ id: h.id, name: h.name, impl: h.impl });
    if (src) this.registries.set(src, reg); else this.baseRegistry = reg;
    return reg;
  }

  /** Prepare a program for this hook: checks, verification, compilation. Changes nothing on failure. */
  private makeRunner(link: HookLinkImpl, input: Attachable, engine: 'interp' | 'jit'): Runner {
    const rtProgram = input instanceof Program ? input : undefined;
    // Raw instructions have no loader (no maps): the verifier checks them against the context directly.
    // A Runtime program is verified with its maps; it runs through its own engine entry (prologue, faults at its slots).
    const program: HookProgram = rtProgram ? runtimeHookProgram(rtProgram)
      : Array.isArray(input) ? { insns: input as readonly Instruction[], verify: verifyRaw(input as readonly Instruction[]) }
      : input as HookProgram;
    const name = program?.name ?? `prog${link.id}`;
    const fail = (code: string, msg: string, cause?: unknown): never => { throw new HookError(code, msg, this.name, name, cause); };
    if (!program || !Array.isArray(program.insns) || program.insns.length === 0) fail('HOOK_PROGRAM', 'no instructions');
    const memory = this.bind(program.memory);
    const registry = this.registryFor(program);

    // Helper calls: only what the hook allows, and only what exists.
    const allowed = new Set(this.helperIds);
    const unknownToVerifier: string[] = [];
    // A host helper without a prototype cannot be verified: programs calling it run checked.
    const hostNoProto = new Set(this.hostHelpers.filter((h) => !h.proto).map((h) => h.id));
    let slot = 0;
    for (const x of program.insns) {
      if (x.op.kind === 'call') {
        if (x.src !== 0) fail('HOOK_HELPER', `insn ${slot}: kfunc calls are not available at a host hook`);
        const id = x.imm;
        const label = helperName(id) ?? this.hostHelpers.find((h) => h.id === id)?.name ?? `#${id}`;
        if (!allowed.has(id)) fail('HOOK_HELPER', `insn ${slot}: helper ${label} (${id}) is not allowed at this hook (allowed: ${this.helperIds.join(', ')})`);
        if (!registry.has(id)) fail('HOOK_HELPER', `insn ${slot}: helper ${label} (${id}) is allowed but the program's runtime does not implement it`);
        if (hostNoProto.has(id)) unknownToVerifier.push(label);
      }
      slot += x.op.kind === 'ld_imm64' ? 2 : 1;
    }

    // Verification against the hook's context.
    const mode = this.spec.verify ?? 'auto';
    let verified = false;
    let unverifiedReason: string | undefined;
    if (mode === 'off') {
      unverifiedReason = 'verification is off for this hook';
    } else if (!program.verify) {
      unverifiedReason = 'the program brings no verifier entry';
    } else if (unknownToVerifier.length) {
      unverifiedReason = `calls host helper(s) without a prototype: ${unknownToVerifier.join(', ')}`;
    } else {
      try {
        program.verify(this.context, this.hostProtos);
        verified = true;
      } catch (e) {
        if (isTsbpfError(e) && e.name === 'VerifierError') fail('HOOK_VERIFIER', `refused by the verifier: ${e.message}`, e);
        if (mode === 'required') fail('HOOK_VERIFIER', `cannot be verified: ${e instanceof Error ? e.message : String(e)}`, e);
        unverifiedReason = `the verifier could not run: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    if (!verified && mode === 'required') fail('HOOK_VERIFIER', `verification is required: ${unverifiedReason}`);
    if (!verified && !rtProgram) {
      try {
        validate(program.insns, { entryRegs: [1, 10] });
      } catch (e) {
        fail('HOOK_PROGRAM', `refused: ${e instanceof Error ? e.message : String(e)}`, e);
      }
    }
    const checked = !(verified && this.spec.checked === false);

    const a = this.areas!;
    const host = program.host ?? new HookRunHost(this, link, rtProgram, engine);
    const env: RunEnv = {
      memory,
      stack: a.stack,
      args: [a.ctx],
      budget: this.spec.budget ?? DEFAULT_BUDGET,
      checked,
      helpers: registry,
      host,
      ...(this.spec.now ? { now: this.spec.now } : {}),
      ...(this.spec.random ? { random: this.spec.random } : {}),
      ...(this.spec.log ? { log: this.spec.log } : {}),
    };
    if (host instanceof HookRunHost) host.env = env;
    let exec: () => bigint;
    if (rtProgram) {
      try {
        rtProgram.compile(engine, checked);
      } catch (e) {
        fail('HOOK_PROGRAM', `the ${engine === 'jit' ? 'JIT' : 'interpreter'} refused it: ${e instanceof Error ? e.message : String(e)}`, e);
      }
      exec = () => rtProgram.engineRun(engine, env).r0;
    } else if (engine === 'jit') {
      const jp = new JitProgram(program.insns);
      try {
        jp.compile({ checked });
      } catch (e) {
        fail('HOOK_PROGRAM', `the JIT refused it: ${e instanceof Error ? e.message : String(e)}`, e);
      }
      exec = () => jp.run(env).r0;
    } else {
      const p: PreparedProgram = prepare(program.insns);
      exec = () => execute(p, env).r0;
    }
    return { link, name, exec, verified, checked, engine, ...(unverifiedReason !== undefined ? { unverifiedReason } : {}) };
  }

  attach(program: Attachable, opts: AttachOptions = {}): HookLink {
    const order = opts.order ?? 0;
    if (typeof order !== 'number' || Number.isNaN(order)) throw new HookError('HOOK_ATTACH', `bad order ${String(order)}`, this.name);
    const link = new HookLinkImpl(this, nextLinkId++, order);
    const runner = this.makeRunner(link, program, opts.engine ?? this.spec.engine ?? 'interp');
    link.runner = runner;
    this.orders.set(link, [order, this.seq++]);
    this.publish([...this.chain, runner]);
    return link;
  }

  /** Replace a link's program (called by HookLink.update). */
  replace(link: HookLinkImpl, program: Attachable): void {
    if (!link.attached) throw new HookError('HOOK_DETACHED', `link ${link.id} is detached`, this.name);
    const runner = this.makeRunner(link, program, link.runner!.engine);
    link.runner = runner;
    link.updates++;
    this.publish(this.chain.map((r) => (r.link === link ? runner : r)));
  }

  remove(link: HookLinkImpl): void {
    if (!link.attached) return;
    this.orders.delete(link);
    this.publish(this.chain.filter((r) => r.link !== link));
  }

  private publish(chain: Runner[]): void {
    chain.sort((x, y) => {
      const a = this.orders.get(x.link)!;
      const b = this.orders.get(y.link)!;
      return a[0] - b[0] || a[1] - b[1];
    });
    this.chain = Object.freeze(chain);
  }

  isAttached(link: HookLinkImpl): boolean {
    return this.orders.has(link);
  }

  // ---- calling ----

  run(values?: Readonly<Record<string, HookValue | undefined>>): bigint {
    if (this.running) throw new HookError('HOOK_REENTRANT', 'run called while the hook is running (from a helper?)', this.name);
    const chain = this.chain; // the snapshot this call runs on, whatever happens meanwhile
    this.calls++;
    if (!this.areas) this.bind();
    this.running = true;
    let current: Runner | undefined;
    try {
      this.write(values);
      const def = this.defaultVerdict;
      for (let i = 0; i < chain.length; i++) {
        current = chain[i]!;
        current.link.runs++;
        let v = current.exec();
        if (this.signed) v = BigInt.asIntN(64, v);
        if (this.range && !current.verified && (v < this.range[0] || v > this.range[1])) {
          throw new HookError('HOOK_RETURN_RANGE', `returned ${v}, outside the hook's range [${this.range[0]}, ${this.range[1]}]`, this.name, current.name);
        }
        if (v !== def) {
          this.decided++;
          this.lastError = undefined;
          return v;
        }
      }
      this.lastError = undefined;
      return def;
    } catch (e) {
      this.errors++;
      if (current) current.link.errors++;
      const err = e instanceof HookError ? e : wrapRunError(this.name, current?.name, e);
      this.lastError = err;
      throw err;
    } finally {
      this.running = false;
    }
  }

  runOrDefault(values?: Readonly<Record<string, HookValue | undefined>>, onError?: (e: HookError) => void): bigint {
    try {
      return this.run(values);
    } catch (e) {
      const err = e instanceof HookError ? e : wrapRunError(this.name, undefined, e);
      (onError ?? this.spec.onError)?.(err);
      return this.defaultVerdict;
    }
  }

  dispose(): void {
    for (const r of this.chain) r.link.detach();
    const a = this.areas;
    if (!a) return;
    this.areas = undefined;
    a.memory.free(a.ctx);
    a.memory.free(a.stack);
    if (a.buffer) a.memory.free(a.buffer);
  }
}

const EMPTY = new Uint8Array(0);
/** Callbacks (bpf_loop) nested deeper than this fault. */
const MAX_NESTING = 8;

/**
 * What helpers see as ctx.host during a hook run: the hook and link, and
 * (for Runtime programs) the callback entry bpf_loop and
 * bpf_for_each_map_elem use.
 */
export class HookRunHost {
  env: RunEnv | undefined;
  private depth = 0;
  private readonly stacks: number[] = [];
  constructor(readonly hook: Hook, readonly link: HookLink, private readonly program: Program | undefined, private readonly engine: 'interp' | 'jit') {}

  callback(fn: bigint, args: readonly bigint[], pc: number): bigint {
    const p = this.program;
    const env = this.env!;
    const hi = Number((BigInt.asUintN(64, fn) >> 32n) & 0xffffffffn) | 0;
    if (!p || hi !== CODE_ADDR_TAG || p.prologue === 0) {
      throw new RuntimeFault('FAULT_CALL_TARGET', `callback 0x${BigInt.asUintN(64, fn).toString(16)} is not the address of a function of this program`, pc);
    }
    if (this.depth + 1 >= MAX_NESTING) throw new RuntimeFault('FAULT_CALL_DEPTH', `callbacks nested more than ${MAX_NESTING} deep`, pc);
    const m = env.memory;
    while (this.stacks.length <= this.depth) {
      const s = m.alloc(STACK_AREA + GUARD, 16);
      m.addRegion(s, STACK_AREA, 'stack', true);
      this.stacks.push(s);
    }
    const a = [...args.slice(0, 4)];
    while (a.length < 4) a.push(0n);
    const stack = this.stacks[this.depth]!;
    this.depth++;
    try {
      return p.engineRun(this.engine, { ...env, stack, args: [...a, fn] }).r0;
    } finally {
      this.depth--;
    }
  }
}

/**
 * Run the verifier on a Runtime program: as its own program type, or
 * against a host-defined context. Throws the VerifierError when refused.
 */
export function verifyProgram(p: Program, opts: { ctx?: ContextDescription; mapSpecs?: readonly MapSpec[] } = {}): void {
  const memory = p.runtime.memory;
  // The verifier wants LD_IMM64 src=1/2 with imm = an index into `maps`.
  const maps: BpfMap[] = [];
  const index = new Map<number, number>();
  const insns = p.insns.map((x) => {
    if (x.op.kind !== 'ld_imm64' || (x.src !== BPF_PSEUDO_MAP_FD && x.src !== BPF_PSEUDO_MAP_VALUE)) return x;
    const h = x.imm >>> 0;
    let i = index.get(h);
    if (i === undefined) {
      const m = mapFromHandle(memory, h);
      if (!m) throw new HookError('HOOK_PROGRAM', `lddw references no map (handle 0x${h.toString(16)})`, opts.ctx?.name ?? '-', p.name);
      i = maps.length;
      maps.push(m);
      index.set(h, i);
    }
    return { ...x, imm: i };
  });
  const r = verify(insns, {
    progType: opts.ctx ? 0 : p.progType,
    ...(opts.ctx ? { ctx: opts.ctx } : {}),
    maps: maps.map((m) => {
      // Map-in-map templates come from the object's map specs, when given.
      const spec = opts.mapSpecs?.find((s) => s.name === m.name);
      const info = (x: { type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number; name: string; innerMap?: MapSpec }): MapInfo => ({
        type: x.type, keySize: x.keySize, valueSize: x.valueSize, maxEntries: x.maxEntries, flags: x.flags ?? 0, name: x.name,
        ...(x.innerMap ? { inner: info(x.innerMap) } : {}),
      });
      return info({ ...m, ...(spec?.innerMap ? { innerMap: spec.innerMap } : {}) });
    }),
    funcs: p.funcs.map((f) => ({ insn: f.slot, name: f.name })),
    lineInfo: p.lineInfo.map((l) => ({ insn: l.slot, file: l.file, line: l.line, column: l.column, text: l.source })),
  });
  if (!r.ok) throw r.error ?? new Error('refused by the verifier');
}

/** A Runtime program as the hook sees it, with a verifier entry that knows its maps. */
function runtimeHookProgram(p: Program): HookProgram {
  return {
    name: p.name,
    insns: p.insns,
    memory: p.runtime.memory,
    helpers: p.helpers,
    verify: (ctx) => verifyProgram(p, { ctx }),
  };
}

function verifyRaw(insns: readonly Instruction[]): (ctx: ContextDescription) => void {
  return (ctx) => {
    const r = verify(insns, { progType: 0, ctx });
    if (!r.ok) throw r.error ?? new Error('refused by the verifier');
  };
}

function wrapRunError(hook: string, program: string | undefined, e: unknown): HookError {
  if (isTsbpfError(e)) {
    const code = e.code === 'FAULT_BUDGET' ? 'HOOK_BUDGET' : e.name === 'RuntimeFault' ? 'HOOK_FAULT' : 'HOOK_ERROR';
    return new HookError(code, e.message, hook, program, e);
  }
  // A host helper that threw something else: still a typed error for the host.
  return new HookError('HOOK_HELPER_THREW', e instanceof Error ? e.message : String(e), hook, program, e);
}

class HookLinkImpl implements HookLink {
  runner: Runner | undefined;
  runs = 0;
  errors = 0;
  updates = 0;
  constructor(private readonly owner: HookImpl, readonly id: number, readonly order: number) {}

  get hook(): Hook {
    return this.owner;
  }

  get attached(): boolean {
    return this.owner.isAttached(this);
  }

  get info(): HookLinkInfo {
    const r = this.runner!;
    return {
      id: this.id, program: r.name, order: this.order, engine: r.engine, verified: r.verified, checked: r.checked,
      ...(r.unverifiedReason !== undefined ? { unverifiedReason: r.unverifiedReason } : {}),
      runs: this.runs, errors: this.errors, updates: this.updates,
    };
  }

  update(program: Attachable): void {
    this.owner.replace(this, program);
  }

  detach(): void {
    this.owner.remove(this);
  }
}
