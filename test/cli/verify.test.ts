// `tsbpf verify`: accepts the examples, refuses unsafe programs with the
// explained error, exit codes 0/1/2, --json and --raw with --maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble, encode } from '../../src/core.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'bin', 'tsbpf.js');
const tsbpf = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-verify-'));
const raw = (name: string, text: string): string => {
  const f = join(tmp, name);
  writeFileSync(f, encode(assemble(text)));
  return f;
};

test('every program of an example object is accepted', () => {
  const r = tsbpf('verify', 'examples/xdp_firewall.o');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^xdp_firewall: accepted \(processed \d+ insns/m);
});

test('a packet read without a bounds check is refused, with the fix', () => {
  const f = raw('nocheck.bin', 'r2 = *(u32 *)(r1 + 0)\nr0 = *(u16 *)(r2 + 12)\nr0 = 2\nexit');
  const r = tsbpf('verify', '--raw', f, '--type', 'xdp');
  assert.equal(r.status, 1);
  assert.match(r.stdout, /insn 1: invalid access to packet/);
  assert.match(r.stdout, /\[PKT_ACCESS\]/);
  assert.match(r.stdout, /hint: add `if \(data \+ 14 > data_end\)/);
  const j = tsbpf('verify', '--raw', f, '--type', 'xdp', '--json');
  assert.equal(j.status, 1);
  const rows = JSON.parse(j.stdout) as { ok: boolean; error: { code: string; pc: number } }[];
  assert.equal(rows[0]!.ok, false);
  assert.equal(rows[0]!.error.code, 'PKT_ACCESS');
  assert.equal(rows[0]!.error.pc, 1);
});

test('the same read after the check is accepted; log level 1 prints the kernel-style log', () => {
  const f = raw('check.bin', [
    'r2 = *(u32 *)(r1 + 0)', 'r3 = *(u32 *)(r1 + 4)', 'r0 = 1', 'r4 = r2', 'r4 += 14',
    'if r4 > r3 goto +1', 'r0 = *(u16 *)(r2 + 12)', 'r0 = 2', 'exit'].join('\n'));
  const r = tsbpf('verify', '--raw', f, '--type', 'xdp', '--log-level', '1');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /processed \d+ insns \(limit 1000000\)/);
});

test('--raw with --maps: a map lookup must be null-checked', () => {
  const maps = join(tmp, 'maps.json');
  writeFileSync(maps, JSON.stringify([{ type: 'hash', key_size: 4, value_size: 8, max_entries: 16 }]));
  const body = (check: boolean) => [
    'r1 = 0', '*(u32 *)(r10 - 4) = r1', 'r2 = r10', 'r2 += -4', 'lddw r1, 0',
    'call 1', ...(check ? ['if r0 == 0 goto +1'] : []), 'r0 = *(u64 *)(r0 + 0)', 'r0 = 0', 'exit'].join('\n');
  const bad = raw('nonull.s.bin', body(false).replace('lddw r1, 0', 'r1 = map[0] ll').replace('r1 = map[0] ll', 'lddw r1, 0'));
  // lddw with src = 1 (map fd), imm = 0: patch the src field of slot 4.
  const patch = (f: string) => { const b = new Uint8Array(require_(f)); b[4 * 8 + 1] = (b[4 * 8 + 1]! & 0x0f) | 0x10; writeFileSync(f, b); };
  patch(bad);
  const r = tsbpf('verify', '--raw', bad, '--type', 'xdp', '--maps', maps);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /map_value_or_null|invalid mem access/);
  const good = raw('null.bin', body(true));
  patch(good);
  const g = tsbpf('verify', '--raw', good, '--type', 'xdp', '--maps', maps);
  assert.equal(g.status, 0, g.stdout + g.stderr);
});

test('usage errors exit 2 with one line', () => {
  const r = tsbpf('verify', '--raw', 'x.bin');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^tsbpf: verify --raw needs --type T\n/);
});

import { readFileSync } from 'node:fs';
function require_(f: string): Uint8Array { return readFileSync(f); }
