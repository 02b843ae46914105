// The kernel oracle itself (src/cli/kernel-oracle.ts + native/bpf-oracle.c):
// test runs with data, contexts and repeat; maps created, pre-filled and
// dumped; verifier rejections; unprivileged loads; typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encode, type Instruction } from '../../src/isa/index.js';
import {
  BPF_F_SLEEPABLE, KERNEL_MAP_TYPE, KERNEL_PROG_TYPE, OracleError, kernelAvailable, kernelLoad, kernelTestRun,
  kernelTestRunBatch,
} from '../../src/cli/kernel-oracle.js';

const k = kernelAvailable();
const skip = k.ok ? false : `kernel oracle unavailable: ${k.reason}`;

const asm = (s: string): Instruction[] => assemble(s.replace(/;\s*/g, '\n'));
const bytes = (s: string): Uint8Array => encode(asm(s));
/** `rD = map[index]`: LD_IMM64 with src 1 (BPF_PSEUDO_MAP_FD) holding the map index. */
const withMap = (s: string): Uint8Array => {
  const p = asm(s);
  return encode(p.map((x, i) => (i === 0 && x.op.kind === 'ld_imm64' ? { ...x, src: 1 } : x)));
};
const oracleError = (code: string, re?: RegExp) => (e: unknown): boolean =>
  e instanceof OracleError && e.name === 'OracleError' && e.code === code && (!re || re.test(e.message + e.verifierLog));

test('kernelAvailable answers with a reason when it cannot be used', () => {
  const a = kernelAvailable();
  assert.ok(a.ok === true || (a.ok === false && a.reason.length > 0));
});

test('XDP: the program rewrites the packet, returns XDP_TX; repeat gives a duration', { skip }, () => {
  const data = new Uint8Array(64).fill(0xaa);
  // if data + 2 > data_end: XDP_ABORTED; data[0] = 0x11; data[1] = 0x22; return XDP_TX
  const prog = bytes(`
    r2 = *(u32 *)(r1 + 0); r3 = *(u32 *)(r1 + 4)
    r4 = r2; r4 += 2
    r0 = 0
    if r4 > r3 goto +4
    *(u8 *)(r2 + 0) = 0x11
    r5 = 0x22
    *(u8 *)(r2 + 1) = r5
    r0 = 3
    exit`);
  const r = kernelTestRun({ insns: prog, progType: KERNEL_PROG_TYPE.XDP, data, repeat: 1000 });
  assert.equal(r.retval, 3);
  assert.equal(r.dataOut.length, 64);
  assert.deepEqual([...r.dataOut.subarray(0, 3)], [0x11, 0x22, 0xaa]);
  assert.ok(r.durationNs > 0 && r.durationNs < 1_000_000, `duration ${r.durationNs} ns`);
  assert.match(r.verifierLog, /processed \d+ insns/);
  assert.ok(r.verifiedInsns > 0);
});

test('SYSCALL programs: the context comes back with what the program wrote', { skip }, () => {
  const r = kernelTestRun({
    insns: bytes('r2 = *(u64 *)(r1 + 0); r2 += 1; *(u64 *)(r1 + 8) = r2; r0 = 9; exit'),
    progType: KERNEL_PROG_TYPE.SYSCALL, progFlags: BPF_F_SLEEPABLE, ctx: new Uint8Array(16).fill(1, 0, 1),
  });
  assert.equal(r.retval, 9);
  assert.deepEqual([...r.ctxOut], [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
});

test('maps: pre-filled, updated by the program through a helper, dumped after the run', { skip }, () => {
  // v = bpf_map_lookup_elem(map[0], &key 0); if v: *v += 1; return XDP_PASS
  const prog = withMap(`
    r1 = 0 ll
    r2 = 0; *(u32 *)(r10 - 4) = r2
    r2 = r10; r2 += -4
    call 1
    if r0 == 0 goto +3
    r1 = *(u64 *)(r0 + 0); r1 += 1; *(u64 *)(r0 + 0) = r1
    r0 = 2
    exit`);
  const le64 = (v: bigint) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, v, true); return b; };
  const r = kernelTestRun({
    insns: prog, progType: KERNEL_PROG_TYPE.XDP, data: new Uint8Array(64), repeat: 10,
    maps: [
      { type: KERNEL_MAP_TYPE.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, entries: [{ key: new Uint8Array(4), value: le64(100n) }] },
      { type: KERNEL_MAP_TYPE.HASH, keySize: 4, valueSize: 4, maxEntries: 8, entries: [
        { key: new Uint8Array([1, 0, 0, 0]), value: new Uint8Array([5, 0, 0, 0]) },
        { key: new Uint8Array([2, 0, 0, 0]), value: new Uint8Array([6, 0, 0, 0]) },
      ] },
      { type: KERNEL_MAP_TYPE.QUEUE, keySize: 0, valueSize: 4, maxEntries: 4 },
    ],
  });
  assert.equal(r.retval, 2);
  assert.equal(r.maps.length, 3);
  // Ten runs, each adding one.
  const arr = r.maps[0]!.entries.map((e) => [e.key[0], new DataView(e.value.buffer).getBigUint64(0, true)]);
  assert.deepEqual(arr, [[0, 110n], [1, 0n]]);
  const hash = r.maps[1]!.entries.map((e) => [e.key[0], e.value[0]]).sort();
  assert.deepEqual(hash, [[1, 5], [2, 6]]);
  assert.deepEqual(r.maps[2]!.entries, []);
  assert.match(r.maps[2]!.error ?? '', /no keys/);
});

test('per-CPU maps: a filled value is copied to every CPU; the dump shows all', { skip }, () => {
  const r = kernelTestRun({
    insns: bytes('r0 = 0; exit'), progType: KERNEL_PROG_TYPE.SOCKET_FILTER, data: new Uint8Array(64),
    maps: [{ type: KERNEL_MAP_TYPE.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, entries: [{ key: new Uint8Array(4), value: new Uint8Array([7, 0, 0, 0]) }] }],
  });
  const v = r.maps[0]!.entries[0]!.value;
  assert.ok(v.length >= 8 && v.length % 8 === 0, `value is ${v.length} bytes`);
  for (let off = 0; off < v.length; off += 8) assert.deepEqual([...v.subarray(off, off + 8)], [7, 0, 0, 0, 0, 0, 0, 0]);
});

test('a rejected program: kernelLoad reports it, kernelTestRun throws ORACLE_LOAD with the log', { skip }, () => {
  const bad = bytes('r0 = r5; exit');
  const l = kernelLoad({ insns: bad, progType: KERNEL_PROG_TYPE.SOCKET_FILTER, logLevel: 0 });
  assert.equal(l.loaded, false);
  assert.equal(l.stage, 'prog_load');
  assert.equal(l.errno, 13);
  // Level 0 is retried at level 1 to get the reason.
  assert.match(l.verifierLog, /R5 !read_ok/);
  assert.throws(() => kernelTestRun({ insns: bad, progType: KERNEL_PROG_TYPE.SOCKET_FILTER, data: new Uint8Array(64) }),
    oracleError('ORACLE_LOAD', /R5 !read_ok/));
  const ok = kernelLoad({ insns: bytes('r0 = 1; exit'), progType: KERNEL_PROG_TYPE.SOCKET_FILTER, logLevel: 2 });
  assert.equal(ok.loaded, true);
  assert.match(ok.verifierLog, /r0 = 1/);
});

test('typed errors for bad requests, never a crash', { skip }, () => {
  assert.throws(() => kernelTestRun({ insns: new Uint8Array(12), progType: 1 }), oracleError('ORACLE_ARGS'));
  assert.throws(() => kernelTestRun({ insns: bytes('r0 = 0; exit'), progType: -1 }), oracleError('ORACLE_ARGS'));
  assert.throws(() => kernelTestRun({ insns: bytes('r0 = 0; exit'), progType: 1, license: 'has space' }), oracleError('ORACLE_ARGS'));
  assert.throws(() => kernelTestRun({ insns: bytes('r0 = 0; exit'), progType: 1, data: new Uint8Array(64), maps: [{ type: 9999, keySize: 4, valueSize: 4, maxEntries: 1 }] }),
    oracleError('ORACLE_MAP', /BPF_MAP_CREATE/));
  assert.throws(() => kernelTestRun({ insns: bytes('r0 = 0; exit'), progType: 1, data: new Uint8Array(64), maps: [{ type: 2, keySize: 4, valueSize: 4, maxEntries: 1, entries: [{ key: new Uint8Array(3), value: new Uint8Array(4) }] }] }),
    oracleError('ORACLE_MAP', /size differs/));
  // A map index that does not exist in an LD_IMM64.
  assert.throws(() => kernelTestRun({ insns: withMap('r1 = 0 ll; r0 = 0; exit'), progType: 1, data: new Uint8Array(64) }),
    oracleError('ORACLE_ARGS', /map index/));
  // Socket filters need at least an Ethernet header of data.
  assert.throws(() => kernelTestRun({ insns: bytes('r0 = 0; exit'), progType: 1, data: new Uint8Array(4) }), oracleError('ORACLE_RUN'));
});

test('batches: one driver process, results and errors in request order', { skip }, () => {
  const res = kernelTestRunBatch([
    { insns: bytes('r0 = 1; exit'), progType: 1, data: new Uint8Array(64) },
    { insns: new Uint8Array(3), progType: 1 },
    { insns: bytes('r0 = r7; exit'), progType: 1, data: new Uint8Array(64) },
    { insns: bytes('r0 = 4; exit'), progType: 1, data: new Uint8Array(64) },
  ]);
  assert.equal(res.length, 4);
  assert.equal((res[0] as { retval: number }).retval, 1);
  assert.ok(oracleError('ORACLE_ARGS')(res[1]));
  assert.ok(oracleError('ORACLE_LOAD', /R7 !read_ok/)(res[2]));
  assert.equal((res[3] as { retval: number }).retval, 4);
});

test('unprivileged loads: the strict verifier rules apply', { skip }, () => {
  const uninitStack = bytes('r0 = *(u64 *)(r10 - 8); exit');
  const priv = kernelLoad({ insns: uninitStack, progType: KERNEL_PROG_TYPE.SOCKET_FILTER });
  assert.equal(priv.loaded, true, 'root may read uninitialised stack');
  const un = kernelLoad({ insns: uninitStack, progType: KERNEL_PROG_TYPE.SOCKET_FILTER, unprivileged: true });
  if (un.stage === 'prog_load' && un.errno === 1 && un.unprivSysctl !== 0) {
    // EPERM before the verifier: kernel.unprivileged_bpf_disabled could not be lowered.
    assert.equal(un.verifierLog, '');
    return;
  }
  assert.equal(un.loaded, false);
  assert.match(un.verifierLog, /invalid read from stack/);
  const good = kernelTestRun({ insns: bytes('r0 = 5; exit'), progType: KERNEL_PROG_TYPE.SOCKET_FILTER, unprivileged: true, data: new Uint8Array(64) });
  assert.equal(good.retval, 5);
  // Only socket filters and cgroup skb programs may load unprivileged.
  const xdp = kernelLoad({ insns: bytes('r0 = 2; exit'), progType: KERNEL_PROG_TYPE.XDP, unprivileged: true });
  assert.equal(xdp.loaded, false);
  assert.equal(xdp.errno, 1);
  const cg = kernelLoad({ insns: bytes('r0 = 1; exit'), progType: KERNEL_PROG_TYPE.CGROUP_SKB, unprivileged: true });
  assert.equal(cg.loaded, true, cg.error);
  // Without lowering the sysctl (2 on most distributions), EPERM.
  const strict = kernelLoad({ insns: bytes('r0 = 5; exit'), progType: KERNEL_PROG_TYPE.SOCKET_FILTER, unprivileged: true, lowerUnprivSysctl: false });
  if (strict.unprivSysctl === 2) assert.equal(strict.errno, 1);
});
