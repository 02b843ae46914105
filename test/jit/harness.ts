// Run a program on the interpreter and on the JIT in identical fresh
// memories (laid out as runRaw does) and describe what happened in a form
// that can be compared with deepEqual.

import { isTsbpfError } from '../../src/errors.js';
import type { Instruction } from '../../src/isa/instruction.js';
import type { HelperRegistry } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { JitProgram } from '../../src/runtime/jit/index.js';

export type Outcome =
  | { readonly kind: 'ok'; readonly r0: bigint; readonly insnCount: number; readonly mem: string; readonly stack: string }
  | { readonly kind: 'fault'; readonly code: string; readonly pc: number; readonly address?: number; readonly region?: string; readonly message?: string };

export interface RunOptions {
  readonly budget?: number;
  readonly checked?: boolean;
  readonly helpers?: HelperRegistry;
  /** Compare insnCount too (default true). */
  readonly counts?: boolean;
  /** Keep fault messages in the outcome (default false). */
  readonly messages?: boolean;
  /** Run on a shared memory (real atomics). */
  readonly shared?: boolean;
}

const GUARD = 64;

/** A fresh memory laid out like runRaw: stack area, then the input, each followed by unmapped guard bytes. */
export function rawMemory(input: Uint8Array, shared = false): { memory: LinearMemory; stack: number; addr: number } {
  const initialPages = Math.ceil((input.length + STACK_AREA + 8192) / 65536);
  const memory = new LinearMemory(shared ? { initialPages, shared, maximumPages: initialPages + 16 } : { initialPages });
  const stack = memory.alloc(STACK_AREA + GUARD, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  const addr = memory.alloc(input.length + GUARD, 16);
  memory.write(addr, input);
  if (input.length > 0) memory.addRegion(addr, input.length, 'mem', true);
  return { memory, stack, addr };
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function runEngine(engine: 'interp' | 'jit', insns: readonly Instruction[], input: Uint8Array, opts: RunOptions = {}, jit?: JitProgram): Outcome {
  const { memory, stack, addr } = rawMemory(input, opts.shared);
  const env = {
    memory, stack,
    args: [input.length > 0 ? addr : 0, input.length],
    packet: { start: addr, length: input.length },
    budget: opts.budget, checked: opts.checked ?? true, helpers: opts.helpers,
  };
  try {
    const r = engine === 'interp' ? execute(prepare(insns), env) : (jit ?? new JitProgram(insns)).run(env);
    return {
      kind: 'ok', r0: r.r0, insnCount: opts.counts === false ? 0 : r.insnCount,
      mem: hexOf(memory.read(addr, input.length)), stack: hexOf(memory.read(stack, STACK_AREA)),
    };
  } catch (e) {
    if (!isTsbpfError(e) || e.name !== 'RuntimeFault') throw e;
    const f = e as unknown as { code: string; pc: number; address?: number; region?: string; message: string };
    return {
      kind: 'fault', code: f.code, pc: f.pc, address: f.address, region: f.region,
      // The engines' own words for an access outside the whole memory differ (DataView vs Wasm trap).
      ...(opts.messages ? { message: f.message.replace(/ \((Offset is outside|memory access out of bounds)[^)]*\)$/, '') } : {}),
    };
  }
}
