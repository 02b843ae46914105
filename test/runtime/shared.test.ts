// Atomics on a shared memory are real atomics: two worker threads hammering
// one counter with `lock add` lose no update; fetch/xchg/cmpxchg give the
// same results as on an unshared memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { assemble } from '../../src/isa/asm.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';

function setup(shared: boolean): { memory: LinearMemory; stack: number; cell: number } {
  const memory = new LinearMemory(shared ? { shared: true, maximumPages: 64 } : {});
  const stack = memory.alloc(STACK_AREA, 16);
  memory.addRegion(stack, STACK_AREA, 'stack', true);
  const cell = memory.alloc(16, 16);
  memory.addRegion(cell, 16, 'map_value:cell', true);
  return { memory, stack, cell };
}

const PROGS = [
  'lddw %r2, 0x100000003\nlock add [%r1+0], %r2\nldxdw %r0, [%r1+0]\nexit',
  'lddw %r2, 0x100000003\nlock fetch add [%r1+0], %r2\nmov %r0, %r2\nexit',
  'mov %r2, 5\nlock fetch or32 [%r1+8], %r2\nldxdw %r0, [%r1+8]\nadd %r0, %r2\nexit',
  'mov %r2, -1\nlock xchg32 [%r1+8], %r2\nmov %r0, %r2\nexit',
  'ldxdw %r0, [%r1+0]\nmov %r2, 9\nlock cmpxchg [%r1+0], %r2\nldxdw %r3, [%r1+0]\nadd %r0, %r3\nexit',
  'mov %r0, 1\nmov %r2, 9\nlock cmpxchg32 [%r1+8], %r2\nexit',
  'mov %r2, 6\nlock fetch and [%r1+0], %r2\nlock xor [%r1+0], %r2\nldxdw %r0, [%r1+0]\nadd %r0, %r2\nexit',
];

test('atomics give the same results on shared and unshared memories', () => {
  for (const src of PROGS) {
    const results = [false, true].map((shared) => {
      const { memory, stack, cell } = setup(shared);
      memory.writeU64(cell, 0x1122334455667788n);
      memory.writeU64(cell + 8, 0x99aabbccddeeff00n);
      const r = execute(prepare(assemble(src)), { memory, stack, args: [cell] });
      return [r.r0, memory.readU64(cell), memory.readU64(cell + 8)];
    });
    assert.deepEqual(results[1], results[0], src);
  }
});

test('misaligned atomics on a shared memory fault', () => {
  const { memory, stack, cell } = setup(true);
  assert.throws(() => execute(prepare(assemble('mov %r2, 1\nlock add [%r1+4], %r2\nexit')), { memory, stack, args: [cell] }),
    { name: 'RuntimeFault', code: 'FAULT_MISALIGNED', pc: 1 });
});

test('two worker threads doing lock add on one counter lose no update', async () => {
  const { memory, cell } = setup(true);
  const N = 20000;
  const url = new URL('../../src/runtime/', import.meta.url).href;
  const code = `
    import { workerData, parentPort } from 'node:worker_threads';
    const { LinearMemory } = await import(${JSON.stringify(url + 'memory.js')});
    const { execute, prepare, STACK_AREA } = await import(${JSON.stringify(url + 'interpreter.js')});
    const { assemble } = await import(${JSON.stringify(new URL('../../src/isa/asm.js', import.meta.url).href)});
    const memory = new LinearMemory({ memory: workerData.wasm });
    const stack = workerData.stack;
    const p = prepare(assemble('mov %r2, 1\\nlock add [%r1+0], %r2\\nlock add32 [%r1+8], %r2\\nmov %r0, 0\\nexit'));
    for (let i = 0; i < workerData.n; i++) execute(p, { memory, stack, args: [workerData.cell], checked: false });
    parentPort.postMessage('done');`;
  const stacks = [memory.alloc(STACK_AREA, 16), memory.alloc(STACK_AREA, 16)];
  const runs = stacks.map((stack) => new Promise<void>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { wasm: memory.wasm, stack, cell, n: N } });
    w.once('message', () => resolve());
    w.once('error', reject);
  }));
  await Promise.all(runs);
  memory.refresh();
  assert.equal(memory.readU64(cell), BigInt(2 * N));
  assert.equal(memory.readU32(cell + 8), 2 * N);
});
