// libbpf, the reference loader, as an oracle: a small C probe
// (test/fixtures/elf/tools/libbpf_probe.c) opens each object with libbpf and
// prints what it found (programs, types, maps) and, as root, the instructions
// libbpf handed to the kernel after linking. Ours must agree, byte for byte
// outside map file descriptors. Skips without a C compiler and libbpf-dev.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadObject, readBtf, encode, toHex, BPF_MAP_TYPE, type Btf } from '../../src/core.js';
import { read, path, objects } from './helpers.js';

function buildProbe(): string | undefined {
  const out = join(mkdtempSync(join(tmpdir(), 'tsbpf-libbpf-')), 'libbpf_probe');
  try {
    execFileSync('cc', ['-O2', path('test/fixtures/elf/tools/libbpf_probe.c'), '-lbpf', '-o', out], { stdio: 'pipe' });
    return out;
  } catch {
    return undefined;
  }
}

const probe = buildProbe();
const root = process.getuid?.() === 0;

type Line = { prog?: string; sec?: string; type?: number; attach?: number; insns?: string; map?: string; key?: number;
  value?: number; max?: number; flags?: number; numa?: number; extra?: number; loaded?: string; error?: string };

function run(obj: string, load: boolean): Line[] {
  const text = execFileSync(probe!, [path(obj), ...(load ? ['load'] : [])], { encoding: 'utf8' });
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

// Where this libbpf (1.1 on Debian 12) and we part ways, on purpose.
const OPEN_REFUSED: Record<string, RegExp> = {
  'examples/socket_filter.o': /not supported/,          // legacy `maps` section: dropped in libbpf 1.0, still read here
  'test/fixtures/elf/legacy_maps.o': /not supported/,
  'test/fixtures/elf/legacy_maps20.o': /not supported/,
  'test/fixtures/elf/legacy_maps36.o': /not supported/,
  'test/fixtures/elf/map_extra_enum.o': /Invalid argument/, // __ulong map_extra: libbpf >= 1.3
  'test/fixtures/elf/static_prog.o': /not supported/,    // static function in a program section
};
// Section names newer than this libbpf (type 0 there), or pre-1.0 sloppy prefixes.
const NEWER_OR_LEGACY = new Set(['tcx/ingress', 'tcx/egress', 'tc/egress', 'socket1']);

test('programs and program types: the same as libbpf', { skip: !probe && 'cc or libbpf-dev missing' }, () => {
  let compared = 0;
  for (const obj of objects()) {
    const lines = run(obj, false);
    const err = lines.find((l) => l.error);
    if (err) {
      assert.match(err.error!, OPEN_REFUSED[obj] ?? /^$/, `${obj}: libbpf refused it: ${err.error}`);
      loadObject(read(obj)); // and we read it
      continue;
    }
    const spec = loadObject(read(obj));
    const theirs = lines.filter((l) => l.prog);
    if (obj.endsWith('nofunc.o')) {
      assert.equal(theirs.length, 0, 'libbpf 1.x ignores code without FUNC symbols; we take the section as one program');
      assert.equal(spec.programs.length, 1);
      continue;
    }
    assert.deepEqual(spec.programs.map((p) => p.name), theirs.map((l) => l.prog), obj);
    for (const l of theirs) {
      const p = spec.program(l.prog!)!;
      assert.equal(p.section, l.sec);
      if (l.type === 0 && NEWER_OR_LEGACY.has(l.sec!)) { assert.notEqual(p.type, 0); continue; }
      assert.deepEqual([p.type, p.attachType ?? 0], [l.type, l.attach], `${obj} ${p.name} (${p.section})`);
      compared++;
    }
  }
  assert.ok(compared >= 45, `${compared} programs compared`);
});

test('maps: the same definitions as libbpf', { skip: !probe && 'cc or libbpf-dev missing' }, () => {
  let compared = 0;
  for (const obj of objects()) {
    const lines = run(obj, false);
    if (lines.some((l) => l.error?.startsWith('open'))) continue;
    const spec = loadObject(read(obj));
    const theirs = lines.filter((l) => l.map !== undefined);
    assert.equal(spec.maps.length, theirs.length, obj);
    for (const l of theirs) {
      // libbpf prefixes .data/.rodata/.bss with (part of) the object name.
      const m = spec.map(l.map!) ?? spec.maps.find((x) => ['.data', '.rodata', '.bss', '.kconfig'].includes(x.name) && l.map!.endsWith(x.name));
      assert.ok(m, `${obj}: map ${l.map}`);
      assert.deepEqual([m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.numaNode, Number(m.mapExtra)],
        [l.type, l.key, l.value, l.max, l.flags, l.numa, l.extra], `${obj} ${m.name}`);
      compared++;
    }
  }
  assert.ok(compared >= 20, `${compared} maps compared`);
  assert.equal(BPF_MAP_TYPE.LPM_TRIE, 11);
});

test('linked programs are byte-identical to what libbpf loads into the kernel (map fds aside)',
  { skip: (!probe && 'cc or libbpf-dev missing') || (!root && 'needs root for bpf(BPF_PROG_LOAD)') }, (t) => {
    let programs = 0, slots = 0, coreChecked = 0;
    // libbpf resolves CO-RE relocations against the running kernel's BTF; so do we here.
    let vmlinux: Btf | undefined;
    for (const obj of objects()) {
      const lines = run(obj, true);
      const loaded = lines.filter((l) => l.loaded);
      if (!loaded.length) continue;
      let spec = loadObject(read(obj));
      if (spec.programs.some((p) => p.coreRelos.length)) {
        if (!existsSync('/sys/kernel/btf/vmlinux')) continue;
        vmlinux ??= readBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
        spec = loadObject(read(obj), { targetBtf: vmlinux });
        coreChecked += spec.programs.reduce((n, p) => n + p.coreRelos.filter((r) => r.local !== r.target).length, 0);
      }
      for (const l of loaded) {
        const p = spec.program(l.loaded!)!;
        const ours = toHex(encode(p.insns));
        assert.equal(ours.length, l.insns!.length, `${obj} ${p.name}: length`);
        const fd = new Set(p.mapRefs.map((r) => r.slot));
        for (let s = 0; s < ours.length / 16; s++) {
          const a = ours.slice(s * 16, s * 16 + 16), b = l.insns!.slice(s * 16, s * 16 + 16);
          // The first imm of a map lddw holds the map fd libbpf created.
          if (fd.has(s)) assert.equal(a.slice(0, 8), b.slice(0, 8), `${obj} ${p.name} slot ${s}`);
          else assert.equal(a, b, `${obj} ${p.name} slot ${s}`);
          slots++;
        }
        programs++;
      }
    }
    if (programs === 0) {
      t.skip('libbpf could load no program here (bpf() not permitted?)');
      return;
    }
    assert.ok(programs >= 8, `${programs} programs, ${slots} slots compared`);
    if (existsSync('/sys/kernel/btf/vmlinux')) assert.ok(coreChecked >= 6, `${coreChecked} CO-RE relocations patched like libbpf against vmlinux`);
  });
