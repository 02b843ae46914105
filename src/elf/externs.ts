// Externs: symbols the object uses but does not define, resolved when the
// program is loaded (libbpf's documentation, "BPF CO-RE" and "kfuncs"):
//
// - `.kconfig` variables (`extern unsigned int LINUX_KERNEL_VERSION __kconfig`):
//   values of the kernel's configuration, kept in a read-only `.kconfig` data
//   map the loader fills. Laid out as libbpf does: by descending alignment,
//   then by name.
// - `.ksyms` functions (kfuncs): `call` with src = BPF_PSEUDO_KFUNC_CALL and
//   imm = the function's BTF id in the kernel (target) BTF.
// - `.ksyms` variables: typed ones become lddw src = BPF_PSEUDO_BTF_ID with
//   the variable's BTF id; untyped (`const void`) ones need the symbol's
//   address, which only the kernel knows (imm stays 0).

import { ElfError } from '../errors.js';
import { type Btf } from './btf.js';
import { type ElfFile, SHN_UNDEF, STB_WEAK } from './elf.js';
import { type MapSpec, BPF_MAP_TYPE, BPF_F_RDONLY_PROG, BPF_F_MMAPABLE } from './maps.js';

export type ExternKind = 'kconfig' | 'kfunc' | 'ksym';

export interface ExternInfo {
  readonly name: string;
  readonly kind: ExternKind;
  readonly weak: boolean;
  /** Local BTF id of the VAR or FUNC. */
  readonly localTypeId: number;
  /** kconfig: offset in the .kconfig map, and size. */
  readonly offset: number;
  readonly size: number;
  /** kfunc / typed ksym: id in the target BTF, 0 when unresolved (no target, or weak and absent). */
  readonly btfId: number;
}

export const KCONFIG_MAP = '.kconfig';

/** Values for .kconfig externs, by name (numbers, bigints, booleans; strings for char arrays). */
export type KconfigValues = Readonly<Record<string, number | bigint | boolean | string>>;

/**
 * Find and classify the externs; build the .kconfig map when there are
 * kconfig externs. `target` resolves kfunc/ksym BTF ids.
 */
export function collectExterns(elf: ElfFile, btf: Btf | undefined, target: Btf | undefined, kconfig: KconfigValues = {}):
{ externs: Map<string, ExternInfo>; kconfigMap?: MapSpec } {
  const externs = new Map<string, ExternInfo>();
  const undef = elf.symbols.filter((s) => s.shndx === SHN_UNDEF && s.index !== 0 && s.name);
  if (!undef.length) return { externs };
  if (!btf) throw new ElfError('ELF_EXTERN', `extern '${undef[0]!.name}' needs BTF (compile with -g)`, '.symtab');
  const sec = (name: string): Map<string, number> => {
    const m = new Map<string, number>();
    const ds = btf.find(name, 'datasec');
    for (const v of ds?.vars ?? []) m.set(btf.type(v.type).name, v.type);
    return m;
  };
  const kc = sec('.kconfig'), ks = sec('.ksyms');
  const kcfg: { name: string; id: number; size: number; align: number; weak: boolean }[] = [];
  for (const s of undef) {
    const weak = s.bind === STB_WEAK;
    const kcId = kc.get(s.name);
    if (kcId !== undefined) {
      const v = btf.typeOfKind(kcId, 'var');
      kcfg.push({ name: s.name, id: kcId, size: btf.sizeOf(v.type), align: btf.alignOf(v.type), weak });
      continue;
    }
    const ksId = ks.get(s.name);
    if (ksId === undefined) throw new ElfError('ELF_EXTERN', `extern '${s.name}' is neither in .kconfig nor in .ksyms`, '.symtab');
    const t = btf.type(ksId);
    if (t.kind === 'func') {
      let btfId = 0;
      if (target) {
        const f = target.find(s.name, 'func');
        if (!f && !weak) throw new ElfError('ELF_EXTERN', `kfunc '${s.name}' is not in the target BTF`, '.ksyms');
        btfId = f?.id ?? 0;
      }
      externs.set(s.name, { name: s.name, kind: 'kfunc', weak, localTypeId: ksId, offset: 0, size: 0, btfId });
    } else if (t.kind === 'var') {
      const typed = btf.resolve(t.type).kind !== 'void';
      let btfId = 0;
      if (target && typed) {
        const v = target.find(s.name, 'var');
        if (!v && !weak) throw new ElfError('ELF_EXTERN', `kernel variable '${s.name}' is not in the target BTF`, '.ksyms');
        btfId = v?.id ?? 0;
      }
      externs.set(s.name, { name: s.name, kind: 'ksym', weak, localTypeId: ksId, offset: 0, size: typed ? btf.sizeOf(t.type) : 0, btfId });
    } else {
      throw new ElfError('ELF_EXTERN', `extern '${s.name}' in .ksyms is a ${t.kind}`, '.ksyms');
    }
  }
  if (!kcfg.length) return { externs };
  kcfg.sort((a, b) => b.align - a.align || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let off = 0;
  for (const k of kcfg) {
    off = Math.ceil(off / k.align) * k.align;
    externs.set(k.name, { name: k.name, kind: 'kconfig', weak: k.weak, localTypeId: k.id, offset: off, size: k.size, btfId: 0 });
    off += k.size;
  }
  const data = new Uint8Array(off);
  for (const [name, v] of Object.entries(kconfig)) {
    const e = externs.get(name);
    if (!e || e.kind !== 'kconfig') throw new ElfError('ELF_EXTERN', `kconfig value for '${name}', which the object does not use`, KCONFIG_MAP);
    writeValue(data, e, v);
  }
  const kconfigMap: MapSpec = {
    name: KCONFIG_MAP, origin: 'data', section: KCONFIG_MAP, type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: off,
    maxEntries: 1, flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, pinning: 0, numaNode: 0, mapExtra: 0n, btfKeyTypeId: 0,
    btfValueTypeId: btf.find('.kconfig', 'datasec')?.id ?? 0, slots: [], data, readonly: true,
  };
  return { externs, kconfigMap };
}

function writeValue(data: Uint8Array, e: ExternInfo, v: number | bigint | boolean | string): void {
  if (typeof v === 'string') {
    const b = new TextEncoder().encode(v);
    if (b.length >= e.size) throw new ElfError('ELF_EXTERN', `kconfig '${e.name}': "${v}" does not fit ${e.size} bytes with its NUL`, KCONFIG_MAP);
    data.set(b, e.offset);
    return;
  }
  let x = typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v);
  const bits = BigInt(e.size * 8);
  if (![1, 2, 4, 8].includes(e.size) || x >= 1n << bits || x < -(1n << (bits - 1n))) {
    throw new ElfError('ELF_EXTERN', `kconfig '${e.name}': ${v} does not fit ${e.size} bytes`, KCONFIG_MAP);
  }
  x = BigInt.asUintN(Number(bits), x);
  for (let i = 0; i < e.size; i++, x >>= 8n) data[e.offset + i] = Number(x & 0xffn);
}
