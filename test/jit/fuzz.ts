// The differential campaign shared by the bounded test (fuzz-diff.test.ts)
// and the long-run script (fuzz-long.ts): generate a program, run it on both
// engines in checked mode over random inputs, compare everything; run it
// again unchecked on the JIT where the checked run did not fault. One seed in
// four runs on a shared memory (real atomics, misaligned ones fault).

import { isDeepStrictEqual } from 'node:util';
import { disassemble, encode } from '../../src/isa/index.js';
import { validate } from '../../src/runtime/validate.js';
import { JitProgram } from '../../src/runtime/jit/index.js';
import { fuzzHelpers, generate, randomInput, rng } from './gen.js';
import { type Outcome, runEngine } from './harness.js';

export interface Disagreement {
  readonly seed: number;
  readonly input: string;
  readonly checked: boolean;
  readonly interp: Outcome;
  readonly jit: Outcome;
  readonly listing: string;
}

export interface CampaignStats {
  programs: number;
  runs: number;
  faults: Record<string, number>;
  ok: number;
}

/** Budget faults are compared by code only: the JIT tests its budget on back edges, not per instruction. */
function agree(a: Outcome, b: Outcome): boolean {
  if (a.kind === 'fault' && b.kind === 'fault' && a.code === 'FAULT_BUDGET') return b.code === 'FAULT_BUDGET';
  return isDeepStrictEqual(a, b);
}

export function fuzzOne(seed: number, stats: CampaignStats, inputs = 2): Disagreement[] {
  const r = rng(seed);
  const g = generate(r, { size: 10 + (r() % 40) });
  validate(g.insns); // the generator must produce valid programs
  const jit = new JitProgram(g.insns);
  const helpers = fuzzHelpers();
  const out: Disagreement[] = [];
  stats.programs++;
  for (let k = 0; k < inputs; k++) {
    const input = randomInput(r, g.memLen);
    const opts = { helpers, budget: 100_000, messages: true, shared: seed % 4 === 0 };
    const a = runEngine('interp', g.insns, input, opts);
    const b = runEngine('jit', g.insns, input, opts, jit);
    stats.runs++;
    if (a.kind === 'fault') stats.faults[a.code] = (stats.faults[a.code] ?? 0) + 1; else stats.ok++;
    const report = (checked: boolean, x: Outcome, y: Outcome): void => {
      out.push({
        seed, input: Buffer.from(input).toString('hex'), checked, interp: x, jit: y,
        listing: disassemble(encode(g.insns)),
      });
    };
    if (!agree(a, b)) { report(true, a, b); continue; }
    if (a.kind === 'ok') {
      const c = runEngine('jit', g.insns, input, { ...opts, checked: false }, jit);
      if (!agree(a, c)) report(false, a, c);
    }
  }
  return out;
}

export function describe(d: Disagreement): string {
  const show = (o: Outcome): string => JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v));
  return `seed ${d.seed} (${d.checked ? 'checked' : 'unchecked JIT'}) input ${d.input}\n` +
    `  interp: ${show(d.interp)}\n  jit:    ${show(d.jit)}\n${d.listing}`;
}
