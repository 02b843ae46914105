// A tail call made inside a bpf-to-bpf subprogram (test/fixtures/progs/tail_subprog.c):
// on Linux (BPF_PROG_TEST_RUN, checked on 6.18) the target replaces the
// subprogram only; its return value goes back to the subprogram's caller,
// which resumes (entry: 40 + 100 = 140). An empty slot falls through (7 + 100).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Runtime, type Engine } from '../../src/runtime/runtime.js';
import { hex, kernelSession, kernelSkip, read } from './helpers.js';

const OBJ = 'test/fixtures/progs/tail_subprog.o';
const ENGINES: readonly Engine[] = ['interp', 'jit'];
const DATA = new Uint8Array(64);
const u64s = (...v: number[]): string => v.map((x) => hex(new Uint8Array(new BigUint64Array([BigInt(x)]).buffer))).join('');

function ours(engine: Engine, checked: boolean): { entry: bigint; miss: bigint; target: bigint; tailCalls: number; bss: string } {
  const obj = new Runtime().loadObject(read(OBJ));
  const e = obj.program('entry')!.run({ data: DATA, engine, checked });
  const m = obj.program('entry_miss')!.run({ data: DATA, engine, checked });
  const t = obj.program('target')!.run({ data: DATA, engine, checked });
  return { entry: e.retval, miss: m.retval, target: t.retval, tailCalls: e.tailCalls, bss: hex(obj.map('.bss')!.lookup(new Uint8Array(4))!) };
}

test('tail call from a subprogram returns the target\'s R0 to the subprogram\'s caller (both engines)', () => {
  for (const engine of ENGINES) {
    for (const checked of [true, false]) {
      const r = ours(engine, checked);
      const what = `${engine}${checked ? '' : ' unchecked'}`;
      assert.equal(r.entry, 140n, `${what}: target's 40 + 100 added by the resumed caller`);
      assert.equal(r.miss, 107n, `${what}: empty slot falls through`);
      assert.equal(r.target, 40n, what);
      assert.equal(r.tailCalls, 1, what);
      // hits: sub ran 2, caller resumed 2, target ran 2 (once tail-called, once directly)
      assert.equal(r.bss, u64s(2, 2, 2), `${what}: hits`);
    }
  }
});

test('tail call from a subprogram agrees with the kernel', { skip: kernelSkip() }, () => {
  const k = kernelSession(OBJ, [{ prog: 'entry', data: DATA }, { prog: 'entry_miss', data: DATA }, { prog: 'target', data: DATA }]);
  const rv = k.runs.map((r) => ('error' in r ? r.error : r.retval));
  const bss = k.maps.find((m) => m.name.endsWith('.bss'))!.entries[0]![1];
  for (const engine of ENGINES) {
    const r = ours(engine, true);
    assert.deepEqual([Number(r.entry), Number(r.miss), Number(r.target)], rv, engine);
    assert.equal(r.bss, bss, `${engine}: hits`);
  }
});
