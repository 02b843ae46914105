// Verifier inputs from a loaded ELF program (the elf layer's ProgramSpec):
// map references become indexes into the map list (LD_IMM64 src=1/2, imm =
// index, as a file descriptor would be in the kernel), line info and
// function names come along. Type-only imports: the verifier does not run
// the ELF reader.

import type { MapSpec, ProgramSpec } from '../elf/index.js';
import type { Instruction } from '../isa/instruction.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../isa/opcodes.js';
import type { FuncInfo, LineInfo, MapInfo, VerifyOptions } from './verifier.js';

export interface ElfVerifyInputs {
  readonly insns: Instruction[];
  readonly options: VerifyOptions;
}

/** Instructions and options to verify one program of an object. */
export function verifyInputsFromSpec(prog: ProgramSpec, maps: readonly MapSpec[], extra: Partial<VerifyOptions> = {}): ElfVerifyInputs {
  const index = new Map<string, number>(maps.map((m, i) => [m.name, i]));
  const bySlot = new Map<number, { map: string; kind: 'map' | 'map_value'; offset: number }>();
  for (const r of prog.mapRefs) bySlot.set(r.slot, r);
  const insns: Instruction[] = [];
  let slot = 0;
  for (const x of prog.insns) {
    const ref = bySlot.get(slot);
    if (ref && x.op.kind === 'ld_imm64') {
      const i = index.get(ref.map);
      if (i === undefined) insns.push(x);
      else insns.push({ ...x, src: ref.kind === 'map' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE, imm: i, imm2: ref.kind === 'map' ? 0 : ref.offset });
    } else {
      insns.push(x);
    }
    slot += x.op.kind === 'ld_imm64' ? 2 : 1;
  }
  const mapInfos: MapInfo[] = maps.map((m) => ({
    type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, name: m.name,
    ...(m.innerMap ? { inner: { type: m.innerMap.type, keySize: m.innerMap.keySize, valueSize: m.innerMap.valueSize, maxEntries: m.innerMap.maxEntries } } : {}),
  }));
  const lineInfo: LineInfo[] = prog.lineInfo.map((l) => ({ insn: l.slot, file: l.file, line: l.line, column: l.column, text: l.source }));
  const funcs: FuncInfo[] = prog.funcs.map((f) => ({ insn: f.slot, name: f.name }));
  return { insns, options: { progType: prog.type, ...(prog.attachType !== undefined ? { expectedAttachType: prog.attachType } : {}), maps: mapInfos, lineInfo, funcs, ...extra } };
}
