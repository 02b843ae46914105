// `tsbpf disasm` agrees with llvm-objdump -d instruction for instruction on
// clang-built objects: every line of the committed llvm-objdump listings of
// examples/ and test/fixtures/ (bytes and text as llvm-objdump 14 printed
// them) is decoded from its bytes and printed by our disassembler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, formatInstruction } from '../../src/core.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dirs = ['examples', 'test/fixtures/elf', 'test/fixtures/progs'].map((d) => join(root, d)).filter(existsSync);
const listings = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.objdump.txt')).map((f) => join(d, f)));

test('committed llvm-objdump listings exist', () => {
  assert.ok(listings.length >= 5, `found ${listings.length} listings`);
});

test('every instruction of every listing prints as llvm-objdump printed it', () => {
  let checked = 0;
  const mismatches: string[] = [];
  for (const file of listings) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*(\d+):\t((?:[0-9a-f]{2} ){7}[0-9a-f]{2}(?: (?:[0-9a-f]{2} ){7}[0-9a-f]{2})?)\t(.*)$/.exec(line);
      if (!m) continue;
      const bytes = Uint8Array.from(m[2]!.split(' ').map((h) => parseInt(h, 16)));
      const expected = m[3]!.replace(/ <[^>]+>$/, '').trimEnd();
      if (expected === '<unknown>') continue;
      const [insn] = decode(bytes, { strict: false });
      const got = formatInstruction(insn!, { llvmExact: true });
      checked++;
      if (got !== expected) mismatches.push(`${file.slice(root.length + 1)} insn ${m[1]}: got '${got}', llvm-objdump '${expected}'`);
    }
  }
  assert.ok(checked > 500, `only ${checked} instructions checked`);
  assert.deepEqual(mismatches.slice(0, 20), []);
});
