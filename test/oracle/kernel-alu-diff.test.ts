// Differential test: straight-line ALU/ALU64/JMP/JMP32 programs run by
// tsbpf's interpreter (runRaw of src/runtime/raw.ts) and by the Linux kernel
// (BPF_PROG_TEST_RUN, i.e. the verifier and the JIT) must agree on the full
// 64-bit R0. Each program runs on the kernel twice: with its initial
// registers as constants (the verifier folds them and hard-wires the branches
// it can decide) and read from the context (the JIT computes everything). A
// BigInt model of the ISA (alu-ref.ts) is a third opinion that tells who is
// wrong when they differ. TSBPF_ALU_DIFF_N and TSBPF_ALU_DIFF_SEED change the
// count and the first seed; alu-diff-long.ts runs long campaigns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelAvailable } from '../../src/cli/kernel-oracle.js';
import { decode } from '../../src/isa/index.js';
import { generate } from './alu-gen.js';
import { refRun } from './alu-ref.js';
import { describe, kernelR0, runDiff, runRaw } from './alu-diff.js';

const k = kernelAvailable();
const skip = k.ok ? false : `kernel oracle unavailable: ${k.reason}`;
const N = Number(process.env['TSBPF_ALU_DIFF_N'] ?? 300);
const SEED = Number(process.env['TSBPF_ALU_DIFF_SEED'] ?? 1);

test('the generator is deterministic and covers the ISA corners', () => {
  const a = generate(42);
  assert.deepEqual(generate(42), a);
  assert.notDeepEqual(generate(43), a);
  const names = new Set<string>();
  for (let s = 0; s < 300; s++) for (const x of generate(s)) names.add(x.op.name);
  for (const n of ['sdiv', 'smod32', 'movsx864', 'movsx1632', 'movsx3264', 'bswap64', 'be16', 'le32', 'neg32', 'arsh', 'jsgt32', 'jset', 'lddw', 'div32', 'mod']) {
    assert.ok(names.has(n), `no generated program uses ${n}`);
  }
});

test('the kernel wrapper observes the full 64-bit R0', { skip }, () => {
  // r0 = 0x8000000000000001 (lddw); exit.  The kernel's 32-bit retval would say 1.
  const prog = decode(new Uint8Array([
    0x18, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
    0x95, 0, 0, 0, 0, 0, 0, 0,
  ]));
  assert.equal(refRun(prog), 0x8000000000000001n);
  assert.deepEqual(kernelR0([prog]), [0x8000000000000001n]);
  // The same with the initial registers read from the context.
  const g = generate(9, { minOps: 0, maxOps: 0 });
  assert.deepEqual(kernelR0([g], 'inputs'), [refRun(g)]);
});

test(`interpreter and kernel agree on R0 for ${N} generated programs, each with constant and with unknown inputs`, { skip }, () => {
  const rep = runDiff(SEED, N);
  const msg = rep.disagreements.map(describe).join('\n\n');
  // Diagnostics for the log of the run.
  console.log(`# alu-diff: ${rep.programs} programs vs ${rep.engine}, ${rep.disagreements.length} disagreements, ` +
    `${rep.refDisagreements} reference/kernel differences, ${rep.ms} ms`);
  assert.equal(rep.disagreements.length, 0, msg);
});
