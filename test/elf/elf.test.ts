// The ELF container: headers, sections, symbols, relocations; rejection of
// what is not a little-endian EM_BPF ELF64 relocatable; fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { parseElf, loadObject, ElfError, SHT_REL, STT_FUNC, STB_GLOBAL, R_BPF_64_64, R_BPF_64_32 } from '../../src/core.js';
import { read, path, objects, has, rng } from './helpers.js';

function elfError(f: () => unknown, code?: string, re?: RegExp): ElfError {
  try {
    f();
  } catch (e) {
    const err = e as ElfError;
    assert.equal(err.name, 'ElfError', `expected ElfError, got ${err.name}: ${err.message}`);
    if (code) assert.equal(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail('expected an ElfError');
}

test('sections, symbols and relocations of global_data.o', () => {
  const elf = parseElf(read('examples/global_data.o'));
  const names = elf.sections.map((s) => s.name);
  for (const n of ['.text', 'socket', '.rodata', '.data', '.data.stats', '.rodata.tables', '.bss', 'license', '.BTF', '.BTF.ext', '.symtab']) {
    assert.ok(names.includes(n), `section ${n}`);
  }
  const classify = elf.symbols.find((s) => s.name === 'classify')!;
  assert.equal(classify.type, STT_FUNC);
  assert.equal(classify.bind, STB_GLOBAL);
  assert.equal(classify.size, 160);
  assert.equal(elf.sections[classify.shndx]!.name, '.text');
  const mix = elf.symbols.find((s) => s.name === 'mix')!;
  assert.equal(mix.value, 0xa0);
  // .relsocket: 8 relocations, two of them calls.
  const socket = elf.sectionByName('socket')!;
  const rels = elf.relocations.get(socket.index)!;
  assert.equal(rels.length, 8);
  assert.equal(rels.filter((r) => r.type === R_BPF_64_32).length, 3);
  assert.deepEqual(rels.filter((r) => r.type === R_BPF_64_64).map((r) => [r.offset, r.symbol.name]),
    [[0x8, 'hits'], [0x48, 'stats_total'], [0x90, 'drops'], [0x138, '.rodata'], [0x150, 'cfg_name']]);
  assert.ok(elf.sections.some((s) => s.type === SHT_REL && s.name === '.relsocket'));
});

test('sections and relocations agree with llvm-objdump / llvm-readelf', { skip: !has('llvm-readelf') && 'llvm-readelf not installed' }, () => {
  for (const obj of objects()) {
    const elf = parseElf(read(obj));
    const text = execFileSync('llvm-readelf', ['-S', '-r', '-s', '--wide', path(obj)], { encoding: 'utf8' });
    for (const s of elf.sections.slice(1)) {
      const m = new RegExp(`\\]\\s+${s.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+\\S+\\s+[0-9a-f]+\\s+([0-9a-f]+)\\s+([0-9a-f]+)`).exec(text);
      assert.ok(m, `${obj}: section ${s.name} in readelf output`);
      assert.equal(parseInt(m[1]!, 16), s.offset, `${obj} ${s.name} offset`);
      assert.equal(parseInt(m[2]!, 16), s.size, `${obj} ${s.name} size`);
    }
    for (const m of text.matchAll(/Relocation section '([^']+)' at offset 0x[0-9a-f]+ contains (\d+) entries/g)) {
      const rel = elf.sectionByName(m[1]!)!;
      assert.equal(elf.relocations.get(rel.info)?.length ?? 0, Number(m[2]), `${obj} ${m[1]} entries`);
    }
    const symCount = /Symbol table '.symtab' contains (\d+) entries/.exec(text);
    assert.equal(Number(symCount?.[1]), elf.symbols.length, `${obj} symbol count`);
  }
});

test('rejects what is not a little-endian EM_BPF ELF64 relocatable, naming why', () => {
  const good = read('test/fixtures/elf/nofunc.o');
  const patch = (off: number, ...b: number[]): Uint8Array => {
    const c = good.slice();
    c.set(b, off);
    return c;
  };
  elfError(() => loadObject(new Uint8Array(0)), 'ELF_MAGIC');
  elfError(() => loadObject(new TextEncoder().encode('#!/bin/sh\necho hi\n')), 'ELF_MAGIC', /not an ELF/);
  elfError(() => loadObject(patch(4, 1)), 'ELF_CLASS', /ELF32/);
  elfError(() => loadObject(read('test/fixtures/elf/nofunc_be.o')), 'ELF_ENDIAN', /big-endian/);
  elfError(() => loadObject(patch(18, 62, 0)), 'ELF_MACHINE', /e_machine 62.*EM_BPF = 247/);
  elfError(() => loadObject(patch(16, 2, 0)), 'ELF_TYPE', /ET_REL/);
  elfError(() => loadObject(patch(6, 9)), 'ELF_VERSION');
  elfError(() => loadObject(patch(58, 40, 0)), 'ELF_SHENTSIZE');
  const e = elfError(() => loadObject(good.subarray(0, good.length - 10)), 'ELF_TRUNCATED');
  assert.equal(e.section, 'ELF header');
  assert.equal(typeof e.offset, 'number');
});

test('an x86-64 object is rejected with ELF_MACHINE', { skip: !has('clang') && 'clang not installed' }, () => {
  const out = `/tmp/tsbpf-elf-x86-${process.pid}.o`;
  execFileSync('clang', ['-c', '-x', 'c', '-', '-o', out], { input: 'int f(void) { return 1; }\n' });
  elfError(() => loadObject(read(out)), 'ELF_MACHINE', /e_machine 62/);
});

function onlyElfErrors(bytes: Uint8Array, label: string): 'ok' | 'error' {
  try {
    loadObject(bytes);
    return 'ok';
  } catch (e) {
    const err = e as ElfError;
    assert.equal(err?.name, 'ElfError', `${label}: threw ${err?.name}: ${err?.message}\n${err?.stack}`);
    assert.notEqual(err.code, 'ELF_INTERNAL', `${label}: internal error escaped: ${err.message}`);
    return 'error';
  }
}

test('fuzz: every truncation of a real object is an ElfError', () => {
  for (const obj of ['examples/xdp_firewall.o', 'examples/socket_filter.o']) {
    const b = read(obj);
    let errors = 0;
    for (let n = 0; n < b.length; n++) if (onlyElfErrors(b.subarray(0, n), `${obj}[0:${n}]`) === 'error') errors++;
    assert.equal(errors, b.length, `${obj}: every truncation is rejected`);
  }
});

test('fuzz: random byte flips never throw anything but ElfError', () => {
  const next = rng(0x5eed);
  let ok = 0, rejected = 0;
  for (const obj of objects()) {
    const b = read(obj);
    for (let i = 0; i < 150; i++) {
      const c = b.slice();
      const flips = 1 + Math.floor(next() * 4);
      for (let k = 0; k < flips; k++) c[Math.floor(next() * c.length)] ^= 1 << Math.floor(next() * 8);
      if (onlyElfErrors(c, `${obj} flip #${i}`) === 'ok') ok++; else rejected++;
    }
  }
  assert.ok(ok > 0 && rejected > 0, `both outcomes happen (${ok} loaded, ${rejected} rejected)`);
});

test('fuzz: flips aimed at .BTF, .BTF.ext, symbols and code', () => {
  const next = rng(42);
  for (const obj of ['examples/global_data.o', 'examples/core_access.o', 'examples/tail_calls.o']) {
    const b = read(obj);
    const elf = parseElf(b);
    for (const name of ['.BTF', '.BTF.ext', '.symtab', '.text', '.maps', '.relsocket', 'raw_tp/sys_enter']) {
      const s = elf.sectionByName(name);
      if (!s || s.size === 0) continue;
      for (let i = 0; i < 100; i++) {
        const c = b.slice();
        const at = s.offset + Math.floor(next() * s.size);
        c[at] = Math.floor(next() * 256);
        if (next() < 0.5) c[s.offset + Math.floor(next() * s.size)] = 0xff;
        onlyElfErrors(c, `${obj} ${name} byte ${at - s.offset}`);
      }
    }
  }
});
