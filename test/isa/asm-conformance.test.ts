// The whole bpf_conformance tests/ folder must assemble; where a file carries
// a `-- raw` section the bytes must match it. The negative/ files with an
// `-- asm` section that the assembler must refuse are checked by code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { assemble, encode } from '../../src/isa/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DIR = process.env['BPF_CONFORMANCE_DIR'] ?? join(ROOT, '..', 'shared', 'bpf_conformance');
const present = existsSync(join(DIR, 'tests'));
const skip = present ? false : `bpf_conformance not found at ${DIR} (set BPF_CONFORMANCE_DIR)`;

interface DataFile { readonly name: string; readonly sections: ReadonlyMap<string, string> }

function readData(dir: string): DataFile[] {
  return readdirSync(dir).filter((f) => f.endsWith('.data')).sort().map((name) => {
    const sections = new Map<string, string[]>();
    let cur: string[] | undefined;
    for (const l of readFileSync(join(dir, name), 'utf8').split('\n')) {
      const m = /^-- (.*)$/.exec(l);
      if (m) { cur = []; sections.set(m[1]!.trim(), cur); continue; }
      cur?.push(l);
    }
    return { name, sections: new Map([...sections].map(([k, v]) => [k, v.join('\n')])) };
  });
}

function rawBytes(text: string): Uint8Array {
  const words = text.split(/\s+/).filter(Boolean);
  if (words[0]?.startsWith('0x')) {
    const out = new Uint8Array(words.length * 8);
    const dv = new DataView(out.buffer);
    words.forEach((w, i) => dv.setBigUint64(i * 8, BigInt(w), true));
    return out;
  }
  return Uint8Array.from(words.map((h) => parseInt(h, 16)));
}

test('every bpf_conformance test program assembles', { skip }, () => {
  const files = readData(join(DIR, 'tests')).filter((f) => f.sections.has('asm'));
  assert.ok(files.length >= 300, `only ${files.length} files with -- asm`);
  let raw = 0;
  for (const f of files) {
    let bytes: Uint8Array;
    try {
      bytes = encode(assemble(f.sections.get('asm')!));
    } catch (e) {
      assert.fail(`${f.name}: ${(e as Error).message}`);
    }
    assert.ok(bytes.length > 0, `${f.name}: no code`);
    const r = f.sections.get('raw');
    if (r !== undefined) {
      raw++;
      assert.deepEqual(bytes, rawBytes(r), `${f.name}: bytes differ from -- raw`);
    }
  }
  assert.ok(raw >= 1, 'no file with -- raw compared');
});

// negative/ files with `-- asm`: the assembler refuses these (code), ...
const REFUSED: Readonly<Record<string, string>> = {
  'invalid_imm32_dec_range.data': 'ASM_IMM_RANGE',
  'invalid_imm32_hex_range.data': 'ASM_IMM_RANGE',
  'invalid_label.data': 'ASM_LABEL_UNDEFINED',
  'invalid_lock.data': 'ASM_OPERANDS',
  'invalid_lock2.data': 'ASM_OPERANDS',
  'invalid_mnemonic.data': 'ASM_MNEMONIC',
  'invalid_offset.data': 'ASM_OPERAND',
  'invalid_offset_range.data': 'ASM_OFF_RANGE',
  'invalid_operand_count.data': 'ASM_OPERANDS',
  'invalid_register.data': 'ASM_REGISTER',
};
// ... and these are valid assembly that a later stage must refuse or fail:
// error.data reads r0 before writing it (verifier); incorrect_return_value_high_bits
// expects a wrong result (runner); invalid_unknown_directive's asm section is
// empty: its `-- Unknown directive` line is a section header of the file.
const LATER = new Set(['error.data', 'incorrect_return_value_high_bits.data', 'invalid_unknown_directive.data']);

test('negative bpf_conformance assembly is refused by the assembler or left to later checks', { skip }, () => {
  const files = readData(join(DIR, 'negative')).filter((f) => f.sections.has('asm'));
  assert.equal(files.length, Object.keys(REFUSED).length + LATER.size, 'negative/ changed: classify the new files');
  for (const f of files) {
    const src = f.sections.get('asm')!;
    if (LATER.has(f.name)) {
      assert.doesNotThrow(() => assemble(src), f.name);
      continue;
    }
    const code = REFUSED[f.name];
    assert.ok(code, `${f.name} is not classified`);
    assert.throws(() => assemble(src), (e: unknown) => {
      const a = e as { name: string; code: string; line: number; column: number };
      assert.equal(a.name, 'AsmError', f.name);
      assert.equal(a.code, code, `${f.name}: ${String(e)}`);
      assert.ok(a.line >= 1 && a.column >= 1);
      return true;
    });
  }
});

test('the Unknown directive line itself is refused when it reaches the assembler', () => {
  assert.throws(() => assemble('-- Unknown directive\nexit'), { name: 'AsmError', code: 'ASM_DIRECTIVE', line: 1, column: 1 });
  assert.throws(() => assemble('exit\n  .quad 5'), { name: 'AsmError', code: 'ASM_DIRECTIVE', line: 2, column: 3 });
});
