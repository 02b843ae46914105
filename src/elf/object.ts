// loadObject: an ELF object -> ObjectSpec, with no side effects (no maps
// created, no memory touched). Like cilium/ebpf's reader, an ordered list of
// passes, each adding its name to any error it raises:
//
//   read ELF -> license -> BTF -> functions -> externs -> maps
//       -> relocations -> CO-RE -> link programs -> variables
//
// Programs come out linked the way libbpf links them: the entry function,
// then every subprogram it calls (or takes the address of, for bpf_loop
// callbacks), transitively, each once, appended in the order first met;
// calls and function addresses are rewritten to slot offsets.

import { DecodeError, ElfError } from '../errors.js';
import {
  type Instruction, decode, encode, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_BTF_ID, SLOT_SIZE, lookup,
} from '../isa/index.js';
import { Btf } from './btf.js';
import { type BtfExt, type CoreReloKind, parseBtfExt } from './btf_ext.js';
import { computeCoreRelo, patchCoreInsn } from './corerelo.js';
import { type ExternInfo, type ExternKind, type KconfigValues, collectExterns, KCONFIG_MAP } from './externs.js';
import {
  type ElfFile, type ElfSection, type ElfSymbol, parseElf, SHF_EXECINSTR, SHT_PROGBITS, STT_FUNC,
  STB_LOCAL, STT_SECTION, SHN_UNDEF, R_BPF_64_64, R_BPF_64_32, STT_OBJECT, SHN_LORESERVE,
} from './elf.js';
import { type MapSpec, type MapSlot, btfMaps, dataMaps, legacyMaps, dataSectionKind } from './maps.js';
import { matchSection } from './progtypes.js';
import { fromHex, toHex } from './reader.js';
import { type VariableInfo, VariableSpec } from './variables.js';

export interface LoadOptions {
  /**
   * BTF to apply CO-RE relocations against (the kernel's, or any other).
   * Default: the object's own BTF, for which every relocation is the identity.
   */
  readonly targetBtf?: Btf;
  /** Decode instructions strictly (reserved fields must be zero). Default true. */
  readonly strict?: boolean;
  /** Values of `.kconfig` externs (LINUX_KERNEL_VERSION, CONFIG_*); others stay 0, settable as variables. */
  readonly kconfig?: KconfigValues;
}

/**
 * A use of an extern: a kfunc call (src = BPF_PSEUDO_KFUNC_CALL, imm = btfId)
 * or an lddw of a kernel variable (typed: src = BPF_PSEUDO_BTF_ID, imm =
 * btfId). `btfId` is 0 when no target BTF resolved it. (.kconfig externs
 * are plain map_value references to the `.kconfig` map.)
 */
export interface ExternRef {
  readonly slot: number;
  readonly name: string;
  readonly kind: 'kfunc' | 'ksym';
  readonly btfId: number;
}

/** A function placed in a linked program. */
export interface FuncInfo {
  readonly name: string;
  /** First slot of the function in the program. */
  readonly slot: number;
  /** BTF FUNC type id from .BTF.ext func_info, 0 without. */
  readonly btfTypeId: number;
}

export interface LineInfo {
  /** Slot in the linked program. */
  readonly slot: number;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The source line's text. */
  readonly source: string;
}

/** An LD_IMM64 that loads a map (src = BPF_PSEUDO_MAP_FD) or an address inside a map value (BPF_PSEUDO_MAP_VALUE). */
export interface MapRef {
  readonly slot: number;
  readonly map: string;
  readonly kind: 'map' | 'map_value';
  /** Byte offset in the value (map_value), 0 for map. */
  readonly offset: number;
}

export interface CoreRelo {
  readonly slot: number;
  readonly kind: CoreReloKind;
  readonly typeId: number;
  readonly typeName: string;
  readonly access: string;
  /** Value clang computed (object BTF) and value patched in (target BTF). */
  readonly local: bigint;
  readonly target: bigint;
}

export interface ProgramSpec {
  readonly name: string;
  readonly section: string;
  /** enum bpf_prog_type (0 when the section name is not known). */
  readonly type: number;
  /** enum bpf_attach_type, when the section implies one. */
  readonly attachType?: number;
  /** What the section names after its prefix: `kprobe/do_unlinkat` -> `do_unlinkat`. */
  readonly attachTo?: string;
  /** BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS. */
  readonly flags: number;
  /** Linked instructions: the entry function, then its subprograms. */
  readonly insns: Instruction[];
  readonly funcs: FuncInfo[];
  readonly lineInfo: LineInfo[];
  readonly mapRefs: MapRef[];
  readonly coreRelos: CoreRelo[];
  /** kfunc calls and kernel-variable loads. */
  readonly externRefs: ExternRef[];
  readonly license: string;
}

export interface ObjectSpecJSON {
  readonly format: 'tsbpf-object-spec/1';
  readonly license: string;
  readonly kernelVersion: number;
  readonly btf?: string;
  readonly programs: unknown[];
  readonly maps: unknown[];
  readonly variables: VariableInfo[];
  readonly warnings: string[];
}

/** Everything an object defines, ready to be turned into live maps and programs. */
export class ObjectSpec {
  constructor(
    readonly programs: ProgramSpec[],
    readonly maps: MapSpec[],
    readonly variables: ReadonlyMap<string, VariableSpec>,
    readonly btf: Btf | undefined,
    readonly license: string,
    readonly kernelVersion: number,
    /** Things accepted but worth knowing (ignored legacy map bytes, ...). */
    readonly warnings: string[],
  ) {}

  program(name: string): ProgramSpec | undefined {
    return this.programs.find((p) => p.name === name);
  }
  map(name: string): MapSpec | undefined {
    return this.maps.find((m) => m.name === name);
  }

  /** Plain JSON: instructions and byte arrays as hex, bigints as decimal strings, BTF as its blob. */
  toJSON(): ObjectSpecJSON {
    const mapJSON = (m: MapSpec): unknown => ({
      ...m, mapExtra: m.mapExtra.toString(), ...(m.data ? { data: toHex(m.data) } : {}),
      ...(m.innerMap ? { innerMap: mapJSON(m.innerMap) } : {}),
    });
    return {
      format: 'tsbpf-object-spec/1',
      license: this.license,
      kernelVersion: this.kernelVersion,
      ...(this.btf ? { btf: toHex(this.btf.raw) } : {}),
      programs: this.programs.map((p) => ({
        ...p, insns: toHex(encode(p.insns)),
        coreRelos: p.coreRelos.map((c) => ({ ...c, local: c.local.toString(), target: c.target.toString() })),
      })),
      maps: this.maps.map(mapJSON),
      variables: [...this.variables.values()].map((v) => v.toJSON()),
      warnings: this.warnings,
    };
  }

  /** Inverse of toJSON (also accepts the JSON text). */
  static fromJSON(input: ObjectSpecJSON | string): ObjectSpec {
    try {
      const j = (typeof input === 'string' ? JSON.parse(input) : input) as ObjectSpecJSON;
      if (j.format !== 'tsbpf-object-spec/1') throw new ElfError('ELF_JSON', `unknown spec format ${String(j.format)}`);
      const btf = j.btf ? Btf.parse(fromHex(j.btf, 'btf')) : undefined;
      const mapFrom = (m: Record<string, unknown>): MapSpec => ({
        ...(m as unknown as MapSpec),
        mapExtra: BigInt(m['mapExtra'] as string),
        slots: (m['slots'] as MapSlot[]).map((s) => ({ ...s })),
        ...(m['data'] !== undefined ? { data: fromHex(m['data'] as string, 'map data') } : {}),
        ...(m['innerMap'] ? { innerMap: mapFrom(m['innerMap'] as Record<string, unknown>) } : {}),
      });
      const maps = (j.maps as Record<string, unknown>[]).map(mapFrom);
      const programs = (j.programs as Record<string, unknown>[]).map((p) => ({
        ...(p as unknown as ProgramSpec),
        insns: decode(fromHex(p['insns'] as string, 'insns'), { strict: false }),
        coreRelos: (p['coreRelos'] as Record<string, unknown>[]).map((c) => ({
          ...(c as unknown as CoreRelo), local: BigInt(c['local'] as string), target: BigInt(c['target'] as string),
        })),
      }));
      const vars = new Map<string, VariableSpec>();
      for (const v of j.variables) {
        const m = maps.find((x) => x.name === v.map);
        if (!m) throw new ElfError('ELF_JSON', `variable '${v.name}' refers to unknown map '${v.map}'`);
        vars.set(v.name, new VariableSpec(v, m, btf));
      }
      return new ObjectSpec(programs, maps, vars, btf, j.license, j.kernelVersion, [...j.warnings]);
    } catch (e) {
      if (e instanceof ElfError) throw e;
      throw new ElfError('ELF_JSON', `not a serialised ObjectSpec: ${(e as Error).message}`);
    }
  }
}

/** One function of an executable section. */
interface Func {
  readonly name: string;
  readonly section: ElfSection;
  /** Slot range [start, end) inside the section. */
  readonly start: number;
  readonly end: number;
  readonly global: boolean;
  btfTypeId: number;
}

/** What a relocated instruction refers to. */
type Ref =
  | { kind: 'call' | 'func_addr'; target: Func }
  | { kind: 'map'; map: string }
  | { kind: 'map_value'; map: string; offset: number }
  | { kind: 'extern'; ext: ExternInfo };

/** An executable section, decoded. */
interface CodeSection {
  readonly sec: ElfSection;
  insns: Instruction[];
  /** Slot of each instruction. */
  readonly slotOf: number[];
  /** Instruction index at each slot, -1 for the second slot of an lddw. */
  readonly indexAt: Int32Array;
  readonly funcs: Func[];
  readonly funcAt: Map<number, Func>;
  /** References by instruction index. */
  readonly refs: Map<number, Ref>;
  /** CO-RE relocations applied, by instruction index. */
  readonly core: Map<number, Omit<CoreRelo, 'slot'>>;
}

function pass<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ElfError) throw e.withContext(name);
    if (e instanceof DecodeError) throw new ElfError('ELF_DECODE', `${name}: ${e.message}`);
    throw new ElfError('ELF_INTERNAL', `${name}: unexpected ${(e as Error)?.name ?? 'error'}: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** Read a BPF ELF object into an ObjectSpec. Throws ElfError on any malformed input. */
export function loadObject(bytes: Uint8Array, opts: LoadOptions = {}): ObjectSpec {
  const elf = pass('read ELF', () => parseElf(bytes));
  const warnings: string[] = [];

  const { license, kernelVersion } = pass('load license', () => {
    const lic = elf.sectionByName('license');
    let license = '';
    if (lic) {
      const end = lic.data.indexOf(0);
      license = new TextDecoder().decode(end < 0 ? lic.data : lic.data.subarray(0, end));
    }
    const ver = elf.sectionByName('version');
    let kernelVersion = 0;
    if (ver) {
      if (ver.data.length !== 4) throw new ElfError('ELF_VERSION_SECTION', `version section is ${ver.data.length} bytes, expected 4`, 'version');
      kernelVersion = new DataView(ver.data.buffer, ver.data.byteOffset, 4).getUint32(0, true);
    }
    return { license, kernelVersion };
  });

  const { btf, ext } = pass('load BTF', () => {
    const s = elf.sectionByName('.BTF');
    if (!s) return { btf: undefined, ext: undefined };
    const btf = Btf.parse(fixupDatasecs(elf, s.data), '.BTF');
    const e = elf.sectionByName('.BTF.ext');
    const ext = e ? parseBtfExt(e.data, btf) : undefined;
    return { btf, ext };
  });

  const code = pass('load functions', () => codeSections(elf, opts.strict ?? true, btf, ext, warnings));
  const funcAt = (secIdx: number, slot: number): Func | undefined => code.get(secIdx)?.funcAt.get(slot);
  const isProgram = (f: Func): boolean => f.section.name !== '.text' && f.global;
  const programOf = (sym: ElfSymbol): string | undefined => {
    if (sym.type !== STT_FUNC) return undefined;
    const f = funcAt(sym.shndx, sym.value / SLOT_SIZE);
    return f && isProgram(f) ? f.name : undefined;
  };

  const externs = pass('load externs', () => collectExterns(elf, btf, opts.targetBtf, opts.kconfig));
  const maps = pass('load maps', () => {
    const m = [...btfMaps(elf, btf, programOf), ...legacyMaps(elf, warnings), ...dataMaps(elf, btf),
      ...(externs.kconfigMap ? [externs.kconfigMap] : [])];
    const seen = new Set<string>();
    for (const x of m) {
      if (seen.has(x.name)) throw new ElfError('MAPS_DUPLICATE', `two maps named '${x.name}'`, x.section);
      seen.add(x.name);
    }
    return m;
  });

  pass('load relocations', () => resolveRelocations(elf, code, maps, externs.externs));
  pass('apply CO-RE relocations', () => {
    if (!ext || !btf) return;
    for (const [secName, recs] of ext.coreRelos) {
      const cs = [...code.values()].find((c) => c.sec.name === secName);
      if (!cs) throw new ElfError('CORE_RELO', `CO-RE relocations for section '${secName}', which is not code`, '.BTF.ext');
      for (const rec of recs) {
        const i = slotIndex(cs, rec.insnOff, 'CO-RE relocation');
        const res = computeCoreRelo(btf, opts.targetBtf ?? btf, rec, secName);
        cs.insns[i] = patchCoreInsn(cs.insns[i]!, res, rec, secName);
        cs.core.set(i, { kind: rec.kind, typeId: rec.typeId, typeName: btf.formatType(rec.typeId), access: rec.access, local: res.local, target: res.target });
      }
    }
  });

  const programs = pass('link programs', () => {
    const out: ProgramSpec[] = [];
    for (const cs of code.values()) {
      for (const f of cs.funcs) {
        if (!isProgram(f)) continue;
        out.push(link(f, code, ext, license));
      }
    }
    return out;
  });

  const variables = pass('load variables', () => collectVariables(elf, btf, maps, externs.externs));
  return new ObjectSpec(programs, maps, variables, btf, license, kernelVersion, warnings);
}

/**
 * In an object file clang leaves DATASEC sizes and (global) variable offsets
 * zero: the section size and the symbols' values are the truth. Patch a copy
 * of the BTF blob, as libbpf does before loading it.
 */
function fixupDatasecs(elf: ElfFile, raw: Uint8Array): Uint8Array {
  const btf = Btf.parse(raw, '.BTF');
  if (!btf.types.some((t) => t.kind === 'datasec')) return raw;
  const out = raw.slice();
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const objects = new Map<string, ElfSymbol>();
  for (const y of elf.symbols) {
    const k = `${y.shndx}:${y.name}`;
    if (y.type === STT_OBJECT && !objects.has(k)) objects.set(k, y);
  }
  const hdrLen = dv.getUint32(4, true), typeOff = dv.getUint32(8, true);
  // Walk the type section again to find each DATASEC's byte position.
  let off = hdrLen + typeOff;
  for (const t of btf.types) {
    if (t.kind === 'void') continue;
    const vlen = dv.getUint32(off + 4, true) & 0xffff;
    const at = off;
    off += 12 + extraBytes(t.kind, vlen);
    if (t.kind !== 'datasec') continue;
    const sec = elf.sectionByName(t.name);
    if (!sec) continue; // e.g. .kconfig externs: no section
    dv.setUint32(at + 8, sec.size, true);
    for (let i = 0; i < t.vars.length; i++) {
      const v = btf.types[t.vars[i]!.type];
      if (!v || v.kind !== 'var') continue;
      const sym = objects.get(`${sec.index}:${v.name}`);
      if (sym) dv.setUint32(at + 12 + i * 12 + 4, sym.value, true);
    }
  }
  return out;
}

function extraBytes(kind: string, vlen: number): number {
  switch (kind) {
    case 'int': case 'var': case 'decl_tag': return 4;
    case 'array': return 12;
    case 'struct': case 'union': case 'datasec': case 'enum64': return 12 * vlen;
    case 'enum': case 'func_proto': return 8 * vlen;
    default: return 0;
  }
}

function slotIndex(cs: CodeSection, byteOff: number, what: string): number {
  const slot = byteOff / SLOT_SIZE;
  const i = Number.isInteger(slot) && slot < cs.indexAt.length ? cs.indexAt[slot]! : -1;
  if (i < 0) throw new ElfError('ELF_RELOC_OFFSET', `${what} at offset ${byteOff} is not at an instruction`, cs.sec.name, byteOff);
  return i;
}

function codeSections(elf: ElfFile, strict: boolean, btf: Btf | undefined, ext: BtfExt | undefined, warnings: string[]): Map<number, CodeSection> {
  const out = new Map<number, CodeSection>();
  const funcSyms = new Map<number, ElfSymbol[]>();
  for (const y of elf.symbols) {
    if (y.type !== STT_FUNC) continue;
    const l = funcSyms.get(y.shndx);
    if (l) l.push(y); else funcSyms.set(y.shndx, [y]);
  }
  for (const sec of elf.sections) {
    if (sec.type !== SHT_PROGBITS || !(sec.flags & SHF_EXECINSTR) || sec.size === 0) continue;
    if (sec.size % SLOT_SIZE !== 0) throw new ElfError('ELF_CODE_SIZE', `code section size ${sec.size} is not a multiple of 8`, sec.name);
    let insns: Instruction[];
    try {
      insns = decode(sec.data, { strict });
    } catch (e) {
      if (e instanceof DecodeError) throw new ElfError('ELF_DECODE', e.message, sec.name, e.index * SLOT_SIZE);
      throw e;
    }
    const nslots = sec.size / SLOT_SIZE;
    const slotOf: number[] = [];
    const indexAt = new Int32Array(nslots).fill(-1);
    let s = 0;
    insns.forEach((x, i) => {
      slotOf.push(s);
      indexAt[s] = i;
      s += x.op.kind === 'ld_imm64' ? 2 : 1;
    });
    // Functions: FUNC symbols; none (old compilers) -> the section is one.
    const syms = (funcSyms.get(sec.index) ?? [])
      .sort((a, b) => a.value - b.value || a.index - b.index);
    const funcs: Func[] = [];
    if (syms.length === 0) {
      funcs.push({ name: sec.name, section: sec, start: 0, end: nslots, global: true, btfTypeId: 0 });
    } else {
      syms.forEach((y, k) => {
        if (y.value % SLOT_SIZE !== 0 || y.value >= sec.size) throw new ElfError('ELF_SYMBOL', `function '${y.name}' at offset ${y.value} is not an instruction of the section`, sec.name, y.value);
        if (k > 0 && syms[k - 1]!.value === y.value) throw new ElfError('ELF_SYMBOL', `functions '${syms[k - 1]!.name}' and '${y.name}' start at the same offset`, sec.name, y.value);
        const next = k + 1 < syms.length ? syms[k + 1]!.value : sec.size;
        const end = y.size > 0 ? Math.min(y.value + y.size, next) : next;
        if (end % SLOT_SIZE !== 0) throw new ElfError('ELF_SYMBOL', `function '${y.name}' size ${y.size} is not a multiple of 8`, sec.name, y.value);
        if (indexAt[y.value / SLOT_SIZE]! < 0) throw new ElfError('ELF_SYMBOL', `function '${y.name}' starts inside an lddw`, sec.name, y.value);
        funcs.push({ name: y.name, section: sec, start: y.value / SLOT_SIZE, end: end / SLOT_SIZE, global: y.bind !== STB_LOCAL, btfTypeId: 0 });
        if (y.bind === STB_LOCAL && sec.name !== '.text') {
          warnings.push(`${sec.name}: static function '${y.name}' is a subprogram, not a program (libbpf refuses static programs)`);
        }
      });
    }
    for (const fi of ext?.funcInfo.get(sec.name) ?? []) {
      const f = funcs.find((x) => x.start * SLOT_SIZE === fi.insnOff);
      if (!f) throw new ElfError('BTF_EXT_FUNC', `func_info at offset ${fi.insnOff} is not the start of a function`, sec.name, fi.insnOff);
      if (btf) {
        const t = btf.type(fi.typeId);
        if (t.kind !== 'func') throw new ElfError('BTF_EXT_FUNC', `func_info of '${f.name}' refers to ${t.kind} type ${fi.typeId}, not a FUNC`, sec.name, fi.insnOff);
      }
      f.btfTypeId = fi.typeId;
    }
    out.set(sec.index, { sec, insns, slotOf, indexAt, funcs, funcAt: new Map(funcs.map((f) => [f.start, f])), refs: new Map(), core: new Map() });
  }
  return out;
}

function resolveRelocations(elf: ElfFile, code: Map<number, CodeSection>, maps: MapSpec[], externs: Map<string, ExternInfo>): void {
  const mapsSec = elf.sectionByName('.maps');
  const legacySec = elf.sectionByName('maps');
  const legacyByOffset = new Map<number, string>();
  if (legacySec) {
    const names = new Set(maps.filter((m) => m.origin === 'legacy').map((m) => m.name));
    for (const y of elf.symbols) {
      if (y.shndx === legacySec.index && y.type !== STT_SECTION && names.has(y.name)) legacyByOffset.set(y.value, y.name);
    }
  }
  const btfMapByOffset = new Map<number, string>();
  if (mapsSec) {
    const btfNames = new Set(maps.filter((m) => m.origin === 'btf').map((m) => m.name));
    for (const y of elf.symbols) {
      if (y.shndx === mapsSec.index && y.type !== STT_SECTION && btfNames.has(y.name)) btfMapByOffset.set(y.value, y.name);
    }
  }
  const funcTarget = (secIdx: number, slot: number, what: string, sec: ElfSection, off: number): Func => {
    const cs = code.get(secIdx);
    const f = cs?.funcAt.get(slot);
    if (!f) throw new ElfError('ELF_RELOC_TARGET', `${what} targets slot ${slot} of ${cs ? `'${cs.sec.name}'` : `section ${secIdx}`}, which is not the start of a function`, sec.name, off);
    return f;
  };

  for (const cs of code.values()) {
    const sec = cs.sec;
    const relocated = new Set<number>();
    for (const r of elf.relocations.get(sec.index) ?? []) {
      const i = slotIndex(cs, r.offset, 'relocation');
      const insn = cs.insns[i]!;
      const sym = r.symbol;
      relocated.add(i);
      if (sym.shndx === SHN_UNDEF) {
        const ext = externs.get(sym.name);
        if (!ext) throw new ElfError('ELF_EXTERN', `relocation against undefined symbol '${sym.name}'`, sec.name, r.offset);
        const want: ExternKind = insn.op.kind === 'call_local' ? 'kfunc' : 'ksym';
        if (insn.op.kind !== 'call_local' && insn.op.kind !== 'ld_imm64') {
          throw new ElfError('ELF_RELOC_INSN', `relocation against extern '${sym.name}' on ${insn.op.name}`, sec.name, r.offset);
        }
        if (ext.kind === 'kconfig' && insn.op.kind === 'ld_imm64') {
          cs.refs.set(i, { kind: 'map_value', map: KCONFIG_MAP, offset: ext.offset + insn.imm });
        } else if (ext.kind === want) {
          cs.refs.set(i, { kind: 'extern', ext });
        } else {
          throw new ElfError('ELF_EXTERN', `${insn.op.name} of extern '${sym.name}', which is a ${ext.kind}`, sec.name, r.offset);
        }
        continue;
      }
      if (sym.shndx >= SHN_LORESERVE) throw new ElfError('ELF_RELOC_TARGET', `relocation against special symbol '${sym.name}' (section 0x${sym.shndx.toString(16)})`, sec.name, r.offset);
      const target = elf.sections[sym.shndx]!;
      if (insn.op.kind === 'call_local') {
        if (r.type !== R_BPF_64_32) throw new ElfError('ELF_RELOC_TYPE', `call relocation of type ${r.type}, expected R_BPF_64_32`, sec.name, r.offset);
        if (!code.has(sym.shndx)) throw new ElfError('ELF_RELOC_TARGET', `call to '${sym.name}' in non-code section '${target.name}'`, sec.name, r.offset);
        const slot = sym.value / SLOT_SIZE + insn.imm + 1;
        cs.refs.set(i, { kind: 'call', target: funcTarget(sym.shndx, slot, `call to '${sym.name}'`, sec, r.offset) });
        continue;
      }
      if (insn.op.kind !== 'ld_imm64') {
        throw new ElfError('ELF_RELOC_INSN', `relocation against '${sym.name}' on ${insn.op.name}, expected lddw or call`, sec.name, r.offset);
      }
      if (r.type !== R_BPF_64_64) throw new ElfError('ELF_RELOC_TYPE', `lddw relocation of type ${r.type}, expected R_BPF_64_64`, sec.name, r.offset);
      if (insn.src !== 0) throw new ElfError('ELF_RELOC_INSN', `relocated lddw already has src ${insn.src}`, sec.name, r.offset);
      if (code.has(sym.shndx)) {
        const byteOff = sym.value + insn.imm + r.addend;
        if (byteOff % SLOT_SIZE !== 0) throw new ElfError('ELF_RELOC_TARGET', `function address ${byteOff} in '${target.name}' is not an instruction`, sec.name, r.offset);
        cs.refs.set(i, { kind: 'func_addr', target: funcTarget(sym.shndx, byteOff / SLOT_SIZE, `address of '${sym.name}'`, sec, r.offset) });
      } else if (mapsSec && sym.shndx === mapsSec.index) {
        const off = sym.value + (sym.type === STT_SECTION ? insn.imm : 0);
        const name = btfMapByOffset.get(off);
        if (!name) throw new ElfError('ELF_RELOC_TARGET', `no map at offset ${off} of .maps`, sec.name, r.offset);
        cs.refs.set(i, { kind: 'map', map: name });
      } else if (legacySec && sym.shndx === legacySec.index) {
        const off = sym.value + (sym.type === STT_SECTION ? insn.imm : 0);
        const name = legacyByOffset.get(off);
        if (!name) throw new ElfError('ELF_RELOC_TARGET', `no map at offset ${off} of maps`, sec.name, r.offset);
        cs.refs.set(i, { kind: 'map', map: name });
      } else if (dataSectionKind(target.name)) {
        const m = maps.find((x) => x.origin === 'data' && x.section === target.name);
        if (!m) throw new ElfError('ELF_RELOC_TARGET', `reference to '${sym.name}' in empty data section '${target.name}'`, sec.name, r.offset);
        const offset = sym.value + insn.imm + r.addend;
        if (offset < 0 || offset > m.valueSize) throw new ElfError('ELF_RELOC_TARGET', `offset ${offset} outside '${target.name}' (${m.valueSize} bytes)`, sec.name, r.offset);
        cs.refs.set(i, { kind: 'map_value', map: m.name, offset });
      } else {
        throw new ElfError('ELF_RELOC_TARGET', `lddw of '${sym.name}' in section '${target.name}', which is neither code, maps nor global data`, sec.name, r.offset);
      }
    }
    // Calls inside the section with no relocation are pc-relative.
    cs.insns.forEach((insn, i) => {
      if (insn.op.kind !== 'call_local' || relocated.has(i)) return;
      const slot = cs.slotOf[i]! + insn.imm + 1;
      cs.refs.set(i, { kind: 'call', target: funcTarget(sec.index, slot, 'call', sec, cs.slotOf[i]! * SLOT_SIZE) });
    });
  }
}

/** Link one program: its function, then every subprogram reachable from it, each once. */
function link(entry: Func, code: Map<number, CodeSection>, ext: BtfExt | undefined, license: string): ProgramSpec {
  const insns: Instruction[] = [];
  const funcs: FuncInfo[] = [];
  const lineInfo: LineInfo[] = [];
  const mapRefs: MapRef[] = [];
  const coreRelos: CoreRelo[] = [];
  const externRefs: ExternRef[] = [];
  const placed = new Map<Func, number>();
  const pending: { func: Func; slot: number }[] = [];
  let nslots = 0;
  const place = (f: Func): number => {
    const at = placed.get(f);
    if (at !== undefined) return at;
    const slot = nslots;
    placed.set(f, slot);
    pending.push({ func: f, slot });
    nslots += f.end - f.start;
    return slot;
  };
  place(entry);
  for (let p = 0; p < pending.length; p++) {
    const { func, slot: base } = pending[p]!;
    const cs = code.get(func.section.index)!;
    funcs.push({ name: func.name, slot: base, btfTypeId: func.btfTypeId });
    const first = cs.indexAt[func.start]!;
    for (let i = first; i < cs.insns.length && cs.slotOf[i]! < func.end; i++) {
      let insn = cs.insns[i]!;
      const slot = base + cs.slotOf[i]! - func.start;
      const ref = cs.refs.get(i);
      if (ref) {
        switch (ref.kind) {
          case 'call': case 'func_addr': {
            const t = place(ref.target);
            insn = { ...insn, src: ref.kind === 'call' ? BPF_PSEUDO_CALL : BPF_PSEUDO_FUNC, imm: t - (slot + 1), ...(ref.kind === 'func_addr' ? { imm2: 0 } : {}) };
            break;
          }
          case 'map':
            insn = { ...insn, src: BPF_PSEUDO_MAP_FD, imm: 0, imm2: 0 };
            mapRefs.push({ slot, map: ref.map, kind: 'map', offset: 0 });
            break;
          case 'map_value':
            insn = { ...insn, src: BPF_PSEUDO_MAP_VALUE, imm: 0, imm2: ref.offset };
            mapRefs.push({ slot, map: ref.map, kind: 'map_value', offset: ref.offset });
            break;
          case 'extern': {
            const e = ref.ext;
            if (e.kind === 'kfunc') {
              const op = lookup({ opcode: insn.op.opcode, dst: 0, src: BPF_PSEUDO_KFUNC_CALL, off: 0, imm: 0 })!;
              insn = { ...insn, op, src: BPF_PSEUDO_KFUNC_CALL, off: 0, imm: e.btfId };
            } else {
              insn = { ...insn, src: e.size ? BPF_PSEUDO_BTF_ID : 0, imm: e.btfId, imm2: 0 };
            }
            externRefs.push({ slot, name: e.name, kind: e.kind as 'kfunc' | 'ksym', btfId: e.btfId });
            break;
          }
        }
      }
      const core = cs.core.get(i);
      if (core) coreRelos.push({ slot, ...core });
      insns.push(insn);
    }
    for (const li of ext?.lineInfo.get(func.section.name) ?? []) {
      const s = li.insnOff / SLOT_SIZE;
      if (s < func.start || s >= func.end) continue;
      lineInfo.push({ slot: base + s - func.start, file: li.fileName, line: li.lineNumber, column: li.column, source: li.line });
    }
  }
  lineInfo.sort((a, b) => a.slot - b.slot);
  mapRefs.sort((a, b) => a.slot - b.slot);
  coreRelos.sort((a, b) => a.slot - b.slot);
  externRefs.sort((a, b) => a.slot - b.slot);
  const m = matchSection(entry.section.name);
  return {
    name: entry.name,
    section: entry.section.name,
    type: m?.type ?? 0,
    ...(m?.attachType !== undefined ? { attachType: m.attachType } : {}),
    ...(m?.attachTo !== undefined ? { attachTo: m.attachTo } : {}),
    flags: m?.flags ?? 0,
    insns, funcs, lineInfo, mapRefs, coreRelos, externRefs, license,
  };
}

function collectVariables(elf: ElfFile, btf: Btf | undefined, maps: MapSpec[], externs: Map<string, ExternInfo>): Map<string, VariableSpec> {
  const out = new Map<string, VariableSpec>();
  const add = (info: VariableInfo, m: MapSpec): void => {
    if (out.has(info.name)) return; // static variables of the same name in two sections: first wins
    out.set(info.name, new VariableSpec(info, m, btf));
  };
  for (const m of maps) {
    if (m.origin !== 'data') continue;
    if (m.name === KCONFIG_MAP) {
      for (const e of externs.values()) {
        if (e.kind !== 'kconfig') continue;
        add({ name: e.name, map: m.name, offset: e.offset, size: e.size, typeId: btf!.typeOfKind(e.localTypeId, 'var').type }, m);
      }
      continue;
    }
    const ds = btf?.find(m.section, 'datasec');
    if (btf && ds) {
      for (const v of ds.vars) {
        const vt = btf.type(v.type);
        if (vt.kind !== 'var') continue;
        add({ name: vt.name, map: m.name, offset: v.offset, size: v.size, typeId: vt.type }, m);
      }
    } else {
      const sec = elf.sectionByName(m.section)!;
      for (const y of elf.symbols) {
        if (y.shndx === sec.index && y.type === STT_OBJECT && y.name) add({ name: y.name, map: m.name, offset: y.value, size: y.size, typeId: 0 }, m);
      }
    }
  }
  return out;
}

/**
 * BTF from an ELF object's `.BTF` section, or a raw BTF blob (for instance
 * /sys/kernel/btf/vmlinux), as a CO-RE target.
 */
export function readBtf(bytes: Uint8Array): Btf {
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    return pass('read BTF', () => {
      const elf = parseElf(bytes);
      const s = elf.sectionByName('.BTF');
      if (!s) throw new ElfError('BTF_MISSING', 'object has no .BTF section', '.BTF');
      return Btf.parse(fixupDatasecs(elf, s.data), '.BTF');
    });
  }
  return pass('read BTF', () => Btf.parse(bytes, 'BTF'));
}
