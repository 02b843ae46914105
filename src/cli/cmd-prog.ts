// tsbpf prog list FILE.o   and   tsbpf disasm FILE.o (objects; raw bytecode
// stays with the disasm of main.ts).

import type { ObjectSpec, ProgramSpec } from '../elf/object.js';
import { mapTypeName } from '../elf/maps.js';
import { formatInstruction } from '../isa/disasm.js';
import { type Instruction, encode, slotIndices } from '../isa/instruction.js';
import { BPF_PSEUDO_FUNC } from '../isa/opcodes.js';
import { progTypeById } from '../runtime/progtypes/index.js';
import { CmdUsageError, guard, parseCmd, readSpec, str, toHex } from './cmd-common.js';
import type { Io } from './main.js';

export const PROG_HELP = `usage: tsbpf prog list FILE.o [--json]

List the programs of a BPF object: name, program type, ELF section,
instruction count (slots; lddw counts 2), functions linked in, and the maps
each one references. An object that cannot be read exits 1 with the
loader's error.

  --json   print an array of {name, section, type, type_id, insns, funcs, maps}
`;

export const DISASM_OBJECT_HELP = `usage: tsbpf disasm FILE.o [--program P] [--bytes] [--no-source]

Disassemble the programs of a BPF object as they are linked for loading
(entry function, then its subprograms), with the C source lines of the
object's line info interleaved (like llvm-objdump -S or bpftool prog dump
xlated linum), map references by name and helper calls by name.

  --program P   only the program whose function (or section) name is P
  --bytes       print the instruction bytes too
  --no-source   leave out the source lines
(For raw bytecode files, see 'tsbpf disasm --help' on a non-ELF file.)
`;

export function typeName(id: number): string {
  return progTypeById(id)?.name ?? (id === 0 ? 'unspec' : `type ${id}`);
}

/** The programs matching --program (function name first, then section name). */
export function selectPrograms(spec: ObjectSpec, file: string, program: string | undefined): ProgramSpec[] {
  if (program === undefined) return spec.programs;
  const byName = spec.programs.filter((p) => p.name === program);
  if (byName.length) return byName;
  const bySec = spec.programs.filter((p) => p.section === program);
  if (bySec.length) return bySec;
  const names = spec.programs.map((p) => `${p.name} (${p.section})`).join(', ');
  throw new CmdUsageError(`${file}: no program or section named '${program}'; the object has: ${names || 'no programs'}`);
}

export function cmdProg(args: readonly string[], io: Io): number {
  return guard('prog', io, () => {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout(PROG_HELP);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== 'list' && sub !== 'show') throw new CmdUsageError(`prog: unknown subcommand '${sub}' (list)`);
    const { values, positionals } = parseCmd('prog', rest, { json: { type: 'boolean' } });
    if (values['help']) { io.stdout(PROG_HELP); return 0; }
    if (positionals.length !== 1) throw new CmdUsageError(positionals.length ? `prog list: unexpected argument '${positionals[1]}'` : 'prog list: missing FILE');
    const file = positionals[0]!;
    const spec = readSpec(file);
    const rows = spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: typeName(p.type),
      type_id: p.type,
      insns: slotIndices(p.insns)[p.insns.length]!,
      funcs: p.funcs.map((f) => f.name),
      maps: [...new Set(p.mapRefs.map((r) => r.map))],
      ...(p.attachTo ? { attach_to: p.attachTo } : {}),
      license: p.license,
    }));
    if (values['json']) {
      io.stdout(JSON.stringify(rows) + '\n');
      return 0;
    }
    if (rows.length === 0) {
      io.stdout(`${file}: no programs\n`);
      return 0;
    }
    const w = (k: (r: (typeof rows)[number]) => string, h: string): number => Math.max(h.length, ...rows.map((r) => k(r).length));
    const wn = w((r) => r.name, 'NAME');
    const wt = w((r) => r.type, 'TYPE');
    const ws = w((r) => r.section, 'SECTION');
    let out = `${'NAME'.padEnd(wn)}  ${'TYPE'.padEnd(wt)}  ${'SECTION'.padEnd(ws)}  INSNS  MAPS\n`;
    for (const r of rows) {
      const extra = r.funcs.length > 1 ? `  (calls ${r.funcs.slice(1).join(', ')})` : '';
      out += `${r.name.padEnd(wn)}  ${r.type.padEnd(wt)}  ${r.section.padEnd(ws)}  ${String(r.insns).padStart(5)}  ${r.maps.join(', ') || '-'}${extra}\n`;
    }
    const maps = spec.maps.map((m) => `${m.name} (${mapTypeName(m.type).toLowerCase()}, key ${m.keySize}, value ${m.valueSize}, max ${m.maxEntries})`);
    if (maps.length) out += `maps: ${maps.join('; ')}\n`;
    io.stdout(out);
    return 0;
  });
}

/** One instruction as the object disassembly prints it (names for maps, helpers, functions). */
export function formatLinked(p: ProgramSpec, x: Instruction, slot: number, funcAt: ReadonlyMap<number, string>): string {
  if (x.op.kind === 'ld_imm64') {
    const r = p.mapRefs.find((m) => m.slot === slot);
    if (r) return r.kind === 'map' ? `r${x.dst} = map[${r.map}] ll` : `r${x.dst} = map_value[${r.map}]${r.offset ? `+${r.offset}` : ''} ll`;
    if (x.src === BPF_PSEUDO_FUNC) {
      const t = slot + 1 + x.imm;
      return `r${x.dst} = func[${funcAt.get(t) ?? `pc${t}`}] ll`;
    }
  }
  if (x.op.kind === 'call_local') {
    const t = slot + 1 + x.imm;
    return `call pc${x.imm >= 0 ? '+' : ''}${x.imm} <${funcAt.get(t) ?? `slot ${t}`}>`;
  }
  return formatInstruction(x, { helperNames: true });
}

function bytesOf(x: Instruction): string {
  return toHex(encode([x])).replace(/(..)(?!$)/g, '$1 ');
}

export function disasmProgram(p: ProgramSpec, opts: { bytes?: boolean; source?: boolean } = {}): string {
  const idx = slotIndices(p.insns);
  const funcAt = new Map(p.funcs.map((f) => [f.slot, f.name]));
  const lineAt = new Map(p.lineInfo.map((l) => [l.slot, l]));
  let out = '';
  let lastLine = '';
  p.insns.forEach((x, i) => {
    const slot = idx[i]!;
    const fn = funcAt.get(slot);
    if (fn !== undefined && slot !== 0) out += `\n${fn}:\n`;
    const li = opts.source === false ? undefined : lineAt.get(slot);
    if (li && li.line > 0) {
      const key = `${li.file}:${li.line}`;
      if (key !== lastLine) {
        out += `; ${li.source.trim()}  [${li.file.split('/').pop()}:${li.line}]\n`;
        lastLine = key;
      }
    }
    out += `${String(slot).padStart(6)}:\t${opts.bytes ? bytesOf(x) + '\t' : ''}${formatLinked(p, x, slot, funcAt)}\n`;
  });
  return out;
}

export function cmdDisasmObject(args: readonly string[], io: Io): number {
  return guard('disasm', io, () => {
    const { values, positionals } = parseCmd('disasm', args, {
      program: { type: 'string' }, bytes: { type: 'boolean' }, 'no-source': { type: 'boolean' },
    });
    if (values['help']) { io.stdout(DISASM_OBJECT_HELP); return 0; }
    if (positionals.length !== 1) throw new CmdUsageError(positionals.length ? `disasm: unexpected argument '${positionals[1]}'` : 'disasm: missing FILE');
    const file = positionals[0]!;
    const spec = readSpec(file);
    const progs = selectPrograms(spec, file, str(values['program']));
    let out = '';
    progs.forEach((p, k) => {
      if (k) out += '\n';
      out += `${p.name}: ${typeName(p.type)} program, section ${p.section}, ${slotIndices(p.insns)[p.insns.length]} insns\n`;
      out += disasmProgram(p, { bytes: values['bytes'] === true, source: values['no-source'] !== true });
    });
    io.stdout(out);
    return 0;
  });
}
