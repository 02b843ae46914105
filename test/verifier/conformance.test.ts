// The bpf_conformance programs (written for a VM that hands r1 a memory
// buffer) verified with that buffer as a raw read/write context: all but
// the three that need what a kernel-style verifier refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { assemble } from '../../src/isa/asm.js';
import { verify } from '../../src/verifier/verifier.js';

const DIR = '/work/shared/bpf_conformance/tests';
/**
 * Refused on purpose: callx (no indirect calls), r2 as the buffer length (a VM convention), arithmetic on
 * the context pointer, and shifts by immediates outside 0..width-1 (RFC 9669 masks them; Linux refuses them).
 */
const EXPECTED_REJECT = new Map([
  ['callx.data', 'CALLX'], ['mem-len.data', 'UNINIT_REG'], ['subnet.data', 'CTX_ACCESS'],
]);
const expectedReject = (f: string): string | undefined =>
  EXPECTED_REJECT.get(f) ?? (/^(a?r|l)sh(32|64)-imm-(high|neg)\.data$/.test(f) ? 'BAD_SHIFT' : undefined);

test('bpf_conformance programs verify', { skip: existsSync(DIR) ? false : `${DIR} not present` }, () => {
  let verified = 0;
  const wrong: string[] = [];
  for (const f of readdirSync(DIR).filter((x) => x.endsWith('.data')).sort()) {
    const t = readFileSync(`${DIR}/${f}`, 'utf8');
    const asm = /^-- asm\n([\s\S]*?)(?=^-- |(?![\s\S]))/m.exec(t)?.[1];
    if (!asm) continue;
    const mem = (/^-- mem\n([\s\S]*?)(?=^-- |(?![\s\S]))/m.exec(t)?.[1] ?? '').split(/\s+/).filter(Boolean).length;
    const r = verify(assemble(asm), { progType: 0, ctx: { name: 'mem', size: Math.max(mem, 1), raw: { read: true, write: true, unaligned: true } } });
    const exp = expectedReject(f);
    if (r.ok && !exp) verified++;
    else if (!r.ok && exp === r.error!.code) continue;
    else wrong.push(`${f}: ${r.ok ? 'accepted' : r.error!.message}`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(verified >= 290, `${verified} verified`);
});
