// The verifier against the Linux kernel on this machine: every case of
// test/fixtures/verifier/cases.txt is loaded with BPF_PROG_LOAD and the
// verdicts compared. A case where Linux decides otherwise says so in the
// file (`kernel: ...`, with the reason); any other disagreement fails.
// Skipped where the bpf() syscall is not usable (not Linux, not root).
//
// TSBPF_FIDELITY_REPORT=path writes the comparison as a markdown table
// (used for docs/verifier-fidelity.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { encode } from '../../src/isa/instruction.js';
import { verify } from '../../src/verifier/verifier.js';
import { kernelAvailable, kernelLoad } from '../../src/cli/kernel-oracle.js';
import { readCases } from './cases.js';

const avail = kernelAvailable();

test('verifier verdicts agree with the Linux kernel on every case', { skip: avail.ok ? false : `kernel oracle unavailable: ${avail.ok ? '' : avail.reason}` }, () => {
  const rows: string[] = [];
  const problems: string[] = [];
  let compared = 0; let agree = 0; let documented = 0;
  for (const c of readCases()) {
    const ours = verify(c.insns, { progType: c.progType, maps: c.maps, unprivileged: c.unprivileged });
    if (c.kernel === 'skip') {
      rows.push(`| ${c.name} | ${ours.ok ? 'accept' : 'reject'} | (not comparable) | ${c.kernelNote ?? ''} |`);
      continue;
    }
    let k;
    try {
      k = kernelLoad({
      insns: encode(c.insns), progType: c.progType, logLevel: 1, unprivileged: c.unprivileged,
      maps: c.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries })),
      });
    } catch (e) {
      problems.push(`${c.name} (line ${c.line}): the kernel could not load it: ${(e as Error).message}`);
      continue;
    }
    compared++;
    const kv = k.loaded ? 'accept' : 'reject';
    const tv = ours.ok ? 'accept' : 'reject';
    const kmsg = k.loaded ? '' : k.verifierLog.split('\n').filter((l) => l && !/^\d+: |^processed |^from |^\s/.test(l)).slice(-2).join(' / ');
    if (kv === tv) agree++;
    else if (c.kernel === kv) documented++;
    else problems.push(`${c.name} (line ${c.line}): tsbpf ${tv}, kernel ${kv}: ${kmsg}`);
    rows.push(`| ${c.name} | ${tv}${ours.error ? ` (${ours.error.code})` : ''} | ${kv}${kmsg ? `: ${kmsg.replace(/\|/g, '\\|')}` : ''} | ${kv === tv ? '' : c.kernelNote ?? 'UNDOCUMENTED'} |`);
  }
  const out = process.env['TSBPF_FIDELITY_REPORT'];
  if (out) {
    writeFileSync(out, `${compared} cases compared, ${agree} agree, ${documented} documented disagreements.\n\n` +
      '| case | tsbpf | Linux | note |\n|---|---|---|---|\n' + rows.join('\n') + '\n');
  }
  assert.deepEqual(problems, [], `${problems.length} undocumented disagreements with the kernel`);
  assert.ok(compared > 100);
});

test('the level-2 log prints instructions and their effects as Linux does (90% of lines identical)', { skip: avail.ok ? false : 'kernel oracle unavailable' }, () => {
  let same = 0; let total = 0;
  const norm = (l: string): string => l.replace(/^(\d+: \(18\) r\d+ = )\S+ +;/, '$1MAP ;');
  for (const c of readCases()) {
    if (c.kernel || c.unprivileged) continue;
    const maps = c.maps.map((m, i) => ({ ...m, name: `oracle_m${i}` }));
    const ours = verify(c.insns, { progType: c.progType, maps, logLevel: 2 }).log.split('\n').filter((l) => /^\d+: \(/.test(l)).map(norm);
    const k = kernelLoad({ insns: encode(c.insns), progType: c.progType, maps, logLevel: 2 });
    const theirs = k.verifierLog.split('\n').filter((l) => /^\d+: \(/.test(l)).map(norm);
    const n = Math.max(ours.length, theirs.length);
    for (let i = 0; i < n; i++) { total++; if (ours[i] === theirs[i]) same++; }
  }
  assert.ok(total > 500);
  assert.ok(same / total >= 0.9, `${same} of ${total} instruction lines identical`);
});
