// Running a raw program: bytecode with no ELF, no maps, no program type, as
// uBPF and the bpf_conformance suite do. R1 = address of a copy of the input
// memory, R2 = its length, R10 = top of a 512-byte stack frame; the run is in
// checked mode unless told otherwise.

import type { Instruction } from '../isa/instruction.js';
import { decode } from '../isa/instruction.js';
import { type HelperRegistry } from './helpers.js';
import { type RunEnv, STACK_AREA, execute, prepare } from './interpreter.js';
import { jitCompile } from './jit/index.js';
import { LinearMemory } from './memory.js';
import { validate } from './validate.js';

/** Unmapped bytes left after the stack and the input memory. */
const GUARD = 64;

export { validate, type ValidateOptions } from './validate.js';

export interface RawOptions {
  /** Input memory; R1 points at a copy of it, R2 holds its length. */
  readonly mem?: Uint8Array;
  /** Executed-instruction budget (default 4,000,000). */
  readonly budget?: number;
  /** Helpers by id (default: the base helpers, see helpers.ts). */
  readonly helpers?: HelperRegistry;
  /** Check every memory access (default true; raw programs are unverified). */
  readonly checked?: boolean;
  /** Run `validate` first (default true). */
  readonly validate?: boolean;
  /** Engine: the reference interpreter (default) or the WebAssembly JIT. */
  readonly engine?: 'interp' | 'jit';
  /** Receives bpf_trace_printk output. */
  readonly log?: (line: string) => void;
  /** Clock for bpf_ktime_get_ns, in nanoseconds. */
  readonly now?: () => bigint;
}

export interface RawResult {
  /** R0 at exit, unsigned 64-bit. */
  readonly r0: bigint;
  /** The input memory after the run. */
  readonly mem: Uint8Array;
  /** Instructions executed. */
  readonly insnCount: number;
}

/**
 * Decode (if bytes), validate and run a raw program in a fresh linear memory.
 * Throws DecodeError, ValidationError or RuntimeFault.
 */
export function runRaw(program: Uint8Array | readonly Instruction[], opts: RawOptions = {}): RawResult {
  const insns = program instanceof Uint8Array ? decode(program) : program;
  if (opts.validate ?? true) validate(insns);
  const input = opts.mem ?? new Uint8Array(0);
  const memory = new LinearMemory({ initialPages: Math.ceil((input.length + STACK_AREA + 8192) / 65536) });
  // Unmapped guard bytes after each area, so that R10 + 0 or an overrun of
  // the input is a fault rather than an access to the next area.
  const stack = memory.alloc(STACK_AREA + GUARD, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  const addr = memory.alloc(input.length + GUARD, 16);
  memory.write(addr, input);
  if (input.length > 0) memory.addRegion(addr, input.length, 'mem', true);
  const env: RunEnv = {
    memory,
    stack,
    args: [input.length > 0 ? addr : 0, input.length],
    packet: { start: addr, length: input.length },
    budget: opts.budget,
    checked: opts.checked ?? true,
    helpers: opts.helpers,
    log: opts.log,
    now: opts.now,
  };
  const res = opts.engine === 'jit' ? jitCompile(insns).run(env) : execute(prepare(insns), env);
  return { r0: res.r0, mem: memory.read(addr, input.length), insnCount: res.insnCount };
}
