// The project's compiled objects (examples/, test/fixtures/progs/,
// test/fixtures/elf/, test/fixtures/verifier/progs/), every program verified: the verdicts are pinned in
// test/fixtures/verifier/corpus.txt (regenerate with TSBPF_UPDATE_GOLDEN=1
// and review the diff), and compared with the Linux kernel when the bpf()
// syscall is usable. A disagreement with Linux must be listed in the golden
// file with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadObject } from '../../src/elf/index.js';
import { encode } from '../../src/isa/instruction.js';
import { verify } from '../../src/verifier/verifier.js';
import { verifyInputsFromSpec } from '../../src/verifier/from-elf.js';
import { kernelAvailable, kernelLoad } from '../../src/cli/kernel-oracle.js';
import { fixture } from './cases.js';

const root = new URL('../../../', import.meta.url);
const DIRS = ['examples', 'test/fixtures/progs', 'test/fixtures/elf', 'test/fixtures/verifier/progs'];

interface Row { key: string; verdict: string; kernel?: string; note?: string }

function run(): { rows: Row[]; objects: Array<{ key: string; insns: Uint8Array; progType: number; attach?: number; flags: number; maps: Parameters<typeof kernelLoad>[0]['maps'] }> } {
  const rows: Row[] = [];
  const objects: ReturnType<typeof run>['objects'] = [];
  for (const d of DIRS) {
    const dir = new URL(`${d}/`, root);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.o')).sort()) {
      let spec;
      try { spec = loadObject(readFileSync(new URL(f, dir))); } catch { continue; }
      for (const p of spec.programs) {
        const key = `${d}/${f}:${p.name}`;
        const { insns, options } = verifyInputsFromSpec(p, spec.maps);
        const r = verify(insns, options);
        rows.push({ key, verdict: r.ok ? 'accept' : `reject ${r.error!.code}` });
        objects.push({
          key, insns: encode(insns), progType: p.type, ...(p.attachType !== undefined ? { attach: p.attachType } : {}), flags: p.flags,
          maps: spec.maps.map((m) => ({
            type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags,
            ...(m.data ? { entries: [{ key: new Uint8Array(4), value: m.data }] } : {}),
          })),
        });
      }
    }
  }
  return { rows, objects };
}

function readGolden(): Map<string, Row> {
  const m = new Map<string, Row>();
  for (const line of readFileSync(fixture('corpus.txt'), 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [main, note] = line.split(' # ');
    const [key, ...rest] = main!.trim().split(/\s+/);
    const kIdx = rest.indexOf('kernel:');
    const verdict = (kIdx >= 0 ? rest.slice(0, kIdx) : rest).join(' ');
    const kernel = kIdx >= 0 ? rest.slice(kIdx + 1).join(' ') : undefined;
    m.set(key!, { key: key!, verdict, ...(kernel ? { kernel } : {}), ...(note ? { note: note.trim() } : {}) });
  }
  return m;
}

const { rows, objects } = run();

test('every program of the corpus gets the pinned verdict', () => {
  if (process.env['TSBPF_UPDATE_GOLDEN']) {
    const old = readGolden();
    const text = ['# object:program verdict [kernel: <verdict where Linux differs>] [# reason]',
      ...rows.map((r) => {
        const o = old.get(r.key);
        return `${r.key} ${r.verdict}${o?.kernel ? ` kernel: ${o.kernel}` : ''}${o?.note ? ` # ${o.note}` : ''}`;
      })].join('\n') + '\n';
    writeFileSync(fixture('corpus.txt'), text);
  }
  const golden = readGolden();
  assert.ok(rows.length >= 50, `${rows.length} programs`);
  // Objects others add later are not pinned yet (the kernel comparison below still covers them).
  const diffs = rows.filter((r) => golden.has(r.key) && golden.get(r.key)!.verdict !== r.verdict)
    .map((r) => `${r.key}: ${golden.get(r.key)!.verdict} -> ${r.verdict}`);
  assert.deepEqual(diffs, []);
});

const avail = kernelAvailable();
test('the corpus verdicts agree with the Linux kernel (or the difference is documented)', { skip: avail.ok ? false : `kernel oracle unavailable: ${avail.ok ? '' : avail.reason}` }, () => {
  const golden = readGolden();
  const problems: string[] = [];
  let agree = 0; let compared = 0;
  for (const o of objects) {
    const g = golden.get(o.key);
    const ours = rows.find((r) => r.key === o.key)!.verdict.split(' ')[0];
    let kv: string;
    try {
      const k = kernelLoad({ insns: o.insns, progType: o.progType, ...(o.attach !== undefined ? { expectedAttachType: o.attach } : {}), progFlags: o.flags, maps: o.maps ?? [], logLevel: 0 });
      kv = k.loaded ? 'accept' : 'reject';
    } catch {
      kv = 'unloadable';
    }
    // Maps the oracle cannot create (map-in-map, perf arrays sized by the CPU count...): not comparable.
    if (kv === 'unloadable') continue;
    compared++;
    if (kv === ours) { agree++; continue; }
    if (g?.kernel !== kv) problems.push(`${o.key}: tsbpf ${ours}, kernel ${kv} (undocumented)`);
  }
  const out = process.env['TSBPF_FIDELITY_REPORT'];
  if (out) writeFileSync(out, `corpus: ${objects.length} programs, ${compared} loadable by the oracle, ${agree} agree\n`);
  assert.deepEqual(problems, []);
  assert.ok(compared > 40, `${compared} compared, ${agree} agree`);
});
