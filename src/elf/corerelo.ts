// CO-RE ("compile once, run everywhere") relocations: each record names an
// instruction, a local BTF type, an access string and what the instruction
// needs (a field's offset, its size, whether a type exists, ...). Computing
// the value against a target BTF and patching the instruction makes the
// program fit the target's layout. Semantics from the kernel's BTF and
// libbpf's CO-RE documentation; reimplemented here.
//
// Target == the object's own BTF (the default) is the identity: every
// relocation must then reproduce exactly what clang already put in the
// instruction, which checks both clang's output and this code.
//
// Not done: TYPE_MATCHES is computed with the same shallow compatibility
// test as the other type relocations (libbpf's deep "match" rules are not
// reimplemented); a field whose size differs between local and target is
// only accepted where the instruction does not depend on the size (no load
// width rewriting); candidates are matched by essential name (`foo___v2`
// matches `foo`) and must agree when several match.

import { ElfError } from '../errors.js';
import {
  type Instruction, BPF_ALU, BPF_ALU64, BPF_LDX, BPF_ST, BPF_STX, BPF_B, BPF_H, BPF_W, BPF_DW, CLASS_MASK, SIZE_MASK,
  lookup, sizeBytes,
} from '../isa/index.js';
import { type Btf, type BtfType, type BtfMember } from './btf.js';
import { type CoreReloRecord } from './btf_ext.js';

export interface CoreReloResult {
  /** Value the instruction had (computed against the local BTF). */
  readonly local: bigint;
  /** Value for the target. */
  readonly target: bigint;
  /**
   * field_byte_offset of a plain field whose size differs in the target:
   * the sizes, and whether a load/store may be resized (unsigned integers,
   * unsigned enums and pointers only: a signed value would lose its sign).
   */
  readonly resize?: { readonly from: number; readonly to: number; readonly ok: boolean };
}

/** Type name without a `___flavour` suffix. */
export function essentialName(name: string): string {
  const i = name.indexOf('___');
  return i > 0 ? name.slice(0, i) : name;
}

interface FieldSpec {
  /** Bit offset of the accessed field from the base pointer. */
  bitOffset: number;
  /** Type id of the accessed field (unresolved). */
  type: number;
  /** Bitfield width, 0 for a plain field. */
  bitSize: number;
  /** Bitfields: alignment (bytes) of the struct holding the member, and the member's bit offset inside it. */
  parentAlign: number;
  memberBitOffset: number;
  /** Steps after the root: member names (structs) or indices (arrays). */
  steps: ({ member: string; index: number } | { element: number })[];
  rootIndex: number;
}

function fail(rec: CoreReloRecord, section: string, why: string): never {
  throw new ElfError('CORE_RELO', `CO-RE relocation ${rec.kind} on type ${rec.typeId} access '${rec.access}': ${why}`, section, rec.insnOff);
}

function parseAccess(rec: CoreReloRecord, section: string): number[] {
  const parts = rec.access.split(':');
  const out = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (!parts.length || out.some((n) => !Number.isSafeInteger(n))) fail(rec, section, 'malformed access string');
  return out;
}

/** Walk an access string on the local BTF. */
function localField(btf: Btf, rec: CoreReloRecord, section: string): FieldSpec {
  const acc = parseAccess(rec, section);
  let type = rec.typeId;
  const rootIndex = acc[0]!;
  let bitOffset = rootIndex * btf.sizeOf(type) * 8;
  let bitSize = 0, parentAlign = 0, memberBitOffset = 0;
  const steps: FieldSpec['steps'] = [];
  for (let i = 1; i < acc.length; i++) {
    const t = btf.resolve(type);
    const idx = acc[i]!;
    if (t.kind === 'struct' || t.kind === 'union') {
      const m = t.members[idx];
      if (!m) fail(rec, section, `member index ${idx} out of range for ${t.kind} '${t.name}'`);
      bitOffset += m.bitOffset;
      bitSize = m.bitSize;
      parentAlign = btf.alignOf(t.id);
      memberBitOffset = m.bitOffset;
      type = m.type;
      steps.push({ member: m.name, index: idx });
    } else if (t.kind === 'array') {
      bitOffset += idx * btf.sizeOf(t.type) * 8;
      bitSize = 0;
      type = t.type;
      steps.push({ element: idx });
    } else {
      fail(rec, section, `cannot index into ${t.kind} '${t.name}'`);
    }
  }
  return { bitOffset, type, bitSize, steps, rootIndex, parentAlign, memberBitOffset };
}

/** Find a member by name, looking through anonymous struct/union members. */
function findMember(btf: Btf, t: BtfType, name: string, depth = 0): { member: BtfMember; bitOffset: number; parent: BtfType } | undefined {
  if ((t.kind !== 'struct' && t.kind !== 'union') || depth > 32) return undefined;
  for (const m of t.members) {
    if (m.name === name) return { member: m, bitOffset: m.bitOffset, parent: t };
  }
  for (const m of t.members) {
    if (m.name) continue;
    const inner = findMember(btf, btf.resolve(m.type), name, depth + 1);
    if (inner) return { member: inner.member, bitOffset: m.bitOffset + inner.bitOffset, parent: inner.parent };
  }
  return undefined;
}

/** Shallow compatibility of two types (libbpf-style): same kind family, ints/enums interchangeable. */
function compatible(a: Btf, aId: number, b: Btf, bId: number, depth = 0): boolean {
  const x = a.resolve(aId), y = b.resolve(bId);
  const fam = (t: BtfType): string => (t.kind === 'enum' || t.kind === 'enum64' || t.kind === 'int' ? 'scalar' : t.kind === 'fwd' ? (t.union ? 'union' : 'struct') : t.kind);
  if (fam(x) !== fam(y)) return false;
  if (x.kind === 'struct' || x.kind === 'union' || x.kind === 'fwd') return essentialName(x.name) === essentialName(y.name) || !x.name;
  if (x.kind === 'array' && y.kind === 'array') return depth < 16 && compatible(a, x.type, b, y.type, depth + 1);
  return true;
}

function targetField(local: Btf, target: Btf, rootId: number, spec: FieldSpec, localRoot: number): FieldSpec | undefined {
  let type = rootId;
  let bitOffset = spec.rootIndex * target.sizeOf(rootId) * 8;
  let bitSize = 0, parentAlign = 0, memberBitOffset = 0;
  for (const s of spec.steps) {
    const t = target.resolve(type);
    if ('member' in s) {
      if (!s.member) {
        // Anonymous member in the local type: the named steps that follow are
        // found through anonymous members in the target.
        continue;
      }
      const hit = findMember(target, t, s.member);
      if (!hit) return undefined;
      bitOffset += hit.bitOffset;
      bitSize = hit.member.bitSize;
      type = hit.member.type;
      parentAlign = target.alignOf(hit.parent.id);
      memberBitOffset = hit.member.bitOffset;
    } else {
      if (t.kind !== 'array') return undefined;
      if (t.nelems !== 0 && s.element >= t.nelems) return undefined;
      bitOffset += s.element * target.sizeOf(t.type) * 8;
      bitSize = 0;
      type = t.type;
    }
  }
  if (spec.steps.length && !compatible(local, spec.type, target, type)) return undefined;
  void localRoot;
  return { bitOffset, type, bitSize, steps: spec.steps, rootIndex: spec.rootIndex, parentAlign, memberBitOffset };
}

/** Values of the field relocation kinds for a resolved field. */
function fieldValue(btf: Btf, f: FieldSpec, kind: CoreReloRecord['kind'], rec: CoreReloRecord, section: string): bigint {
  const ft = btf.resolve(f.type);
  let byteSize: number;
  let byteOff: number;
  let bitSize: number;
  if (f.bitSize) {
    // The storage unit clang uses: an aligned chunk the size of the
    // alignment of the struct holding the bitfield (LLVM's rule; libbpf
    // sizes it from the member type instead, and skips checking clang's value).
    bitSize = f.bitSize;
    const unit = f.parentAlign * 8;
    if (f.parentAlign > 8 || bitSize > unit) fail(rec, section, 'bitfield wider than its storage unit');
    const start = Math.floor(f.memberBitOffset / unit) * unit;
    if (f.memberBitOffset + bitSize > start + unit) fail(rec, section, 'bitfield straddles its storage unit');
    byteSize = f.parentAlign;
    byteOff = (f.bitOffset - f.memberBitOffset + start) / 8;
    if (!Number.isInteger(byteOff)) fail(rec, section, 'bitfield storage unit is not byte aligned');
  } else {
    if (f.bitOffset % 8) fail(rec, section, 'field is not byte aligned');
    byteSize = btf.sizeOf(f.type);
    byteOff = f.bitOffset / 8;
    bitSize = byteSize * 8;
  }
  switch (kind) {
    case 'field_byte_offset': return BigInt(byteOff);
    case 'field_byte_size': return BigInt(byteSize);
    case 'field_exists': return 1n;
    case 'field_signed': return BigInt(
      (ft.kind === 'int' && ft.signed) || ((ft.kind === 'enum' || ft.kind === 'enum64') && ft.signed) ? 1 : 0);
    case 'field_lshift_u64': return BigInt(64 - (f.bitOffset + bitSize - byteOff * 8));
    case 'field_rshift_u64': return BigInt(64 - bitSize);
    default: return fail(rec, section, 'not a field relocation');
  }
}

/** Candidate target types: same essential name and same kind as the local one. */
function candidates(local: Btf, target: Btf, localId: number): number[] {
  const lt = local.type(localId);
  const name = essentialName(lt.name);
  if (!name) return [];
  const out: number[] = [];
  for (const t of target.types) {
    if (!t.name || essentialName(t.name) !== name) continue;
    const same = t.kind === lt.kind ||
      ((t.kind === 'enum' || t.kind === 'enum64') && (lt.kind === 'enum' || lt.kind === 'enum64'));
    if (same) out.push(t.id);
  }
  return out;
}

/**
 * Compute a CO-RE relocation: the value against the local BTF and against the
 * target. Throws ElfError (code CORE_RELO) when the target cannot satisfy it
 * (other than the *_exists kinds, which then yield 0).
 */
export function computeCoreRelo(local: Btf, target: Btf, rec: CoreReloRecord, section: string): CoreReloResult {
  try {
    return compute(local, target, rec, section);
  } catch (e) {
    if (!(e instanceof ElfError) || e.code !== 'CORE_RELO') throw e;
    let what = `type ${rec.typeId}`;
    try {
      what = describe(local, rec);
    } catch { /* keep the id */ }
    throw new ElfError('CORE_RELO', e.reason.replace(`on type ${rec.typeId} `, `on ${what} `), section, rec.insnOff);
  }
}

/** `struct conn_info.stats.level`, `enum conn_state::CONN_CLOSED`, `struct conn_info`. */
export function describe(btf: Btf, rec: CoreReloRecord): string {
  const root = btf.formatType(rec.typeId);
  const acc = rec.access.split(':').map(Number);
  if (rec.kind.startsWith('enumval')) {
    const t = btf.resolve(rec.typeId);
    return t.kind === 'enum' || t.kind === 'enum64' ? `${root}::${t.values[acc[0]!]?.name ?? acc[0]}` : root;
  }
  if (!rec.kind.startsWith('field')) return root;
  let out = root + (acc[0] ? `[${acc[0]}]` : '');
  let type = rec.typeId;
  for (const idx of acc.slice(1)) {
    const t = btf.resolve(type);
    if (t.kind === 'struct' || t.kind === 'union') {
      const m = t.members[idx];
      if (!m) break;
      out += m.name ? `.${m.name}` : '.(anon)';
      type = m.type;
    } else if (t.kind === 'array') {
      out += `[${idx}]`;
      type = t.type;
    } else break;
  }
  return out;
}

function compute(local: Btf, target: Btf, rec: CoreReloRecord, section: string): CoreReloResult {
  const self = target === local;
  const kind = rec.kind;
  if (rec.typeId === 0 || rec.typeId >= local.types.length) fail(rec, section, 'bad local type id');
  const existsKind = kind === 'field_exists' || kind === 'type_exists' || kind === 'enumval_exists' || kind === 'type_matches';

  if (kind.startsWith('field_')) {
    const lf = localField(local, rec, section);
    const lv = fieldValue(local, lf, kind, rec, section);
    if (self) return { local: lv, target: lv };
    const found = new Set<bigint>();
    let tfound: FieldSpec | undefined;
    for (const c of candidates(local, target, local.skipQualifiers(rec.typeId))) {
      const tf = targetField(local, target, c, lf, rec.typeId);
      if (tf) {
        found.add(fieldValue(target, tf, kind, rec, section));
        tfound = tf;
      }
    }
    if (found.size > 1) fail(rec, section, `ambiguous: target candidates give ${[...found].join(', ')}`);
    if (found.size === 0) {
      if (existsKind) return { local: lv, target: 0n };
      fail(rec, section, 'no matching field in the target BTF');
    }
    const tv = [...found][0]!;
    if (kind === 'field_byte_offset' && !lf.bitSize && tfound && !tfound.bitSize) {
      const from = local.sizeOf(lf.type), to = target.sizeOf(tfound.type);
      if (from !== to) {
        const t = target.resolve(tfound.type);
        const ok = t.kind === 'ptr' || (t.kind === 'int' && !t.signed) || ((t.kind === 'enum' || t.kind === 'enum64') && !t.signed);
        return { local: lv, target: tv, resize: { from, to, ok } };
      }
    }
    return { local: lv, target: tv };
  }

  if (kind === 'enumval_exists' || kind === 'enumval_value') {
    const acc = parseAccess(rec, section);
    const et = local.resolve(rec.typeId);
    if (et.kind !== 'enum' && et.kind !== 'enum64') fail(rec, section, `local type is ${et.kind}, not an enum`);
    const ev = et.values[acc[0]!];
    if (!ev) fail(rec, section, `enumerator index ${acc[0]} out of range`);
    const lv = kind === 'enumval_exists' ? 1n : BigInt(ev.value);
    if (self) return { local: lv, target: lv };
    const found = new Set<bigint>();
    for (const c of candidates(local, target, local.skipQualifiers(rec.typeId))) {
      const tt = target.type(c);
      if (tt.kind !== 'enum' && tt.kind !== 'enum64') continue;
      const hit = (tt.values as readonly { name: string; value: number | bigint }[]).find((v) => essentialName(v.name) === essentialName(ev.name));
      if (hit) found.add(kind === 'enumval_exists' ? 1n : BigInt(hit.value));
    }
    if (found.size > 1) fail(rec, section, `ambiguous: target candidates give ${[...found].join(', ')}`);
    if (found.size === 0) {
      if (existsKind) return { local: lv, target: 0n };
      fail(rec, section, `enumerator '${ev.name}' not found in the target BTF`);
    }
    return { local: lv, target: [...found][0]! };
  }

  // Type-based relocations.
  const localValue = (): bigint => {
    switch (kind) {
      case 'type_id_local': case 'type_id_target': return BigInt(rec.typeId);
      case 'type_exists': case 'type_matches': return 1n;
      case 'type_size': return BigInt(local.sizeOf(rec.typeId));
      default: return fail(rec, section, 'unknown kind');
    }
  };
  const lv = localValue();
  if (kind === 'type_id_local' || self) return { local: lv, target: lv };
  const found = new Set<bigint>();
  for (const c of candidates(local, target, rec.typeId)) {
    if (!compatible(local, rec.typeId, target, c)) continue;
    found.add(kind === 'type_id_target' ? BigInt(c) : kind === 'type_size' ? BigInt(target.sizeOf(c)) : 1n);
  }
  if (found.size > 1 && kind === 'type_id_target') return { local: lv, target: [...found][0]! };
  if (found.size > 1) fail(rec, section, `ambiguous: target candidates give ${[...found].join(', ')}`);
  if (found.size === 0) {
    if (existsKind) return { local: lv, target: 0n };
    fail(rec, section, `type '${local.type(rec.typeId).name}' not found in the target BTF`);
  }
  return { local: lv, target: [...found][0]! };
}

/**
 * Patch one instruction with a computed relocation. The instruction must
 * hold the local value (what clang emitted); a mismatch is an ElfError.
 */
export function patchCoreInsn(insn: Instruction, res: CoreReloResult, rec: CoreReloRecord, section: string): Instruction {
  const cls = insn.op.opcode & CLASS_MASK;
  if (insn.op.kind === 'ld_imm64') {
    const cur = (BigInt(insn.imm2 >>> 0) << 32n) | BigInt(insn.imm >>> 0);
    if (cur !== BigInt.asUintN(64, res.local)) fail(rec, section, `lddw holds ${cur}, expected ${res.local}`);
    const v = BigInt.asUintN(64, res.target);
    return { ...insn, imm: Number(BigInt.asIntN(32, v & 0xffffffffn)), imm2: Number(BigInt.asIntN(32, v >> 32n)) };
  }
  if ((cls === BPF_ALU || cls === BPF_ALU64) && !insn.op.srcReg && (insn.op.kind === 'alu' || insn.op.kind === 'mov')) {
    if (BigInt(insn.imm) !== res.local && BigInt(insn.imm >>> 0) !== res.local) fail(rec, section, `${insn.op.name} immediate is ${insn.imm}, expected ${res.local}`);
    if (res.target > 0xffffffffn || res.target < -0x80000000n) fail(rec, section, `value ${res.target} does not fit a 32-bit immediate`);
    return { ...insn, imm: Number(BigInt.asIntN(32, res.target)) };
  }
  if ((cls === BPF_LDX || cls === BPF_ST || cls === BPF_STX) && rec.kind === 'field_byte_offset') {
    if (BigInt(insn.off) !== res.local) fail(rec, section, `${insn.op.name} offset is ${insn.off}, expected ${res.local}`);
    if (res.target > 0x7fffn || res.target < -0x8000n) fail(rec, section, `offset ${res.target} does not fit 16 bits`);
    let op = insn.op;
    if (res.resize) {
      // The field changed size: resize the access (libbpf does the same).
      const { from, to, ok } = res.resize;
      if (sizeBytes(op.opcode) !== from) fail(rec, section, `${op.name} accesses ${sizeBytes(op.opcode)} bytes of a ${from}-byte field`);
      if (!ok) fail(rec, section, `field is ${to} bytes in the target, ${from} here, and is not unsigned: the access cannot be resized`);
      const code = to === 1 ? BPF_B : to === 2 ? BPF_H : to === 4 ? BPF_W : to === 8 ? BPF_DW : -1;
      if (code < 0) fail(rec, section, `field is ${to} bytes in the target: no load of that size`);
      const next = lookup({ opcode: (op.opcode & ~SIZE_MASK) | code, dst: insn.dst, src: insn.src, off: insn.off, imm: insn.imm });
      if (!next || next.kind !== op.kind) fail(rec, section, `no ${op.kind} of ${to} bytes`);
      op = next;
    }
    return { ...insn, op, off: Number(res.target) };
  }
  return fail(rec, section, `cannot patch instruction ${insn.op.name}`);
}
