// ISA corners pinned against the Linux kernel (docs/kernel-semantics.md
// records the same table in prose). Register-only cases also run on the
// BigInt model and on tsbpf's interpreter (runRaw, src/runtime/raw.ts):
// all three must give the expected R0. Skipped where bpf() is not permitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encode } from '../../src/isa/index.js';
import { KERNEL_PROG_TYPE, OracleError, kernelLoad, kernelTestRun } from '../../src/cli/kernel-oracle.js';
import { kernelAvailable } from '../../src/cli/kernel-oracle.js';
import { kernelR0, runRaw } from './alu-diff.js';
import { refRun } from './alu-ref.js';

const k = kernelAvailable();
const skip = k.ok ? false : `kernel oracle unavailable: ${k.reason}`;

const asm = (s: string) => assemble(s.replace(/;\s*/g, '\n'));

// [what, program (LLVM syntax, ';' separates lines), R0 at exit]
const R0_CASES: ReadonlyArray<[string, string, bigint]> = [
  ['div64 by zero register is 0', 'r0 = 7; r1 = 0; r0 /= r1; exit', 0n],
  ['mod64 by zero register leaves dst', 'r0 = -7; r1 = 0; r0 %= r1; exit', 0xfffffffffffffff9n],
  ['div32 by zero register is 0', 'r0 = -7; w1 = 0; w0 /= w1; exit', 0n],
  ['mod32 by zero leaves the low half, zero-extended', 'r0 = -7; w1 = 0; w0 %= w1; exit', 0xfffffff9n],
  ['sdiv64 by zero is 0', 'r0 = -7; r1 = 0; r0 s/= r1; exit', 0n],
  ['smod64 by zero leaves dst', 'r0 = -7; r1 = 0; r0 s%= r1; exit', 0xfffffffffffffff9n],
  ['smod32 by zero leaves the low half', 'r0 = -7; w1 = 0; w0 s%= w1; exit', 0xfffffff9n],
  ['sdiv64 INT64_MIN / -1 is INT64_MIN', 'r0 = 0x8000000000000000 ll; r1 = -1; r0 s/= r1; exit', 0x8000000000000000n],
  ['smod64 INT64_MIN % -1 is 0', 'r0 = 0x8000000000000000 ll; r1 = -1; r0 s%= r1; exit', 0n],
  ['sdiv32 INT32_MIN / -1 is INT32_MIN', 'w0 = -2147483648; w0 s/= -1; exit', 0x80000000n],
  ['smod32 INT32_MIN % -1 is 0', 'w0 = -2147483648; w0 s%= -1; exit', 0n],
  ['sdiv truncates toward zero', 'r0 = -7; r0 s/= 2; exit', 0xfffffffffffffffdn],
  ['smod takes the sign of the dividend', 'r0 = -7; r0 s%= 2; exit', 0xffffffffffffffffn],
  ['smod with a negative divisor', 'r0 = 7; r0 s%= -2; exit', 1n],
  ['div64 imm is sign-extended, then unsigned', 'r0 = -1; r0 /= -1; exit', 1n],
  ['mod64 imm is sign-extended, then unsigned', 'r0 = 100; r0 %= -3; exit', 100n],
  ['div32 imm is unsigned 32-bit', 'w0 = -1; w0 /= -2; exit', 1n],
  ['lsh64 by register masks the amount with 63', 'r0 = 7; r1 = 65; r0 <<= r1; exit', 14n],
  ['lsh64 by -1 shifts by 63', 'r0 = 1; r1 = -1; r0 <<= r1; exit', 0x8000000000000000n],
  ['lsh32 by register masks with 31', 'r0 = 7; r1 = 33; w0 <<= w1; exit', 14n],
  ['arsh32 masks with 31 and zero-extends', 'w0 = -2147483648; r1 = 33; w0 s>>= w1; exit', 0xc0000000n],
  ['arsh64 by 65 is by 1', 'r0 = 0x8000000000000000 ll; r1 = 65; r0 s>>= r1; exit', 0xc000000000000000n],
  ['movsx8 to 64 bits', 'r1 = 0x80; r0 = (s8)r1; exit', 0xffffffffffffff80n],
  ['movsx16 to 64 bits', 'r1 = 0x8000; r0 = (s16)r1; exit', 0xffffffffffff8000n],
  ['movsx32 to 64 bits', 'r1 = 0x180000000 ll; r0 = (s32)r1; exit', 0xffffffff80000000n],
  ['movsx8 in 32 bits zero-extends', 'r0 = -1; r1 = 0x80; w0 = (s8)w1; exit', 0xffffff80n],
  ['movsx16 in 32 bits zero-extends', 'r1 = 0x8000; w0 = (s16)w1; exit', 0xffff8000n],
  ['bswap16 keeps only the swapped low half-word', 'r0 = 0x123456789abcdef0 ll; r0 = bswap16 r0; exit', 0xf0den],
  ['bswap32', 'r0 = 0x123456789abcdef0 ll; r0 = bswap32 r0; exit', 0xf0debc9an],
  ['bswap64', 'r0 = 0x123456789abcdef0 ll; r0 = bswap64 r0; exit', 0xf0debc9a78563412n],
  ['be16 on a little-endian host swaps and truncates', 'r0 = 0x123456789abcdef0 ll; r0 = be16 r0; exit', 0xf0den],
  ['be64 is bswap64', 'r0 = 0x123456789abcdef0 ll; r0 = be64 r0; exit', 0xf0debc9a78563412n],
  ['be32', 'r0 = 0x123456789abcdef0 ll; r0 = be32 r0; exit', 0xf0debc9an],
  ['le16 truncates', 'r0 = 0x123456789abcdef0 ll; r0 = le16 r0; exit', 0xdef0n],
  ['le32 truncates', 'r0 = 0x123456789abcdef0 ll; r0 = le32 r0; exit', 0x9abcdef0n],
  ['le64 is a no-op', 'r0 = 0x123456789abcdef0 ll; r0 = le64 r0; exit', 0x123456789abcdef0n],
  ['mov32 imm zero-extends', 'r0 = -1; w0 = -1; exit', 0xffffffffn],
  ['mov64 imm sign-extends', 'r0 = -1; exit', 0xffffffffffffffffn],
  ['neg32 zero-extends', 'r0 = 5; w0 = -w0; exit', 0xfffffffbn],
  ['neg64', 'r0 = 0x100000005 ll; r0 = -r0; exit', 0xfffffffefffffffbn],
  ['add32 wraps and clears the upper half', 'r0 = 0x1ffffffff ll; w0 += 1; exit', 0n],
  ['jeq32 compares the low halves', 'r0 = 1; r1 = 0x100000000 ll; if w1 == 0 goto +1; r0 = 2; exit', 1n],
  ['jsgt64 imm is sign-extended', 'r0 = 1; w1 = -1; if r1 s> -1 goto +1; r0 = 2; exit', 1n],
];

for (const [what, src, want] of R0_CASES) {
  test(`R0: ${what}`, { skip }, () => {
    const p = asm(src);
    assert.equal(refRun(p), want, 'BigInt model');
    if (runRaw) assert.equal(BigInt.asUintN(64, runRaw([...p]).r0), want, 'tsbpf interpreter');
    assert.deepEqual(kernelR0([p]), [want], 'kernel');
  });
}

// Encodings the verifier refuses (privileged), and the log line it gives.
const REJECTS: ReadonlyArray<[string, string, RegExp]> = [
  ['div by immediate 0', 'r0 = 7; r0 /= 0; exit', /div by zero/],
  ['mod32 by immediate 0', 'w0 = 7; w0 %= 0; exit', /div by zero/],
  ['lsh64 by immediate 64', 'r0 = 7; r0 <<= 64; exit', /invalid shift 64/],
  ['rsh32 by immediate 32', 'w0 = 7; w0 >>= 32; exit', /invalid shift 32/],
  ['reading an uninitialised register', 'r0 = r5; exit', /R5 !read_ok/],
  ['a jump into the middle of lddw', 'if r1 == 0 goto +1; r0 = 1 ll; r0 = 0; exit', /jump into the middle of ldimm64|invalid/],
];

for (const [what, src, re] of REJECTS) {
  test(`the verifier refuses ${what}`, { skip }, () => {
    let p: Uint8Array;
    try {
      p = encode(asm(src));
    } catch {
      // The assembler itself may refuse an impossible jump; encode by hand then.
      p = new Uint8Array([0x15, 0x01, 1, 0, 0, 0, 0, 0, 0x18, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    }
    const r = kernelLoad({ insns: p, progType: KERNEL_PROG_TYPE.SOCKET_FILTER });
    assert.equal(r.loaded, false);
    assert.match(r.verifierLog, re);
  });
}

// LD_ABS / LD_IND on a 64-byte frame whose byte i is i + 1.
const FRAME = new Uint8Array(64).map((_, i) => i + 1);
const LD_CASES: ReadonlyArray<[string, keyof typeof KERNEL_PROG_TYPE, string, number]> = [
  ['socket filter: skb[0] is the byte after the Ethernet header, big-endian', 'SOCKET_FILTER', 'r6 = r1; r0 = *(u32 *)skb[0]; exit', 0x0f101112],
  ['tc: skb[0] is the first byte of the frame', 'SCHED_CLS', 'r6 = r1; r0 = *(u32 *)skb[0]; exit', 0x01020304],
  ['last byte in range', 'SOCKET_FILTER', 'r6 = r1; r0 = *(u8 *)skb[49]; exit', 0x40],
  ['out of range: the program ends with R0 = 0', 'SOCKET_FILTER', 'r6 = r1; r0 = 77; r0 = *(u16 *)skb[49]; r0 = 5; exit', 0],
  ['tc: a straddling load ends the program with 0', 'SCHED_CLS', 'r6 = r1; r0 = *(u16 *)skb[63]; r0 = 5; exit', 0],
  ['negative offset (not SKF_*): ends with 0', 'SOCKET_FILTER', 'r6 = r1; r0 = *(u8 *)skb[-1]; r0 = 5; exit', 0],
  ['SKF_NET_OFF (-0x100000) addresses the network header', 'SOCKET_FILTER', 'r6 = r1; r0 = *(u8 *)skb[-0x100000]; exit', 0x0f],
  ['SKF_LL_OFF (-0x200000) addresses the link-layer header', 'SOCKET_FILTER', 'r6 = r1; r0 = *(u8 *)skb[-0x1fffff]; exit', 0x02],
  ['LD_IND adds the low 32 bits of src', 'SOCKET_FILTER', 'r6 = r1; r7 = 0x100000000 ll; r0 = *(u8 *)skb[r7 + 3]; exit', 0x12],
  ['LD_IND with src -1 and imm 1 reads skb[0]', 'SOCKET_FILTER', 'r6 = r1; r7 = -1; r0 = *(u8 *)skb[r7 + 1]; exit', 0x0f],
  ['LD_IND past 2^31 ends with 0', 'SCHED_CLS', 'r6 = r1; r7 = 0x7fffffff; r0 = *(u8 *)skb[r7 + 1]; r0 = 5; exit', 0],
];

for (const [what, type, src, want] of LD_CASES) {
  test(`LD_ABS/LD_IND: ${what}`, { skip }, () => {
    const r = kernelTestRun({ insns: encode(asm(src)), progType: KERNEL_PROG_TYPE[type], data: FRAME });
    assert.equal(r.retval, want);
  });
}

test('LD_ABS is refused in XDP programs and needs R6 = ctx', { skip }, () => {
  const xdp = kernelLoad({ insns: encode(asm('r6 = r1; r0 = *(u32 *)skb[0]; exit')), progType: KERNEL_PROG_TYPE.XDP });
  assert.equal(xdp.loaded, false);
  assert.match(xdp.verifierLog, /BPF_LD_\[ABS\|IND\] instructions not allowed/);
  const noR6 = kernelLoad({ insns: encode(asm('r0 = *(u32 *)skb[0]; exit')), progType: KERNEL_PROG_TYPE.SOCKET_FILTER });
  assert.equal(noR6.loaded, false);
  assert.match(noR6.verifierLog, /R6 !read_ok/);
  // LD_ABS clobbers R1-R5 like a helper call.
  assert.throws(
    () => kernelTestRun({ insns: encode(asm('r6 = r1; r2 = 7; r0 = *(u8 *)skb[0]; r0 = r2; exit')), progType: KERNEL_PROG_TYPE.SOCKET_FILTER, data: FRAME }),
    (e: unknown) => e instanceof OracleError && e.code === 'ORACLE_LOAD' && /R2 !read_ok/.test(e.verifierLog),
  );
});
