// tsbpf test-run FILE.o ...   (like `bpftool prog run`)
// tsbpf map dump FILE.o --map NAME   (a map's contents after loading, i.e. its initial state)

import { isTsbpfError } from '../errors.js';
import type { ObjectSpec } from '../elf/object.js';
import { type BpfMap } from '../runtime/maps/index.js';
import { progTypeByName } from '../runtime/progtypes/index.js';
import { type LoadedObject, type Program, Runtime, type TestRunResult } from '../runtime/runtime.js';
import { CmdError, CmdUsageError, guard, hexDump, parseCmd, parseHex, readFile, readSpec, str, strs, toHex } from './cmd-common.js';
import { selectPrograms } from './cmd-prog.js';
import type { Io } from './main.js';

export const TEST_RUN_HELP = `usage: tsbpf test-run FILE.o [--program P] [--type T] [--data HEX | --data-file F]
                      [--ctx HEX | --ctx-file F] [--repeat N] [--engine interp|jit]
                      [--set-var NAME=VALUE]... [--update MAP=KEY:VALUE]... [--verify] [--dump-maps] [--json]

Load a BPF object and run one of its programs as BPF_PROG_TEST_RUN does
(bpftool prog run): the packet (data_in) and context (ctx_in) in, the return
value, the packet and context after the run, and the mean duration out.
Repeats run on the same packet and maps, as in the kernel.

  --program P       function or section name (default: the only program)
  --type T          program type where the section does not say it (xdp,
                    sched_cls/tc, socket_filter/socket, kprobe, raw_tracepoint, ...)
  --data HEX        packet bytes ("aa bb" or "aabb"); --data-file F reads them
  --ctx HEX         context bytes (struct xdp_md, __sk_buff, pt_regs...); --ctx-file F
  --repeat N        runs (default 1); duration is the mean per run
  --engine E        jit (default with --verify) or interp (default otherwise)
  --set-var N=V     set a global variable (e.g. a const volatile in .rodata) before loading
  --update M=K:V    put key K, value V (hex) in map M before the run
  --verify          verify the object first (a refusal names the C line) and
                    run without per-access checks
  --dump-maps       print every map after the run
  --json            one JSON object: retval, duration_ns, data_out, ctx_out (hex), ...
`;

export const MAP_HELP = `usage: tsbpf map dump FILE.o [--map NAME] [--json]

Load a BPF object and print its maps (or the one named) as bpftool map dump
does: global data with their initial values, prog arrays with the programs
their 'values' initialisers put there, and so on. To see maps after a run,
use 'tsbpf test-run ... --dump-maps'.
`;

const XDP_NAMES = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const TC_NAMES: Record<number, string> = {
  [-1]: 'TC_ACT_UNSPEC', 0: 'TC_ACT_OK', 1: 'TC_ACT_RECLASSIFY', 2: 'TC_ACT_SHOT', 3: 'TC_ACT_PIPE', 4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED', 6: 'TC_ACT_REPEAT', 7: 'TC_ACT_REDIRECT',
};

function verdict(p: Program, r: bigint): string {
  const v = Number(BigInt.asIntN(32, r));
  if (p.type.name === 'xdp') return XDP_NAMES[v] ?? '';
  if (p.type.name === 'sched_cls' || p.type.name === 'sched_act') return TC_NAMES[v] ?? '';
  if (p.type.name === 'socket_filter') return v === 0 ? 'drop' : `keep ${v >>> 0} bytes`;
  return '';
}

/** Apply --set-var NAME=VALUE to a spec. */
function setVars(spec: ObjectSpec, vars: readonly string[]): void {
  for (const a of vars) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new CmdUsageError(`--set-var: '${a}' is not NAME=VALUE`);
    const name = a.slice(0, eq);
    const text = a.slice(eq + 1);
    const v = spec.variables.get(name);
    if (!v) throw new CmdError(`--set-var: no global variable '${name}' (the object has: ${[...spec.variables.keys()].join(', ') || 'none'})`);
    let value: bigint | Uint8Array;
    if (/^-?(0x[0-9a-f]+|\d+)$/i.test(text)) value = BigInt(text);
    else if (/^hex:/i.test(text)) value = parseHex(text.slice(4), '--set-var');
    else { value = new Uint8Array(v.size); value.set(new TextEncoder().encode(text).subarray(0, v.size)); }
    try {
      v.set(value);
    } catch (e) {
      throw new CmdError(`--set-var ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

function applyUpdates(obj: LoadedObject, updates: readonly string[]): void {
  for (const u of updates) {
    const m = /^([^=]+)=([0-9a-fA-Fx\s]*):([0-9a-fA-Fx\s]*)$/.exec(u);
    if (!m) throw new CmdUsageError(`--update: '${u}' is not MAP=KEYHEX:VALUEHEX`);
    const map = obj.map(m[1]!);
    if (!map) throw new CmdError(`--update: no map '${m[1]}' (the object has: ${[...obj.maps.keys()].join(', ')})`);
    map.update(parseHex(m[2]!, '--update key'), parseHex(m[3]!, '--update value'));
  }
}

function dumpMaps(obj: LoadedObject): { text: string; json: Record<string, unknown> } {
  let text = '';
  const json: Record<string, unknown> = {};
  for (const [name, m] of obj.maps) {
    text += `map ${name}:\n`;
    try {
      const d = m.dump();
      text += d.endsWith('\n') ? d : d + '\n';
      json[name] = m.dumpJson();
    } catch (e) {
      text += `  (cannot dump: ${e instanceof Error ? e.message : String(e)})\n`;
      json[name] = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  return { text, json };
}

function runJson(p: Program, r: TestRunResult, maps?: Record<string, unknown>): Record<string, unknown> {
  return {
    program: p.name,
    type: p.type.name,
    retval: Number(r.retval & 0xffffffffn),
    retval64: '0x' + r.retval.toString(16),
    verdict: verdict(p, r.retval),
    duration_ns: r.durationNs,
    data_out: toHex(r.data),
    ctx_out: toHex(r.ctx),
    insn_count: r.insnCount,
    tail_calls: r.tailCalls,
    ...(r.redirect ? { redirect: r.redirect } : {}),
    ...(r.clones.length ? { clones: r.clones.map((c) => ({ ifindex: c.ifindex, flags: c.flags, data: toHex(c.data) })) } : {}),
    ...(r.log.length ? { log: r.log } : {}),
    ...(maps ? { maps } : {}),
  };
}

export function loadFor(file: string, spec: ObjectSpec, type: string | undefined, rt: Runtime, verify = false): LoadedObject {
  if (type !== undefined && !progTypeByName(type) && !/^\d+$/.test(type)) {
    throw new CmdUsageError(`--type: unknown program type '${type}' (xdp, sched_cls, tc, socket_filter, socket, kprobe, tracepoint, raw_tracepoint, perf_event, cgroup_skb, sock_ops, cgroup_sock, cgroup_sock_addr, syscall, raw)`);
  }
  try {
    return rt.loadObject(spec, { ...(type !== undefined ? { type } : {}), verify });
  } catch (e) {
    if (isTsbpfError(e) && e.name === 'VerifierError') {
      const v = e as unknown as { source?: { file?: string; line?: number; text?: string }; hint?: string };
      const src = v.source?.line ? ` (${(v.source.file ?? '').split('/').pop()}:${v.source.line}: ${(v.source.text ?? '').trim()})` : '';
      throw new CmdError(`${file}: verifier: ${e.message.split('\n')[0]}${src}${v.hint ? `; ${v.hint}` : ''}`);
    }
    if (isTsbpfError(e)) throw new CmdError(`${file}: ${e.message}`);
    throw e;
  }
}

export function cmdTestRun(args: readonly string[], io: Io): number {
  return guard('test-run', io, () => {
    const { values, positionals } = parseCmd('test-run', args, {
      program: { type: 'string' }, type: { type: 'string' }, data: { type: 'string' }, 'data-file': { type: 'string' },
      ctx: { type: 'string' }, 'ctx-file': { type: 'string' }, repeat: { type: 'string' }, engine: { type: 'string' },
      json: { type: 'boolean' }, 'dump-maps': { type: 'boolean' }, 'set-var': { type: 'string', multiple: true },
      update: { type: 'string', multiple: true }, verify: { type: 'boolean' },
    });
    if (values['help']) { io.stdout(TEST_RUN_HELP); return 0; }
    if (positionals.length !== 1) throw new CmdUsageError(positionals.length ? `test-run: unexpected argument '${positionals[1]}'` : 'test-run: missing FILE');
    const file = positionals[0]!;
    if (values['data'] !== undefined && values['data-file'] !== undefined) throw new CmdUsageError('test-run: give --data or --data-file, not both');
    if (values['ctx'] !== undefined && values['ctx-file'] !== undefined) throw new CmdUsageError('test-run: give --ctx or --ctx-file, not both');
    const engineArg = str(values['engine']);
    if (engineArg !== undefined && engineArg !== 'interp' && engineArg !== 'jit') throw new CmdUsageError(`test-run: unknown engine '${engineArg}' (interp or jit)`);
    // Default: the JIT for a program loaded with --verify, the interpreter otherwise (Runtime.testRun decides).
    const engine = engineArg as 'interp' | 'jit' | undefined;
    let repeat = 1;
    if (values['repeat'] !== undefined) {
      repeat = Number(values['repeat']);
      if (!Number.isInteger(repeat) || repeat < 1) throw new CmdUsageError(`test-run: --repeat must be a positive integer, not '${str(values['repeat'])}'`);
    }
    const data = str(values['data']) !== undefined ? parseHex(str(values['data'])!, '--data')
      : str(values['data-file']) !== undefined ? readFile(str(values['data-file'])!) : undefined;
    const ctx = str(values['ctx']) !== undefined ? parseHex(str(values['ctx'])!, '--ctx')
      : str(values['ctx-file']) !== undefined ? readFile(str(values['ctx-file'])!) : undefined;

    const spec = readSpec(file);
    setVars(spec, strs(values['set-var']));
    const progs = selectPrograms(spec, file, str(values['program']));
    if (progs.length > 1) {
      throw new CmdUsageError(`${file}: ${progs.length} programs (${progs.map((p) => p.name).join(', ')}); choose one with --program`);
    }
    if (progs.length === 0) throw new CmdError(`${file}: no programs`);
    const logs: string[] = [];
    const rt = new Runtime({ host: { log: (l) => logs.push(l) } });
    const obj = loadFor(file, spec, str(values['type']), rt, values['verify'] === true);
    const prog = obj.program(progs[0]!.name)!;
    applyUpdates(obj, strs(values['update']));
    let r: TestRunResult;
    try {
      r = prog.run({ ...(data ? { data } : {}), ...(ctx ? { ctx } : {}), repeat, ...(engine ? { engine } : {}) });
    } catch (e) {
      if (isTsbpfError(e) && e.name === 'RuntimeFault') {
        const pc = (e as unknown as { pc: number }).pc;
        const src = prog.sourceAt(pc);
        throw new CmdError(`${file}: ${prog.name}: ${e.message}${src ? ` (${src.file.split('/').pop()}:${src.line}: ${src.source.trim()})` : ''}`);
      }
      if (isTsbpfError(e)) throw new CmdError(`${file}: ${prog.name}: ${e.message}`);
      throw e;
    }
    const dump = values['dump-maps'] ? dumpMaps(obj) : undefined;
    if (values['json']) {
      io.stdout(JSON.stringify(runJson(prog, r, dump?.json)) + '\n');
      return 0;
    }
    const v = verdict(prog, r.retval);
    let out = `retval: ${Number(r.retval & 0xffffffffn)}${v ? ` (${v})` : ''}${r.retval > 0xffffffffn ? `  [r0 = 0x${r.retval.toString(16)}]` : ''}\n`;
    out += `duration: ${r.durationNs} ns${repeat > 1 ? ` (mean of ${repeat} runs)` : ''}, ${r.insnCount} insns${r.tailCalls ? `, ${r.tailCalls} tail calls` : ''}\n`;
    if (r.redirect) out += `redirect: ${r.redirect.helper} to ifindex ${r.redirect.ifindex}${r.redirect.map ? ` (map ${r.redirect.map}[${r.redirect.key}])` : ''}\n`;
    if (r.data.length) out += `data_out (${r.data.length} bytes):\n${hexDump(r.data)}`;
    if (r.ctx.length && (ctx || prog.type.family !== 'xdp')) out += `ctx_out (${r.ctx.length} bytes):\n${hexDump(r.ctx)}`;
    for (const l of r.log) out += `log: ${l.replace(/\n$/, '')}\n`;
    if (dump) out += dump.text;
    io.stdout(out);
    return 0;
  });
}

export function cmdMap(args: readonly string[], io: Io): number {
  return guard('map', io, () => {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout(MAP_HELP);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== 'dump' && sub !== 'list') throw new CmdUsageError(`map: unknown subcommand '${sub}' (dump)`);
    const { values, positionals } = parseCmd('map', rest, { map: { type: 'string' }, json: { type: 'boolean' }, type: { type: 'string' } });
    if (values['help']) { io.stdout(MAP_HELP); return 0; }
    if (positionals.length !== 1) throw new CmdUsageError(positionals.length ? `map dump: unexpected argument '${positionals[1]}'` : 'map dump: missing FILE');
    const file = positionals[0]!;
    const spec = readSpec(file);
    const rt = new Runtime();
    const obj = loadFor(file, spec, str(values['type']), rt);
    const name = str(values['map']);
    let maps: [string, BpfMap][] = [...obj.maps];
    if (name !== undefined) {
      const m = obj.map(name);
      if (!m) throw new CmdError(`${file}: no map '${name}' (the object has: ${[...obj.maps.keys()].join(', ') || 'none'})`);
      maps = [[name, m]];
    }
    if (values['json']) {
      const j: Record<string, unknown> = {};
      for (const [n, m] of maps) j[n] = m.dumpJson();
      io.stdout(JSON.stringify(name !== undefined ? j[name] : j) + '\n');
      return 0;
    }
    let out = '';
    for (const [n, m] of maps) {
      if (maps.length > 1) out += `map ${n}:\n`;
      const d = m.dump();
      out += d.endsWith('\n') || d === '' ? d : d + '\n';
    }
    io.stdout(out);
    return 0;
  });
}
