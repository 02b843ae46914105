// The report as an aligned text table (stdout) and as the generated part of
// docs/benchmarks.md (between the bench:begin / bench:end markers; the
// prose around them is kept).

import type { BenchReport, Row } from './run.js';

export function fmtNs(ns: number | null): string {
  if (ns === null || !Number.isFinite(ns)) return '-';
  if (ns < 10) return `${ns.toFixed(2)} ns`;
  if (ns < 100) return `${ns.toFixed(1)} ns`;
  if (ns < 100_000) return `${Math.round(ns).toLocaleString('en-US')} ns`;
  return `${(ns / 1000).toFixed(0)} us`;
}

export function fmtRatio(a: number | null, b: number | null): string {
  if (a === null || b === null || !(b > 0)) return '-';
  const x = a / b;
  return x >= 100 ? `${x.toFixed(0)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;
}

function agreeCell(r: Row): string {
  if (r.agreement.length === 0) return '-';
  const bad = r.agreement.filter((a) => !a.ok);
  if (bad.length === 0) return r.agreement[0]!.against === 'kernel' ? 'ok' : 'ok (vs interp)';
  return 'DIFF: ' + bad.map((a) => a.engine).join(',');
}

/** Aligned columns; `right` marks right-aligned columns. */
export function table(head: readonly string[], rows: readonly (readonly string[])[], right: readonly boolean[]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (right[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)];
}

function mainTable(r: BenchReport): string[] {
  const head = ['program', 'size', 'insns', 'run', 'interp', 'JIT', 'JIT batch', 'kernel JIT', 'batch/kernel', 'JIT/kernel', 'interp/kernel', 'agree'];
  const rows = r.rows.map((x) => [
    x.program, `${x.size}B`, String(x.insns), x.executed ? String(x.executed) : '-',
    fmtNs(x.interpNs), fmtNs(x.jitNs), fmtNs(x.jitBatchNs),
    x.kernelNs !== null ? fmtNs(x.kernelNs) : r.kernel.available ? '-' : 'n/a',
    fmtRatio(x.jitBatchNs, x.kernelNs), fmtRatio(x.jitNs, x.kernelNs), fmtRatio(x.interpNs, x.kernelNs), agreeCell(x),
  ]);
  return table(head, rows, [false, true, true, true, true, true, true, true, true, true, true, false]);
}

function notes(r: BenchReport): string[] {
  const out: string[] = [];
  if (!r.kernel.available) out.push(`kernel JIT: n/a (${r.kernel.reason})`);
  for (const x of r.rows) {
    for (const n of x.notes) if (!n.startsWith('kernel: n/a')) out.push(`${x.program} ${x.size}B: ${n}`);
    for (const a of x.agreement) if (!a.ok) out.push(`${x.program} ${x.size}B: ${a.engine} vs ${a.against}: ${a.detail}`);
  }
  return [...new Set(out)];
}

function sections(r: BenchReport): Array<{ title: string; lines: string[] }> {
  const s: Array<{ title: string; lines: string[] }> = [];
  s.push({ title: 'ns per packet (median)', lines: [...mainTable(r), ...notes(r)] });
  const ip = r.interpNsPerInsn;
  if (ip.perProgram.length) {
    s.push({
      title: 'interpreter ns per executed instruction',
      lines: [
        ...table(['program', 'raw ns/insn', 'net ns/insn'],
          ip.perProgram.map((p) => [p.program, p.raw.toFixed(2), p.net === null ? '-' : p.net.toFixed(2)]), [false, true, true]),
        'raw = interp ns per packet / instructions executed; net = the same after subtracting xdp_drop\'s time (the per-run overhead) at the same packet size',
        `suite mean: ${ip.mean === null ? 'n/a' : ip.mean.toFixed(2)} ns${ip.net ? ' net' : ' raw'}` +
          (ip.rawMean !== null ? `, ${ip.rawMean.toFixed(2)} ns raw (xdp_drop left out)` : ''),
      ],
    });
  }
  if (r.compile.length) {
    s.push({
      title: `JIT compile time (unchecked module, median; total on the ${r.clock === 'cpu' ? 'CPU' : 'wall'} clock, the split as the JIT reports it on the wall clock)`,
      lines: table(['program', 'insns', 'total', 'per 1,000 insns', 'generate (wall)', 'WebAssembly.Module (wall)'],
        r.compile.map((c) => [c.program, String(c.insns), `${c.ms.toFixed(3)} ms`, `${c.msPer1k.toFixed(3)} ms`, `${c.generateMs.toFixed(3)} ms`, `${c.wasmCompileMs.toFixed(3)} ms`]),
        [false, true, true, true, true, true]),
    });
  }
  if (r.verify.length) {
    s.push({
      title: 'verification: tsbpf verifier vs the kernel (verifier time from its log statistics; load = BPF_PROG_LOAD through the oracle, driver process included)',
      lines: table(['program', 'insns', 'tsbpf verify', 'kernel verifier', 'kernel load (wall)'],
        r.verify.map((v) => [
          v.program, String(v.insns), v.oursMs !== null ? `${v.oursMs.toFixed(3)} ms` : (v.oursNote ?? 'n/a'),
          v.kernelVerifierUs !== null ? `${(v.kernelVerifierUs / 1000).toFixed(3)} ms` : 'n/a',
          v.kernelLoadWallMs !== null ? `${v.kernelLoadWallMs.toFixed(1)} ms` : 'n/a',
        ]), [false, true, true, true, true]),
    });
  }
  if ('jit' in r.perCall) {
    const c = r.perCall;
    s.push({
      title: 'per-call cost of a test run: program.run({ data }) with repeat 1, xdp_drop, 64 bytes',
      lines: [
        `interp ${fmtNs(c.interp)}, JIT ${fmtNs(c.jit)} per call (session set-up, run, data_out/ctx_out copies): ` +
          `${(1e3 / c.jit).toFixed(2)} Mpps for a replay that makes one call per packet`,
      ],
    });
  } else {
    s.push({ title: 'per-call cost of a test run', lines: [`n/a (${r.perCall.error})`] });
  }
  if ('pps' in r.pcap) {
    const p = r.pcap;
    s.push({
      title: 'pcap replay through xdp_drop',
      lines: [
        `batched: ${(p.pps / 1e6).toFixed(2)} Mpps (${p.packets.toLocaleString('en-US')} packets, median of ${p.reps}); reading and copying alone: ${(p.ppsNoRun / 1e6).toFixed(2)} Mpps`,
        `verdicts: ${Object.entries(p.verdicts).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        p.how,
        'pps' in p.replayApi
          ? `through the replay API: ${(p.replayApi.pps / 1e6).toFixed(2)} Mpps (${p.replayApi.how})`
          : `through the replay API: n/a (${p.replayApi.error})`,
      ],
    });
  } else {
    s.push({ title: 'pcap replay through xdp_drop', lines: [`n/a (${r.pcap.error})`] });
  }
  if ('bytes' in r.mapMemory) {
    const m = r.mapMemory;
    s.push({
      title: 'memory of a 1,000,000-entry hash map (8-byte key, 8-byte value)',
      lines: [
        `${(m.bytes / 1e6).toFixed(1)} MB = ${m.bytesPerEntry.toFixed(1)} bytes per entry (linear memory ${(m.linearBytes / 1e6).toFixed(1)} MB, JS heap ${(m.heapBytes / 1e6).toFixed(1)} MB)`,
        `${m.filled.toLocaleString('en-US')} entries filled from user space in ${m.fillMs.toFixed(0)} ms`,
      ],
    });
  } else {
    s.push({ title: 'memory of a 1,000,000-entry hash map', lines: [`n/a (${r.mapMemory.error})`] });
  }
  s.push({
    title: 'targets (issue 5)',
    lines: table(['target', 'goal', 'measured', 'met', 'by'],
      r.targets.map((t) => [t.target, t.goal, t.measured, t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED', t.by]),
      [false, false, false, false, false]),
  });
  return s;
}

function header(r: BenchReport): string[] {
  const m = r.machine;
  return [
    `machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.kernel}, ${m.date}`,
    `engines: ${r.driver} driver${r.how ? ` (${r.how})` : ''}; ${r.quick ? 'quick mode' : 'full mode'}; clock: ${r.clock === 'cpu' ? 'process CPU time' : 'wall'}, median of samples taken in turn`,
    `kernel: ${r.kernel.available ? 'BPF_PROG_TEST_RUN with a large repeat count, test.duration as the kernel reports it' : `n/a (${r.kernel.reason})`}`,
  ];
}

export function formatReport(r: BenchReport): string {
  const out = [...header(r), ''];
  for (const s of sections(r)) out.push(s.title, ...s.lines.map((l) => '  ' + l), '');
  return out.join('\n').trimEnd();
}

export const BEGIN = '<!-- bench:begin (generated by `npm run bench -- --write`; edit outside these markers) -->';
export const END = '<!-- bench:end -->';

/** The generated block of docs/benchmarks.md. */
export function docsBlock(r: BenchReport): string {
  const out = [BEGIN, '', '## Latest figures', ''];
  for (const l of header(r)) out.push(`- ${l}`);
  out.push('');
  for (const s of sections(r)) {
    out.push(`### ${s.title}`, '', '```', ...s.lines, '```', '');
  }
  out.push(END);
  return out.join('\n');
}

/** docs/benchmarks.md with its generated block replaced (or a new file around it). */
export function writeDocs(r: BenchReport, old: string | undefined): string {
  const block = docsBlock(r);
  if (old) {
    const b = old.indexOf('<!-- bench:begin');
    const e = old.indexOf(END);
    if (b >= 0 && e > b) return old.slice(0, b) + block + old.slice(e + END.length);
  }
  return `# Benchmarks\n\n${block}\n`;
}
