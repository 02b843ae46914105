// Replay verdicts against the Linux kernel: every packet of the bundled
// capture (and a few crafted ones) through the same stateless XDP and TC
// programs, here with the replay runner and there with BPF_PROG_TEST_RUN.
// Return values, packets as the program left them, and the skb's mark and
// priority must agree. Skipped where bpf() is not permitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { kernelAvailable, kernelTestRunBatch, KERNEL_PROG_TYPE, type KernelTestRunResult } from '../../src/cli/kernel-oracle.js';
import { loadObject } from '../../src/elf/object.js';
import { encode } from '../../src/isa/instruction.js';
import { buildPacket, parseCapture, type PacketRecord } from '../../src/net/index.js';
import { packetRunner } from '../../src/runtime/replay.js';
import { Runtime } from '../../src/runtime/runtime.js';

const k = kernelAvailable();
const skip = k.ok ? false : `kernel oracle unavailable: ${k.reason}`;
const file = (rel: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../../${rel}`, import.meta.url)));

const ETH = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' };
function packets(): PacketRecord[] {
  const crafted = [
    buildPacket({ eth: { ...ETH, vlan: [42] }, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 1000 }, payload: 'x' }),
    buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 9 } }),
    buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.2' }, udp: { sport: 1, dport: 7 } }),
    buildPacket({ eth: ETH, ipv4: { src: '192.0.2.1', dst: '192.0.2.53' }, udp: { sport: 5353, dport: 53 }, payload: 'q' }),
  ];
  const base = parseCapture(file('examples/traffic.pcap')).filter((_, i) => i % 6 === 0);
  return [...base, ...crafted.map((data, i) => ({ data, ts: 1_700_000_000_000_000_000n + BigInt(i), origLen: data.length, caplen: data.length, linkType: 1, interfaceId: 0 }))];
}

function kernelRuns(obj: string, prog: string, progType: number, pkts: PacketRecord[], ctx?: (p: PacketRecord) => Uint8Array): KernelTestRunResult[] {
  const spec = loadObject(file(obj));
  const insns = encode(spec.program(prog)!.insns);
  const res = kernelTestRunBatch(pkts.map((p) => ({
    insns, progType, data: p.data, logLevel: 0, dumpMaps: false, ...(ctx ? { ctx: ctx(p), ctxOutSize: 192 } : {}),
  })));
  return res.map((r, i) => {
    if (r instanceof Error) throw new Error(`packet ${i}: ${r.message}`);
    return r;
  });
}

test('XDP replay = the kernel: return values and packets, rewritten or not', { skip }, () => {
  const pkts = packets();
  const kern = kernelRuns('test/fixtures/replay/xdp_rewrite.o', 'xdp_rewrite', KERNEL_PROG_TYPE.XDP, pkts);
  for (const engine of ['interp', 'jit'] as const) {
    const rt = new Runtime();
    const runner = packetRunner(rt.loadObject(file('test/fixtures/replay/xdp_rewrite.o')).program('xdp_rewrite')!, { engine });
    let rewritten = 0;
    pkts.forEach((p, i) => {
      const v = runner.run(p);
      const kr = kern[i]!;
      assert.equal(v.ret, kr.retval, `packet ${i} (${engine})`);
      // The kernel's data_out starts at data_meta; replay writes the packet from data.
      const meta = kr.dataOut.length - v.data.length;
      assert.ok(meta === 0 || meta === 4, `packet ${i}: ${kr.dataOut.length} vs ${v.data.length} bytes`);
      assert.deepEqual(v.data, kr.dataOut.subarray(meta), `packet ${i} bytes (${engine})`);
      if (v.changed) rewritten++;
    });
    assert.ok(rewritten > 10, `${rewritten} rewritten packets compared`);
  }
});

test('TC replay = the kernel: return values, mark and priority (tstamp from the capture)', { skip }, () => {
  const pkts = packets();
  const ctxOf = (p: PacketRecord): Uint8Array => {
    const c = new Uint8Array(192);
    new DataView(c.buffer).setBigUint64(152, p.ts, true);
    return c;
  };
  const kern = kernelRuns('test/fixtures/replay/tc_prio.o', 'tc_prio', KERNEL_PROG_TYPE.SCHED_CLS, pkts, ctxOf);
  const rt = new Runtime();
  const runner = packetRunner(rt.loadObject(file('test/fixtures/replay/tc_prio.o')).program('tc_prio')!, { engine: 'jit' });
  const seen = new Set<number>();
  pkts.forEach((p, i) => {
    const v = runner.run(p);
    const kr = kern[i]!;
    const cv = new DataView(kr.ctxOut.buffer, kr.ctxOut.byteOffset, kr.ctxOut.byteLength);
    assert.equal(v.ret, kr.retval | 0, `packet ${i}`);
    assert.equal(v.mark, cv.getUint32(8, true), `packet ${i} mark`);
    assert.equal(v.priority, cv.getUint32(32, true), `packet ${i} priority`);
    seen.add(v.ret);
  });
  assert.deepEqual([...seen].sort(), [0, 2, 7]);
});
