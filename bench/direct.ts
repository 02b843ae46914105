// The engines driven by hand, without the Runtime: an xdp_md context and
// the packet laid out in a LinearMemory as the kernel's test run lays them
// out (256 bytes of headroom, data_meta = data), the program run unchecked
// (the kernel's verifier accepted every program of the suite). Only for
// programs without maps: map programs need the Runtime.

import {
  type Instruction, JitProgram, LinearMemory, type ObjectSpec, type PreparedProgram, type RunEnv, STACK_AREA,
  execute, loadObject, prepare,
} from '../src/core.js';
import { BenchError } from './errors.js';
import type { Driver, EngineName, Instance, Outcome } from './engines.js';
import { objectBytes } from './suite.js';

const FRAME = 4096;
const HEADROOM = 256;
const XDP_MD_SIZE = 24;
/** Distinct packets of a batch, and runs per batch call (the packets cycle). */
const BATCH_PACKETS = 256;
const BATCH_RUNS = 4096;

interface Layout {
  readonly memory: LinearMemory;
  readonly stack: number;
  /** Context address per packet copy. */
  readonly ctxs: number[];
  readonly datas: number[];
}

function layout(packet: Uint8Array, copies: number): Layout {
  const memory = new LinearMemory({ initialPages: Math.ceil(((copies + 1) * (FRAME + 64) + STACK_AREA + 65536) / 65536) });
  const stack = memory.alloc(STACK_AREA + 64, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  const ctxs: number[] = [];
  const datas: number[] = [];
  for (let i = 0; i < copies; i++) {
    const frame = memory.alloc(FRAME, 64);
    const data = frame + HEADROOM;
    memory.write(data, packet);
    memory.addRegion(data, packet.length, 'packet', true);
    const ctx = memory.alloc(XDP_MD_SIZE, 8);
    memory.writeU32(ctx, data);
    memory.writeU32(ctx + 4, data + packet.length);
    memory.writeU32(ctx + 8, data);
    memory.writeU32(ctx + 12, 1); // ingress_ifindex: lo, as the kernel's test run reports it
    memory.addRegion(ctx, XDP_MD_SIZE, 'ctx', false);
    ctxs.push(ctx);
    datas.push(data);
  }
  return { memory, stack, ctxs, datas };
}

class DirectInstance implements Instance {
  readonly insns: number;
  readonly executed: number;
  readonly how = 'direct: xdp_md laid out by the benchmark, engines called without the Runtime, unchecked';
  private readonly prep: PreparedProgram;
  private readonly jit: JitProgram;
  private readonly single: Layout;
  private readonly singleEnv: RunEnv;
  private readonly batch: Layout;
  private readonly batchEnv: RunEnv;
  private readonly batchArgs: BigUint64Array;

  constructor(private readonly code: readonly Instruction[], private readonly packet: Uint8Array) {
    this.insns = code.length;
    this.prep = prepare(code);
    this.jit = new JitProgram(code);
    this.jit.compile({ checked: false });
    this.single = layout(packet, 1);
    this.singleEnv = { memory: this.single.memory, stack: this.single.stack, args: [this.single.ctxs[0]!], checked: false };
    this.batch = layout(packet, BATCH_PACKETS);
    this.batchEnv = { memory: this.batch.memory, stack: this.batch.stack, checked: false };
    this.batchArgs = new BigUint64Array(BATCH_RUNS * 5);
    for (let i = 0; i < BATCH_RUNS; i++) this.batchArgs[i * 5] = BigInt(this.batch.ctxs[i % BATCH_PACKETS]!);
    const probe = layout(packet, 1);
    this.executed = execute(this.prep, { memory: probe.memory, stack: probe.stack, args: [probe.ctxs[0]!], checked: false }).insnCount;
  }

  run(engine: EngineName, runs: number): number {
    switch (engine) {
      case 'interp': {
        const p = this.prep, env = this.singleEnv;
        for (let i = 0; i < runs; i++) execute(p, env);
        return runs;
      }
      case 'jit': {
        const p = this.jit, env = this.singleEnv;
        for (let i = 0; i < runs; i++) p.run(env);
        return runs;
      }
      case 'jitBatch': {
        const calls = Math.max(1, Math.ceil(runs / BATCH_RUNS));
        for (let i = 0; i < calls; i++) {
          const r = this.jit.runBatch(this.batchEnv, this.batchArgs);
          if (r.faults.size) throw r.faults.values().next().value;
        }
        return calls * BATCH_RUNS;
      }
    }
  }

  once(engine: EngineName): Outcome {
    const l = layout(this.packet, 1);
    const env: RunEnv = { memory: l.memory, stack: l.stack, args: [l.ctxs[0]!], checked: false };
    let r0: bigint;
    if (engine === 'interp') r0 = execute(this.prep, env).r0;
    else if (engine === 'jit') r0 = new JitProgram(this.code).run(env).r0;
    else {
      const r = new JitProgram(this.code).runBatch(env, 1);
      if (r.faults.size) throw r.faults.get(0);
      r0 = r.r0[0]!;
    }
    return { retval: Number(r0 & 0xffffffffn), data: l.memory.read(l.datas[0]!, this.packet.length), maps: new Map() };
  }
}

export class DirectDriver implements Driver {
  readonly name = 'direct';
  private readonly specs = new Map<string, ObjectSpec>();

  private spec(program: string): ObjectSpec {
    let s = this.specs.get(program);
    if (!s) { s = loadObject(objectBytes(program)); this.specs.set(program, s); }
    return s;
  }

  unsupported(program: string): string | undefined {
    const s = this.spec(program);
    return s.maps.length ? 'uses maps: needs the Runtime' : undefined;
  }

  open(program: string, packet: Uint8Array): Instance {
    const s = this.spec(program);
    const p = s.program(program) ?? s.programs[0];
    if (!p) throw new BenchError('BENCH_OBJECT', `${program}.o has no program`);
    const why = this.unsupported(program);
    if (why) throw new BenchError('BENCH_ENGINE', `${program}: ${why}`);
    return new DirectInstance(p.insns, packet);
  }
}
