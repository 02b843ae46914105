// .BTF.ext: per-section function info, line info and CO-RE relocation
// records (kernel documentation "BPF Type Format", section ".BTF.ext").
//
//   header: magic u16 = 0xeB9F, version u8, flags u8, hdr_len u32,
//           func_info_off u32, func_info_len u32, line_info_off u32,
//           line_info_len u32, [core_relo_off u32, core_relo_len u32]
//   each info block: rec_size u32, then per section:
//           sec_name_off u32 (into .BTF strings), num_info u32, records.
//   func_info record:  insn_off u32 (bytes), type_id u32
//   line_info record:  insn_off u32, file_name_off u32, line_off u32,
//                      line_col u32 (line << 10 | column)
//   core_relo record:  insn_off u32, type_id u32, access_str_off u32, kind u32

import { ElfError } from '../errors.js';
import { BTF_MAGIC, type Btf } from './btf.js';
import { ByteReader } from './reader.js';

export interface FuncInfoRecord {
  /** Byte offset of the function's first instruction inside its ELF section. */
  readonly insnOff: number;
  readonly typeId: number;
}

export interface LineInfoRecord {
  readonly insnOff: number;
  readonly fileName: string;
  /** The source line's text. */
  readonly line: string;
  readonly lineNumber: number;
  readonly column: number;
}

export const CORE_RELO_KIND = [
  'field_byte_offset', 'field_byte_size', 'field_exists', 'field_signed', 'field_lshift_u64',
  'field_rshift_u64', 'type_id_local', 'type_id_target', 'type_exists', 'type_size',
  'enumval_exists', 'enumval_value', 'type_matches',
] as const;
export type CoreReloKind = (typeof CORE_RELO_KIND)[number];

export interface CoreReloRecord {
  readonly insnOff: number;
  /** Local (object BTF) root type id. */
  readonly typeId: number;
  /** Access string: colon-separated indices, e.g. `0:2:1`. */
  readonly access: string;
  readonly kind: CoreReloKind;
}

export interface BtfExt {
  /** Records by ELF section name. */
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfoRecord[]>;
  readonly lineInfo: ReadonlyMap<string, readonly LineInfoRecord[]>;
  readonly coreRelos: ReadonlyMap<string, readonly CoreReloRecord[]>;
}

const SEC = '.BTF.ext';

export function parseBtfExt(raw: Uint8Array, btf: Btf): BtfExt {
  const r = new ByteReader(raw, SEC);
  const magic = r.u16(0, 'BTF.ext magic');
  if (magic !== BTF_MAGIC) throw new ElfError('BTF_EXT_MAGIC', `bad .BTF.ext magic 0x${magic.toString(16)}`, SEC, 0);
  if (r.u8(2) !== 1) throw new ElfError('BTF_EXT_VERSION', `unsupported .BTF.ext version ${r.u8(2)}`, SEC, 2);
  const hdrLen = r.u32(4, 'hdr_len');
  if (hdrLen < 24) throw new ElfError('BTF_EXT_HEADER', `.BTF.ext header length ${hdrLen} is shorter than 24`, SEC, 4);
  const block = (offField: number, minRec: number, name: string,
    rec: (br: ByteReader, at: number, sec: string) => void): void => {
    const off = r.u32(offField, `${name}_off`), len = r.u32(offField + 4, `${name}_len`);
    if (len === 0) return;
    const start = hdrLen + off;
    const b = new ByteReader(r.slice(start, len, name), `${SEC} ${name}`);
    const recSize = b.u32(0, 'rec_size');
    if (recSize < minRec || recSize % 4 !== 0) throw new ElfError('BTF_EXT_RECORD', `${name} record size ${recSize} (need at least ${minRec}, a multiple of 4)`, SEC, start);
    let p = 4;
    while (p < len) {
      const sec = btf.stringAt(b.u32(p, 'sec_name_off'), `${name} section name`);
      const n = b.u32(p + 4, 'num_info');
      p += 8;
      if (n === 0) throw new ElfError('BTF_EXT_RECORD', `${name} for section '${sec}' has zero records`, SEC, start + p - 4);
      if (n * recSize > len - p) throw new ElfError('ELF_TRUNCATED', `${name} for section '${sec}': ${n} records of ${recSize} bytes run past the block`, SEC, start + p - 4);
      for (let i = 0; i < n; i++, p += recSize) rec(b, p, sec);
    }
  };
  const funcInfo = new Map<string, FuncInfoRecord[]>();
  const lineInfo = new Map<string, LineInfoRecord[]>();
  const coreRelos = new Map<string, CoreReloRecord[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T): void => {
    const l = m.get(k);
    if (l) l.push(v); else m.set(k, [v]);
  };
  block(8, 8, 'func_info', (b, p, sec) => push(funcInfo, sec, { insnOff: b.u32(p), typeId: b.u32(p + 4) }));
  block(16, 16, 'line_info', (b, p, sec) => {
    const lc = b.u32(p + 12);
    push(lineInfo, sec, {
      insnOff: b.u32(p),
      fileName: btf.stringAt(b.u32(p + 4), 'line_info file name'),
      line: btf.stringAt(b.u32(p + 8), 'line_info line'),
      lineNumber: lc >>> 10,
      column: lc & 0x3ff,
    });
  });
  if (hdrLen >= 32) {
    block(24, 16, 'core_relo', (b, p, sec) => {
      const k = b.u32(p + 12);
      const kind = CORE_RELO_KIND[k];
      if (!kind) throw new ElfError('BTF_EXT_RECORD', `CO-RE relocation of unknown kind ${k} in section '${sec}'`, SEC, p + 12);
      push(coreRelos, sec, { insnOff: b.u32(p), typeId: b.u32(p + 4), access: btf.stringAt(b.u32(p + 8), 'CO-RE access string'), kind });
    });
  }
  return { funcInfo, lineInfo, coreRelos };
}
