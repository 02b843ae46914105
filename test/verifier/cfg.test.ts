// The structure pass: encodings, jumps, reachability, subprograms, the call
// graph, liveness; and the bpf_conformance negative suite, which must be
// refused (by the assembler for text that is not a program, by the verifier
// for the rest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { BY_NAME } from '../../src/isa/table.js';
import { type Instruction, insn, encode } from '../../src/isa/instruction.js';
import { assemble } from '../../src/isa/asm.js';
import { buildCfg, liveness } from '../../src/verifier/cfg.js';
import { verify, verifyBytes } from '../../src/verifier/verifier.js';
import type { VerifierError } from '../../src/errors.js';

const op = (name: string, i = 0) => BY_NAME.get(name)![i]!;

function structError(insns: Instruction[], unprivileged = false): VerifierError {
  try {
    buildCfg(insns, { unprivileged });
  } catch (e) {
    return e as VerifierError;
  }
  assert.fail('structure pass accepted the program');
}

test('reserved fields and bad registers are refused with their slot', () => {
  const e1 = structError([insn(op('mov'), { dst: 0, imm: 0, off: 3 }), insn(op('exit'))]);
  assert.equal(e1.code, 'RESERVED_FIELD');
  assert.equal(e1.pc, 0);
  assert.match(e1.message, /mov uses reserved fields \(off = 3\)/);
  const e2 = structError([insn(op('mov'), { dst: 0, imm: 0 }), insn(op('exit'), { src: 1 })]);
  assert.equal(e2.pc, 1);
  const e3 = structError([insn(op('mov'), { dst: 11, imm: 0 }), insn(op('exit'))]);
  assert.equal(e3.code, 'BAD_REGISTER');
  const e4 = structError([insn(op('ldxdw'), { dst: 0, src: 12 }), insn(op('exit'))]);
  assert.equal(e4.code, 'BAD_REGISTER');
  // A correct program passes.
  buildCfg([insn(op('mov'), { dst: 0, imm: 0 }), insn(op('exit'))]);
});

test('slots: an LD_IMM64 takes two, jumps count slots', () => {
  const cfg = buildCfg(assemble('r1 = 5 ll\nif r1 > 3 goto +1\nr0 = 0\nr0 = 1\nexit'));
  assert.equal(cfg.nslots, 6);
  assert.equal(cfg.at[1], undefined);
  assert.deepEqual(cfg.succ(2), [3, 4]);
  assert.equal(cfg.prunePoint[4], 1);
  assert.equal(cfg.prunePoint[3], 1);
});

test('subprograms, the call graph and its depth', () => {
  const cfg = buildCfg(assemble('call f\nexit\nf:\ncall g\nexit\ng:\nr0 = 0\nexit'));
  assert.deepEqual(cfg.subprogs.map((s) => [s.start, s.end]), [[0, 2], [2, 4], [4, 6]]);
  assert.deepEqual([...cfg.subprogs[0]!.calls], [1]);
  assert.equal(cfg.subprogAt[3], 1);
  const rec = structError(assemble('call f\nexit\nf:\ncall g\nexit\ng:\ncall f\nexit'));
  assert.equal(rec.code, 'RECURSION');
  assert.equal(rec.pc, 4);
});

test('loops: back-edges mark loop heads; unprivileged programs may not loop', () => {
  const p = assemble('r0 = 0\nl:\nr0 += 1\nif r0 < 4 goto l\nexit');
  const cfg = buildCfg(p);
  assert.equal(cfg.loopHead[1], 1);
  assert.equal(cfg.loopHead[0], 0);
  const e = structError(p, true);
  assert.equal(e.code, 'BACK_EDGE');
  assert.match(e.message, /back-edge from insn 2 to 1/);
});

test('programs larger than the limits are refused before anything else', () => {
  const big = Array.from({ length: 4096 }, () => insn(op('mov'), { dst: 0, imm: 0 }));
  big.push(insn(op('exit')));
  assert.equal(structError(big, true).code, 'TOO_LARGE');
  buildCfg(big);
  assert.equal(structError([]).code, 'EMPTY');
});

test('liveness: registers read before written', () => {
  const cfg = buildCfg(assemble('r2 = r1\nr3 = 1\nif r2 > 0 goto +1\nr0 = r3\nr0 = 0\nexit'));
  const live = liveness(cfg, () => 5);
  const has = (pc: number, r: number) => ((live[pc]! >> r) & 1) === 1;
  assert.ok(has(0, 1) && !has(0, 2) && !has(0, 3));
  assert.ok(has(2, 2) && has(2, 3));
  assert.ok(!has(4, 3) && !has(4, 0));
  assert.ok(has(5, 0));
});

test('raw bytecode: decoder refusals are verifier rejections', () => {
  const bad = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0]);
  const r = verifyBytes(bad, { progType: 6 });
  assert.equal(r.ok, false);
  assert.equal(r.error?.code, 'DECODE_TRUNCATED');
  const ok = verifyBytes(encode(assemble('r0 = 0\nexit')), { progType: 6 });
  assert.equal(ok.ok, true);
  const opc = verifyBytes(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), { progType: 6, logLevel: 1 });
  assert.equal(opc.error?.code, 'DECODE_OPCODE');
  assert.equal(opc.error?.pc, 0);
  assert.match(opc.log, /unknown instruction encoding/);
});

// ---- bpf_conformance negatives ----

const NEG = '/work/shared/bpf_conformance/negative';
/** Negatives whose program is valid: the file expects a wrong result, which no verifier can see. */
const RESULT_ONLY = new Set(['incorrect_return_value_high_bits.data']);

test('the bpf_conformance negative suite is refused, each with a message', { skip: existsSync(NEG) ? false : `${NEG} not present` }, () => {
  const files = readdirSync(NEG).filter((f) => f.endsWith('.data')).sort();
  assert.ok(files.length >= 50);
  const refused: string[] = [];
  for (const f of files) {
    const text = readFileSync(`${NEG}/${f}`, 'utf8');
    const sec = (name: string): string | undefined => {
      const m = new RegExp(`^-- ${name}\\n([\\s\\S]*?)(?=^-- |$(?![\\s\\S]))`, 'm').exec(text);
      return m?.[1];
    };
    const raw = sec('raw');
    const asm = sec('asm');
    const mem = (sec('mem') ?? '').split(/\s+/).filter(Boolean).length;
    // The conformance VM hands the program a memory buffer in r1: a raw read/write context of that size.
    const opts = { progType: 0, ctx: { name: 'mem', size: Math.max(mem, 1), raw: { read: true, write: true, unaligned: true } } };
    let message: string;
    if (raw !== undefined) {
      const bytes = new Uint8Array(raw.split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16)));
      const r = verifyBytes(bytes, opts);
      assert.ok(!r.ok, `${f}: verified`);
      message = r.error!.message;
    } else if (asm !== undefined) {
      let insns: Instruction[];
      try {
        insns = assemble(asm);
      } catch (e) {
        refused.push(`${f}: assembler: ${(e as Error).message}`);
        continue;
      }
      const r = verify(insns, opts);
      if (RESULT_ONLY.has(f)) {
        assert.ok(r.ok, `${f}: a valid program`);
        continue;
      }
      assert.ok(!r.ok, `${f}: verified`);
      message = r.error!.message;
    } else {
      const r = verifyBytes(new Uint8Array(0), opts);
      assert.ok(!r.ok);
      message = r.error!.message;
    }
    assert.ok(message.length > 5, `${f}: ${message}`);
    refused.push(`${f}: ${message}`);
  }
  assert.equal(refused.length, files.length - RESULT_ONLY.size);
});
