// The bpf_conformance suite (tests/ and negative/) on the interpreter.
// Directory: $BPF_CONFORMANCE_DIR, else ../shared/bpf_conformance next to the repository.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { judge, parseConformance, runCase } from '../../src/runtime/conformance.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = process.env.BPF_CONFORMANCE_DIR ?? join(root, '../shared/bpf_conformance');
const missing = existsSync(join(dir, 'tests')) ? false : `bpf_conformance not found at ${dir} (set BPF_CONFORMANCE_DIR)`;

function runDir(sub: string, negative: boolean): { passed: number; failures: string[] } {
  const d = join(dir, sub);
  let passed = 0;
  const failures: string[] = [];
  for (const n of readdirSync(d).filter((f) => f.endsWith('.data')).sort()) {
    const c = parseConformance(readFileSync(join(d, n), 'utf8'));
    const v = judge(c, runCase(c), negative);
    if (v.pass) passed++; else failures.push(`${n}: ${v.reason}`);
  }
  return { passed, failures };
}

test('bpf_conformance tests/: all 313 programs give the stated R0', { skip: missing }, () => {
  const r = runDir('tests', false);
  assert.deepEqual(r.failures, []);
  assert.equal(r.passed, 313);
});

test('bpf_conformance negative/: all 60 programs are refused', { skip: missing }, () => {
  const r = runDir('negative', true);
  assert.deepEqual(r.failures, []);
  assert.equal(r.passed, 60);
});

test('parser: raw words and byte lines, mem, result, error, unknown sections', () => {
  const c = parseConformance('-- raw\n0x00000001000000b7\n95 00 00 00 00 00 00 00\n-- mem\naa bb\n-- result\n0x2\n');
  assert.deepEqual([...c.raw!], [0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...c.mem], [0xaa, 0xbb]);
  assert.equal(c.result, 2n);
  const o = runCase(c);
  assert.equal(o.kind === 'ran' && o.r0, 1n);
  assert.equal(judge(c, o, false).pass, false, 'r0 = 1 does not match the stated 2');
  assert.equal(judge(c, o, true).pass, true, 'so as a negative it passes');
  const u = parseConformance('-- asm\nexit\n-- Unknown directive\n');
  assert.deepEqual(u.unknownSections, ['Unknown directive']);
  assert.equal(runCase(u).kind, 'refused');
  const bad = parseConformance('-- raw\nzz\n');
  assert.match(bad.formatError!.reason, /neither a 64-bit word/);
  const e = parseConformance('-- asm\nmov %r0, 1\nexit\n-- error\nInvalid\n');
  assert.equal(e.error, 'Invalid');
  assert.equal(judge(e, runCase(e), false).pass, false, 'a positive file with -- error must be refused');
});
