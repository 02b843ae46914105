// `tsbpf verify`: run the verifier over the programs of an object (or a raw
// program of a given type) and explain refusals like a compiler error.

import { readFileSync } from 'node:fs';
import { isTsbpfError, type VerifierError } from '../errors.js';
import { decode } from '../isa/instruction.js';
import { progTypeByName } from '../runtime/progtypes/index.js';
import { MAP_TYPE, verify, verifyInputsFromSpec, type MapInfo, type VerifyOptions, type VerifyResult } from '../verifier/index.js';
import { CmdError, CmdUsageError, guard, parseCmd, readFile, readSpec, str } from './cmd-common.js';
import { selectPrograms } from './cmd-prog.js';
import type { Io } from './main.js';

export const VERIFY_HELP = `usage: tsbpf verify FILE.o [--program P] [--type T] [--log-level 1|2] [--unprivileged] [--json]
       tsbpf verify --raw FILE.bin --type T [--maps MAPS.json] [--log-level 1|2] [--json]

Verify programs as the kernel's BPF_PROG_LOAD would: every program of the
object (or the one named by --program, a function or section name), one by
one. Exit 0 when all are accepted, 1 when one is refused.

  --program P       only this program (function or section name)
  --type T          program type where the section does not say it (xdp, tc, socket_filter, ...)
  --log-level N     print the verifier log in the kernel's format (1: the path
                    to the verdict, 2: every instruction)
  --unprivileged    the strict rules of an unprivileged loader
  --json            one JSON array: program, ok, processed, error {code, pc, message, source, hint, path}
  --raw             FILE is bare instructions (8 bytes each, little-endian)
  --maps MAPS.json  with --raw: a JSON array of map definitions
                    {type, key_size, value_size, max_entries, flags?, inner?};
                    an lddw with src 1 (map fd) or 2 (map value) and imm = i
                    refers to the i-th of them
`;

export function cmdVerify(args: readonly string[], io: Io): number {
  return guard('verify', io, () => {
    const { values, positionals } = parseCmd('verify', args, {
      program: { type: 'string' }, type: { type: 'string' }, 'log-level': { type: 'string' },
      unprivileged: { type: 'boolean' }, json: { type: 'boolean' }, raw: { type: 'boolean' }, maps: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values['help']) { io.stdout(VERIFY_HELP); return 0; }
    if (positionals.length !== 1) throw new CmdUsageError(positionals.length ? `verify: unexpected argument '${positionals[1]}'` : 'verify: missing FILE');
    const file = positionals[0]!;
    const ll = str(values['log-level']);
    if (ll !== undefined && ll !== '1' && ll !== '2') throw new CmdUsageError(`--log-level: expected 1 or 2, got '${ll}'`);
    const logLevel = (ll === undefined ? 0 : Number(ll)) as 0 | 1 | 2;
    const type = str(values['type']);
    let progType: number | undefined;
    if (type !== undefined) {
      const t = progTypeByName(type);
      if (t) progType = t.id;
      else if (/^\d+$/.test(type)) progType = Number(type);
      else throw new CmdUsageError(`--type: unknown program type '${type}'`);
    }
    const extra: Partial<VerifyOptions> = { logLevel, ...(values['unprivileged'] ? { unprivileged: true } : {}) };

    const jobs: { name: string; run: () => VerifyResult }[] = [];
    if (values['raw']) {
      if (progType === undefined) throw new CmdUsageError('verify --raw needs --type T');
      const insns = decode(readFile(file));
      const maps = values['maps'] ? readMaps(str(values['maps'])!) : [];
      jobs.push({ name: file, run: () => verify(insns, { progType: progType!, maps, ...extra }) });
    } else {
      const spec = readSpec(file);
      for (const p of selectPrograms(spec, file, str(values['program']))) {
        const inputs = verifyInputsFromSpec(p, spec.maps, { ...extra, ...(progType !== undefined ? { progType } : {}) });
        jobs.push({ name: p.name, run: () => verify(inputs.insns, inputs.options) });
      }
    }

    let refused = 0;
    const rows: unknown[] = [];
    for (const j of jobs) {
      const r = j.run();
      if (!r.ok) refused++;
      if (values['json']) {
        rows.push({
          program: j.name, ok: r.ok, processed: r.stats.processed, time_ms: Number(r.stats.timeMs.toFixed(3)),
          ...(r.error ? { error: errorJson(r.error) } : {}),
          ...(logLevel ? { log: r.log } : {}),
        });
        continue;
      }
      if (logLevel && r.log) io.stdout(r.log.endsWith('\n') ? r.log : r.log + '\n');
      if (r.ok) {
        io.stdout(`${j.name}: accepted (processed ${r.stats.processed} insns, ${r.stats.timeMs.toFixed(1)} ms)\n`);
      } else {
        io.stdout(formatRefusal(file, j.name, r.error!));
      }
    }
    if (values['json']) io.stdout(JSON.stringify(rows) + '\n');
    return refused ? 1 : 0;
  });
}

function errorJson(e: VerifierError): unknown {
  return {
    code: e.code, pc: e.pc, message: e.reason,
    ...(e.source ? { source: e.source } : {}),
    ...(e.regs ? { regs: e.regs } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
    path: e.path,
  };
}

/** A refusal as a compiler error: `file.c:42:5: error: ...`, the source line, a caret, path and hint. */
export function formatRefusal(file: string, program: string, e: VerifierError): string {
  const s = e.source;
  const where = s?.line ? `${s.file ?? file}:${s.line}${s.column ? `:${s.column}` : ''}` : `${file}`;
  let out = `${where}: error: ${program}: insn ${e.pc}: ${e.reason} [${e.code}]\n`;
  if (s?.text) {
    const text = s.text.replace(/\t/g, '    ');
    const lead = text.length - text.trimStart().length;
    const col = s.column && s.column > 0 ? Math.min(s.column - 1 + (text.length - s.text.length), text.length) : lead;
    out += `  ${String(s.line).padStart(5)} | ${text}\n`;
    out += `        | ${' '.repeat(Math.max(0, col))}^\n`;
  }
  if (e.regs) out += `  registers: ${e.regs}\n`;
  if (e.path.length) out += `  path: ${e.path.map((p) => `${p.pc}${p.taken ? ' taken' : ' not taken'}`).join(' -> ')}\n`;
  if (e.hint) out += `  hint: ${e.hint}\n`;
  return out;
}

function readMaps(file: string): MapInfo[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CmdError(`${file}: ${e instanceof SyntaxError ? `not JSON: ${e.message}` : (e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new CmdError(`${file}: expected a JSON array of map definitions`);
  return raw.map((m, i) => mapInfo(m, `${file}: map ${i}`));
}

function mapInfo(m: unknown, where: string): MapInfo {
  if (typeof m !== 'object' || m === null) throw new CmdError(`${where}: expected an object`);
  const o = m as Record<string, unknown>;
  const num = (k: string, dflt?: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new CmdError(`${where}: '${k}' must be a non-negative integer`);
    return v;
  };
  let type: number;
  if (typeof o['type'] === 'string') {
    const t = (MAP_TYPE as Record<string, number>)[o['type'].toUpperCase().replace(/^BPF_MAP_TYPE_/, '')];
    if (t === undefined) throw new CmdError(`${where}: unknown map type '${o['type']}'`);
    type = t;
  } else {
    type = num('type');
  }
  return {
    type, keySize: num('key_size', 0), valueSize: num('value_size', 0), maxEntries: num('max_entries', 0), flags: num('flags', 0),
    ...(typeof o['name'] === 'string' ? { name: o['name'] } : {}),
    ...(o['inner'] !== undefined ? { inner: mapInfo(o['inner'], `${where} inner`) } : {}),
  };
}

export { isTsbpfError };
