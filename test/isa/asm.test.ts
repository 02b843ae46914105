import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import {
  BY_NAME, OPS, assemble, decode, disassemble, encode, formatInstruction, helperId, helperName, MAX_HELPER_ID,
} from '../../src/isa/index.js';
import { hex, representatives } from './objdump-golden.js';
import { randomProgram, rng } from './random-insn.js';

const bytes = (text: string): string => hex(encode(assemble(text)));

test('every opcode-table entry round-trips through both syntaxes', () => {
  const reps = representatives();
  const covered = new Set(reps.map((x) => x.op));
  for (const s of OPS) assert.ok(covered.has(s), `no representative for ${s.name}`);
  for (const x of reps) {
    const b = encode([x]);
    assert.deepEqual(decode(b), [x]);
    for (const syntax of ['llvm', 'mnemonic'] as const) {
      const text = formatInstruction(x, { syntax });
      assert.equal(bytes(text), hex(b), `${syntax}: ${text}`);
    }
  }
  // The whole list as one program, the two syntaxes alternating line by line.
  const mixed = reps.map((x, i) => formatInstruction(x, { syntax: i % 2 ? 'mnemonic' : 'llvm' })).join('\n');
  assert.equal(bytes(mixed), hex(encode(reps)));
});

test('property: random programs round-trip through the mnemonic syntax too', () => {
  const r = rng(7);
  for (let i = 0; i < 1500; i++) {
    const p = randomProgram(r, 20);
    const text = p.map((x) => formatInstruction(x, { syntax: 'mnemonic' })).join('\n');
    assert.equal(bytes(text), hex(encode(p)), text);
  }
});

test('both syntaxes give the same bytes', () => {
  const pairs: Array<[string, string, string]> = [
    ['mov32 %r0, 0', 'w0 = 0', 'b4 00 00 00 00 00 00 00'],
    ['mov %r1, -1', 'r1 = -1', 'b7 01 00 00 ff ff ff ff'],
    ['ldxdw %r0, [%r1+8]', 'r0 = *(u64 *)(r1 + 8)', '79 10 08 00 00 00 00 00'],
    ['ldxw %r0, [%r1]', 'r0 = *(u32 *)(r1 + 0)', '61 10 00 00 00 00 00 00'],
    ['stxdw [%r10-8], %r0', '*(u64 *)(r10 - 8) = r0', '7b 0a f8 ff 00 00 00 00'],
    ['stw [%r10-4], 0x10', '*(u32 *)(r10 - 4) = 16', '62 0a fc ff 10 00 00 00'],
    ['jgt r1, 0x10, +2', 'if r1 > 16 goto +2', '25 01 02 00 10 00 00 00'],
    ['jne32 %r1, %r2, -3', 'if w1 != w2 goto -3', '5e 21 fd ff 00 00 00 00'],
    ['jsgt %r3, 60, +1', 'if r3 s> 60 goto +1', '65 03 01 00 3c 00 00 00'],
    ['lddw %r0, 0x123456789abcdef0', 'r0 = 0x123456789abcdef0 ll', '18 00 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12'],
    ['lock add [%r10-8], %r1', 'lock *(u64 *)(r10 - 8) += r1', 'db 1a f8 ff 00 00 00 00'],
    ['lock fetch add32 [%r10-8], %r1', 'w1 = atomic_fetch_add((u32 *)(r10 - 8), w1)', 'c3 1a f8 ff 01 00 00 00'],
    ['lock xchg [%r10-8], %r1', 'r1 = xchg_64(r10 - 8, r1)', 'db 1a f8 ff e1 00 00 00'],
    ['lock cmpxchg [%r10-8], %r1', 'r0 = cmpxchg_64(r10 - 8, r0, r1)', 'db 1a f8 ff f1 00 00 00'],
    ['lock cmpxchg32 [%r10-8], %r1', 'w0 = cmpxchg32_32(r10 - 8, w0, w1)', 'c3 1a f8 ff f1 00 00 00'],
    ['call %r2', 'callx r2', '8d 02 00 00 00 00 00 00'],
    ['call 5', 'call bpf_ktime_get_ns', '85 00 00 00 05 00 00 00'],
    ['call 1', 'call bpf_map_lookup_elem#1', '85 00 00 00 01 00 00 00'],
    ['ja32 +5', 'gotol +5', '06 00 00 00 05 00 00 00'],
    ['be16 %r0', 'r0 = be16 r0', 'dc 00 00 00 10 00 00 00'],
    ['le64 %r3', 'r3 = le64 r3', 'd4 03 00 00 40 00 00 00'],
    ['swap32 %r0', 'r0 = bswap32 r0', 'd7 00 00 00 20 00 00 00'],
    ['movsx1632 %r0, %r1', 'w0 = (s16)w1', 'bc 10 10 00 00 00 00 00'],
    ['movsx3264 %r0, %r1', 'r0 = (s32)r1', 'bf 10 20 00 00 00 00 00'],
    ['ldxsb %r0, [%r1+2]', 'r0 = *(s8 *)(r1 + 2)', '91 10 02 00 00 00 00 00'],
    ['sdiv32 %r0, -3', 'w0 s/= -3', '34 00 01 00 fd ff ff ff'],
    ['smod %r0, %r1', 'r0 s%= r1', '9f 10 01 00 00 00 00 00'],
    ['arsh %r1, 3', 'r1 s>>= 3', 'c7 01 00 00 03 00 00 00'],
    ['neg32 %r4', 'w4 = -w4', '84 04 00 00 00 00 00 00'],
    ['ldabsh 12', 'r0 = *(u16 *)skb[12]', '28 00 00 00 0c 00 00 00'],
    ['ldindb %r1, 0', 'r0 = *(u8 *)skb[r1]', '50 10 00 00 00 00 00 00'],
    ['exit', 'exit', '95 00 00 00 00 00 00 00'],
  ];
  for (const [m, l, h] of pairs) {
    assert.equal(bytes(m), h, m);
    assert.equal(bytes(l), h, l);
  }
});

test('labels, local labels, implicit exit label, helper names, comments, separators', () => {
  const a = bytes(`
    # conformance style
    mov %r0, 0
    jne %r0, 1, done   // to the label
    ja +0
  done:
    exit`);
  assert.equal(a, bytes('r0 = 0\nif r0 != 1 goto +1\ngoto +0\nexit'));
  // lddw counts two slots; backward jumps; labels on the same line.
  assert.equal(bytes('top: r1 = 1 ll\nL2: goto top'), bytes('r1 = 1 ll\ngoto -3'));
  // GNU local labels as in kernel selftests' inline asm; `;` separates statements.
  assert.equal(bytes('r0 = 0; 1: r0 += 1; if r0 < 5 goto 1b; goto 1f; 1: exit'),
    bytes('r0 = 0\nr0 += 1\nif r0 < 5 goto -2\ngoto +0\nexit'));
  // `exit` names the first exit instruction unless defined.
  assert.equal(bytes('jeq %r1, 0, exit\nmov %r0, 1\nexit\nexit'), bytes('if r1 == 0 goto +1\nr0 = 1\nexit\nexit'));
  assert.throws(() => assemble('ja exit\nexit', { implicitExitLabel: false }), { code: 'ASM_LABEL_UNDEFINED' });
  // Helpers by name (with or without bpf_), by id, bpftool's name#id; bpf-to-bpf calls by label.
  assert.equal(bytes('call bpf_map_lookup_elem'), bytes('call 1'));
  assert.equal(bytes('call map_lookup_elem'), bytes('call 1'));
  assert.equal(bytes('call bpf_tail_call#12'), bytes('call 12'));
  assert.equal(bytes('call f\nexit\nf: exit'), bytes('call pc+1\nexit\nexit'));
  assert.equal(bytes('call local f\nexit\nf: exit'), bytes('call pc+1\nexit\nexit'));
  assert.equal(bytes('call local +1\nexit\nexit'), bytes('call pc+1\nexit\nexit'));
  // ja32 / gotol take labels into imm.
  assert.equal(bytes('ja32 L\nexit\nL: exit'), '06 00 00 00 01 00 00 00 95 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00');
  // Registers with or without %, decimal/hex/negative immediates.
  assert.equal(bytes('mov r1, 0x10'), bytes('mov %r1, 16'));
  assert.equal(bytes('mov32 r1, 0xffffffff'), bytes('w1 = -1'));
  assert.equal(bytes('add %r1, -0x10'), bytes('r1 += -16'));
});

test('llvm-objdump output (listing with index and bytes, headers, symbolization) assembles back', () => {
  const listing = `
prog.o:\tfile format elf64-bpf

Disassembly of section .text:

0000000000000000 <func>:
       0:\tb7 00 00 00 00 00 00 00\tr0 = 0
       1:\t18 01 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12\tr1 = 1311768467463790320 ll
       3:\t65 03 01 00 3c 00 00 00\tif r3 s> 60 goto +1 <func+0x28>
       4:\t85 00 00 00 01 00 00 00\tcall 1
       5:\t95 00 00 00 00 00 00 00\texit`;
  assert.equal(bytes(listing), bytes('r0 = 0\nr1 = 0x123456789abcdef0 ll\nif r3 s> 60 goto +1\ncall 1\nexit'));
  // bpftool's xlated dump: `(bf) r1 = r2`, `goto pc+1`, `(r1 +4)`.
  assert.equal(bytes('   0: (bf) r1 = r2\n   1: (61) r0 = *(u32 *)(r1 +4)\n   2: (05) goto pc+1'),
    bytes('r1 = r2\nr0 = *(u32 *)(r1 + 4)\ngoto +1'));
  const p = assemble('r0 = 1\nexit');
  assert.equal(bytes(disassemble(p, { showRaw: true })), hex(encode(p)));
});

interface Want { code: string; line: number; column: number; message?: RegExp }

function fails(text: string, w: Want): void {
  assert.throws(() => assemble(text), (e: unknown) => {
    const a = e as { name: string; code: string; line: number; column: number; message: string; excerpt: string };
    assert.equal(a.name, 'AsmError', String(e));
    assert.equal(a.code, w.code, `${text}: ${a.message}`);
    assert.equal(a.line, w.line, `${text}: ${a.message}`);
    assert.equal(a.column, w.column, `${text}: ${a.message}`);
    if (w.message) assert.match(a.message, w.message);
    assert.ok(a.excerpt.includes('^'));
    return true;
  }, text);
}

test('errors: code, line, column and excerpt', () => {
  fails('mov %r0, 1\nldxq %r0, [%r1]', { code: 'ASM_MNEMONIC', line: 2, column: 1, message: /Invalid mnemonic: ldxq/ });
  fails('  foo r1', { code: 'ASM_MNEMONIC', line: 1, column: 3 });
  fails('lock or [%r10-8]', { code: 'ASM_OPERANDS', line: 1, column: 1, message: /Invalid number of operands for lock/ });
  fails('lock', { code: 'ASM_OPERANDS', line: 1, column: 1, message: /Invalid number of operands for lock/ });
  fails('exit\nlddw %r0', { code: 'ASM_OPERANDS', line: 2, column: 1, message: /Invalid number of operands for lddw/ });
  fails('add %r0, 1, 2', { code: 'ASM_OPERANDS', line: 1, column: 1 });
  fails('or %r0, %r11', { code: 'ASM_REGISTER', line: 1, column: 9, message: /Invalid register: %r11/ });
  fails('or %r0, %r50', { code: 'ASM_REGISTER', line: 1, column: 9 });
  fails('r11 = 1', { code: 'ASM_REGISTER', line: 1, column: 1 });
  fails('r1 += w2', { code: 'ASM_REGISTER', line: 1, column: 7 });
  fails('mov32 %r0, 2147483648', { code: 'ASM_IMM_RANGE', line: 1, column: 12 });
  fails('mov32 %r0, 0x100000000', { code: 'ASM_IMM_RANGE', line: 1, column: 12 });
  fails('mov32 %r0, -2147483649', { code: 'ASM_IMM_RANGE', line: 1, column: 12 });
  fails('r0 = 4294967296', { code: 'ASM_IMM_RANGE', line: 1, column: 6 });
  fails('lddw %r0, 0x10000000000000000', { code: 'ASM_IMM_RANGE', line: 1, column: 11 });
  assert.equal(bytes('lddw %r0, 0xffffffffffffffff'), bytes('r0 = -1 ll'));
  assert.equal(bytes('lddw %r0, 18446744073709551615'), bytes('r0 = -1 ll'));
  fails('ldxb %r0, [%r1+0x10000]', { code: 'ASM_OFF_RANGE', line: 1, column: 15 });
  fails('ldxb %r0, %r1', { code: 'ASM_OPERAND', line: 1, column: 11 });
  fails('r0 = *(u8 *)(r1 - 32769)', { code: 'ASM_OFF_RANGE', line: 1, column: 17 });
  fails('goto +32768', { code: 'ASM_OFF_RANGE', line: 1, column: 6 });
  fails('mov %r0, 0\nja NOT_A_LABEL\nexit', { code: 'ASM_LABEL_UNDEFINED', line: 2, column: 4, message: /NOT_A_LABEL/ });
  fails('goto 1f\n1: exit\ngoto 1f', { code: 'ASM_LABEL_UNDEFINED', line: 3, column: 6 });
  fails('L: exit\n  L: exit', { code: 'ASM_LABEL_DUPLICATE', line: 2, column: 3, message: /line 1/ });
  fails('.quad 5', { code: 'ASM_DIRECTIVE', line: 1, column: 1 });
  fails('-- Unknown directive', { code: 'ASM_DIRECTIVE', line: 1, column: 1 });
  fails('r0 = $', { code: 'ASM_SYNTAX', line: 1, column: 6 });
  fails('if r1 ~ r2 goto +1', { code: 'ASM_SYNTAX', line: 1, column: 7 });
  fails('r0 = *(u64 *)(r1 + 0) junk', { code: 'ASM_SYNTAX', line: 1, column: 23 });
  fails('r1 = bswap16 r2', { code: 'ASM_REGISTER', line: 1, column: 14 });
  fails('w1 = 1 ll', { code: 'ASM_REGISTER', line: 1, column: 1 });
  fails('call bpf_map_lookup_elem#2', { code: 'ASM_OPERAND', line: 1, column: 26 });
  // A label too far for the 16-bit offset.
  fails(`goto far\n${'exit\n'.repeat(32768)}far: exit`, { code: 'ASM_OFF_RANGE', line: 1, column: 6 });
  // The excerpt points at the offending text.
  try {
    assemble('mov %r0, 0\n  or %r0, %r11');
    assert.fail('no error');
  } catch (e) {
    assert.equal((e as { excerpt: string }).excerpt, '  or %r0, %r11\n          ^~~~');
  }
});

test('helper names: facts from the UAPI header', () => {
  assert.equal(helperName(1), 'bpf_map_lookup_elem');
  assert.equal(helperName(12), 'bpf_tail_call');
  assert.equal(helperName(130), 'bpf_ringbuf_output');
  assert.equal(helperName(208), 'bpf_ktime_get_tai_ns');
  assert.equal(helperName(211), 'bpf_cgrp_storage_delete');
  assert.equal(helperName(0), undefined);
  assert.equal(helperName(212), undefined);
  assert.equal(helperName(-1), undefined);
  assert.equal(MAX_HELPER_ID, 211);
  for (let i = 1; i <= MAX_HELPER_ID; i++) assert.equal(helperId(helperName(i)!), i);
  assert.equal(helperId('bpf_unspec'), undefined);
  assert.equal(helperId('nope'), undefined);
  assert.ok(BY_NAME.size > 100);
});

test('fuzz: mutated programs either assemble or fail with an AsmError inside the line', () => {
  const r = rng(99);
  const chars = ' \t%rw0123456789abcdefx+-*()[],:;#/<>=&|^!sulbhd.lock fetch goto if call exit ll skb pc\u0000\u00e9';
  let errors = 0;
  for (let i = 0; i < 4000; i++) {
    const p = randomProgram(r, 6);
    let text = p.map((x, j) => formatInstruction(x, { syntax: (i + j) % 2 ? 'mnemonic' : 'llvm', alu32: i % 3 === 0 })).join('\n');
    for (let k = 1 + (r() % 4); k > 0; k--) {
      const pos = r() % (text.length + 1);
      const op = r() % 3;
      const ch = chars[r() % chars.length]!;
      text = op === 0 ? text.slice(0, pos) + text.slice(pos + 1 + (r() % 3))
        : op === 1 ? text.slice(0, pos) + ch + text.slice(pos) : text.slice(0, pos) + ch + text.slice(pos + 1);
    }
    try {
      assemble(text);
    } catch (e) {
      errors++;
      const a = e as { name: string; line: number; column: number; sourceLine: string };
      assert.equal(a.name, 'AsmError', `${JSON.stringify(text)}: ${String(e)}`);
      assert.equal(a.sourceLine, text.split('\n')[a.line - 1], JSON.stringify(text));
      assert.ok(a.column >= 1 && a.column <= a.sourceLine.length + 1, `${JSON.stringify(text)}: column ${a.column}`);
    }
  }
  assert.ok(errors > 1000, `only ${errors} mutated programs failed`);
});

test('bpftool `prog dump xlated ... opcodes` output (captured from the kernel) assembles to the bytes it shows', () => {
  const dump = readFileSync(new URL('../../../test/fixtures/isa/bpftool-xlated.txt', import.meta.url), 'utf8');
  const shown = dump.split('\n').filter((l) => /^\s+(?:[0-9a-f]{2} ){7}[0-9a-f]{2}/.test(l)).join(' ');
  // The kernel rewrites bpf-to-bpf calls in the xlated image (off = distance,
  // imm = subprogram index); `call pc+10` assembles to the original encoding.
  const expected = shown.split(/\s+/).filter(Boolean).join(' ')
    .replace('85 10 0a 00 01 00 00 00', '85 10 00 00 0a 00 00 00');
  assert.ok(expected.length > 8 * 3 * 30, 'fixture has too few instructions');
  assert.equal(bytes(dump), expected);
  // Function headers become labels: `int sub(int x):`.
  assert.equal(bytes('int main(void):\n call sub\n exit\nint sub(int x):\n exit'), bytes('call pc+1\nexit\nexit'));
  // Kernel map ids cannot be assembled.
  assert.throws(() => assemble('   6: (18) r1 = map[id:45]'), { code: 'ASM_OPERAND', column: 17 });
});
