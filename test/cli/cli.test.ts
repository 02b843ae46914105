// bin/tsbpf.js as a child process: exit codes, one-line errors, output shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin/tsbpf.js');
const conf = process.env.BPF_CONFORMANCE_DIR ?? join(root, '../shared/bpf_conformance');
const noConf = existsSync(join(conf, 'tests')) ? false : `bpf_conformance not found at ${conf} (set BPF_CONFORMANCE_DIR)`;

function tsbpf(args: string[], opts: { input?: string } = {}): { code: number; out: string; err: string; raw: Buffer } {
  const r = spawnSync(process.execPath, [bin, ...args], { input: opts.input, timeout: 60_000, env: { ...process.env, TSBPF_DEBUG: '' } });
  return { code: r.status ?? -1, out: r.stdout.toString(), err: r.stderr.toString(), raw: r.stdout };
}

const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array): string => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};

const PROG = 'mov %r0, 7\nldxw %r1, [%r1+4]\nadd %r0, %r1\nexit\n';

test('asm: bytecode to stdout when not a TTY, -o writes a file; disasm prints it back', () => {
  const s = file('p.s', PROG);
  const r = tsbpf(['asm', s]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.raw.length, 32);
  assert.equal(r.raw[0], 0xb7);
  const o = join(tmp, 'p.bin');
  const w = tsbpf(['asm', s, '-o', o]);
  assert.equal(w.code, 0);
  assert.deepEqual(readFileSync(o), r.raw);
  const self = tsbpf(['asm', o, '-o', o]);
  assert.equal(self.code, 1, 'never overwrites its input');
  assert.deepEqual(readFileSync(o), r.raw);
  const d = tsbpf(['disasm', o]);
  assert.equal(d.code, 0);
  assert.equal(d.out, '       0:\tr0 = 7\n       1:\tr1 = *(u32 *)(r1 + 4)\n       2:\tr0 += r1\n       3:\texit\n');
});

test('asm error: one line with FILE:LINE:COL plus the caret excerpt, exit 1, no stack trace', () => {
  const s = file('bad.s', 'mov %r0, 1\n  movv %r1, 2\nexit\n');
  const r = tsbpf(['asm', s]);
  assert.equal(r.code, 1);
  const lines = r.err.trimEnd().split('\n');
  assert.match(lines[0]!, new RegExp(`^tsbpf: error: ${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:3: .*movv`));
  assert.equal(lines[1], '  movv %r1, 2');
  assert.match(lines[2]!, /^ {2}\^~+$/);
  assert.equal(lines.length, 3);
  assert.doesNotMatch(r.err, /\bat .*\.js:\d+/);
});

test('run-raw: text or bytecode, --mem, prints R0; --json shape', () => {
  const s = file('r.s', PROG);
  const mem = '01000000 05000000';
  let r = tsbpf(['run-raw', s, '--mem', mem]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '0xc\n');
  const b = file('r.bin', tsbpf(['asm', s]).raw);
  r = tsbpf(['run-raw', b, '--mem', mem, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { r0: '0xc', mem: '0100000005000000', insn_count: 4 });
  const mf = file('m.bin', Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]));
  r = tsbpf(['run-raw', s, '--mem-file', mf]);
  assert.equal(r.out, '0x8\n');
});

test('run-raw: a fault is one error line naming the instruction, exit 1', () => {
  const s = file('f.s', PROG);
  const r = tsbpf(['run-raw', s, '--mem', '0102']);
  assert.equal(r.code, 1);
  assert.equal(r.err.trimEnd().split('\n').length, 1);
  assert.match(r.err, /^tsbpf: error: .*f\.s: insn 1: load of 4 bytes at 0x[0-9a-f]+: outside region 'mem'.*r1 = \*\(u32 \*\)\(r1 \+ 4\)/);
  const loop = file('loop.s', 'mov %r0, 0\nl:\nja l\n');
  const b = tsbpf(['run-raw', loop, '--budget', '100']);
  assert.equal(b.code, 1);
  assert.match(b.err, /instruction budget of 100 exhausted/);
});

test('usage errors exit 2; missing files and the jit engine exit 1', () => {
  assert.equal(tsbpf([]).code, 2);
  assert.equal(tsbpf(['frobnicate']).code, 2);
  const u = tsbpf(['run-raw', 'x.s', '--bogus']);
  assert.equal(u.code, 2);
  assert.match(u.err, /Unknown option '--bogus'/);
  assert.equal(tsbpf(['run-raw']).code, 2);
  assert.equal(tsbpf(['run-raw', file('z.s', PROG), '--budget', 'lots']).code, 2);
  const m = tsbpf(['run-raw', join(tmp, 'missing.s')]);
  assert.equal(m.code, 1);
  assert.match(m.err, /^tsbpf: error: .*missing\.s: no such file or directory\n$/);
  const e = tsbpf(['run-raw', file('e.s', PROG), '--engine', 'turbo']);
  assert.equal(e.code, 2);
  assert.match(e.err, /unknown engine 'turbo'/);
});

test('run-raw --engine jit gives the same answer as the interpreter, faults included', () => {
  const s = file('j.s', PROG);
  const a = tsbpf(['run-raw', s, '--mem', '0100000005000000', '--json']);
  const b = tsbpf(['run-raw', s, '--mem', '0100000005000000', '--json', '--engine', 'jit']);
  assert.equal(b.code, 0, b.err);
  assert.deepEqual(JSON.parse(b.out), JSON.parse(a.out));
  const f = tsbpf(['run-raw', s, '--mem', '0102', '--engine', 'jit']);
  assert.equal(f.code, 1);
  assert.match(f.err, /insn 1: load of 4 bytes .* outside region 'mem'/);
});

test('help: global and per command', () => {
  const h = tsbpf(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /commands:/);
  for (const c of ['asm', 'disasm', 'run-raw', 'conformance']) {
    const r = tsbpf([c, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`usage: tsbpf ${c}`));
    assert.equal(tsbpf(['help', c]).out, r.out);
  }
});

test('disasm: undecodable bytes are a one-line error', () => {
  const b = file('bad.bin', Uint8Array.from([0xff, 0, 0, 0, 0, 0, 0, 0]));
  const r = tsbpf(['disasm', b]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^tsbpf: error: .*bad\.bin: insn 0: unknown instruction encoding: opcode 0xff\n$/);
});

test('conformance: positive and negative suites end with the exact summary line', { skip: noConf }, () => {
  const p = tsbpf(['conformance', join(conf, 'tests')]);
  assert.equal(p.code, 0, p.out);
  assert.equal(p.out, '313 passed, 0 failed\n');
  const n = tsbpf(['conformance', '--negative', '--verbose', join(conf, 'negative')]);
  assert.equal(n.code, 0, n.out);
  const lines = n.out.trimEnd().split('\n');
  assert.equal(lines.at(-1), '60 passed, 0 failed');
  assert.equal(lines.length, 61);
  assert.ok(lines.slice(0, -1).every((l) => /^pass \S+\.data: (refused at|result differs)/.test(l)), 'every refusal has a reason');
  const jit = tsbpf(['conformance', '--engine', 'jit', join(conf, 'tests')]);
  assert.equal(jit.out, '313 passed, 0 failed\n');
  const j = tsbpf(['conformance', '--json', join(conf, 'negative')]);
  assert.equal(j.code, 1, 'negatives run as positives fail');
  const o = JSON.parse(j.out) as { passed: number; failed: number; results: unknown[] };
  assert.equal(o.passed + o.failed, 60);
  assert.equal(o.results.length, 60);
});

test('conformance: failures are listed and the exit code is 1', () => {
  const d = join(tmp, 'suite');
  rmSync(d, { recursive: true, force: true });
  const fs = { a: '-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n', b: '-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n' };
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'a.data'), fs.a);
  writeFileSync(join(d, 'b.data'), fs.b);
  const r = tsbpf(['conformance', d]);
  assert.equal(r.code, 1);
  assert.equal(r.out, 'FAIL b.data: r0 = 0x1, expected 0x2\n1 passed, 1 failed\n');
  assert.equal(tsbpf(['conformance', join(tmp, 'nope')]).code, 1);
});
