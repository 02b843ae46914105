// npm run bench: tsbpf's interpreter and JIT side by side with the Linux
// kernel's JIT, in one run (see docs/benchmarks.md).
//
//   node dist/bench/run.js [--quick] [--json] [--filter NAME[,NAME]] [--write] [--no-kernel]
//
// For each program of bench/suite.ts and each packet size: ns per packet
// for the interpreter, the JIT called once per packet, the JIT batched (many
// packets per call into WebAssembly) and the kernel's JIT through
// BPF_PROG_TEST_RUN with a large repeat count, with the ratios; then the
// interpreter's ns per executed instruction, JIT compile time per 1,000
// instructions, verifier time next to the kernel's load time, packets per
// second of an in-memory pcap replay, and memory per entry of a
// 1,000,000-entry hash map. The table goes to stdout, progress to stderr.

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { OracleError } from '../src/cli/kernel-oracle.js';
import { type Instruction, JitProgram, type ObjectSpec, type ProgramSpec, TsbpfError, isTsbpfError, loadObject } from '../src/core.js';
import { DirectDriver } from './direct.js';
import type { Driver, EngineName, Outcome } from './engines.js';
import { hex } from './engines.js';
import { BenchError } from './errors.js';
import { type KernelProgram, KernelTimer, kernelAvailable, kernelLoadTime, kernelOnce, kernelProgram } from './kernel.js';
import { type Clock, type MeasureOptions, Timed, median, now } from './measure.js';
import { mapMemory, pcapReplay, type MapMemory, type PcapReplay } from './extras.js';
import { COMPILE_ONLY, PACKET_SIZES, SUITE, objectBytes } from './suite.js';
import { formatReport, writeDocs } from './report.js';
import { runtimeDriver } from './runtime.js';

export interface BenchOptions {
  readonly quick?: boolean;
  /** Program names (exact or substring). */
  readonly filter?: readonly string[];
  /** Skip the kernel even where it is available. */
  readonly noKernel?: boolean;
  /** Only the agreement check (no timing, no extras). */
  readonly checkOnly?: boolean;
  /** Engine driver: the Runtime (default) or the engines called directly (programs without maps only). */
  readonly driver?: 'runtime' | 'direct';
  /** Clock of the tsbpf columns (default 'cpu': process CPU time; see measure.ts). */
  readonly clock?: Clock;
  /** Progress lines (default: to stderr). */
  readonly progress?: (line: string) => void;
}

export interface AgreementCheck {
  readonly engine: EngineName;
  /** 'kernel' or 'interp' (when the kernel is not available). */
  readonly against: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Row {
  readonly program: string;
  readonly size: number;
  readonly compute: boolean;
  readonly insns: number;
  /** Instructions executed per run. */
  readonly executed: number;
  readonly interpNs: number | null;
  readonly jitNs: number | null;
  readonly jitBatchNs: number | null;
  readonly kernelNs: number | null;
  /** Why a column is empty. */
  readonly notes: string[];
  readonly agreement: AgreementCheck[];
}

export interface CompileRow {
  readonly program: string;
  readonly insns: number;
  readonly generateMs: number;
  readonly wasmCompileMs: number;
  /** Whole compile() on the benchmark's clock (CPU time by default). */
  readonly ms: number;
  readonly msPer1k: number;
}

export interface VerifyRow {
  readonly program: string;
  readonly insns: number;
  /** tsbpf's verifier, ms (null when src/verifier has no `verify` yet). */
  readonly oursMs: number | null;
  readonly oursNote?: string;
  readonly kernelVerifierUs: number | null;
  readonly kernelLoadWallMs: number | null;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly kernel: string;
  readonly date: string;
}

export interface TargetResult {
  readonly target: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | null;
  readonly by: string;
}

export interface BenchReport {
  readonly machine: Machine;
  readonly quick: boolean;
  readonly clock: Clock;
  readonly driver: string;
  readonly how: string;
  readonly kernel: { readonly available: boolean; readonly reason?: string };
  readonly rows: Row[];
  readonly interpNsPerInsn: {
    /** The target's figure: mean over programs of the net ns/insn (raw when net is false). */
    readonly mean: number | null;
    /** Mean of the raw figures (per-run overhead included), xdp_drop left out. */
    readonly rawMean: number | null;
    readonly net: boolean;
    readonly perProgram: Array<{ program: string; raw: number; net: number | null }>;
  };
  readonly compile: CompileRow[];
  readonly verify: VerifyRow[];
  /** ns of one program.run({ data }) (repeat 1) of xdp_drop on 64 bytes, per engine: the fixed cost of a test run. */
  readonly perCall: { readonly interp: number; readonly jit: number } | { readonly error: string };
  readonly pcap: PcapReplay | { readonly error: string };
  readonly mapMemory: MapMemory | { readonly error: string };
  readonly targets: TargetResult[];
}

function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch { /* not Linux */ }
  return { cpu, cores: os.cpus().length, node: process.version, kernel: `${os.type()} ${os.release()}`, date: new Date().toISOString() };
}

function selected(filter: readonly string[] | undefined): typeof SUITE {
  if (!filter || filter.length === 0) return SUITE;
  const out = SUITE.filter((p) => filter.some((f) => p.name === f || p.name.includes(f)));
  if (out.length === 0) {
    throw new BenchError('BENCH_ARGS', `--filter ${filter.join(',')} matches no program (have: ${SUITE.map((p) => p.name).join(', ')})`);
  }
  return out;
}

function errText(e: unknown): string {
  if (e instanceof OracleError) return e.reason;
  return e instanceof Error ? e.message : String(e);
}

function kernelOutcome(k: KernelProgram, data: Uint8Array): Outcome {
  const r = kernelOnce(k, data);
  const maps = new Map<string, Map<string, string>>();
  r.maps.forEach((m, i) => maps.set(k.mapNames[i]!, new Map(m.entries.map((e) => [hex(e.key), hex(e.value)]))));
  return { retval: r.retval, data: r.dataOut, maps };
}

function diff(a: Outcome, b: Outcome, maps: readonly string[]): string {
  const out: string[] = [];
  if (a.retval !== b.retval) out.push(`retval ${a.retval} != ${b.retval}`);
  if (hex(a.data) !== hex(b.data)) {
    let i = 0;
    while (i < a.data.length && a.data[i] === b.data[i]) i++;
    out.push(a.data.length !== b.data.length ? `packet length ${a.data.length} != ${b.data.length}` : `packet differs at byte ${i}`);
  }
  for (const name of maps) {
    const x = a.maps.get(name), y = b.maps.get(name);
    if (!x || !y) { if (x || y) out.push(`map ${name} missing on one side`); continue; }
    const keys = new Set([...x.keys(), ...y.keys()]);
    let bad = 0;
    let first = '';
    for (const key of keys) {
      if (x.get(key) !== y.get(key)) { bad++; first ||= `key ${key}: ${x.get(key) ?? 'absent'} != ${y.get(key) ?? 'absent'}`; }
    }
    if (bad) out.push(`map ${name}: ${bad} entries differ (${first})`);
  }
  return out.join('; ');
}

/** Every engine against the kernel (or the interpreter where the kernel is not available), one run from fresh state. */
export function agreement(driver: Driver, program: string, packet: Uint8Array, k: KernelProgram | undefined): AgreementCheck[] {
  const p = SUITE.find((x) => x.name === program);
  if (!p) throw new BenchError('BENCH_ARGS', `no program ${program}`);
  const inst = driver.open(program, packet);
  const ref = k ? kernelOutcome(k, packet) : inst.once('interp');
  const against = k ? 'kernel' : 'interp';
  const engines: EngineName[] = k ? ['interp', 'jit', 'jitBatch'] : ['jit', 'jitBatch'];
  return engines.map((engine) => {
    try {
      const d = diff(inst.once(engine), ref, p.compareMaps);
      return { engine, against, ok: d === '', detail: d };
    } catch (e) {
      return { engine, against, ok: false, detail: `failed: ${errText(e)}` };
    }
  });
}

async function pickDriver(name: 'runtime' | 'direct' | undefined): Promise<Driver> {
  if (name === 'direct') return new DirectDriver();
  return (await runtimeDriver()) ?? new DirectDriver();
}

const ENGINES: readonly EngineName[] = ['interp', 'jit', 'jitBatch'];

function fmtSize(n: number): string {
  return `${n}B`;
}

export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const log = o.progress ?? ((l: string) => process.stderr.write(l + '\n'));
  const quick = o.quick ?? false;
  const progs = selected(o.filter);
  const clock: Clock = o.clock ?? 'cpu';
  const mo: MeasureOptions = quick ? { minMs: 15, reps: 3, warmupMs: 50, clock } : { minMs: 100, reps: 5, warmupMs: 200, clock };
  const kernelTargetMs = quick ? 15 : 100;
  const kav = o.noKernel ? { ok: false as const, reason: '--no-kernel' } : kernelAvailable();
  const kernelOk = kav.ok;
  const driver = await pickDriver(o.driver);
  log(`bench: driver ${driver.name}, kernel ${kernelOk ? 'available' : `n/a (${(kav as { reason: string }).reason})`}, ${quick ? 'quick' : 'full'} mode`);

  const rows: Row[] = [];
  let how = '';
  const total = progs.length * PACKET_SIZES.length;
  let step = 0;
  for (const p of progs) {
    const spec = loadObject(objectBytes(p.name));
    const ps = spec.program(p.name) ?? spec.programs[0]!;
    const k = kernelOk ? kernelProgram(spec, ps, p.fills) : undefined;
    for (const size of PACKET_SIZES) {
      step++;
      const tag = `[${step}/${total}] ${p.name} ${fmtSize(size)}`;
      const packet = p.packet(size);
      const notes: string[] = [];
      const why = driver.unsupported(p.name);
      if (why) {
        log(`${tag}: tsbpf engines n/a (${why})`);
        notes.push(`tsbpf: ${why}`);
      }
      let agreementRes: AgreementCheck[] = [];
      let timers: Array<Timed | undefined> = [];
      let kernelTimer: KernelTimer | undefined;
      let interpNs: number | null = null, jitNs: number | null = null, jitBatchNs: number | null = null, kernelNs: number | null = null;
      let insns = ps.insns.length, executed = 0;
      if (!why) {
        log(`${tag}: agreement`);
        agreementRes = agreement(driver, p.name, packet, k);
        for (const a of agreementRes) if (!a.ok) log(`${tag}: ${a.engine} disagrees with ${a.against}: ${a.detail}`);
        if (!o.checkOnly) {
          const inst = driver.open(p.name, packet);
          how = inst.how;
          if (inst.note) notes.push(inst.note);
          insns = inst.insns;
          executed = inst.executed;
          timers = ENGINES.map((engine) => {
            log(`${tag}: warm-up ${engine}`);
            try {
              return new Timed((n) => inst.run(engine, n), mo);
            } catch (e) {
              notes.push(`${engine}: ${errText(e)}`);
              return undefined;
            }
          });
        }
      }
      if (k && !o.checkOnly) {
        try {
          kernelTimer = new KernelTimer(k, packet, kernelTargetMs);
        } catch (e) {
          notes.push(`kernel: ${errText(e)}`);
        }
      } else if (!kernelOk) {
        notes.push(`kernel: n/a (${(kav as { reason: string }).reason})`);
      }
      // Samples in turn, so that load changes hit every column alike.
      for (let rep = 0; rep < mo.reps && !o.checkOnly; rep++) {
        log(`${tag}: sample ${rep + 1}/${mo.reps}`);
        timers.forEach((t, i) => {
          if (!t) return;
          try { t.sample(); } catch (e) { notes.push(`${ENGINES[i]}: ${errText(e)}`); timers[i] = undefined; }
        });
        if (kernelTimer) {
          try { kernelTimer.sample(); } catch (e) { notes.push(`kernel: ${errText(e)}`); kernelTimer = undefined; }
        }
      }
      const [ti, tj, tb] = timers;
      interpNs = ti?.samples.length ? ti.ns : null;
      jitNs = tj?.samples.length ? tj.ns : null;
      jitBatchNs = tb?.samples.length ? tb.ns : null;
      kernelNs = kernelTimer?.samples.length ? kernelTimer.ns : null;
      rows.push({ program: p.name, size, compute: p.compute, insns, executed, interpNs, jitNs, jitBatchNs, kernelNs, notes, agreement: agreementRes });
    }
  }

  // Interpreter ns per executed instruction, per program (mean over its sizes): raw (time / instructions),
  // and net of the per-run overhead (xdp_drop, 2 instructions, at the same size, subtracted). The suite
  // figure is the mean of the net values (the raw values where xdp_drop was not measured).
  const perProgram: Array<{ program: string; raw: number; net: number | null }> = [];
  for (const p of progs) {
    const rs = rows.filter((r) => r.program === p.name && r.interpNs !== null && r.executed > 0);
    if (!rs.length) continue;
    const raw = rs.reduce((s, r) => s + r.interpNs! / r.executed, 0) / rs.length;
    let net: number | null = null;
    if (p.name !== 'xdp_drop') {
      const nets = rs.map((r) => {
        const base = rows.find((x) => x.program === 'xdp_drop' && x.size === r.size && x.interpNs !== null);
        return base && r.executed > base.executed ? (r.interpNs! - base.interpNs!) / (r.executed - base.executed) : null;
      }).filter((x): x is number => x !== null);
      if (nets.length) net = nets.reduce((a2, b2) => a2 + b2, 0) / nets.length;
    }
    perProgram.push({ program: p.name, raw, net });
  }
  const withNet = perProgram.filter((x) => x.net !== null);
  const rawOnes = perProgram.filter((x) => x.program !== 'xdp_drop');
  const interpMean = withNet.length ? withNet.reduce((s, x) => s + x.net!, 0) / withNet.length
    : rawOnes.length ? rawOnes.reduce((s, x) => s + x.raw, 0) / rawOnes.length : null;
  const interpRawMean = rawOnes.length ? rawOnes.reduce((s, x) => s + x.raw, 0) / rawOnes.length : null;

  const compile: CompileRow[] = [];
  const verify: VerifyRow[] = [];
  let pcap: BenchReport['pcap'] = { error: 'skipped (--check-only)' };
  let perCall: BenchReport['perCall'] = { error: 'skipped (--check-only)' };
  let mapMem: BenchReport['mapMemory'] = { error: 'skipped (--check-only)' };
  if (!o.checkOnly) {
    const names = [...progs.map((p) => p.name), COMPILE_ONLY];
    const verifyFn = await verifierFn();
    for (const name of names) {
      log(`compile/verify: ${name}`);
      const spec = loadObject(objectBytes(name));
      const ps = spec.program(name) ?? spec.programs[0]!;
      compile.push(compileTime(name, ps.insns, quick ? 2 : 7, clock));
      let kv: { wallMs: number; verifierUs: number } | undefined;
      let kvNote = '';
      if (kernelOk) {
        try {
          const fills = SUITE.find((x) => x.name === name)?.fills ?? [];
          kv = kernelLoadTime(kernelProgram(spec, ps, fills));
        } catch (e) { kvNote = errText(e); }
      }
      const ours = verifyFn ? verifyFn(spec, ps, quick ? 1 : 5, clock) : { ms: null, note: 'n/a (src/verifier exports no verify yet)' };
      verify.push({
        program: name, insns: ps.insns.length, oursMs: ours.ms, ...(ours.note ? { oursNote: ours.note } : {}),
        kernelVerifierUs: kv ? kv.verifierUs : null, kernelLoadWallMs: kv ? kv.wallMs : null,
      });
      if (kvNote) log(`compile/verify: ${name}: kernel load failed: ${kvNote}`);
    }
    log('per-call cost');
    try {
      const inst = driver.open('xdp_drop', SUITE.find((p) => p.name === 'xdp_drop')!.packet(64));
      if (!inst.perCall) throw new BenchError('BENCH_ENGINE', `the ${driver.name} driver has no per-call test run`);
      const ti = new Timed((n) => inst.perCall!('interp', n), mo);
      const tj = new Timed((n) => inst.perCall!('jit', n), mo);
      for (let i = 0; i < mo.reps; i++) { ti.sample(); tj.sample(); }
      perCall = { interp: ti.ns, jit: tj.ns };
    } catch (e) { perCall = { error: errText(e) }; }
    log('pcap replay');
    try { pcap = await pcapReplay(driver, quick, clock); } catch (e) { pcap = { error: errText(e) }; }
    log('map memory');
    try { mapMem = mapMemory(quick); } catch (e) { mapMem = { error: errText(e) }; }
  }

  const report: BenchReport = {
    machine: machine(), quick, clock, driver: driver.name, how,
    kernel: kernelOk ? { available: true } : { available: false, reason: (kav as { reason: string }).reason },
    rows, interpNsPerInsn: { mean: interpMean, rawMean: interpRawMean, net: withNet.length > 0, perProgram }, compile, verify, perCall, pcap, mapMemory: mapMem, targets: [],
  };
  return { ...report, targets: targets(report) };
}

function compileTime(program: string, insns: JitProgram['insns'], reps: number, clock: Clock): CompileRow {
  const gen: number[] = [], comp: number[] = [], total: number[] = [];
  for (let i = 0; i < reps + 1; i++) {
    const t0 = now(clock);
    const s = new JitProgram(insns).compile({ checked: false });
    const t = now(clock) - t0;
    if (i === 0) continue; // the first compile warms up the compiler itself
    gen.push(s.generateMs);
    comp.push(s.wasmCompileMs);
    total.push(t);
  }
  const ms = median(total);
  return { program, insns: insns.length, generateMs: median(gen), wasmCompileMs: median(comp), ms, msPer1k: (ms * 1000) / insns.length };
}

type VerifyFn = (spec: ObjectSpec, prog: ProgramSpec, reps: number, clock: Clock) => { ms: number | null; note?: string };

/** tsbpf's verifier, when src/verifier exports `verify` (looked up at run time: it is being written). */
async function verifierFn(): Promise<VerifyFn | undefined> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import('../src/verifier/index.js')) as unknown as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const verify = mod['verify'];
  if (typeof verify !== 'function') return undefined;
  type Verify = (insns: readonly Instruction[], o: unknown) => { ok: boolean; error?: { message: string } };
  return (spec, prog, reps, clock) => {
    // The program as the kernel gets it: map lddw with imm = index into `maps`.
    const k = kernelProgram(spec, prog, []);
    const opts = {
      progType: prog.type, logLevel: 0,
      maps: spec.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, name: m.name })),
      funcs: prog.funcs.map((f) => ({ insn: f.slot, name: f.name })),
    };
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = now(clock);
      let r;
      try {
        r = (verify as Verify)(k.linked, opts);
      } catch (e) {
        return { ms: null, note: `threw: ${errText(e).split('\n')[0]}` };
      }
      times.push(now(clock) - t0);
      if (!r.ok) return { ms: null, note: `refused: ${(r.error?.message ?? '?').split('\n')[0]!.slice(0, 80)}` };
    }
    return { ms: median(times) };
  };
}

function ratioStr(x: number): string {
  return x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(2)}x`;
}

function targets(r: BenchReport): TargetResult[] {
  const out: TargetResult[] = [];
  const ratios = (compute: boolean): Array<{ row: Row; x: number }> =>
    r.rows.filter((x) => x.compute === compute && x.jitBatchNs !== null && x.kernelNs !== null && x.kernelNs > 0)
      .map((row) => ({ row, x: row.jitBatchNs! / row.kernelNs! }));
  for (const [compute, goal] of [[false, 1.0], [true, 1.5]] as const) {
    const rs = ratios(compute);
    const name = compute ? 'JIT vs kernel JIT, pure-compute loops' : 'JIT vs kernel JIT, packet and map programs';
    if (rs.length === 0) {
      out.push({ target: name, goal: `<= ${goal.toFixed(1)}x`, measured: 'n/a', met: null, by: r.kernel.available ? 'no rows with both figures' : `kernel n/a (${r.kernel.reason})` });
      continue;
    }
    const worst = rs.reduce((a, b) => (b.x > a.x ? b : a));
    const over = rs.filter((x) => x.x > goal);
    out.push({
      target: name, goal: `<= ${goal.toFixed(1)}x`,
      measured: `worst ${ratioStr(worst.x)} (${worst.row.program} ${worst.row.size}B), ${rs.length - over.length}/${rs.length} rows within`,
      met: over.length === 0,
      by: over.length === 0 ? `${ratioStr(goal / worst.x)} margin` : `${over.map((x) => `${x.row.program} ${x.row.size}B ${ratioStr(x.x)}`).join(', ')}`,
    });
  }
  const ip = r.interpNsPerInsn.mean;
  out.push({
    target: 'Interpreter ns per executed instruction (suite mean)', goal: '<= 10 ns',
    measured: ip === null ? 'n/a' : `${ip.toFixed(2)} ns${r.interpNsPerInsn.net ? ' net of per-run overhead' : ''}` +
      (r.interpNsPerInsn.rawMean !== null ? ` (${r.interpNsPerInsn.rawMean.toFixed(2)} ns with it)` : ''), met: ip === null ? null : ip <= 10,
    by: ip === null ? '' : ip <= 10 ? `${(10 / ip).toFixed(2)}x margin` : `${(ip / 10).toFixed(2)}x over`,
  });
  if (r.compile.length) {
    const worst = r.compile.reduce((a, b) => (b.msPer1k > a.msPer1k ? b : a));
    const big = r.compile.reduce((a, b) => (b.insns > a.insns ? b : a));
    out.push({
      target: 'JIT compile time per 1,000 instructions', goal: '< 1 ms',
      measured: `${big.msPer1k.toFixed(3)} ms (${big.program}, ${big.insns} insns); worst ${worst.msPer1k.toFixed(3)} ms (${worst.program}, ${worst.insns} insns)`,
      met: big.msPer1k < 1,
      by: big.msPer1k < 1 ? `${(1 / big.msPer1k).toFixed(1)}x margin on the large program` : `${big.msPer1k.toFixed(2)}x over`,
    });
  }
  if ('pps' in r.pcap) {
    const pps = r.pcap.pps;
    out.push({
      target: 'pcap replay through xdp_drop (in-memory capture, one core, batched)', goal: '>= 5 Mpps',
      measured: `${(pps / 1e6).toFixed(2)} Mpps` +
        ('pps' in r.pcap.replayApi ? ` (replay API, one call a packet: ${(r.pcap.replayApi.pps / 1e6).toFixed(2)} Mpps)` : ''),
      met: pps >= 5e6,
      by: pps >= 5e6 ? `${(pps / 5e6).toFixed(2)}x margin` : `${(5e6 / pps).toFixed(2)}x short`,
    });
  } else {
    out.push({ target: 'pcap replay through xdp_drop', goal: '>= 5 Mpps', measured: 'n/a', met: null, by: r.pcap.error });
  }
  if ('bytes' in r.mapMemory) {
    const mb = r.mapMemory.bytes / 1e6;
    out.push({
      target: '1,000,000-entry hash map (8-byte key and value)', goal: '<= 64 MB',
      measured: `${mb.toFixed(1)} MB (${r.mapMemory.bytesPerEntry.toFixed(1)} B/entry)`, met: mb <= 64,
      by: mb <= 64 ? `${(64 / mb).toFixed(2)}x margin` : `${(mb / 64).toFixed(2)}x over`,
    });
  } else {
    out.push({ target: '1,000,000-entry hash map', goal: '<= 64 MB', measured: 'n/a', met: null, by: r.mapMemory.error });
  }
  return out;
}

function parseArgs(argv: readonly string[]): BenchOptions & { json: boolean; write: boolean; help: boolean } {
  const o = { quick: false, json: false, write: false, help: false, noKernel: false, checkOnly: false, filter: [] as string[], clock: 'cpu' as Clock, driver: undefined as 'runtime' | 'direct' | undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.quick = true;
    else if (a === '--json') o.json = true;
    else if (a === '--write') o.write = true;
    else if (a === '--no-kernel') o.noKernel = true;
    else if (a === '--check-only') o.checkOnly = true;
    else if (a === '--wall') o.clock = 'wall';
    else if (a === '--driver' || a.startsWith('--driver=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'runtime' && v !== 'direct') throw new BenchError('BENCH_ARGS', '--driver is runtime or direct');
      o.driver = v;
    }
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a === '--filter' || a.startsWith('--filter=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) throw new BenchError('BENCH_ARGS', '--filter needs a program name');
      o.filter.push(...v.split(',').filter(Boolean));
    } else throw new BenchError('BENCH_ARGS', `unknown option ${a} (try --help)`);
  }
  return o;
}

const USAGE = `usage: npm run bench -- [options]
  --quick        short runs (a few ms a figure)
  --json         print the report as JSON instead of the table
  --filter NAME  only programs whose name contains NAME (comma-separated list allowed)
  --write        rewrite docs/benchmarks.md with the figures, the machine and the date
  --no-kernel    leave the kernel column out even where bpf() is permitted
  --check-only   only check that every engine agrees with the kernel (no timing)
  --wall         time tsbpf's engines on the wall clock (default: process CPU time)
  --driver D     runtime (default: through the Runtime) or direct (engines called on a hand-made
                 xdp_md, programs without maps only: shows the Runtime's own per-run cost)
programs: ${SUITE.map((p) => p.name).join(', ')}`;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${errText(e)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) { process.stdout.write(USAGE + '\n'); return; }
  const report = await runBench(args);
  process.stdout.write(args.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
  if (args.write) {
    const path = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
    const old = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    writeFileSync(path, writeDocs(report, old));
    process.stderr.write(`wrote ${path}\n`);
  }
  if (report.rows.some((r) => r.agreement.some((a) => !a.ok))) {
    process.stderr.write('bench: some engines disagree with the reference (see the agree column)\n');
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    // Typed errors are the user's to read (a bad --filter, a missing object); anything else is a bug: show the stack.
    const typed = e instanceof TsbpfError || isTsbpfError(e);
    process.stderr.write(`bench: ${typed ? (e as Error).message : e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = typed && (e as { code?: string }).code === 'BENCH_ARGS' ? 2 : 1;
  });
}
