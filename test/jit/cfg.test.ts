// Control-flow analysis of the JIT: dominators (Lengauer-Tarjan) against the
// textbook set-intersection fixpoint, reducibility, and the shape of the
// structured code (a long chain of merges compiles quickly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BY_NAME, insn } from '../../src/isa/index.js';
import { buildCfg, functionGraph } from '../../src/runtime/jit/cfg.js';
import { compileProgram } from '../../src/runtime/jit/compile.js';
import { generate, rng } from './gen.js';

/** Immediate dominators by the definition: Dom(n) = {n} + intersection of Dom(p) over predecessors. */
function naiveIdom(succ: readonly (readonly number[])[], nodes: readonly number[], start: number): Map<number, number> {
  const inF = new Set(nodes);
  const dom = new Map<number, Set<number>>();
  for (const v of nodes) dom.set(v, v === start ? new Set([v]) : new Set(nodes));
  const preds = new Map<number, number[]>(nodes.map((v) => [v, []]));
  for (const v of nodes) for (const t of succ[v]!) if (inF.has(t)) preds.get(t)!.push(v);
  for (let changed = true; changed;) {
    changed = false;
    for (const v of nodes) {
      if (v === start) continue;
      let acc: Set<number> | undefined;
      for (const p of preds.get(v)!) acc = acc ? new Set([...acc].filter((x) => dom.get(p)!.has(x))) : new Set(dom.get(p));
      const nd = new Set(acc ?? []);
      nd.add(v);
      if (nd.size !== dom.get(v)!.size) { dom.set(v, nd); changed = true; }
    }
  }
  const idom = new Map<number, number>();
  for (const v of nodes) {
    if (v === start) continue;
    // the strict dominator dominated by every other strict dominator
    const sd = [...dom.get(v)!].filter((x) => x !== v);
    idom.set(v, sd.find((c) => sd.every((o) => dom.get(c)!.has(o)))!);
  }
  return idom;
}

test('dominators agree with the set-intersection definition on generated programs', () => {
  let irreducible = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const { insns } = generate(rng(seed), { size: 25 });
    const cfg = buildCfg(insns);
    for (const e of cfg.entries) {
      const g = functionGraph(cfg, e);
      const want = naiveIdom(cfg.blocks.map((b) => b.succ), g.rpo, g.rpo[0]!);
      for (const [v, d] of want) assert.equal(g.idom[v], d, `seed ${seed} entry ${e} block ${v}`);
      if (!g.reducible) irreducible++;
    }
  }
  assert.ok(irreducible > 0, 'the generator should produce some irreducible functions');
});

test('dominators of a long chain of merge points take near-linear time', () => {
  // if r1 == k goto T_k (k = 0..n-1), then T_0..T_n-1 fall through one into the next:
  // every T_k is a merge point, and the dominator tree is n deep.
  const n = 30_000;
  const mov = BY_NAME.get('mov')!.find((s) => !s.srcReg)!;
  const add = BY_NAME.get('add')!.find((s) => !s.srcReg)!;
  const jeq = BY_NAME.get('jeq')!.find((s) => !s.srcReg)!;
  const insns = [insn(mov, { dst: 0, imm: 0 })];
  for (let k = 0; k < n; k++) insns.push(insn(jeq, { dst: 1, imm: k, off: n - 1 }));
  for (let k = 0; k < n; k++) insns.push(insn(add, { dst: 0, imm: k }));
  insns.push(insn(BY_NAME.get('exit')![0]!));
  const cfg = buildCfg(insns);
  const t0 = process.cpuUsage();
  const g = functionGraph(cfg, 0);
  const cpu = process.cpuUsage(t0);
  const ms = (cpu.user + cpu.system) / 1000;
  assert.equal(g.idom[cfg.blockOf[2 * n]!], cfg.blockOf[1]); // T_n-1 is dominated by the first test
  // CPU time, not wall time (shared machines). The iterative algorithm
  // (Cooper, Harvey, Kennedy) took about 3 s of CPU here, Lengauer-Tarjan
  // a few hundred ms at most, cold.
  assert.ok(ms < 1200, `took ${ms.toFixed(0)} ms of CPU`);
  assert.ok(WebAssembly.validate(compileProgram(insns, { checked: false, shared: false }).bytes));
});
