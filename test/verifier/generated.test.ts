// Generated programs (test/verifier/gen.ts): the verdicts against the Linux
// kernel, and a soundness check: every program the verifier accepts runs in
// checked mode on random inputs without a single run-time fault (a fault in
// an accepted program would be a verifier bug).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { encode } from '../../src/isa/instruction.js';
import { verify } from '../../src/verifier/verifier.js';
import { kernelAvailable, kernelLoad } from '../../src/cli/kernel-oracle.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { createMap } from '../../src/runtime/maps/create.js';
import { generate, generateHelperCalls, generatePruning, generateRandom, generateValid, resolveFunc, Rng } from './gen.js';
import { helperProtos } from '../../src/verifier/helper-protos.js';
import { OPS } from '../../src/isa/table.js';
import { formatInstruction } from '../../src/isa/disasm.js';

const SEED = 20261122;
const progs = generate(SEED, 250).map((g) => ({ ...g, insns: assemble(g.text) }));
const verdicts = progs.map((g) => verify(g.insns, { progType: g.progType, maps: g.maps, unprivileged: g.unprivileged }));

test('generated programs: both verdicts occur for every kind', () => {
  const seen = new Map<string, Set<boolean>>();
  progs.forEach((g, i) => {
    const k = g.kind.split('/')[0]!;
    if (!seen.has(k)) seen.set(k, new Set());
    seen.get(k)!.add(verdicts[i]!.ok);
  });
  for (const [k, s] of seen) assert.equal(s.size, 2, `${k}: only ${[...s]}`);
});

const avail = kernelAvailable();
test('generated programs: the verdicts agree with the Linux kernel', { skip: avail.ok ? false : `kernel oracle unavailable: ${avail.ok ? '' : avail.reason}` }, () => {
  const wrong: string[] = [];
  progs.forEach((g, i) => {
    const k = kernelLoad({ insns: encode(g.insns), progType: g.progType, maps: g.maps, unprivileged: g.unprivileged, logLevel: 0 });
    if (k.loaded !== verdicts[i]!.ok) {
      wrong.push(`${g.kind}: tsbpf ${verdicts[i]!.ok ? 'accept' : 'reject'}, kernel ${k.loaded ? 'accept' : 'reject'}\n${g.text}`);
    }
  });
  assert.deepEqual(wrong, []);
});

test('generated programs: accepted programs never fault in checked mode', () => {
  const rng = new Rng(SEED + 1);
  let runs = 0;
  const valid = generateValid(SEED + 2, 150).map((g) => ({ ...g, insns: assemble(g.text) }));
  const all = [...progs, ...valid];
  const ok = [...verdicts.map((v) => v.ok), ...valid.map((g) => verify(g.insns, { progType: g.progType, maps: g.maps }).ok)];
  all.forEach((g, i) => {
    if (!ok[i]) return;
    const rt = new Runtime();
    const maps = g.maps.map((m, j) => createMap(rt.memory, { name: `m${j}`, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries }));
    const exec = g.insns.map((x) => (x.op.kind === 'ld_imm64' && x.src === 1 ? { ...x, imm: maps[x.imm]!.handle } : x));
    const prog = rt.loadProgram(exec, { type: g.progType });
    for (let n = 0; n < 8; n++) {
      for (const m of maps) {
        if (m.type !== 1 || n % 2) continue;
        m.update(new Uint8Array(4), new Uint8Array(m.valueSize).map(() => rng.int(256)), 0);
      }
      const data = new Uint8Array(14 + rng.int(80)).map(() => rng.int(256));
      try {
        prog.run({ data, checked: true });
        runs++;
      } catch (e) {
        assert.notEqual((e as Error).name, 'RuntimeFault', `${g.kind}: ${(e as Error).message}\n${g.text}`);
      }
    }
  });
  assert.ok(runs > 900, `${runs} runs`);
});

test('pruning changes no verdict: many-diamond programs verified with and without it (and by Linux)', () => {
  const ps = generatePruning(SEED, 150);
  let accepted = 0;
  const wrong: string[] = [];
  for (const g of ps) {
    const insns = assemble(g.text);
    const a = verify(insns, { progType: g.progType, maps: g.maps });
    const b = verify(insns, { progType: g.progType, maps: g.maps, noPrune: true, maxProcessed: 2_000_000 });
    if (a.ok) accepted++;
    if (a.ok !== b.ok) wrong.push(`pruned ${a.ok}, unpruned ${b.ok} (${b.error?.message})\n${g.text}`);
    if (avail.ok) {
      const k = kernelLoad({ insns: encode(insns), progType: g.progType, maps: g.maps, logLevel: 0 });
      if (k.loaded !== a.ok) wrong.push(`tsbpf ${a.ok}, kernel ${k.loaded}\n${g.text}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(accepted > 50 && accepted < ps.length, `${accepted} of ${ps.length} accepted`);
});

test('random instruction sequences: no crash, no hang, and Linux\'s verdict', () => {
  const ps = generateRandom(SEED, 400, OPS, (x) => formatInstruction(x));
  const wrong: string[] = [];
  let accepted = 0;
  for (const g of ps) {
    let insns;
    try { insns = assemble(g.text); } catch { continue; } // text the assembler refuses (a jump past the end)
    const t = Date.now();
    const r = verify(insns, { progType: g.progType, maps: g.maps, maxProcessed: 100_000 });
    assert.ok(Date.now() - t < 5000, 'slow');
    if (r.ok) accepted++;
    else assert.equal(r.error!.name, 'VerifierError');
    if (avail.ok) {
      const k = kernelLoad({ insns: encode(insns), progType: g.progType, maps: g.maps, logLevel: 0 });
      if (k.loaded !== r.ok) wrong.push(`tsbpf ${r.ok ? 'accept' : r.error!.message}, kernel ${k.loaded}\n${g.text}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(accepted >= 3, `${accepted} accepted`);
});

test('random mostly-valid programs (numeric domain): Linux\'s verdict', { skip: avail.ok ? false : 'kernel oracle unavailable' }, () => {
  const wrong: string[] = [];
  let accepted = 0;
  for (const g of generateValid(SEED, 300)) {
    const insns = assemble(g.text);
    const r = verify(insns, { progType: g.progType, maps: g.maps });
    if (r.ok) accepted++;
    const k = kernelLoad({ insns: encode(insns), progType: g.progType, maps: g.maps, logLevel: 0 });
    if (k.loaded !== r.ok) wrong.push(`tsbpf ${r.ok ? 'accept' : r.error!.message}, kernel ${k.loaded}\n${g.text}`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(accepted > 60, `${accepted} accepted`);
});

test('random mostly-valid programs without privileges (Spectre hardening, no spilled numbers): Linux\'s verdict', { skip: avail.ok ? false : 'kernel oracle unavailable' }, () => {
  const wrong: string[] = [];
  let accepted = 0;
  for (const g of generateValid(SEED + 3, 200, true)) {
    const insns = assemble(g.text);
    const r = verify(insns, { progType: g.progType, maps: g.maps, unprivileged: true });
    if (r.ok) accepted++;
    const k = kernelLoad({ insns: encode(insns), progType: g.progType, maps: g.maps, unprivileged: true, logLevel: 0 });
    if (k.loaded !== r.ok) wrong.push(`tsbpf ${r.ok ? 'accept' : r.error!.message}, kernel ${k.loaded}\n${g.text}`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(accepted > 20, `${accepted} accepted`);
});

test('helper calls with random arguments: Linux\'s verdict (callbacks aside: Linux wants BTF for them)', { skip: avail.ok ? false : 'kernel oracle unavailable' }, () => {
  const wrong: string[] = [];
  let compared = 0;
  for (const g of generateHelperCalls(SEED, 300, helperProtos())) {
    const insns = resolveFunc(assemble(g.text.replace(/FUNC/g, '0')));
    const r = verify(insns, { progType: g.progType, maps: g.maps });
    let k;
    try {
      k = kernelLoad({ insns: encode(insns), progType: g.progType, maps: g.maps, logLevel: 1 });
    } catch {
      continue; // maps the oracle cannot create
    }
    if (/btf/i.test(k.verifierLog.split('\n').filter((l) => l && !/^\d+: /.test(l)).join(' '))) continue;
    compared++;
    if (k.loaded !== r.ok) wrong.push(`type ${g.progType} helper ${g.helper}: tsbpf ${r.ok ? 'accept' : r.error!.message}, kernel ${k.loaded}\n${g.text}`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(compared > 200, `${compared} compared`);
});
