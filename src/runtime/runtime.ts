// The Runtime: one linear memory, its maps and programs, and test runs that
// mirror BPF_PROG_TEST_RUN.
//
//   const rt = new Runtime();
//   const obj = rt.loadObject(bytes);                  // or an ObjectSpec
//   const r = obj.program('xdp_firewall')!.run({ data: packet });
//   r.retval; r.data; r.ctx; r.durationNs; obj.map('rule_hits')!.lookup(key);
//
// Loading turns an ObjectSpec into live objects: every MapSpec becomes a map
// (global data initialised from the section, .rodata frozen), each
// program's LD_IMM64 map references get the map's handle (src = 1) or the
// address of the value (src = 2) -- the displayed instructions keep their
// pseudo source, the engines get plain 64-bit constants --, prog-array and
// map-in-map `values` initialisers are applied, and every helper call is
// checked against what the program type may call.
//
// Tail calls (bpf_tail_call through a prog array, at most 33 per run as
// the kernel's MAX_TAIL_CALL_CNT) end the running program and start the
// next from the Runtime's loop, so the host stack does not grow. A tail
// call made inside a bpf-to-bpf subprogram replaces that subprogram only,
// as on Linux: the target runs nested and its R0 is returned to the
// subprogram's caller (HelperContext.callDepth / ret, both engines). Callbacks
// (bpf_loop, bpf_for_each_map_elem) run as nested runs of the same program
// entered through a 3-slot prologue that calls the callback's address:
//
//   0: if r5 == 0 goto +2    ; a normal run (r5 = 0): go to the program
//   1: callx r5              ; a callback run: r5 = the callback's address
//   2: exit
//   3: ... the program ...
//
// The prologue is added only to programs that take a function's address
// (lddw rX, func); slots reported to the user (faults, line info) are the
// program's own.

import { LoadError, RuntimeFault, TestRunError, isTsbpfError } from '../errors.js';
import type { ObjectSpec, ProgramSpec, FuncInfo, LineInfo, MapRef, LoadOptions as ElfLoadOptions } from '../elf/object.js';
import { loadObject as readObject } from '../elf/object.js';
import type { MapSpec } from '../elf/maps.js';
import { type Instruction, decode, slotIndices } from '../isa/instruction.js';
import { type MapInfo, verify } from '../verifier/index.js';
import { helperName } from '../isa/helper-names.js';
import { BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../isa/opcodes.js';
import { BASE_HELPERS, type HelperContext, HelperRegistry, type HelperSpec } from './helpers.js';
import { MISC_HELPERS, MISC_HELPER_FAMILIES } from './helpers-misc.js';
import { NET_HELPERS, NET_HELPER_FAMILIES } from './helpers-net.js';
import { type PreparedProgram, type RunEnv, type RunResult, CODE_ADDR_TAG, STACK_AREA, execute, prepare } from './interpreter.js';
import { type JitProgram, type JitProgramOptions, jitCompile } from './jit/index.js';
import { type BpfMap, type BpfMapOfMaps, type BpfProgArray, DESC, MAP_HELPERS, type MapHelperHost, createMap, mapFromHandle } from './maps/index.js';
import { LinearMemory } from './memory.js';
import { GUARD } from './progtypes/common.js';
import { PROG_TYPES, SkbSession, XdpSession, progTypeById, progTypeByName } from './progtypes/index.js';
import {
  type HostEnv, KernelMemory, type ProgType, type RedirectRecord, type RunHost, type Session,
} from './progtypes/types.js';

/** MAX_TAIL_CALL_CNT: tail calls a run may make. */
export const MAX_TAIL_CALL_CNT = 33;
/** Default instruction budget of one test run (all tail calls and callbacks together). */
export const RUN_BUDGET = 1 << 26;
/** Nested callback runs (bpf_loop inside a callback...) before a fault. */
const MAX_NESTING = 8;
const PROLOGUE_SLOTS = 3;
const PROLOGUE = decode(new Uint8Array([
  0x15, 0x05, 0x02, 0x00, 0, 0, 0, 0, // if r5 == 0 goto +2
  0x8d, 0x05, 0x00, 0x00, 0, 0, 0, 0, // callx r5
  0x95, 0x00, 0x00, 0x00, 0, 0, 0, 0, // exit
]));

export type Engine = 'interp' | 'jit';

export interface RuntimeOptions {
  /** Use this memory instead of creating one. */
  readonly memory?: LinearMemory;
  /** Initial memory size in 64 KiB pages (default 16). */
  readonly initialPages?: number;
  /** Number of CPUs per-CPU maps hold values for (default 1). */
  readonly cpus?: number;
  /** The host side of tracing helpers, fib_lookup, clocks and logs. */
  readonly host?: Partial<HostEnv>;
}

export interface ObjectLoadOptions {
  /**
   * Verify each program before it runs: `true` runs tsbpf's verifier (a
   * refusal throws its VerifierError, with the C line and the path); a
   * function is called per program and throws to refuse it. Verified
   * programs run without per-access checks unless a run asks for them.
   * Default: not verified, every access checked at run time.
   */
  readonly verify?: boolean | ((p: VerifyRequest) => void);
  /** Program type for programs whose section does not say (or to override it): a number or a name (`xdp`, `tc`...). */
  readonly type?: number | string;
  /** ELF reading options (CO-RE target BTF...), when loading bytes. */
  readonly elf?: ElfLoadOptions;
}

/** What a verifier gets for one program. */
export interface VerifyRequest {
  readonly name: string;
  readonly type: number;
  /** Instructions as loaded (map references resolved, pseudo sources kept). */
  readonly insns: readonly Instruction[];
  readonly spec?: ProgramSpec;
  readonly maps: ReadonlyMap<string, BpfMap>;
}

export interface RunOptions {
  /** data_in: the packet. */
  readonly data?: Uint8Array;
  /** ctx_in: the context struct (xdp_md, __sk_buff, pt_regs...). */
  readonly ctx?: Uint8Array;
  /** Runs (default 1); maps, packet and context carry over from one to the next, as in the kernel's repeat loop. */
  readonly repeat?: number;
  readonly engine?: Engine;
  /** Instruction budget of one run (default RUN_BUDGET). */
  readonly budget?: number;
  /** Per-access checks (default: on unless the program was verified). */
  readonly checked?: boolean;
}

export interface TestRunResult {
  /** R0 of the last run, unsigned 64-bit (the kernel reports its low 32 bits as retval). */
  readonly retval: bigint;
  /** data_out: the packet after the runs (adjust_head/tail applied). */
  readonly data: Uint8Array;
  /** ctx_out. */
  readonly ctx: Uint8Array;
  /** Mean wall time of one run, in nanoseconds. */
  readonly durationNs: number;
  /** Instructions executed by the last run (tail calls and callbacks included). */
  readonly insnCount: number;
  /** Tail calls made by the last run. */
  readonly tailCalls: number;
  /** bpf_redirect / bpf_redirect_map decision of the last run. */
  readonly redirect?: RedirectRecord;
  /** Packets sent with bpf_clone_redirect during the runs. */
  readonly clones: readonly { ifindex: number; flags: number; data: Uint8Array }[];
  /** bpf_trace_printk / trace_vprintk lines printed during the runs. */
  readonly log: readonly string[];
}

let nextProgId = 1;

/** A program ready to run. */
export class Program {
  readonly id = nextProgId++;
  /** Instructions as loaded: map references hold handles / value addresses, pseudo sources kept. */
  readonly insns: readonly Instruction[];
  readonly funcs: readonly FuncInfo[];
  readonly lineInfo: readonly LineInfo[];
  readonly mapRefs: readonly MapRef[];
  /** Names of the maps the program references. */
  readonly mapNames: readonly string[];
  /** Slots the engines run before the program's own (the callback prologue). */
  readonly prologue: number;
  /** Checked mode by default (not verified). */
  readonly verified: boolean;
  private readonly exec: readonly Instruction[];
  private prepared?: PreparedProgram;
  private jit?: JitProgram;
  private lineBySlot?: Map<number, LineInfo>;

  constructor(
    readonly runtime: Runtime,
    readonly name: string,
    readonly section: string,
    readonly type: ProgType,
    readonly helpers: HelperRegistry,
    loaded: readonly Instruction[],
    exec: readonly Instruction[],
    meta: {
      funcs?: readonly FuncInfo[]; lineInfo?: readonly LineInfo[]; mapRefs?: readonly MapRef[]; spec?: ProgramSpec; verified?: boolean;
      /** The verifier's stack depth of each subprogram (in start order): the JIT zeroes only that much of a frame. */
      stackDepth?: readonly number[];
    },
  ) {
    this.insns = loaded;
    this.funcs = meta.funcs ?? [];
    this.lineInfo = meta.lineInfo ?? [];
    this.mapRefs = meta.mapRefs ?? [];
    this.mapNames = [...new Set(this.mapRefs.map((r) => r.map))];
    this.spec = meta.spec;
    this.verified = meta.verified ?? false;
    const needsPrologue = exec.some((x) => x.op.kind === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC);
    this.prologue = needsPrologue ? PROLOGUE_SLOTS : 0;
    this.exec = needsPrologue ? [...PROLOGUE, ...exec] : exec;
    const depths = meta.stackDepth && this.verified ? frameDepths(exec, meta.stackDepth, this.prologue) : undefined;
    this.jitOpts = depths ? { stackDepth: depths } : {};
  }

  private readonly jitOpts: JitProgramOptions;

  readonly spec: ProgramSpec | undefined;

  /** Number of instruction slots (lddw counts 2). */
  get slots(): number {
    return slotIndices(this.insns)[this.insns.length]!;
  }

  /** enum bpf_prog_type. */
  get progType(): number {
    return this.type.id;
  }

  /** The C source line of a slot (the nearest line info at or before it), when the object has line info. */
  sourceAt(slot: number): LineInfo | undefined {
    if (this.lineInfo.length === 0) return undefined;
    if (!this.lineBySlot) this.lineBySlot = new Map(this.lineInfo.map((l) => [l.slot, l]));
    for (let s = slot; s >= 0; s--) {
      const l = this.lineBySlot.get(s);
      if (l) return l;
    }
    return undefined;
  }

  /** Prepare the engine now (it is otherwise done on first use): decode for the interpreter, compile for the JIT. */
  compile(engine: Engine = 'jit', checked = !this.verified): void {
    if (engine === 'jit') (this.jit ??= jitCompile(this.exec, this.jitOpts)).compile({ checked });
    else this.prepared ??= prepare(this.exec);
  }

  /** @internal Run the engine once; faults are reported at the program's own slots. */
  engineRun(engine: Engine, env: RunEnv): RunResult {
    try {
      if (engine === 'jit') return (this.jit ??= jitCompile(this.exec, this.jitOpts)).run(env);
      return execute((this.prepared ??= prepare(this.exec)), env);
    } catch (e) {
      if (this.prologue > 0 && isTsbpfError(e) && e.name === 'RuntimeFault') {
        const f = e as RuntimeFault;
        if (f.pc >= this.prologue) throw new RuntimeFault(f.code, f.reason, f.pc - this.prologue, f.address, f.region);
      }
      throw e;
    }
  }

  /** Run as BPF_PROG_TEST_RUN does: once, or `repeat` times on the same packet and context. */
  run(opts: RunOptions = {}): TestRunResult {
    return this.runtime.testRun(this, opts);
  }
}

/** The live objects of one loaded ELF object. */
export class LoadedObject {
  constructor(
    readonly spec: ObjectSpec,
    readonly programs: readonly Program[],
    readonly maps: ReadonlyMap<string, BpfMap>,
  ) {}

  /** A program by function name, else by section name (the first in the section). */
  program(nameOrSection: string): Program | undefined {
    return this.programs.find((p) => p.name === nameOrSection) ?? this.programs.find((p) => p.section === nameOrSection);
  }

  map(name: string): BpfMap | undefined {
    return this.maps.get(name);
  }
}

/** The host environment with every field filled in. */
function hostEnv(h: Partial<HostEnv> = {}): HostEnv {
  return {
    kernelMemory: h.kernelMemory ?? new KernelMemory(),
    task: h.task ?? { pid: 1000, tgid: 1000, uid: 0, gid: 0, comm: 'tsbpf', cgroupId: 1n, taskAddr: 0n },
    fibRoutes: h.fibRoutes ?? [],
    kernelStack: h.kernelStack ?? [],
    userStack: h.userStack ?? [],
    log: h.log ?? (() => {}),
    now: h.now ?? defaultNow,
    bootOffsetNs: h.bootOffsetNs ?? 0n,
    hz: h.hz ?? 250,
    random: h.random ?? (() => (Math.random() * 4294967296) >>> 0),
    interfaces: h.interfaces ?? [1],
  };
}

function defaultNow(): bigint {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return BigInt(Math.round((p ? p.now() : Date.now()) * 1e6));
}

function nowMs(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p ? p.now() : Date.now();
}

/** Per-run state: what helpers see as ctx.host. */
class RunState implements RunHost, MapHelperHost {
  redirect?: RedirectRecord;
  readonly clones: { ifindex: number; flags: number; data: Uint8Array }[];
  tailCalls = 0;
  next?: Program;
  current: Program;
  /** Instructions of nested (callback) runs. */
  nestedInsns = 0;
  depth = 0;
  private readonly cbEnvs: ({ prog: Program; args: bigint[]; env: RunEnv } | undefined)[] = [];

  constructor(
    readonly rt: Runtime,
    readonly progType: ProgType,
    readonly session: Session,
    readonly env: HostEnv,
    readonly engine: Engine,
    readonly checked: boolean,
    readonly budget: number,
    readonly logLines: string[],
    clones: { ifindex: number; flags: number; data: Uint8Array }[],
    prog: Program,
  ) {
    this.current = prog;
    this.clones = clones;
  }

  /** perf_event_output with BPF_F_CTXLEN_MASK: the first `len` bytes of the packet. */
  perfCtxBytes(_ctxAddr: number, len: number): Uint8Array | undefined {
    const s = this.session;
    if (s instanceof XdpSession) {
      const b = new Uint8Array(len);
      return s.loadBytes(0, b) ? b : undefined;
    }
    if (s instanceof SkbSession) return len <= s.len ? this.rt.memory.read(s.data, len) : undefined;
    return undefined;
  }

  /**
   * A tail call made from a bpf-to-bpf subprogram: as on Linux (checked
   * with BPF_PROG_TEST_RUN on 6.18), the target replaces the subprogram
   * only; its R0 (after its own tail calls) is what the subprogram's caller
   * gets back. Runs nested on the next stack area; tail calls made at the
   * target's top level chain in this loop, not on the host stack.
   */
  subprogTail(first: Program, pc: number): bigint {
    const saved = this.current;
    if (this.depth + 1 >= MAX_NESTING + MAX_TAIL_CALL_CNT) throw new RuntimeFault('FAULT_CALL_DEPTH', 'tail calls from subprograms nested too deep', pc - saved.prologue);
    this.depth++;
    try {
      let cur = first;
      for (;;) {
        this.current = cur;
        const r = cur.engineRun(this.engine, this.rt.envFor(this, cur, this.session.args, this.depth, this.budget));
        this.nestedInsns += r.insnCount - (cur.prologue > 0 ? 1 : 0);
        if (this.nestedInsns > this.budget) throw new RuntimeFault('FAULT_BUDGET', `instruction budget of ${this.budget} exhausted`, pc - saved.prologue);
        if (this.next) {
          cur = this.next;
          this.next = undefined;
          continue;
        }
        return r.r0;
      }
    } finally {
      this.depth--;
      this.current = saved;
    }
  }

  callback(fn: bigint, args: readonly bigint[], pc: number): bigint {
    const p = this.current;
    const hi = Number((BigInt.asUintN(64, fn) >> 32n) & 0xffffffffn) | 0;
    if (hi !== CODE_ADDR_TAG || p.prologue === 0) {
      throw new RuntimeFault('FAULT_CALL_TARGET', `callback 0x${BigInt.asUintN(64, fn).toString(16)} is not the address of a function of this program`, pc - p.prologue);
    }
    if (this.depth + 1 >= MAX_NESTING) throw new RuntimeFault('FAULT_CALL_DEPTH', `callbacks nested more than ${MAX_NESTING} deep`, pc - p.prologue);
    this.depth++;
    try {
      // One environment per nesting level, reused by every callback at that level (only the arguments change).
      let c = this.cbEnvs[this.depth];
      if (!c || c.prog !== p) {
        const a: bigint[] = [0n, 0n, 0n, 0n, 0n];
        c = { prog: p, args: a, env: this.rt.envFor(this, p, a, this.depth, this.budget) };
        this.cbEnvs[this.depth] = c;
      }
      const a = c.args;
      for (let i = 0; i < 4; i++) a[i] = i < args.length ? args[i]! : 0n;
      a[4] = fn;
      const r = p.engineRun(this.engine, c.env);
      this.nestedInsns += Math.max(0, r.insnCount - PROLOGUE_SLOTS);
      if (this.nestedInsns > this.budget) throw new RuntimeFault('FAULT_BUDGET', `instruction budget of ${this.budget} exhausted`, pc - p.prologue);
      return r.r0;
    } finally {
      this.depth--;
    }
  }
}

function tailCall(_ctxReg: bigint, map: bigint, index: bigint, _4: bigint, _5: bigint, ctx: HelperContext): number {
  const st = ctx.host as RunState | undefined;
  if (!(st instanceof RunState)) return -22;
  const m = mapFromHandle(ctx.memory, Number(map & 0xffffffffn)) as BpfProgArray | undefined;
  if (!m || m.type !== 3 || typeof m.getProgram !== 'function') {
    throw new RuntimeFault('FAULT_HELPER', 'bpf_tail_call: R2 is not a prog array', ctx.pc);
  }
  const i = Number(index & 0xffffffffn);
  if (index > 0xffffffffn || i >= m.maxEntries) return -2;
  if (st.tailCalls >= MAX_TAIL_CALL_CNT) return -2;
  const target = m.getProgram(i);
  if (!(target instanceof Program)) return -2;
  st.tailCalls++;
  const depth = ctx.callDepth;
  if (depth !== undefined && depth > 0 && ctx.ret) {
    // From a subprogram: the target replaces that frame only (its caller resumes with the target's R0).
    ctx.ret(st.subprogTail(target, ctx.pc));
    return 0;
  }
  st.next = target;
  ctx.stop(0);
  return 0;
}

export class Runtime {
  readonly memory: LinearMemory;
  /** Helpers every program may call (add your own here before loading). */
  readonly helpers: HelperRegistry;
  readonly host: HostEnv;
  readonly cpus: number;
  /** Every map created, by id. */
  private readonly mapsById = new Map<number, BpfMap>();
  private readonly stacks: number[] = [];
  private readonly typeRegistries = new Map<number, { reg: HelperRegistry; denied: Map<number, string> }>();
  private helperVersion = 0;

  constructor(opts: RuntimeOptions = {}) {
    this.memory = opts.memory ?? new LinearMemory({ initialPages: opts.initialPages ?? 16 });
    this.cpus = Math.max(1, opts.cpus ?? 1);
    this.host = hostEnv(opts.host);
    this.helpers = new HelperRegistry([
      ...BASE_HELPERS, ...MISC_HELPERS, ...NET_HELPERS,
      { id: 12, name: 'tail_call', impl: tailCall },
      ...MAP_HELPERS,
    ]);
  }

  /** Maps of every loaded object. */
  get maps(): readonly BpfMap[] {
    return [...this.mapsById.values()];
  }

  mapById(id: number): BpfMap | undefined {
    return this.mapsById.get(id);
  }

  /** Register a helper for every program loaded afterwards (the host's own helpers). */
  registerHelper(spec: HelperSpec): this {
    this.helpers.register(spec);
    this.helperVersion++;
    this.typeRegistries.clear();
    return this;
  }

  /** Read an ELF object (bytes) or take an ObjectSpec, create its maps and programs. */
  loadObject(input: ObjectSpec | Uint8Array, opts: ObjectLoadOptions = {}): LoadedObject {
    const spec = input instanceof Uint8Array ? readObject(input, opts.elf ?? {}) : input;
    const typeOverride = opts.type === undefined ? undefined : resolveType(opts.type);
    // Check programs before creating anything, so a refused object leaves no maps behind.
    const plans = spec.programs.map((p) => {
      const t = typeOverride ?? progTypeById(p.type) ?? (p.type === 0 ? progTypeById(0) : undefined);
      if (!t) throw new LoadError('LOAD_PROG_TYPE', `program type ${p.type} (section '${p.section}') cannot run in tsbpf; give one with --type / {type}`, p.name);
      const reg = this.registryFor(t);
      checkCalls(p.name, p.insns, reg.reg, reg.denied, t);
      for (const r of p.mapRefs) {
        if (!spec.maps.some((m) => m.name === r.map)) throw new LoadError('LOAD_MAP_REF', `reference to unknown map '${r.map}'`, p.name, r.slot);
      }
      return { p, t, reg: reg.reg };
    });

    const created: BpfMap[] = [];
    const byName = new Map<string, BpfMap>();
    try {
      for (const spec0 of spec.maps) {
        // As libbpf: a perf event array without max_entries gets one slot per CPU.
        const ms = spec0.type === 4 && spec0.maxEntries === 0 ? { ...spec0, maxEntries: this.cpus } : spec0;
        const m = createMap(this.memory, ms, { cpus: this.cpus, ...(spec.btf ? { btf: spec.btf } : {}) });
        created.push(m);
        byName.set(ms.name, m);
      }
      const programs: Program[] = [];
      for (const { p, t, reg } of plans) {
        const { loaded, exec } = resolveMaps(p, byName, this.memory);
        let verified = false;
        let stackDepth: readonly number[] | undefined;
        if (opts.verify === true) {
          stackDepth = verifyProgram(p, t, spec.maps);
          verified = true;
        } else if (opts.verify) {
          opts.verify({ name: p.name, type: t.id, insns: loaded, spec: p, maps: byName });
          verified = true;
        }
        programs.push(new Program(this, p.name, p.section, t, reg, loaded, exec, {
          funcs: p.funcs, lineInfo: p.lineInfo, mapRefs: p.mapRefs, spec: p, verified, ...(stackDepth ? { stackDepth } : {}),
        }));
      }
      applySlots(spec.maps, byName, programs);
      for (const m of created) this.mapsById.set(m.id, m);
      return new LoadedObject(spec, programs, byName);
    } catch (e) {
      for (const m of created) {
        try { m.destroy(); } catch { /* already gone */ }
      }
      if (isTsbpfError(e)) throw e;
      throw new LoadError('LOAD_INTERNAL', e instanceof Error ? e.message : String(e));
    }
  }

  /**
   * A program from bare instructions (no ELF): `type` by number or name
   * (default: the raw memory convention). LD_IMM64 with src = 1 / 2 must
   * already hold a map handle / value address.
   */
  loadProgram(insns: readonly Instruction[] | Uint8Array, opts: { type?: number | string; name?: string; verified?: boolean } = {}): Program {
    const list = insns instanceof Uint8Array ? decode(insns) : insns;
    const t = opts.type === undefined ? progTypeById(0)! : resolveType(opts.type);
    const name = opts.name ?? 'prog';
    const reg = this.registryFor(t);
    checkCalls(name, list, reg.reg, reg.denied, t);
    const exec = list.map((x) => (x.op.kind === 'ld_imm64' && (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE) ? { ...x, src: 0 } : x));
    return new Program(this, name, '', t, reg.reg, list, exec, { verified: opts.verified ?? false });
  }

  /** The helper registry of a program type: shared helpers its family may call, plus its own. */
  private registryFor(t: ProgType): { reg: HelperRegistry; denied: Map<number, string> } {
    let r = this.typeRegistries.get(t.id);
    if (r) return r;
    const reg = new HelperRegistry();
    const denied = new Map<number, string>();
    for (const h of this.helpers.list()) {
      const fams = NET_HELPER_FAMILIES.get(h.id) ?? MISC_HELPER_FAMILIES.get(h.id);
      if ((fams && !fams.includes(t.family) && !isHostHelper(h)) || t.denied?.has(h.id)) { denied.set(h.id, h.name); continue; }
      reg.register(h);
    }
    for (const h of t.helpers) reg.register(h);
    // Type helpers of other families: known names, refused for this type.
    r = { reg, denied };
    this.typeRegistries.set(t.id, r);
    return r;
  }

  /** @internal The stack area of nesting level `depth`. */
  stackFor(depth: number): number {
    while (this.stacks.length <= depth) {
      const a = this.memory.alloc(STACK_AREA + GUARD, 16);
      this.memory.addRegion(a, STACK_AREA, 'stack', true);
      this.stacks.push(a);
    }
    return this.stacks[depth]!;
  }

  /** @internal The RunEnv of one engine run. */
  envFor(st: RunState, p: Program, args: ReadonlyArray<number | bigint>, depth: number, budget: number): RunEnv {
    const pk = st.session.packet;
    return {
      memory: this.memory,
      stack: this.stackFor(depth),
      args,
      budget,
      checked: st.checked,
      helpers: p.helpers,
      host: st,
      now: this.host.now,
      random: this.host.random,
      cpu: 0,
      log: (line: string) => {
        st.logLines.push(line);
        this.host.log(line);
      },
      ...(pk ? { packet: pk } : {}),
    };
  }

  /** BPF_PROG_TEST_RUN: see Program.run. */
  testRun(prog: Program, opts: RunOptions = {}): TestRunResult {
    const repeat = opts.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 0) throw new TestRunError('TESTRUN_REPEAT', `repeat must be a non-negative integer, not ${repeat}`);
    const budget = opts.budget ?? RUN_BUDGET;
    const checked = opts.checked ?? !prog.verified;
    // The JIT is the default engine once a program is verified (it then runs
    // without per-access checks); unverified programs default to the interpreter.
    const engine = opts.engine ?? (checked ? 'interp' : 'jit');
    const session = prog.type.open({ memory: this.memory, host: this.host, checked }, {
      ...(opts.data ? { data: opts.data } : {}), ...(opts.ctx ? { ctx: opts.ctx } : {}),
    });
    const log: string[] = [];
    const clones: { ifindex: number; flags: number; data: Uint8Array }[] = [];
    try {
      let last: { r0: bigint; insns: number; st: RunState } | undefined;
      const runs = Math.max(1, repeat);
      prog.compile(engine, checked);
      const t0 = nowMs();
      for (let k = 0; k < runs; k++) last = this.runOnce(prog, session, engine, checked, budget, log, clones);
      const t1 = nowMs();
      const out = session.finish();
      const st = last!.st;
      return {
        retval: last!.r0,
        data: out.data,
        ctx: out.ctx,
        durationNs: Math.round(((t1 - t0) * 1e6) / runs),
        insnCount: last!.insns,
        tailCalls: st.tailCalls,
        ...(st.redirect ? { redirect: st.redirect } : {}),
        clones,
        log,
      };
    } finally {
      session.release();
    }
  }

  private runOnce(prog: Program, session: Session, engine: Engine, checked: boolean, budget: number, log: string[], clones: RunState['clones']): { r0: bigint; insns: number; st: RunState } {
    const st = new RunState(this, prog.type, session, this.host, engine, checked, budget, log, clones, prog);
    let cur = prog;
    let insns = 0;
    for (;;) {
      st.current = cur;
      const env = this.envFor(st, cur, session.args, 0, Math.max(1, budget - insns - st.nestedInsns));
      const r = cur.engineRun(engine, env);
      insns += r.insnCount - (cur.prologue > 0 ? 1 : 0);
      if (st.next) {
        cur = st.next;
        st.next = undefined;
        continue;
      }
      return { r0: r.r0, insns: insns + st.nestedInsns, st };
    }
  }
}

function isHostHelper(h: HelperSpec): boolean {
  return !NET_HELPER_FAMILIES.has(h.id) && !MISC_HELPER_FAMILIES.has(h.id);
}

function resolveType(t: number | string): ProgType {
  const r = typeof t === 'number' ? progTypeById(t) : /^\d+$/.test(t) ? progTypeById(Number(t)) : progTypeByName(t);
  if (!r) throw new LoadError('LOAD_PROG_TYPE', `unknown or unsupported program type '${t}'`);
  return r;
}

/** Every `call` must name a helper the program type may call (local calls and callx excluded). */
function checkCalls(name: string, insns: readonly Instruction[], reg: HelperRegistry, denied: Map<number, string>, t: ProgType): void {
  const idx = slotIndices(insns);
  insns.forEach((x, i) => {
    if (x.op.kind !== 'call') return;
    if (reg.has(x.imm)) return;
    const hn = helperName(x.imm) ?? `#${x.imm}`;
    if (denied.has(x.imm)) {
      throw new LoadError('LOAD_HELPER_TYPE', `helper ${hn} (${x.imm}) is not available to ${t.name} programs`, name, idx[i]);
    }
    const owners = PROG_TYPES.filter((o) => o.helpers.some((h) => h.id === x.imm)).map((o) => o.name);
    if (owners.length) {
      throw new LoadError('LOAD_HELPER_TYPE', `helper ${hn} (${x.imm}) is not available to ${t.name} programs (only ${owners.join(', ')})`, name, idx[i]);
    }
    const known = helperName(x.imm) !== undefined;
    throw new LoadError('LOAD_HELPER', known
      ? `helper ${hn} (${x.imm}) is not implemented in tsbpf${t.name ? ` for ${t.name} programs` : ''}`
      : `unknown helper ${x.imm}`, name, idx[i]);
  });
}

/**
 * The verifier's per-subprogram stack depths keyed by entry slot of the
 * executable instructions (after a `prologue` of that many slots), for the
 * JIT. Subprograms are numbered as the verifier does: by start slot, slot 0
 * (the main program) first; undefined when the counts disagree.
 */
function frameDepths(insns: readonly Instruction[], depths: readonly number[], prologue: number): Map<number, number> | undefined {
  const idx = slotIndices(insns);
  const starts = new Set<number>([0]);
  insns.forEach((x, i) => {
    if (x.op.kind === 'call_local' || (x.op.kind === 'ld_imm64' && x.src === BPF_PSEUDO_FUNC)) starts.add(idx[i]! + 1 + x.imm);
  });
  const sorted = [...starts].sort((a, b) => a - b);
  if (sorted.length !== depths.length) return undefined;
  const m = new Map<number, number>(sorted.map((s, k) => [s + prologue, depths[k]!]));
  if (prologue > 0) m.set(0, depths[0]!); // the callback prologue's function runs the main program
  return m;
}

/** Run the verifier on a program of a spec; throws its VerifierError. Returns the stack depth of each subprogram. */
function verifyProgram(p: ProgramSpec, t: ProgType, maps: readonly MapSpec[]): readonly number[] {
  const idx = slotIndices(p.insns);
  const bySlot = new Map<number, MapRef>(p.mapRefs.map((r) => [r.slot, r]));
  const info = (m: MapSpec): MapInfo => ({
    type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, name: m.name,
    ...(m.innerMap ? { inner: info(m.innerMap) } : {}),
  });
  const insns = p.insns.map((x, i) => {
    const r = bySlot.get(idx[i]!);
    if (!r || x.op.kind !== 'ld_imm64') return x;
    return { ...x, src: r.kind === 'map' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE, imm: maps.findIndex((m) => m.name === r.map), imm2: r.offset };
  });
  const res = verify(insns, {
    progType: t.id,
    maps: maps.map(info),
    funcs: p.funcs.map((f) => ({ insn: f.slot, name: f.name })),
    lineInfo: p.lineInfo.map((l) => ({ insn: l.slot, file: l.file, line: l.line, column: l.column, text: l.source })),
    logLevel: 1,
  });
  if (!res.ok) {
    if (res.error) throw res.error;
    throw new LoadError('LOAD_VERIFY', `the verifier refused the program:\n${res.log}`, p.name);
  }
  return res.stats.stackDepth;
}

/** Loaded (display) and executable instructions with map references resolved. */
function resolveMaps(p: ProgramSpec, byName: ReadonlyMap<string, BpfMap>, mem: LinearMemory): { loaded: Instruction[]; exec: Instruction[] } {
  const idx = slotIndices(p.insns);
  const bySlot = new Map<number, MapRef>(p.mapRefs.map((r) => [r.slot, r]));
  const loaded: Instruction[] = [];
  const exec: Instruction[] = [];
  p.insns.forEach((x, i) => {
    const r = bySlot.get(idx[i]!);
    if (!r || x.op.kind !== 'ld_imm64') { loaded.push(x); exec.push(x); return; }
    const m = byName.get(r.map)!;
    if (r.kind === 'map') {
      loaded.push({ ...x, src: BPF_PSEUDO_MAP_FD, imm: m.handle | 0, imm2: 0 });
      exec.push({ ...x, src: 0, imm: m.handle | 0, imm2: 0 });
    } else {
      const base = mem.readU32(m.handle + DESC.STORAGE);
      if (r.offset < 0 || r.offset >= m.valueSize) {
        throw new LoadError('LOAD_MAP_REF', `offset ${r.offset} is outside the value of map '${r.map}' (${m.valueSize} bytes)`, p.name, r.slot);
      }
      loaded.push({ ...x, src: BPF_PSEUDO_MAP_VALUE, imm: m.handle | 0, imm2: r.offset });
      exec.push({ ...x, src: 0, imm: (base + r.offset) | 0, imm2: 0 });
    }
  });
  return { loaded, exec };
}

/** Prog-array and map-in-map `values` initialisers. */
function applySlots(specs: readonly MapSpec[], byName: ReadonlyMap<string, BpfMap>, programs: readonly Program[]): void {
  for (const ms of specs) {
    if (ms.slots.length === 0) continue;
    const m = byName.get(ms.name)!;
    for (const s of ms.slots) {
      if (s.program !== undefined) {
        const p = programs.find((x) => x.name === s.program);
        if (!p) throw new LoadError('LOAD_SLOT', `map '${ms.name}' slot ${s.index}: no program '${s.program}' in this object`);
        (m as BpfProgArray).setProgram(s.index, p, p.id);
      } else if (s.map !== undefined) {
        const inner = byName.get(s.map);
        if (!inner) throw new LoadError('LOAD_SLOT', `map '${ms.name}' slot ${s.index}: no map '${s.map}' in this object`);
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, s.index, true);
        (m as BpfMapOfMaps).setInner(key, inner);
      }
    }
  }
}
