// `bpftool map dump` (text and -j) reproduced byte for byte, with and without
// BTF, and typed views. The expected outputs are goldens captured from the
// real bpftool (test/fixtures/maps/dump.golden.txt); where bpftool and the
// bpf() syscall are usable, the test also captures them live and compares.
// Regenerate the goldens with TSBPF_UPDATE_GOLDEN=1 (as root, with bpftool).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadObject } from '../../src/elf/object.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { BPF_MAP_TYPE as T, type BpfMap, createMap } from '../../src/runtime/maps/index.js';
import { dumpJson } from '../../src/runtime/maps/dump.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/maps/', import.meta.url));
const GOLDEN = FIX + 'dump.golden.txt';

/** A map to dump: created from typed.o (by name) or from a plain definition (bpftool map create), then filled. */
interface Case {
  readonly name: string;
  /** Plain definition when not from the object: [type name for bpftool, type, key, value, entries]. */
  readonly plain?: readonly [string, number, number, number, number];
  /** Pin name of an object map (bpftool's pinmaps naming). */
  readonly pin?: string;
  readonly fill: ReadonlyArray<readonly [string, string]>;
}

const h = (s: string): string => s.replace(/\s+/g, '');
const flowVal = h(`05 00 00 00 00 00 00 00  e8 03 00 00 00 00 00 00  61 62 00 00 00 00 00 00
  ff ff ff ff 02 00 00 00  0a 0b 0c 0d 01 00 00 00  01 00 00 00 00 00 00 00`);

const CASES: readonly Case[] = [
  { name: 'flows', pin: 'flows', fill: [['0100000a35001100', flowVal], ['0200000a50000600', flowVal.replace(/^05/, '06')]] },
  { name: 'counters', pin: 'counters', fill: [['01000000', '0700000000000000']] },
  { name: 'slots', pin: 'slots', fill: [['01000000', flowVal]] },
  { name: 'small', pin: 'small', fill: [['0900000000000000', '2a000000']] },
  { name: '.bss', pin: 'typed_bss', fill: [] },
  { name: '.data', pin: 'typed_data', fill: [] },
  { name: '.rodata', pin: 'typed_rodata', fill: [] },
  { name: 'p_h8', plain: ['hash', T.HASH, 8, 8, 4], fill: [['0100000000000000', '2a00000000000000'], ['0200000000000000', 'ff01000000000009']] },
  { name: 'p_a20', plain: ['array', T.ARRAY, 4, 20, 2], fill: [['01000000', '0102030405060708090a0b0c0d0e0f1011121314']] },
  { name: 'p_a16', plain: ['array', T.ARRAY, 4, 16, 1], fill: [] },
  { name: 'p_h12', plain: ['hash', T.HASH, 12, 12, 1], fill: [['0102030405060708090a0b0c', '0102030405060708090a0b0c']] },
  { name: 'p_h16', plain: ['hash', T.HASH, 16, 16, 1], fill: [['0102030405060708090a0b0c0d0e0f10', '0102030405060708090a0b0c0d0e0f10']] },
  { name: 'p_h40', plain: ['hash', T.HASH, 40, 4, 1], fill: [['0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728', '01020304']] },
  { name: 'p_h2', plain: ['hash', T.HASH, 2, 17, 1], fill: [['0102', '0102030405060708090a0b0c0d0e0f1011']] },
  { name: 'p_ph', plain: ['percpu_hash', T.PERCPU_HASH, 4, 4, 2], fill: [['01000000', '05000000']] },
  { name: 'p_pa', plain: ['percpu_array', T.PERCPU_ARRAY, 4, 20, 1], fill: [] },
  { name: 'p_empty', plain: ['hash', T.HASH, 4, 4, 2], fill: [] },
];

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Our dumps: text and JSON for each case. */
function ours(cpus: number): Map<string, { text: string; json: string }> {
  const spec = loadObject(new Uint8Array(readFileSync(FIX + 'typed.o')));
  const mem = new LinearMemory();
  const out = new Map<string, { text: string; json: string }>();
  for (const c of CASES) {
    let m: BpfMap;
    if (c.plain) {
      const [, type, keySize, valueSize, maxEntries] = c.plain;
      m = createMap(mem, { name: c.name, type, keySize, valueSize, maxEntries }, { cpus });
    } else {
      const ms = spec.maps.find((x) => x.name === c.name);
      assert.ok(ms, `map ${c.name} in typed.o`);
      m = createMap(mem, ms, { cpus, ...(spec.btf ? { btf: spec.btf } : {}) });
    }
    for (const [k, v] of c.fill) m.update(unhex(k), unhex(v));
    out.set(c.name, { text: m.dump(), json: dumpJson(m) });
  }
  return out;
}

function parseGolden(text: string): { cpus: number; dumps: Map<string, { text: string; json: string }> } {
  const lines = text.split('\n');
  const cpus = Number(/^cpus (\d+)$/.exec(lines[0] ?? '')?.[1] ?? NaN);
  const dumps = new Map<string, { text: string; json: string }>();
  const parts = text.split(/^=== /m).slice(1);
  for (const p of parts) {
    const nl = p.indexOf('\n');
    const [name, kind] = p.slice(0, nl).split(' ');
    const body = p.slice(nl + 1);
    const e = dumps.get(name!) ?? { text: '', json: '' };
    if (kind === 'text') e.text = body; else e.json = body.replace(/\n$/, '');
    dumps.set(name!, e);
  }
  return { cpus, dumps };
}

function bpftool(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('bpftool', args, { encoding: 'utf8', timeout: 20000 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function possibleCpus(): number {
  const s = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let n = 0;
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

/** The real bpftool's dumps of the same maps (undefined when it cannot run here). */
function live(): { cpus: number; dumps: Map<string, { text: string; json: string }> } | string {
  if (process.getuid?.() !== 0) return 'not root';
  if (!bpftool(['version']).ok) return 'bpftool is not installed';
  if (!existsSync('/sys/fs/bpf')) return 'no bpffs at /sys/fs/bpf';
  const base = `/sys/fs/bpf/tsbpf_dump_${process.pid}`;
  const pins = `${base}_maps`;
  try {
    rmSync(pins, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', pins]);
    const ld = bpftool(['prog', 'load', FIX + 'typed.o', `${base}_prog`, 'pinmaps', pins]);
    if (!ld.ok) return `bpftool prog load failed: ${ld.err.trim().split('\n').pop()}`;
    const dumps = new Map<string, { text: string; json: string }>();
    for (const c of CASES) {
      const path = `${pins}/${c.pin ?? c.name}`;
      if (c.plain) {
        const [tname, , k, v, n] = c.plain;
        const cr = bpftool(['map', 'create', path, 'type', tname, 'key', String(k), 'value', String(v), 'entries', String(n), 'name', c.name]);
        if (!cr.ok) return `bpftool map create failed: ${cr.err}`;
      }
      for (const [k, v] of c.fill) {
        const bytes = (s: string): string[] => s.match(/../g) ?? [];
        const u = bpftool(['map', 'update', 'pinned', path, 'key', 'hex', ...bytes(k), 'value', 'hex', ...bytes(v)]);
        if (!u.ok) return `bpftool map update failed: ${u.err}`;
      }
      dumps.set(c.name, { text: bpftool(['map', 'dump', 'pinned', path]).out, json: bpftool(['-j', 'map', 'dump', 'pinned', path]).out });
    }
    return { cpus: possibleCpus(), dumps };
  } finally {
    rmSync(pins, { recursive: true, force: true });
    rmSync(`${base}_prog`, { force: true });
  }
}

/**
 * Entry order of hash maps follows each side's hash function, so entries are
 * compared as sorted blocks; everything else (layout, spacing, numbers) exactly.
 */
function normText(s: string): string {
  if (s.startsWith('[{')) {
    const body = s.slice(2).replace(/\n\s*}\n]\n$/, '');
    return '[{' + body.split('\n    },{').sort().join('\n    },{') + '\n    }\n]\n';
  }
  const lines = s.split('\n');
  const blocks: string[] = [];
  let tail = '';
  for (const l of lines) {
    if (l.startsWith('key:')) blocks.push(l);
    else if (l.startsWith('Found ') || l === '') tail += l + '\n';
    else blocks[blocks.length - 1] += '\n' + l;
  }
  return blocks.sort().join('\n') + '\n' + tail;
}

function normJson(s: string): string {
  const a = JSON.parse(s) as { key: unknown }[];
  a.sort((x, y) => (JSON.stringify(x.key) < JSON.stringify(y.key) ? -1 : 1));
  return JSON.stringify(a) + (s.endsWith('\n') ? '\n' : '');
}

function compareAll(expected: Map<string, { text: string; json: string }>, got: Map<string, { text: string; json: string }>): void {
  for (const c of CASES) {
    const e = expected.get(c.name);
    assert.ok(e, `expected output for ${c.name}`);
    const g = got.get(c.name)!;
    assert.equal(normText(g.text), normText(e.text), `${c.name}: text dump`);
    assert.equal(normJson(g.json), normJson(e.json), `${c.name}: JSON dump`);
    if (c.fill.length < 2 || c.plain?.[1] === T.ARRAY) {
      assert.equal(g.text, e.text, `${c.name}: text dump, exactly`);
      assert.equal(g.json, e.json, `${c.name}: JSON dump, exactly`);
    }
  }
}

test('dumps equal the golden bpftool output (text and -j, with and without BTF)', () => {
  if (process.env['TSBPF_UPDATE_GOLDEN']) {
    const l = live();
    if (typeof l === 'string') assert.fail(`cannot regenerate goldens: ${l}`);
    let s = `cpus ${l.cpus}\n`;
    for (const c of CASES) s += `=== ${c.name} text\n${l.dumps.get(c.name)!.text}=== ${c.name} json\n${l.dumps.get(c.name)!.json}\n`;
    writeFileSync(GOLDEN, s);
  }
  const g = parseGolden(readFileSync(GOLDEN, 'utf8'));
  compareAll(g.dumps, ours(g.cpus));
});

test('dumps equal what bpftool prints live on this machine', (t) => {
  const l = live();
  if (typeof l === 'string') {
    t.skip(`live bpftool comparison skipped: ${l}`);
    return;
  }
  compareAll(l.dumps, ours(l.cpus));
});

test('typed views: format() renders key and value with BTF, bytes without', () => {
  const spec = loadObject(new Uint8Array(readFileSync(FIX + 'typed.o')));
  const mem = new LinearMemory();
  const m = createMap(mem, spec.maps.find((x) => x.name === 'flows')!, { btf: spec.btf! });
  assert.deepEqual(m.format('key', unhex('0100000a35001100')), { saddr: 167772161, dport: 53, proto: 17 });
  const v = m.format('value', unhex(flowVal)) as Record<string, unknown>;
  assert.equal(v['packets'], 5n);
  assert.equal(v['name'], 'ab');
  assert.deepEqual(v['hist'], [-1, 2]);
  assert.equal(v['state'], 'ACTIVE');
  assert.equal(v['seen'], true);
  const plain = createMap(mem, { name: 'p', type: T.HASH, keySize: 2, valueSize: 1, maxEntries: 1 });
  assert.deepEqual(plain.format('key', new Uint8Array([1, 2])), [1, 2]);
});
