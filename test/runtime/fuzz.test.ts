// Random programs built from the opcode table: whatever they do, a run ends
// with a result or a typed error (RuntimeFault / ValidationError), never a
// host exception and never a hang -- in checked mode and, for the host-safety
// net, in unchecked mode too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTsbpfError } from '../../src/errors.js';
import { type Instruction, insn } from '../../src/isa/instruction.js';
import { OPS } from '../../src/isa/table.js';
import { HelperRegistry } from '../../src/runtime/helpers.js';
import { runRaw } from '../../src/runtime/raw.js';

let seed = 12345;
function rnd(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return Math.floor((seed / 0x100000000) * n);
}
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;

const OFFS = [0, 1, 2, 4, 8, -8, -16, -512, 7, 100, -1, 32767, -32768];
const IMMS = [0, 1, -1, 2, 5, 7, 31, 32, 63, 64, 0x7fffffff, -0x80000000, 255, 4096, 123456789];

function randomProgram(): Instruction[] {
  const n = 1 + rnd(16);
  const out: Instruction[] = [];
  for (let i = 0; i < n; i++) {
    const op = pick(OPS);
    if (op.kind === 'kfunc_call') continue;
    out.push(insn(op, {
      dst: rnd(11), src: op.kind === 'ld_imm64' ? pick([0, 0, 0, 4, 1]) : rnd(11),
      off: op.kind === 'ja' || op.kind === 'jcond' ? rnd(2 * n) - n : pick(OFFS),
      imm: op.kind === 'call' ? pick([1, 5, 6, 7, 8, 9999]) : op.kind === 'call_local' || op.kind === 'ld_imm64' && rnd(2) ? rnd(2 * n) - n : pick(IMMS),
      imm2: pick(IMMS),
    }));
  }
  out.push(insn(OPS.find((o) => o.kind === 'exit')!));
  return out;
}

const helpers = new HelperRegistry([
  { id: 1, name: 'throws', impl: () => { throw new TypeError('host bug'); } },
  { id: 5, name: 'unwind', impl: (r1, _2, _3, _4, _5, ctx) => { if (r1 === 0n) ctx.stop(0); return r1; } },
  { id: 6, name: 'peek', impl: (r1, r2, _3, _4, _5, ctx) => ctx.checkAccess(r1, Number(r2 & 0xffn), false) },
]);

test('1500 random programs: every run ends in a result or a typed error', () => {
  const codes = new Map<string, number>();
  let ran = 0;
  for (let i = 0; i < 1500; i++) {
    const prog = randomProgram();
    for (const checked of [true, false]) {
      try {
        runRaw(prog, { mem: new Uint8Array(64), budget: 5000, helpers, validate: false, checked });
        ran++;
      } catch (e) {
        assert.ok(isTsbpfError(e), `host exception ${String(e)} from ${prog.map((x) => x.op.name).join('; ')}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
  }
  assert.ok(ran > 100, 'some programs run to completion');
  for (const c of ['FAULT_MEMORY', 'FAULT_BUDGET', 'FAULT_JUMP', 'FAULT_UNKNOWN_HELPER', 'FAULT_HELPER']) {
    assert.ok(codes.has(c), `fuzzing reached ${c} (got ${[...codes.keys()].join(', ')})`);
  }
  assert.ok(![...codes.keys()].includes('FAULT_INTERNAL'), 'no internal error');
});

test('validation never throws anything but ValidationError on random programs', () => {
  let refused = 0;
  for (let i = 0; i < 1500; i++) {
    try {
      runRaw(randomProgram(), { mem: new Uint8Array(64), budget: 5000, helpers });
    } catch (e) {
      assert.ok(isTsbpfError(e), String(e));
      if ((e as Error).name === 'ValidationError') refused++;
    }
  }
  assert.ok(refused > 500);
});
