// Memory instructions against the Linux kernel (BPF_PROG_TEST_RUN through
// the oracle of src/cli/kernel-oracle.ts): atomics of both widths with their
// fetch / xchg / cmpxchg results, sign-extending loads, byte-sized stores.
// Each program works on its stack below fp-16 (the oracle's prologue keeps
// the context pointer at fp-8) and leaves a 64-bit R0 that mixes every
// result; the interpreter must produce the same R0. Skips without the oracle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelAvailable } from '../../src/cli/kernel-oracle.js';
import { assemble } from '../../src/isa/asm.js';
import { runRaw } from '../../src/runtime/raw.js';
import { kernelR0 } from '../oracle/alu-diff.js';

const k = kernelAvailable();
const skip = k.ok ? false : `kernel oracle unavailable: ${k.reason}`;

const INIT = [0x1122334455667788n, 0xf0f0f0f0ffffffffn, 0x8000000000000000n, 0n, 0x00000000fffffffen];
const SRC = [0x0f0f0f0f0f0f0f0fn, 0xffffffff00000001n, 1n, 0xffffffffffffffffn, 0x7fffffffn];

function programs(): string[] {
  const out: string[] = [];
  const atomics = ['add', 'or', 'and', 'xor', 'fetch add', 'fetch or', 'fetch and', 'fetch xor', 'xchg'];
  for (let i = 0; i < INIT.length; i++) {
    const init = INIT[i]!;
    const src = SRC[(i * 3 + 1) % SRC.length]!;
    for (const w of ['', '32']) {
      for (const a of atomics) {
        // r0 = memory after ^ (src register after << 1)
        out.push(`lddw %r1, 0x${init.toString(16)}\nstxdw [%r10-24], %r1\nlddw %r2, 0x${src.toString(16)}\n` +
          `lock ${a}${w} [%r10-24], %r2\nldxdw %r0, [%r10-24]\nlsh %r2, 1\nxor %r0, %r2\nexit`);
      }
      for (const equal of [true, false]) {
        // cmpxchg: R0 = old value (32-bit form zero-extended), memory swapped when equal
        const r0 = equal ? `lddw %r0, 0x${(w ? (0xabcd000000000000n | (init & 0xffffffffn)) : init).toString(16)}` : 'mov %r0, 3';
        out.push(`lddw %r1, 0x${init.toString(16)}\nstxdw [%r10-24], %r1\nlddw %r2, 0x${src.toString(16)}\n${r0}\n` +
          `lock cmpxchg${w} [%r10-24], %r2\nldxdw %r3, [%r10-24]\nlsh %r3, 3\nxor %r0, %r3\nexit`);
      }
    }
    for (const [ld, off] of [['ldxsb', -8], ['ldxsb', -5], ['ldxsh', -6], ['ldxsw', -4], ['ldxsw', -8], ['ldxb', -1], ['ldxh', -2], ['ldxw', -8]] as const) {
      out.push(`lddw %r1, 0x${init.toString(16)}\nstxdw [%r10-24], %r1\n${ld} %r0, [%r10-${16 - off}]\nexit`);
    }
    out.push(`lddw %r1, 0x${init.toString(16)}\nstxdw [%r10-24], %r1\nstb [%r10-23], 0x5a\nsth [%r10-20], -2\nstw [%r10-32], -1\n` +
      `stdw [%r10-40], -3\nldxdw %r0, [%r10-24]\nldxdw %r2, [%r10-40]\nxor %r0, %r2\nldxw %r2, [%r10-32]\nadd %r0, %r2\nexit`);
  }
  return out;
}

test('atomics, sign-extending loads and stores agree with the kernel', { skip }, () => {
  const srcs = programs();
  const progs = srcs.map((s) => assemble(s));
  const kern = kernelR0(progs);
  const bad: string[] = [];
  progs.forEach((p, i) => {
    const mine = runRaw(p).r0;
    if (kern[i] !== mine) bad.push(`${srcs[i]!.replace(/\n/g, '; ')}\n  kernel ${typeof kern[i] === 'bigint' ? '0x' + (kern[i] as bigint).toString(16) : kern[i]}, tsbpf 0x${mine.toString(16)}`);
  });
  assert.deepEqual(bad, []);
  assert.ok(progs.length > 150);
});
