// Every bpf_conformance program runs on the JIT with the interpreter's
// outcome (R0, instruction count, memory, stack, or the same fault) and the
// file's expected result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble } from '../../src/isa/asm.js';
import { type Instruction, decode } from '../../src/isa/instruction.js';
import { parseConformance } from '../../src/runtime/conformance.js';
import { conformanceHelpers } from '../../src/runtime/helpers.js';
import { validate } from '../../src/runtime/validate.js';
import { runEngine } from './harness.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = process.env['BPF_CONFORMANCE_DIR'] ?? join(ROOT, '..', 'shared', 'bpf_conformance');
const DIR = join(BASE, 'tests');
const skip = existsSync(DIR) ? false : `bpf_conformance not found at ${BASE} (set BPF_CONFORMANCE_DIR)`;

function programOf(text: string): { insns?: Instruction[]; mem: Uint8Array; result?: bigint } {
  const c = parseConformance(text);
  let insns: Instruction[] | undefined;
  try {
    insns = c.raw ? decode(c.raw) : c.asm !== undefined ? assemble(c.asm) : undefined;
    if (insns) validate(insns);
  } catch {
    insns = undefined;
  }
  return { insns, mem: c.mem, result: c.error === undefined ? c.result : undefined };
}

test('JIT agrees with the interpreter on every bpf_conformance program (checked and unchecked)', { skip }, () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.data')).sort();
  assert.ok(files.length > 300, `only ${files.length} files`);
  let ran = 0;
  const bad: string[] = [];
  for (const f of files) {
    const { insns, mem, result } = programOf(readFileSync(join(DIR, f), 'utf8'));
    if (!insns) continue;
    for (const checked of [true, false]) {
      const opts = { helpers: conformanceHelpers(), checked, messages: true };
      const a = runEngine('interp', insns, mem, opts);
      const b = runEngine('jit', insns, mem, opts);
      try {
        assert.deepEqual(b, a);
        if (checked && result !== undefined) assert.equal(b.kind === 'ok' ? b.r0 : undefined, result);
      } catch (e) {
        bad.push(`${f} (${checked ? 'checked' : 'unchecked'}): ${(e as Error).message.split('\n').slice(0, 12).join('\n')}`);
      }
    }
    ran++;
  }
  assert.ok(ran > 290, `only ${ran} programs ran`);
  assert.deepEqual(bad, []);
});
