// Smoke test of the benchmark harness (bench/run.ts): every engine returns
// the same retval, packet and maps as the kernel (or, without the bpf()
// syscall, as the interpreter) for every program of the suite on both
// packet sizes; and a --quick run of one program produces a complete
// report. No timing assertions: figures depend on the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelAvailable } from '../../src/cli/kernel-oracle.js';
import { formatReport } from '../../bench/report.js';
import { runBench } from '../../bench/run.js';
import { PACKET_SIZES, SUITE } from '../../bench/suite.js';

const k = kernelAvailable();
const quiet = (): void => {};

test('every engine agrees with the kernel on every benchmark program', async (t) => {
  if (!k.ok) t.diagnostic(`kernel oracle unavailable (${k.reason}): engines compared with the interpreter only`);
  const r = await runBench({ checkOnly: true, progress: quiet });
  assert.equal(r.rows.length, SUITE.length * PACKET_SIZES.length);
  for (const row of r.rows) {
    const where = `${row.program} ${row.size}B`;
    assert.deepEqual(row.notes.filter((n) => !n.startsWith('kernel: n/a')), [], `${where}: ${row.notes.join('; ')}`);
    assert.equal(row.agreement.length, k.ok ? 3 : 2, `${where}: engines checked`);
    for (const a of row.agreement) {
      assert.equal(a.against, k.ok ? 'kernel' : 'interp');
      assert.ok(a.ok, `${where}: ${a.engine} vs ${a.against}: ${a.detail}`);
    }
  }
});

test('a --quick run of one program yields every column and section', async () => {
  const r = await runBench({ quick: true, filter: ['xdp_drop'], progress: quiet });
  assert.deepEqual(r.rows.map((x) => `${x.program} ${x.size}`), PACKET_SIZES.map((s) => `xdp_drop ${s}`));
  for (const row of r.rows) {
    for (const v of [row.interpNs, row.jitNs, row.jitBatchNs]) assert.ok(v !== null && Number.isFinite(v) && v > 0, `${row.size}B: ${row.notes.join('; ')}`);
    if (k.ok) assert.ok(row.kernelNs !== null, `kernel column: ${row.notes.join('; ')}`);
    else assert.equal(row.kernelNs, null);
    assert.ok(row.agreement.every((a) => a.ok));
  }
  assert.deepEqual(r.compile.map((c) => c.program), ['xdp_drop', 'unrolled']);
  assert.ok(r.compile.every((c) => c.insns > 0 && c.ms >= 0));
  assert.ok('pps' in r.pcap, JSON.stringify(r.pcap));
  assert.equal(r.pcap.verdicts['drop'], r.pcap.packets, 'xdp_drop drops every replayed packet');
  assert.ok('bytes' in r.mapMemory, JSON.stringify(r.mapMemory));
  assert.equal(r.targets.length, 6);
  const text = formatReport(r);
  for (const s of ['xdp_drop', 'JIT batch', 'kernel JIT', 'targets (issue 5)', 'pcap replay']) assert.ok(text.includes(s), s);
  assert.doesNotThrow(() => JSON.stringify(r));
});
