// BTF: the BPF Type Format (kernel documentation "BPF Type Format (BTF)";
// layouts from UAPI <linux/btf.h>, numbers are facts).
//
//   btf_header (24 bytes): magic u16 = 0xeB9F, version u8 = 1, flags u8,
//     hdr_len u32, type_off u32, type_len u32, str_off u32, str_len u32
//     (offsets relative to the end of the header).
//   btf_type (12 bytes): name_off u32, info u32, size|type u32
//     info: vlen bits 0-15, kind bits 24-28, kind_flag bit 31
//   followed by kind-specific data (INT: u32; ARRAY: 12; STRUCT/UNION: vlen *
//   12; ENUM: vlen * 8; FUNC_PROTO: vlen * 8; VAR: 4; DATASEC: vlen * 12;
//   DECL_TAG: 4; ENUM64: vlen * 12).

import { ElfError } from '../errors.js';
import { ByteReader } from './reader.js';

export const BTF_MAGIC = 0xeb9f;

export const BTF_KIND = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8,
  VOLATILE: 9, CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15,
  FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

const KIND_NAMES = ['UNKN', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE',
  'CONST', 'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64'] as const;

export type BtfKindName = 'void' | 'int' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'typedef' |
  'volatile' | 'const' | 'restrict' | 'func' | 'func_proto' | 'var' | 'datasec' | 'float' | 'decl_tag' |
  'type_tag' | 'enum64';

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  /** Offset of the member in bits from the start of the struct. */
  readonly bitOffset: number;
  /** Bitfield width in bits, 0 when the member is not a bitfield. */
  readonly bitSize: number;
}
export interface BtfParam { readonly name: string; readonly type: number }
export interface BtfEnumValue { readonly name: string; readonly value: number }
export interface BtfEnum64Value { readonly name: string; readonly value: bigint }
export interface BtfVarSecinfo { readonly type: number; readonly offset: number; readonly size: number }

interface Base { readonly id: number; readonly name: string }
export type BtfType =
  | Base & { readonly kind: 'void' }
  | Base & { readonly kind: 'int'; readonly size: number; readonly signed: boolean; readonly char: boolean; readonly bool: boolean; readonly bitsOffset: number; readonly bits: number }
  | Base & { readonly kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag'; readonly type: number }
  | Base & { readonly kind: 'array'; readonly type: number; readonly indexType: number; readonly nelems: number }
  | Base & { readonly kind: 'struct' | 'union'; readonly size: number; readonly members: readonly BtfMember[]; readonly bitfieldLayout: boolean }
  | Base & { readonly kind: 'enum'; readonly size: number; readonly signed: boolean; readonly values: readonly BtfEnumValue[] }
  | Base & { readonly kind: 'enum64'; readonly size: number; readonly signed: boolean; readonly values: readonly BtfEnum64Value[] }
  | Base & { readonly kind: 'fwd'; readonly union: boolean }
  | Base & { readonly kind: 'func'; readonly type: number; readonly linkage: number }
  | Base & { readonly kind: 'func_proto'; readonly ret: number; readonly params: readonly BtfParam[] }
  | Base & { readonly kind: 'var'; readonly type: number; readonly linkage: number }
  | Base & { readonly kind: 'datasec'; readonly size: number; readonly vars: readonly BtfVarSecinfo[] }
  | Base & { readonly kind: 'float'; readonly size: number }
  | Base & { readonly kind: 'decl_tag'; readonly type: number; readonly componentIdx: number };

/** The variant(s) of BtfType whose kind includes K (works for variants sharing a shape, like struct/union). */
export type BtfTypeOf<K extends BtfKindName> =
  BtfType extends infer T ? (T extends { kind: infer KK } ? (K extends KK ? T : never) : never) : never;

const LINKAGE = ['static', 'global', 'extern'];
const MAX_RESOLVE_DEPTH = 64;

/**
 * A parsed BTF blob. Type ids index `types` (id 0 is void). The raw bytes are
 * kept (`raw`) so the spec serialises as the blob itself.
 */
export class Btf {
  readonly types: BtfType[];
  private readonly strings: ByteReader;
  private byNameCache?: Map<string, number[]>;
  private readonly alignCache = new Map<number, number>();
  /** Work left for the current formatType call (bounds adversarial, exponentially branching types). */
  private budget = 0;

  private constructor(readonly raw: Uint8Array, types: BtfType[], strings: ByteReader) {
    this.types = types;
    this.strings = strings;
  }

  /** Parse a `.BTF` section. Throws ElfError (section '.BTF') on malformed input. */
  static parse(raw: Uint8Array, section = '.BTF'): Btf {
    const r = new ByteReader(raw, section);
    const magic = r.u16(0, 'BTF magic');
    if (magic !== BTF_MAGIC) {
      throw new ElfError('BTF_MAGIC', magic === 0x9feb ? 'big-endian BTF is not supported' : `bad BTF magic 0x${magic.toString(16)}`, section, 0);
    }
    const version = r.u8(2);
    if (version !== 1) throw new ElfError('BTF_VERSION', `unsupported BTF version ${version}`, section, 2);
    const hdrLen = r.u32(4, 'hdr_len');
    if (hdrLen < 24) throw new ElfError('BTF_HEADER', `BTF header length ${hdrLen} is shorter than 24`, section, 4);
    const typeOff = r.u32(8), typeLen = r.u32(12), strOff = r.u32(16), strLen = r.u32(20);
    const typeBytes = r.slice(hdrLen + typeOff, typeLen, 'type section');
    const strBytes = r.slice(hdrLen + strOff, strLen, 'string section');
    if (strLen > 0 && strBytes[0] !== 0) throw new ElfError('BTF_STRINGS', 'BTF string section does not start with an empty string', section, hdrLen + strOff);
    const strings = new ByteReader(strBytes, 'strings');
    const str = (off: number, what: string): string => (off === 0 ? '' : strings.cstr(off, what));
    const t = new ByteReader(typeBytes, 'types');
    const types: BtfType[] = [{ id: 0, name: '', kind: 'void' }];
    let off = 0;
    while (off < typeBytes.length) {
      const id = types.length;
      const at = off;
      const nameOff = t.u32(off, 'type name_off');
      const info = t.u32(off + 4, 'type info');
      const sizeOrType = t.u32(off + 8, 'type size/type');
      off += 12;
      const vlen = info & 0xffff;
      const kind = (info >>> 24) & 0x1f;
      const kflag = (info >>> 31) === 1;
      const name = str(nameOff, 'name of type');
      let ty: BtfType;
      switch (kind) {
        case BTF_KIND.INT: {
          const enc = t.u32(off, 'type int encoding');
          off += 4;
          const e = (enc >>> 24) & 0xf;
          ty = { id, name, kind: 'int', size: sizeOrType, signed: (e & 1) !== 0, char: (e & 2) !== 0, bool: (e & 4) !== 0, bitsOffset: (enc >>> 16) & 0xff, bits: enc & 0xff };
          break;
        }
        case BTF_KIND.PTR: ty = { id, name, kind: 'ptr', type: sizeOrType }; break;
        case BTF_KIND.TYPEDEF: ty = { id, name, kind: 'typedef', type: sizeOrType }; break;
        case BTF_KIND.VOLATILE: ty = { id, name, kind: 'volatile', type: sizeOrType }; break;
        case BTF_KIND.CONST: ty = { id, name, kind: 'const', type: sizeOrType }; break;
        case BTF_KIND.RESTRICT: ty = { id, name, kind: 'restrict', type: sizeOrType }; break;
        case BTF_KIND.TYPE_TAG: ty = { id, name, kind: 'type_tag', type: sizeOrType }; break;
        case BTF_KIND.ARRAY: {
          ty = { id, name, kind: 'array', type: t.u32(off, 'array type'), indexType: t.u32(off + 4, 'array index_type'), nelems: t.u32(off + 8, 'array nelems') };
          off += 12;
          break;
        }
        case BTF_KIND.STRUCT:
        case BTF_KIND.UNION: {
          const members: BtfMember[] = [];
          for (let i = 0; i < vlen; i++, off += 12) {
            const m = t.u32(off + 8, 'member offset');
            members.push({
              name: str(t.u32(off, 'member name'), 'name of member of type'),
              type: t.u32(off + 4, 'member type'),
              bitOffset: kflag ? m & 0xffffff : m,
              bitSize: kflag ? m >>> 24 : 0,
            });
          }
          ty = { id, name, kind: kind === BTF_KIND.STRUCT ? 'struct' : 'union', size: sizeOrType, members, bitfieldLayout: kflag };
          break;
        }
        case BTF_KIND.ENUM: {
          const values: BtfEnumValue[] = [];
          for (let i = 0; i < vlen; i++, off += 8) {
            const raw32 = t.u32(off + 4, 'enumerator value');
            values.push({ name: str(t.u32(off, 'enumerator name'), 'name of enumerator of type'), value: kflag ? raw32 | 0 : raw32 });
          }
          ty = { id, name, kind: 'enum', size: sizeOrType, signed: kflag, values };
          break;
        }
        case BTF_KIND.ENUM64: {
          const values: BtfEnum64Value[] = [];
          for (let i = 0; i < vlen; i++, off += 12) {
            const lo = BigInt(t.u32(off + 4, 'enumerator lo32'));
            const hi = BigInt(t.u32(off + 8, 'enumerator hi32'));
            const u = (hi << 32n) | lo;
            values.push({ name: str(t.u32(off, 'enumerator name'), 'name of enumerator of type'), value: kflag ? BigInt.asIntN(64, u) : u });
          }
          ty = { id, name, kind: 'enum64', size: sizeOrType, signed: kflag, values };
          break;
        }
        case BTF_KIND.FWD: ty = { id, name, kind: 'fwd', union: kflag }; break;
        case BTF_KIND.FUNC: ty = { id, name, kind: 'func', type: sizeOrType, linkage: vlen }; break;
        case BTF_KIND.FUNC_PROTO: {
          const params: BtfParam[] = [];
          for (let i = 0; i < vlen; i++, off += 8) {
            params.push({ name: str(t.u32(off, 'param name'), 'name of param of type'), type: t.u32(off + 4, 'param type') });
          }
          ty = { id, name, kind: 'func_proto', ret: sizeOrType, params };
          break;
        }
        case BTF_KIND.VAR: ty = { id, name, kind: 'var', type: sizeOrType, linkage: t.u32(off, 'var linkage') }; off += 4; break;
        case BTF_KIND.DATASEC: {
          const vars: BtfVarSecinfo[] = [];
          for (let i = 0; i < vlen; i++, off += 12) {
            vars.push({ type: t.u32(off, 'secinfo type'), offset: t.u32(off + 4, 'secinfo offset'), size: t.u32(off + 8, 'secinfo size') });
          }
          ty = { id, name, kind: 'datasec', size: sizeOrType, vars };
          break;
        }
        case BTF_KIND.FLOAT: ty = { id, name, kind: 'float', size: sizeOrType }; break;
        case BTF_KIND.DECL_TAG: ty = { id, name, kind: 'decl_tag', type: sizeOrType, componentIdx: t.i32(off, 'decl_tag component_idx') }; off += 4; break;
        default:
          throw new ElfError('BTF_KIND', `type ${id} has unknown kind ${kind}`, section, hdrLen + typeOff + at + 4);
      }
      types.push(ty);
    }
    const btf = new Btf(raw, types, strings);
    btf.validate(section, hdrLen + typeOff);
    return btf;
  }

  /** Every type reference must name an existing type. */
  private validate(section: string, base: number): void {
    const n = this.types.length;
    const ok = (id: number, what: string, self: BtfType): void => {
      if (id >= n) throw new ElfError('BTF_TYPE_ID', `type ${self.id} (${self.kind} '${self.name}'): ${what} refers to type ${id}, only ${n - 1} types`, section, base);
    };
    for (const ty of this.types) {
      switch (ty.kind) {
        case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
        case 'func': case 'var': case 'decl_tag':
          ok(ty.type, 'type', ty); break;
        case 'array': ok(ty.type, 'element type', ty); ok(ty.indexType, 'index type', ty); break;
        case 'struct': case 'union': for (const m of ty.members) ok(m.type, `member '${m.name}'`, ty); break;
        case 'func_proto': ok(ty.ret, 'return type', ty); for (const p of ty.params) ok(p.type, `param '${p.name}'`, ty); break;
        case 'datasec': for (const v of ty.vars) ok(v.type, 'variable', ty); break;
        default: break;
      }
    }
  }

  /** A string from the BTF string table (used by .BTF.ext). */
  stringAt(off: number, what = 'string'): string {
    return off === 0 ? '' : this.strings.cstr(off, what);
  }

  type(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw new ElfError('BTF_TYPE_ID', `no BTF type ${id} (object has ${this.types.length - 1})`, '.BTF');
    return t;
  }

  typeOfKind<K extends BtfKindName>(id: number, kind: K): BtfTypeOf<K> {
    const t = this.type(id);
    if (t.kind !== kind) throw new ElfError('BTF_KIND', `type ${id} is ${t.kind} '${t.name}', expected ${kind}`, '.BTF');
    return t as BtfTypeOf<K>;
  }

  /** Ids of types with this name (any kind), in id order. */
  idsByName(name: string): readonly number[] {
    if (!this.byNameCache) {
      const m = new Map<string, number[]>();
      for (const t of this.types) {
        if (!t.name) continue;
        const l = m.get(t.name);
        if (l) l.push(t.id); else m.set(t.name, [t.id]);
      }
      this.byNameCache = m;
    }
    return this.byNameCache.get(name) ?? [];
  }

  /** First type with this name and kind. */
  find<K extends BtfKindName>(name: string, kind: K): BtfTypeOf<K> | undefined {
    for (const id of this.idsByName(name)) {
      const t = this.types[id]!;
      if (t.kind === kind) return t as BtfTypeOf<K>;
    }
    return undefined;
  }

  /** Follow typedef, const, volatile, restrict and type_tag to the underlying type id. */
  skipQualifiers(id: number): number {
    for (let i = 0; i < MAX_RESOLVE_DEPTH; i++) {
      const t = this.type(id);
      if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') {
        id = t.type;
        continue;
      }
      return id;
    }
    throw new ElfError('BTF_LOOP', `type ${id}: modifier chain longer than ${MAX_RESOLVE_DEPTH} (loop?)`, '.BTF');
  }

  resolve(id: number): BtfType {
    return this.type(this.skipQualifiers(id));
  }

  /** Size in bytes of a sized type (ints, pointers, arrays, structs, enums, datasecs, vars). */
  sizeOf(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new ElfError('BTF_LOOP', `type ${id}: size depends on itself (loop?)`, '.BTF');
    const t = this.resolve(id);
    switch (t.kind) {
      case 'int': case 'struct': case 'union': case 'enum': case 'enum64': case 'float': case 'datasec':
        return t.size;
      case 'ptr': return 8;
      case 'array': {
        const n = t.nelems * this.sizeOf(t.type, depth + 1);
        if (!Number.isSafeInteger(n)) throw new ElfError('BTF_SIZE', `array type ${t.id} is too large`, '.BTF');
        return n;
      }
      case 'var': return this.sizeOf(t.type, depth + 1);
      default:
        throw new ElfError('BTF_SIZE', `type ${t.id} (${t.kind} '${t.name}') has no size`, '.BTF');
    }
  }

  /** Alignment in bytes, as a C compiler for BPF lays the type out. */
  alignOf(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new ElfError('BTF_LOOP', `type ${id}: alignment depends on itself`, '.BTF');
    const cached = this.alignCache.get(id);
    if (cached !== undefined) return cached;
    const a = this.computeAlign(id, depth);
    this.alignCache.set(id, a);
    return a;
  }

  private computeAlign(id: number, depth: number): number {
    const t = this.resolve(id);
    switch (t.kind) {
      case 'int': case 'enum': case 'enum64': case 'float': return Math.min(Math.max(t.size, 1), 8);
      case 'ptr': return 8;
      case 'array': return this.alignOf(t.type, depth + 1);
      case 'struct': case 'union': {
        let a = 1;
        for (const m of t.members) a = Math.max(a, this.alignOf(m.type, depth + 1));
        return a;
      }
      default: return 1;
    }
  }

  /** Name as C would write the type: `struct foo`, `unsigned int *`, `char[16]`, `int (*)(void *)`. */
  formatType(id: number): string {
    this.budget = 10000;
    return this.declare(id, '', 0);
  }

  private declare(id: number, inner: string, depth: number): string {
    if (depth > MAX_RESOLVE_DEPTH || --this.budget < 0) return `${inner}/* ... */`;
    const t = this.type(id);
    const sp = (s: string): string => (!inner ? s : inner.startsWith('[') ? s + inner : `${s} ${inner}`);
    switch (t.kind) {
      case 'void': return sp('void');
      case 'int': case 'float': case 'typedef': return sp(t.name || '(anon)');
      case 'struct': case 'union': return sp(`${t.kind}${t.name ? ' ' + t.name : ' (anon)'}`);
      case 'enum': case 'enum64': return sp(`enum${t.name ? ' ' + t.name : ' (anon)'}`);
      case 'fwd': return sp(`${t.union ? 'union' : 'struct'} ${t.name}`);
      case 'const': case 'volatile': case 'restrict': {
        const target = this.types[t.type];
        // Qualifier binds to the pointer when it wraps one: `int *const p`.
        if (target && target.kind === 'ptr') return this.declare(t.type, `${t.kind}${inner ? ' ' + inner : ''}`, depth + 1);
        return `${t.kind} ${this.declare(t.type, inner, depth + 1)}`;
      }
      case 'type_tag': return this.declare(t.type, inner, depth + 1);
      case 'ptr': {
        const target = this.types[t.type];
        const needParen = target && (target.kind === 'array' || target.kind === 'func_proto');
        return this.declare(t.type, needParen ? `(*${inner})` : `*${inner}`, depth + 1);
      }
      case 'array': return this.declare(t.type, `${inner}[${t.nelems}]`, depth + 1);
      case 'func_proto': {
        const ps = t.params.map((p) => (p.type === 0 && !p.name ? '...' : this.declare(p.type, '', depth + 1)));
        return this.declare(t.ret, `${inner}(${ps.length ? ps.join(', ') : 'void'})`, depth + 1);
      }
      case 'func': return this.declare(t.type, t.name, depth + 1);
      case 'var': return this.declare(t.type, t.name, depth + 1);
      case 'datasec': return `SEC("${t.name}")`;
      case 'decl_tag': return `__attribute__((btf_decl_tag("${t.name}")))`;
    }
  }

  /** A C definition of a struct/union/enum type (members with offsets), for reports. */
  formatDefinition(id: number): string {
    this.budget = 100000;
    const t = this.resolve(id);
    if (t.kind === 'struct' || t.kind === 'union') {
      const lines = t.members.map((m) => {
        const d = this.declare(m.type, m.name, 0);
        return `\t${d}${m.bitSize ? `: ${m.bitSize}` : ''}; /* offset ${m.bitOffset / 8 | 0}${m.bitOffset % 8 ? ` bit ${m.bitOffset % 8}` : ''} */`;
      });
      return `${t.kind}${t.name ? ' ' + t.name : ''} { /* size ${t.size} */\n${lines.join('\n')}\n}`;
    }
    if (t.kind === 'enum' || t.kind === 'enum64') {
      return `enum${t.name ? ' ' + t.name : ''} {\n${t.values.map((v) => `\t${v.name} = ${v.value},`).join('\n')}\n}`;
    }
    return this.formatType(id);
  }

  /**
   * The text `bpftool btf dump file X` prints (raw format), one line per
   * type plus its members, for comparing with the tool.
   */
  dumpRaw(): string {
    const out: string[] = [];
    const q = (s: string): string => `'${s || '(anon)'}'`;
    for (const t of this.types) {
      if (t.kind === 'void') continue;
      const h = `[${t.id}] ${KIND_NAMES[kindNumber(t.kind)]} ${q(t.name)}`;
      switch (t.kind) {
        case 'int': {
          const enc = t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)';
          out.push(`${h} size=${t.size} bits_offset=${t.bitsOffset} nr_bits=${t.bits} encoding=${enc}`);
          break;
        }
        case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
          out.push(`${h} type_id=${t.type}`); break;
        case 'array': out.push(`${h} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`); break;
        case 'struct': case 'union':
          out.push(`${h} size=${t.size} vlen=${t.members.length}`);
          for (const m of t.members) out.push(`\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitSize ? ` bitfield_size=${m.bitSize}` : ''}`);
          break;
        case 'enum': case 'enum64':
          out.push(`${h} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`);
          for (const v of t.values) out.push(`\t${q(v.name)} val=${v.value}${t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : ''}`);
          break;
        case 'fwd': out.push(`${h} fwd_kind=${t.union ? 'union' : 'struct'}`); break;
        case 'func': out.push(`${h} type_id=${t.type} linkage=${LINKAGE[t.linkage] ?? t.linkage}`); break;
        case 'func_proto':
          out.push(`${h} ret_type_id=${t.ret} vlen=${t.params.length}`);
          for (const p of t.params) out.push(`\t${q(p.name)} type_id=${p.type}`);
          break;
        case 'var': out.push(`${h} type_id=${t.type}, linkage=${LINKAGE[t.linkage] ?? t.linkage}`); break;
        case 'datasec':
          out.push(`${h} size=${t.size} vlen=${t.vars.length}`);
          for (const v of t.vars) {
            const vt = this.types[v.type];
            out.push(`\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${vt ? KIND_NAMES[kindNumber(vt.kind)] : 'UNKN'} ${q(vt?.name ?? '')})`);
          }
          break;
        case 'float': out.push(`${h} size=${t.size}`); break;
        case 'decl_tag': out.push(`${h} type_id=${t.type} component_idx=${t.componentIdx}`); break;
      }
    }
    return out.join('\n') + '\n';
  }

  /**
   * Render bytes of type `id` as a plain JS value, the way `bpftool map dump`
   * shows BTF-typed values: structs and unions as objects, arrays as arrays,
   * `char[]` as strings, enums as enumerator names, integers as numbers
   * (bigint for 64-bit ones), pointers as bigint.
   */
  formatValue(id: number, bytes: Uint8Array, bitOffset = 0): BtfValue {
    return this.value(id, new ByteReader(bytes, 'value'), bitOffset, 0);
  }

  private value(id: number, r: ByteReader, bitOff: number, depth: number): BtfValue {
    if (depth > MAX_RESOLVE_DEPTH) throw new ElfError('BTF_LOOP', `type ${id}: value nesting too deep`, '.BTF');
    const t = this.resolve(id);
    const byteOff = bitOff >>> 3;
    switch (t.kind) {
      case 'int': {
        if (t.bool && t.size === 1) return r.u8(byteOff) !== 0;
        return readInt(r, byteOff, t.size, t.signed, (bitOff & 7) + t.bitsOffset, t.bits);
      }
      case 'enum': case 'enum64': {
        const v = readInt(r, byteOff, t.size, t.signed, 0, t.size * 8);
        const hit = (t.values as readonly { name: string; value: number | bigint }[]).find((e) => BigInt(e.value) === BigInt(v));
        return hit ? hit.name : v;
      }
      case 'float': {
        const b = r.slice(byteOff, t.size, 'float');
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        return t.size === 4 ? dv.getFloat32(0, true) : t.size === 8 ? dv.getFloat64(0, true) : Array.from(b);
      }
      case 'ptr': return r.u64(byteOff, 'pointer');
      case 'array': {
        const el = this.resolve(t.type);
        if (el.kind === 'int' && el.size === 1 && (el.char || el.name === 'char' || el.name === 'signed char' || el.name === 'unsigned char')) {
          const b = r.slice(byteOff, t.nelems, 'char array');
          const nul = b.indexOf(0);
          const body = nul < 0 ? b : b.subarray(0, nul);
          const rest = nul < 0 ? new Uint8Array(0) : b.subarray(nul);
          if (body.every((c) => c >= 0x20 && c < 0x7f) && rest.every((c) => c === 0)) return String.fromCharCode(...body);
          return Array.from(b);
        }
        const es = this.sizeOf(t.type);
        if (es === 0 ? t.nelems > 65536 : t.nelems * es > r.length) {
          throw new ElfError('BTF_VALUE', `array type ${t.id} of ${t.nelems} elements does not fit ${r.length} bytes`, '.BTF');
        }
        const out: BtfValue[] = [];
        for (let i = 0; i < t.nelems; i++) out.push(this.value(t.type, r, bitOff + i * es * 8, depth + 1));
        return out;
      }
      case 'struct': case 'union': {
        const o: { [k: string]: BtfValue } = {};
        for (const m of t.members) {
          const mt = this.resolve(m.type);
          let v: BtfValue;
          if (m.bitSize) {
            const size = mt.kind === 'int' || mt.kind === 'enum' || mt.kind === 'enum64' ? mt.size : 8;
            const signed = (mt.kind === 'int' || mt.kind === 'enum' || mt.kind === 'enum64') && mt.signed;
            const abs = bitOff + m.bitOffset;
            v = readBits(r, abs, m.bitSize, signed, size);
          } else {
            v = this.value(m.type, r, bitOff + m.bitOffset, depth + 1);
          }
          if (m.name) o[m.name] = v;
          else if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(o, v); // anonymous struct/union
        }
        return o;
      }
      case 'datasec': {
        const o: { [k: string]: BtfValue } = {};
        for (const v of t.vars) o[this.type(v.type).name] = this.value(v.type, r, bitOff + v.offset * 8, depth + 1);
        return o;
      }
      case 'var': return this.value(t.type, r, bitOff, depth + 1);
      default:
        throw new ElfError('BTF_VALUE', `cannot render a value of type ${t.id} (${t.kind} '${t.name}')`, '.BTF');
    }
  }
}

export type BtfValue = number | bigint | boolean | string | BtfValue[] | { [k: string]: BtfValue };

function kindNumber(k: BtfKindName): number {
  return k === 'void' ? 0 : KIND_NAMES.indexOf(k.toUpperCase() as (typeof KIND_NAMES)[number]);
}

function readInt(r: ByteReader, off: number, size: number, signed: boolean, bitsOffset: number, bits: number): number | bigint {
  if (bitsOffset !== 0 || (bits !== 0 && bits !== size * 8)) return readBits(r, off * 8 + bitsOffset, bits, signed, size);
  switch (size) {
    case 1: { const v = r.u8(off); return signed ? (v << 24) >> 24 : v; }
    case 2: { const v = r.u16(off); return signed ? (v << 16) >> 16 : v; }
    case 4: return signed ? r.i32(off) : r.u32(off);
    case 8: { const v = r.u64(off); return signed ? BigInt.asIntN(64, v) : v; }
    case 16: {
      const lo = r.u64(off), hi = r.u64(off + 8);
      const v = (hi << 64n) | lo;
      return signed ? BigInt.asIntN(128, v) : v;
    }
    default: throw new ElfError('BTF_VALUE', `integer of ${size} bytes`, '.BTF');
  }
}

/** Little-endian bitfield of `bits` bits starting at absolute bit `bitOff`. */
function readBits(r: ByteReader, bitOff: number, bits: number, signed: boolean, size: number): number | bigint {
  let v = 0n;
  const first = bitOff >>> 3, last = (bitOff + bits - 1) >>> 3;
  for (let b = last; b >= first; b--) v = (v << 8n) | BigInt(r.u8(b));
  v = (v >> BigInt(bitOff & 7)) & ((1n << BigInt(bits)) - 1n);
  if (signed) v = BigInt.asIntN(bits, v);
  return size >= 8 ? v : Number(v);
}
