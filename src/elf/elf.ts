// ELF64 little-endian relocatable objects with e_machine EM_BPF, as clang
// emits them: section headers, string tables, the symbol table and REL/RELA
// relocation sections. Layouts from the System V gABI (numbers are facts).
//
//   Elf64_Ehdr (64 bytes)              Elf64_Shdr (64 bytes)
//   0  e_ident[16]                     0  sh_name u32    4  sh_type u32
//   16 e_type u16   18 e_machine u16   8  sh_flags u64   16 sh_addr u64
//   20 e_version u32 24 e_entry u64   24 sh_offset u64  32 sh_size u64
//   32 e_phoff u64  40 e_shoff u64    40 sh_link u32    44 sh_info u32
//   48 e_flags u32  52 e_ehsize u16   48 sh_addralign u64 56 sh_entsize u64
//   54 e_phentsize 56 e_phnum 58 e_shentsize 60 e_shnum 62 e_shstrndx (u16)
//
//   Elf64_Sym (24): st_name u32, st_info u8, st_other u8, st_shndx u16,
//                   st_value u64, st_size u64
//   Elf64_Rel (16): r_offset u64, r_info u64 (sym << 32 | type); Rela adds
//                   r_addend i64.

import { ElfError } from '../errors.js';
import { ByteReader } from './reader.js';

export const EM_BPF = 247;
export const ET_REL = 1;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

// BPF relocation types (LLVM's BPF backend; kernel docs "BPF LLVM Relocations").
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  /** sh_flags (the low 32 bits: all defined flags live there). */
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** Section contents; empty for SHT_NOBITS (use `size`). */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly value: number;
  readonly size: number;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  readonly visibility: number;
  /** Section index (st_shndx), or SHN_* */
  readonly shndx: number;
}

export interface ElfRelocation {
  /** Byte offset inside the target section. */
  readonly offset: number;
  readonly type: number;
  readonly symbol: ElfSymbol;
  /** RELA addend, 0 for REL. */
  readonly addend: number;
  /** Name of the relocation section, for errors. */
  readonly from: string;
}

export interface ElfFile {
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  /** Relocations by index of the section they apply to, sorted by offset. */
  readonly relocations: ReadonlyMap<number, readonly ElfRelocation[]>;
  sectionByName(name: string): ElfSection | undefined;
}

const HDR = 'ELF header';

/** Parse the container. Throws ElfError on anything that is not an EM_BPF ELF64 LE relocatable object. */
export function parseElf(bytes: Uint8Array): ElfFile {
  const r = new ByteReader(bytes, HDR);
  if (bytes.length < 16 || r.u8(0) !== 0x7f || r.u8(1) !== 0x45 || r.u8(2) !== 0x4c || r.u8(3) !== 0x46) {
    throw new ElfError('ELF_MAGIC', 'not an ELF file (bad magic)', HDR, 0);
  }
  const cls = r.u8(4);
  if (cls !== 2) throw new ElfError('ELF_CLASS', cls === 1 ? 'ELF32 objects are not supported (BPF objects are ELF64)' : `invalid ELF class ${cls}`, HDR, 4);
  const data = r.u8(5);
  if (data !== 1) throw new ElfError('ELF_ENDIAN', data === 2 ? 'big-endian object (compiled with -target bpfeb?): only little-endian BPF is supported' : `invalid ELF data encoding ${data}`, HDR, 5);
  if (r.u8(6) !== 1) throw new ElfError('ELF_VERSION', `unsupported ELF version ${r.u8(6)}`, HDR, 6);
  if (bytes.length < 64) throw new ElfError('ELF_TRUNCATED', `ELF header needs 64 bytes, file has ${bytes.length}`, HDR, bytes.length);
  const type = r.u16(16);
  if (type !== ET_REL) throw new ElfError('ELF_TYPE', `not a relocatable object (e_type ${type}; expected ET_REL = 1)`, HDR, 16);
  const machine = r.u16(18);
  if (machine !== EM_BPF) throw new ElfError('ELF_MACHINE', `not a BPF object (e_machine ${machine}; expected EM_BPF = ${EM_BPF})`, HDR, 18);
  const shoff = r.u64n(40, 'e_shoff');
  const shentsize = r.u16(58);
  let shnum = r.u16(60);
  let shstrndx = r.u16(62);
  if (shoff === 0) throw new ElfError('ELF_NO_SECTIONS', 'object has no section header table', HDR, 40);
  if (shentsize !== 64) throw new ElfError('ELF_SHENTSIZE', `section header size ${shentsize}, expected 64`, HDR, 58);

  const shdr = (i: number, field: number, what: string): number => {
    const off = shoff + i * 64 + field;
    return what.endsWith('64') ? r.u64n(off, what) : r.u32(off, what);
  };
  // Extended numbering: e_shnum 0 / e_shstrndx SHN_XINDEX, real values in section 0.
  if (shnum === 0) shnum = shdr(0, 32, 'sh_size64');
  if (shstrndx === SHN_XINDEX) shstrndx = shdr(0, 40, 'sh_link');
  if (shnum > (bytes.length - shoff) / 64 || shoff + shnum * 64 > bytes.length) {
    throw new ElfError('ELF_TRUNCATED', `section header table (${shnum} entries at ${shoff}) runs past the end of the file (${bytes.length} bytes)`, HDR, shoff);
  }
  if (shstrndx >= shnum) throw new ElfError('ELF_SHSTRNDX', `section name table index ${shstrndx} out of range (${shnum} sections)`, HDR, 62);

  interface RawSec { type: number; flags: number; offset: number; size: number; link: number; info: number; addralign: number; entsize: number; nameOff: number }
  const raw: RawSec[] = [];
  for (let i = 0; i < shnum; i++) {
    const base = shoff + i * 64;
    raw.push({
      nameOff: r.u32(base, 'section sh_name'),
      type: r.u32(base + 4, 'section sh_type'),
      flags: Number(r.u64(base + 8, 'section sh_flags') & 0xffffffffn),
      offset: r.u64n(base + 24, 'section sh_offset'),
      size: r.u64n(base + 32, 'section sh_size'),
      link: r.u32(base + 40, 'section sh_link'),
      info: r.u32(base + 44, 'section sh_info'),
      addralign: r.u64n(base + 48, 'section sh_addralign'),
      entsize: r.u64n(base + 56, 'section sh_entsize'),
    });
  }
  const contents = (i: number, s: RawSec): Uint8Array => {
    if (s.type === SHT_NOBITS || s.type === SHT_NULL) return new Uint8Array(0);
    if (s.offset > bytes.length || s.size > bytes.length - s.offset) {
      throw new ElfError('ELF_TRUNCATED', `section ${i} contents (${s.size} bytes at ${s.offset}) run past the end of the file (${bytes.length} bytes)`, HDR, shoff + i * 64 + 24);
    }
    return bytes.subarray(s.offset, s.offset + s.size);
  };
  const shstr = raw[shstrndx]!;
  if (shstr.type !== SHT_STRTAB) throw new ElfError('ELF_SHSTRNDX', `section name table (section ${shstrndx}) is not a string table`, HDR, 62);
  const names = new ByteReader(contents(shstrndx, shstr), 'section name table');
  const sections: ElfSection[] = raw.map((s, i) => ({
    index: i,
    name: i === 0 && s.type === SHT_NULL ? '' : names.cstr(s.nameOff, 'name of section'),
    type: s.type, flags: s.flags, offset: s.offset, size: s.size, link: s.link, info: s.info,
    addralign: s.addralign, entsize: s.entsize, data: contents(i, s),
  }));

  // Symbols: exactly one SHT_SYMTAB in an object.
  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length > 1) throw new ElfError('ELF_SYMTAB', `object has ${symtabs.length} symbol tables`, symtabs[1]!.name);
  const symbols: ElfSymbol[] = [];
  const symtab = symtabs[0];
  if (symtab) {
    if (symtab.entsize !== 24) throw new ElfError('ELF_SYMTAB', `symbol entry size ${symtab.entsize}, expected 24`, symtab.name);
    if (symtab.size % 24 !== 0) throw new ElfError('ELF_SYMTAB', `symbol table size ${symtab.size} is not a multiple of 24`, symtab.name);
    const strsec = sections[symtab.link];
    if (!strsec || strsec.type !== SHT_STRTAB) throw new ElfError('ELF_SYMTAB', `symbol string table (section ${symtab.link}) is not a string table`, symtab.name);
    const strs = new ByteReader(strsec.data, strsec.name);
    const sr = new ByteReader(symtab.data, symtab.name);
    for (let i = 0, off = 0; off < symtab.size; i++, off += 24) {
      const info = sr.u8(off + 4);
      const shndx = sr.u16(off + 6);
      if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= sections.length) {
        throw new ElfError('ELF_SYMBOL', `symbol ${i} refers to section ${shndx}, object has ${sections.length}`, symtab.name, off + 6);
      }
      const type = info & 0xf;
      let name = i === 0 ? '' : strs.cstr(sr.u32(off), 'symbol name');
      // Section symbols are nameless; tools show the section's name.
      if (type === STT_SECTION && name === '' && shndx < sections.length) name = sections[shndx]!.name;
      symbols.push({
        index: i,
        name,
        value: sr.u64n(off + 8, 'value of symbol'),
        size: sr.u64n(off + 16, 'size of symbol'),
        type,
        bind: info >> 4,
        visibility: sr.u8(off + 5) & 0x3,
        shndx,
      });
    }
  }

  const relocations = new Map<number, ElfRelocation[]>();
  for (const s of sections) {
    if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
    const ent = s.type === SHT_REL ? 16 : 24;
    if (s.size % ent !== 0) throw new ElfError('ELF_RELOC', `relocation section size ${s.size} is not a multiple of ${ent}`, s.name);
    if (!symtab || s.link !== symtab.index) throw new ElfError('ELF_RELOC', `relocation section links to section ${s.link}, which is not the symbol table`, s.name);
    const target = sections[s.info];
    if (!target || s.info === 0) throw new ElfError('ELF_RELOC', `relocation section applies to section ${s.info}, which does not exist`, s.name);
    const rr = new ByteReader(s.data, s.name);
    const list: ElfRelocation[] = relocations.get(s.info) ?? [];
    for (let off = 0; off < s.size; off += ent) {
      const roff = rr.u64n(off, 'r_offset');
      const info = rr.u64(off + 8, 'r_info');
      const symIdx = Number(info >> 32n);
      const symbol = symbols[symIdx];
      if (!symbol) throw new ElfError('ELF_RELOC', `relocation refers to symbol ${symIdx}, table has ${symbols.length}`, s.name, off + 8);
      let addend = 0;
      if (ent === 24) {
        const a = rr.u64(off + 16, 'r_addend');
        addend = Number(BigInt.asIntN(64, a));
      }
      list.push({ offset: roff, type: Number(info & 0xffffffffn), symbol, addend, from: s.name });
    }
    list.sort((a, b) => a.offset - b.offset);
    relocations.set(s.info, list);
  }

  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);
  return { sections, symbols, relocations, sectionByName: (n) => byName.get(n) };
}
