// Map definitions as libbpf reads them from an object: BTF-defined maps in
// `.maps`, legacy `struct bpf_map_def` records in `maps`, and global data
// sections (.data, .rodata, .bss and their `.name` variants) as one-entry
// arrays. Map type numbers are UAPI facts (enum bpf_map_type).

import { ElfError } from '../errors.js';
import { type Btf, type BtfTypeOf } from './btf.js';
import {
  type ElfFile, type ElfSection, type ElfSymbol, SHT_NOBITS, STT_SECTION, STT_FILE,
} from './elf.js';

export const BPF_MAP_TYPE = {
  UNSPEC: 0, HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6,
  STACK_TRACE: 7, CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11, ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13, DEVMAP: 14, SOCKMAP: 15, CPUMAP: 16, XSKMAP: 17, SOCKHASH: 18, CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20, PERCPU_CGROUP_STORAGE: 21, QUEUE: 22, STACK: 23, SK_STORAGE: 24,
  DEVMAP_HASH: 25, STRUCT_OPS: 26, RINGBUF: 27, INODE_STORAGE: 28, TASK_STORAGE: 29, BLOOM_FILTER: 30,
  USER_RINGBUF: 31, CGRP_STORAGE: 32, ARENA: 33,
} as const;

/** BPF_F_RDONLY_PROG (UAPI map flag): programs may read but not write the map. */
export const BPF_F_RDONLY_PROG = 1 << 7;
/** BPF_F_MMAPABLE (UAPI map flag). */
export const BPF_F_MMAPABLE = 1 << 10;

export function mapTypeName(type: number): string {
  for (const [k, v] of Object.entries(BPF_MAP_TYPE)) if (v === type) return k;
  return `UNKNOWN(${type})`;
}

/** An initial slot of a prog array or map-in-map (`values` initialisers, or set by the user). */
export interface MapSlot {
  readonly index: number;
  /** Program name (prog arrays). */
  readonly program?: string;
  /** Map name (array/hash of maps). */
  readonly map?: string;
}

/** Largest value a global-data map may have (a .bss of gigabytes is a malformed object, not a request). */
export const MAX_DATA_SIZE = 64 << 20;

export interface MapSpec {
  readonly name: string;
  /** Where it was defined: 'btf' (.maps), 'legacy' (maps), 'data' (global data section). */
  readonly origin: 'btf' | 'legacy' | 'data';
  /** ELF section the definition lives in. */
  readonly section: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** LIBBPF_PIN_NONE = 0, LIBBPF_PIN_BY_NAME = 1. */
  readonly pinning: number;
  readonly numaNode: number;
  readonly mapExtra: bigint;
  /** BTF type ids of key and value (0 when the definition gave only sizes). */
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  /** Template of the inner maps (array/hash of maps). */
  readonly innerMap?: MapSpec;
  /** Initial prog-array / map-in-map slots. */
  readonly slots: MapSlot[];
  /** Global data: the single value (entry 0) to load; mutated by VariableSpec.set. */
  readonly data?: Uint8Array;
  /** Global data from .rodata*: frozen after load (BPF_F_RDONLY_PROG for programs). */
  readonly readonly: boolean;
}

function mapSpec(p: Partial<MapSpec> & Pick<MapSpec, 'name' | 'origin' | 'section' | 'type'>): MapSpec {
  return {
    keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, pinning: 0, numaNode: 0, mapExtra: 0n,
    btfKeyTypeId: 0, btfValueTypeId: 0, slots: [], readonly: false, ...p,
  };
}

/** Is this section a global-data section libbpf turns into a map? */
export function dataSectionKind(name: string): 'data' | 'rodata' | 'bss' | undefined {
  if (name === '.data' || name.startsWith('.data.')) return 'data';
  if (name === '.rodata' || name.startsWith('.rodata.')) return 'rodata';
  if (name === '.bss' || name.startsWith('.bss.')) return 'bss';
  return undefined;
}

/** Global data sections as array maps with one entry whose value is the section. */
export function dataMaps(elf: ElfFile, btf?: Btf): MapSpec[] {
  const out: MapSpec[] = [];
  for (const s of elf.sections) {
    const kind = dataSectionKind(s.name);
    if (!kind || s.size === 0) continue;
    if (s.size > MAX_DATA_SIZE) throw new ElfError('ELF_DATA_SIZE', `global data section of ${s.size} bytes (limit ${MAX_DATA_SIZE})`, s.name);
    const data = new Uint8Array(s.size);
    if (s.type !== SHT_NOBITS) data.set(s.data);
    const ro = kind === 'rodata';
    // The value's type is the section's DATASEC. Like libbpf, a section
    // with at least one non-static variable is BPF_F_MMAPABLE (user space
    // may map it); constant pools such as .rodata.cst16 or .rodata.str1.1
    // have no DATASEC and are not.
    const ds = btf?.find(s.name, 'datasec');
    const mmapable = !!ds && ds.vars.some((v) => {
      const t = btf!.types[v.type];
      return t?.kind === 'var' && t.linkage !== 0;
    });
    out.push(mapSpec({
      name: s.name, origin: 'data', section: s.name, type: BPF_MAP_TYPE.ARRAY, keySize: 4,
      valueSize: s.size, maxEntries: 1, flags: (ro ? BPF_F_RDONLY_PROG : 0) | (mmapable ? BPF_F_MMAPABLE : 0),
      btfValueTypeId: ds?.id ?? 0, data, readonly: ro,
    }));
  }
  return out;
}

/** Map symbols in a section, sorted by offset (the `maps`/`.maps` definitions). */
function mapSymbols(elf: ElfFile, sec: ElfSection): ElfSymbol[] {
  return elf.symbols
    .filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.type !== STT_FILE && s.name !== '')
    .sort((a, b) => a.value - b.value || a.index - b.index);
}

/** Legacy `maps` section: equal-size struct bpf_map_def records, one per symbol. */
export function legacyMaps(elf: ElfFile, warnings: string[]): MapSpec[] {
  const sec = elf.sectionByName('maps');
  if (!sec) return [];
  const syms = mapSymbols(elf, sec);
  if (syms.length === 0) {
    if (sec.size) throw new ElfError('MAPS_LEGACY', 'maps section has data but no map symbols', 'maps');
    return [];
  }
  if (sec.size % syms.length !== 0) {
    throw new ElfError('MAPS_LEGACY', `section size ${sec.size} is not a multiple of the ${syms.length} map definitions`, 'maps');
  }
  const defSize = sec.size / syms.length;
  if (defSize < 20) throw new ElfError('MAPS_LEGACY', `map definitions of ${defSize} bytes are shorter than struct bpf_map_def (20)`, 'maps');
  if (sec.type === SHT_NOBITS) throw new ElfError('MAPS_LEGACY', 'maps section has no contents (NOBITS)', 'maps');
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  const raw = syms.map((sym, i) => {
    const off = sym.value;
    if (off % defSize !== 0 || off + defSize > sec.size) {
      throw new ElfError('MAPS_LEGACY', `map '${sym.name}' at offset ${off} is not on a ${defSize}-byte definition boundary`, 'maps', off);
    }
    if (i > 0 && syms[i - 1]!.value === off) throw new ElfError('MAPS_LEGACY', `maps '${syms[i - 1]!.name}' and '${sym.name}' share offset ${off}`, 'maps', off);
    const u = (k: number): number => (k * 4 + 4 <= defSize ? dv.getUint32(off + k * 4, true) : 0);
    for (let b = 28; b < defSize; b++) {
      if (sec.data[off + b] !== 0) {
        warnings.push(`maps: '${sym.name}' has non-zero bytes after numa_node (definition of ${defSize} bytes); ignored`);
        break;
      }
    }
    return { sym, type: u(0), keySize: u(1), valueSize: u(2), maxEntries: u(3), flags: u(4), innerIdx: u(5), numaNode: u(6) };
  });
  const specs = raw.map((m) => mapSpec({
    name: m.sym.name, origin: 'legacy', section: 'maps', type: m.type, keySize: m.keySize, valueSize: m.valueSize,
    maxEntries: m.maxEntries, flags: m.flags, numaNode: m.numaNode,
  }));
  // inner_map_idx names the template of a map-in-map.
  return specs.map((s, i) => {
    const m = raw[i]!;
    if (m.type !== BPF_MAP_TYPE.ARRAY_OF_MAPS && m.type !== BPF_MAP_TYPE.HASH_OF_MAPS) return s;
    const inner = specs[m.innerIdx];
    if (!inner || m.innerIdx === i) throw new ElfError('MAPS_LEGACY', `map '${s.name}': inner_map_idx ${m.innerIdx} is not another map`, 'maps', m.sym.value);
    return { ...s, innerMap: { ...inner, name: `${s.name}.inner` } };
  });
}

/** The integer a `__uint(name, N)` member encodes: `int (*name)[N]`. */
function uintMember(btf: Btf, typeId: number, map: string, member: string): number {
  const p = btf.resolve(typeId);
  if (p.kind !== 'ptr') throw new ElfError('MAPS_BTF', `map '${map}': member '${member}' is ${p.kind}, expected a pointer to an array (__uint)`, '.maps');
  const a = btf.resolve(p.type);
  if (a.kind !== 'array') throw new ElfError('MAPS_BTF', `map '${map}': member '${member}' does not point to an array (__uint)`, '.maps');
  return a.nelems;
}

/** A `map_extra`-style member: an enum whose single enumerator is the value. */
function ulongMember(btf: Btf, typeId: number, map: string, member: string): bigint {
  const t = btf.resolve(typeId);
  if (t.kind === 'enum' || t.kind === 'enum64') {
    if (t.values.length !== 1) throw new ElfError('MAPS_BTF', `map '${map}': member '${member}' enum must have exactly one value`, '.maps');
    return BigInt.asUintN(64, BigInt(t.values[0]!.value));
  }
  return BigInt(uintMember(btf, typeId, map, member));
}

/**
 * Parse a BTF map definition struct. `relocs` gives, for `values`
 * initialisers, the slots filled (index -> symbol name, resolved by caller).
 */
function btfMapDef(btf: Btf, def: BtfTypeOf<'struct'>, name: string, slots: MapSlot[], inner: boolean): MapSpec {
  let type = 0, keySize = 0, valueSize = 0, maxEntries = 0, flags = 0, pinning = 0, numaNode = 0;
  let mapExtra = 0n, keyType = 0, valueType = 0;
  let innerMap: MapSpec | undefined;
  const seen = new Set<string>();
  for (const m of def.members) {
    if (seen.has(m.name)) throw new ElfError('MAPS_BTF', `map '${name}': member '${m.name}' defined twice`, '.maps');
    seen.add(m.name);
    switch (m.name) {
      case 'type': type = uintMember(btf, m.type, name, m.name); break;
      case 'max_entries': maxEntries = uintMember(btf, m.type, name, m.name); break;
      case 'map_flags': flags = uintMember(btf, m.type, name, m.name); break;
      case 'numa_node': numaNode = uintMember(btf, m.type, name, m.name); break;
      case 'pinning': pinning = uintMember(btf, m.type, name, m.name); break;
      case 'map_extra': mapExtra = ulongMember(btf, m.type, name, m.name); break;
      case 'key_size': case 'value_size': {
        const v = uintMember(btf, m.type, name, m.name);
        const cur = m.name === 'key_size' ? keySize : valueSize;
        if (cur && cur !== v) throw new ElfError('MAPS_BTF', `map '${name}': ${m.name} ${v} conflicts with the ${m.name === 'key_size' ? 'key' : 'value'} type size ${cur}`, '.maps');
        if (m.name === 'key_size') keySize = v; else valueSize = v;
        break;
      }
      case 'key': case 'value': {
        const p = btf.resolve(m.type);
        if (p.kind !== 'ptr') throw new ElfError('MAPS_BTF', `map '${name}': member '${m.name}' must be a pointer (__type)`, '.maps');
        const sz = btf.sizeOf(p.type);
        const cur = m.name === 'key' ? keySize : valueSize;
        if (cur && cur !== sz) throw new ElfError('MAPS_BTF', `map '${name}': ${m.name} type of ${sz} bytes conflicts with ${m.name}_size ${cur}`, '.maps');
        if (m.name === 'key') { keySize = sz; keyType = p.type; } else { valueSize = sz; valueType = p.type; }
        break;
      }
      case 'values': {
        // __array(values, T): `typeof(T) *values[]`: an array of pointers.
        const a = btf.resolve(m.type);
        if (a.kind !== 'array') throw new ElfError('MAPS_BTF', `map '${name}': 'values' must be an array (__array)`, '.maps');
        const p = btf.resolve(a.type);
        if (p.kind !== 'ptr') throw new ElfError('MAPS_BTF', `map '${name}': 'values' must be an array of pointers`, '.maps');
        const target = btf.resolve(p.type);
        if (target.kind === 'struct') {
          if (inner) throw new ElfError('MAPS_BTF', `map '${name}': an inner map cannot itself hold maps`, '.maps');
          innerMap = btfMapDef(btf, target, `${name}.inner`, [], true);
        } else if (target.kind !== 'func_proto') {
          throw new ElfError('MAPS_BTF', `map '${name}': 'values' points to ${target.kind}, expected a map definition or a function`, '.maps');
        }
        break;
      }
      default:
        throw new ElfError('MAPS_BTF', `map '${name}': unknown attribute '${m.name}'`, '.maps');
    }
  }
  if (!seen.has('type')) throw new ElfError('MAPS_BTF', `map '${name}': no 'type'`, '.maps');
  if ((type === BPF_MAP_TYPE.ARRAY_OF_MAPS || type === BPF_MAP_TYPE.HASH_OF_MAPS)) {
    if (!innerMap) throw new ElfError('MAPS_BTF', `map '${name}': map-in-map without an inner map definition ('values')`, '.maps');
    if (!valueSize) valueSize = 4;
  } else if (innerMap) {
    throw new ElfError('MAPS_BTF', `map '${name}': inner map definition on a ${mapTypeName(type)} map`, '.maps');
  }
  if (type === BPF_MAP_TYPE.PROG_ARRAY && !valueSize) valueSize = 4;
  return {
    name, origin: 'btf', section: '.maps', type, keySize, valueSize, maxEntries, flags, pinning, numaNode, mapExtra,
    btfKeyTypeId: keyType, btfValueTypeId: valueType, ...(innerMap ? { innerMap } : {}), slots, readonly: false,
  };
}

/** BTF-defined maps: the variables of the `.maps` DATASEC. */
export function btfMaps(elf: ElfFile, btf: Btf | undefined, programOf: (sym: ElfSymbol) => string | undefined): MapSpec[] {
  const sec = elf.sectionByName('.maps');
  if (!sec) return [];
  if (!btf) throw new ElfError('MAPS_BTF', 'object has a .maps section but no BTF (compile with -g)', '.maps');
  const ds = btf.find('.maps', 'datasec');
  if (!ds) throw new ElfError('MAPS_BTF', 'BTF has no DATASEC for .maps', '.BTF');
  const syms = new Map(mapSymbols(elf, sec).map((s) => [s.name, s]));
  const relocs = elf.relocations.get(sec.index) ?? [];
  const out: MapSpec[] = [];
  for (const vi of ds.vars) {
    const v = btf.type(vi.type);
    if (v.kind !== 'var') throw new ElfError('MAPS_BTF', `.maps DATASEC entry ${vi.type} is ${v.kind}, not a variable`, '.BTF');
    const def = btf.resolve(v.type);
    if (def.kind !== 'struct') throw new ElfError('MAPS_BTF', `map '${v.name}' is ${def.kind}, expected a struct`, '.maps');
    const sym = syms.get(v.name);
    if (!sym) throw new ElfError('MAPS_BTF', `map '${v.name}' has no ELF symbol in .maps`, '.maps');
    // `values` initialisers: relocations inside this variable's bytes.
    const slots: MapSlot[] = [];
    const valuesMember = def.members.find((m) => m.name === 'values');
    const start = sym.value, end = sym.value + Math.max(def.size, sym.size);
    for (const r of relocs) {
      if (r.offset < start || r.offset >= end) continue;
      if (!valuesMember) throw new ElfError('MAPS_BTF', `map '${v.name}': relocation at offset ${r.offset} outside 'values'`, '.maps', r.offset);
      const rel = r.offset - start - valuesMember.bitOffset / 8;
      if (rel < 0 || rel % 8 !== 0) throw new ElfError('MAPS_BTF', `map '${v.name}': relocation at offset ${r.offset} is not a 'values' slot`, '.maps', r.offset);
      const index = rel / 8;
      const prog = programOf(r.symbol);
      if (prog !== undefined) slots.push({ index, program: prog });
      else if (r.symbol.shndx === sec.index) slots.push({ index, map: r.symbol.name });
      else throw new ElfError('MAPS_BTF', `map '${v.name}': slot ${index} refers to '${r.symbol.name}', neither a program nor a map`, '.maps', r.offset);
    }
    slots.sort((a, b) => a.index - b.index);
    const spec = btfMapDef(btf, def, v.name, slots, false);
    for (const s of slots) {
      if (s.index >= spec.maxEntries) throw new ElfError('MAPS_BTF', `map '${v.name}': 'values' slot ${s.index} beyond max_entries ${spec.maxEntries}`, '.maps');
      if (s.program !== undefined && spec.type !== BPF_MAP_TYPE.PROG_ARRAY) throw new ElfError('MAPS_BTF', `map '${v.name}': program in 'values' of a ${mapTypeName(spec.type)} map`, '.maps');
      if (s.map !== undefined && !spec.innerMap) throw new ElfError('MAPS_BTF', `map '${v.name}': map in 'values' of a ${mapTypeName(spec.type)} map`, '.maps');
    }
    out.push(spec);
  }
  // Map-in-map slots must name existing maps.
  const names = new Set(out.map((m) => m.name));
  for (const m of out) for (const s of m.slots) {
    if (s.map !== undefined && !names.has(s.map)) throw new ElfError('MAPS_BTF', `map '${m.name}': slot ${s.index} refers to unknown map '${s.map}'`, '.maps');
  }
  return out;
}
