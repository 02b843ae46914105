// The Runtime driver: the suite through src/runtime/runtime.ts, what users
// run. Each instance is a fresh Runtime with the object loaded (maps
// created in its linear memory and filled from user space like the suite
// says).
//
// - interp, JIT: `program.run({ data, repeat, engine })`, the Runtime's
//   BPF_PROG_TEST_RUN, one call into the engine per run (timed over a large
//   repeat count, like the kernel column);
// - JIT batch: the JIT's batch entry (JitProgram.runBatch, many runs per call
//   into WebAssembly) over XDP sessions the program type lays out in the
//   Runtime's memory, with the Runtime's maps and helpers. The Runtime has no
//   batch API of its own yet, so this part drives the engine below it.
//
// Programs run unchecked, as verified programs do: with the Runtime's
// verifier when it has one (`verify: true`), else trusting the kernel's
// verifier, which accepted every program of the suite (checked in the
// agreement step).

import {
  BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, DESC, type Instruction, JitProgram, type RunEnv, isTsbpfError,
} from '../src/core.js';
import type { Session } from '../src/runtime/progtypes/types.js';
import { type LoadedObject, type Program, Runtime } from '../src/runtime/runtime.js';
import { BenchError } from './errors.js';
import { type Driver, type EngineName, type Instance, type Outcome, hex } from './engines.js';
import { SUITE, objectBytes } from './suite.js';

/** Distinct packets (sessions) of a batch, and runs per batch call (the packets cycle). */
const BATCH_PACKETS = 256;
const BATCH_RUNS = 4096;

interface Loaded {
  readonly rt: Runtime;
  readonly obj: LoadedObject;
  readonly prog: Program;
  /** Whether the Runtime's verifier accepted the program (else it runs unchecked on the kernel's word). */
  readonly verified: boolean;
}

let verifyWorks: boolean | undefined;
/** Programs tsbpf's verifier accepted once (later loads of the same object skip the verifier). */
const accepted = new Set<string>();
/** Why tsbpf's verifier did not verify a program (it then runs unchecked on the kernel verifier's word). */
const refused = new Map<string, string>();

function load(program: string): Loaded {
  const bytes = objectBytes(program);
  const fills = SUITE.find((p) => p.name === program)?.fills ?? [];
  const make = (verify: 'verifier' | 'accepted' | 'none'): Loaded => {
    const rt = new Runtime();
    const opts = verify === 'verifier' ? { verify: true } : verify === 'accepted' ? { verify: () => {} } : {};
    const obj = rt.loadObject(bytes, opts);
    const prog = obj.program(program) ?? obj.programs[0];
    if (!prog) throw new BenchError('BENCH_OBJECT', `${program}.o has no program`);
    for (const f of fills) {
      const m = obj.map(f.map);
      if (!m) throw new BenchError('BENCH_SUITE', `${program}: no map '${f.map}'`);
      for (const e of f.entries) m.update(e.key, e.value);
    }
    return { rt, obj, prog, verified: verify !== 'none' };
  };
  if (accepted.has(program)) return make('accepted');
  if (verifyWorks !== false) {
    try {
      const l = make('verifier');
      verifyWorks = true;
      accepted.add(program);
      return l;
    } catch (e) {
      // No verifier in this build, or it refuses a program the kernel accepts: run on the kernel's word.
      if (!(isTsbpfError(e) && (e.name === 'LoadError' || e.name === 'VerifierError'))) throw e;
      if ((e as { code?: string }).code === 'LOAD_VERIFY_UNAVAILABLE') verifyWorks = false;
      refused.set(program, (e as Error).message.split('\n')[0]!.slice(0, 160));
    }
  }
  return make('none');
}

/** The instructions the engines execute: map references as plain constants (handle or value address). */
function execInsns(l: Loaded): Instruction[] {
  if (l.prog.prologue) throw new BenchError('BENCH_ENGINE', `${l.prog.name}: programs with callbacks are not batched by the benchmark`);
  const mem = l.rt.memory;
  return l.prog.insns.map((x) => {
    if (x.op.kind !== 'ld_imm64') return x;
    if (x.src === BPF_PSEUDO_MAP_FD) return { ...x, src: 0, imm2: 0 };
    if (x.src === BPF_PSEUDO_MAP_VALUE) return { ...x, src: 0, imm: (mem.readU32(x.imm + DESC.STORAGE) + x.imm2) | 0, imm2: 0 };
    return x;
  });
}

function mapsOf(obj: LoadedObject, names: readonly string[]): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const n of names) {
    const m = obj.map(n);
    if (!m) continue;
    out.set(n, new Map([...m.entries()].map(([k, v]) => [hex(k), hex(v)])));
  }
  return out;
}

class RuntimeInstance implements Instance {
  readonly insns: number;
  readonly how: string;
  readonly note?: string;
  private readonly l: Loaded;
  private executedRuns?: number;
  private batch?: { jit: JitProgram; env: RunEnv; args: BigUint64Array; sessions: Session[] };

  constructor(private readonly program: string, private readonly packet: Uint8Array) {
    this.l = load(program);
    this.insns = this.l.prog.insns.length;
    this.how = `Runtime: program.run({ data, repeat, engine }) for interp and JIT, JitProgram.runBatch over ${BATCH_PACKETS} XDP sessions ` +
      'for JIT batch; programs verified by tsbpf where its verifier accepts them, all run unchecked';
    if (!this.l.verified) this.note = `not verified by tsbpf (${refused.get(program) ?? 'no verifier'}): run unchecked on the kernel verifier's word`;
  }

  get executed(): number {
    return (this.executedRuns ??= load(this.program).prog.run({ data: this.packet, engine: 'interp', checked: false }).insnCount);
  }

  private batchState(l: Loaded): NonNullable<RuntimeInstance['batch']> {
    const jit = new JitProgram(execInsns(l));
    jit.compile({ checked: false });
    const sessions: Session[] = [];
    const n = l === this.l ? BATCH_PACKETS : 1;
    for (let i = 0; i < n; i++) {
      sessions.push(l.prog.type.open({ memory: l.rt.memory, host: l.rt.host, checked: false }, { data: this.packet }));
    }
    const runs = l === this.l ? BATCH_RUNS : 1;
    const args = new BigUint64Array(runs * 5);
    for (let i = 0; i < runs; i++) {
      const a = sessions[i % n]!.args;
      for (let j = 0; j < 5 && j < a.length; j++) args[i * 5 + j] = BigInt.asUintN(64, BigInt(a[j]!));
    }
    const env: RunEnv = { memory: l.rt.memory, stack: l.rt.stackFor(0), checked: false, helpers: l.prog.helpers };
    return { jit, env, args, sessions };
  }

  run(engine: EngineName, runs: number): number {
    if (engine === 'jitBatch') {
      const b = (this.batch ??= this.batchState(this.l));
      const calls = Math.max(1, Math.ceil(runs / BATCH_RUNS));
      for (let i = 0; i < calls; i++) {
        const r = b.jit.runBatch(b.env, b.args);
        if (r.faults.size) throw r.faults.values().next().value;
      }
      return calls * BATCH_RUNS;
    }
    this.l.prog.run({ data: this.packet, repeat: runs, engine, checked: false });
    return runs;
  }

  once(engine: EngineName): Outcome {
    const l = load(this.program);
    const names = SUITE.find((p) => p.name === this.program)?.compareMaps ?? [];
    if (engine === 'jitBatch') {
      const b = this.batchState(l);
      const r = b.jit.runBatch(b.env, b.args);
      if (r.faults.size) throw r.faults.get(0);
      const out = b.sessions[0]!.finish();
      b.sessions[0]!.release();
      return { retval: Number(r.r0[0]! & 0xffffffffn), data: out.data, maps: mapsOf(l.obj, names) };
    }
    const r = l.prog.run({ data: this.packet, engine, checked: false });
    return { retval: Number(r.retval & 0xffffffffn), data: r.data, maps: mapsOf(l.obj, names) };
  }

  /** ns of one program.run({ data }) call (repeat 1): the fixed cost of a test run through the Runtime. */
  perCall(engine: 'interp' | 'jit', runs: number): number {
    const p = this.l.prog, data = this.packet;
    for (let i = 0; i < runs; i++) p.run({ data, engine, checked: false });
    return runs;
  }
}

export class RuntimeDriver implements Driver {
  readonly name = 'runtime';
  unsupported(): string | undefined {
    return undefined;
  }
  open(program: string, packet: Uint8Array): RuntimeInstance {
    return new RuntimeInstance(program, packet);
  }
}

/** The Runtime driver (the Runtime is part of this build). */
export async function runtimeDriver(): Promise<Driver | undefined> {
  return new RuntimeDriver();
}
