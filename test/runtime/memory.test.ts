// The linear memory: allocator, growth, region table, host accessors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinearMemory, NULL_GUARD, WASM_PAGE } from '../../src/runtime/memory.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.equal((e as Error).name, 'MemoryError');
    return (e as { code: string }).code;
  }
  assert.fail('expected a MemoryError');
}

test('allocations are aligned, zeroed, above the NULL guard and disjoint', () => {
  const m = new LinearMemory();
  const blocks: Array<[number, number]> = [];
  for (const [size, align] of [[1, 8], [100, 16], [512, 4096], [3, 8], [64, 64]] as const) {
    const a = m.alloc(size, align);
    assert.ok(a >= NULL_GUARD, 'never in the NULL page');
    assert.equal(a % align, 0, `aligned to ${align}`);
    assert.ok(m.u8.subarray(a, a + size).every((b) => b === 0));
    for (const [b, n] of blocks) assert.ok(a + size <= b || b + n <= a, 'disjoint');
    blocks.push([a, size]);
    m.u8.fill(0xaa, a, a + size);
  }
});

test('free coalesces: the same space is reused', () => {
  const m = new LinearMemory();
  const a = m.alloc(1000);
  const b = m.alloc(1000);
  const c = m.alloc(1000);
  m.free(a);
  m.free(b);
  const d = m.alloc(2000);
  assert.equal(d, a, 'two adjacent freed blocks hold a bigger one');
  m.free(c);
  m.free(d);
  assert.equal(m.allocatedBytes, 0);
  assert.equal(code(() => m.free(d)), 'MEM_BAD_FREE');
  assert.equal(code(() => m.free(12345)), 'MEM_BAD_FREE');
});

test('growth: the memory grows on demand and cached views follow', () => {
  const m = new LinearMemory({ initialPages: 1 });
  const before = m.size;
  const g = m.generation;
  const a = m.alloc(3 * WASM_PAGE);
  assert.ok(m.size >= before + 3 * WASM_PAGE);
  assert.ok(m.generation > g);
  assert.equal(m.u8.length, m.size);
  m.u8[a + 3 * WASM_PAGE - 1] = 7;
  assert.equal(m.view.getUint8(a + 3 * WASM_PAGE - 1), 7);
});

test('exhaustion is a MemoryError, not a RangeError', () => {
  const m = new LinearMemory({ initialPages: 1, maximumPages: 2 });
  assert.equal(code(() => m.alloc(10 * WASM_PAGE)), 'MEM_EXHAUSTED');
  assert.equal(code(() => m.alloc(-1)), 'MEM_BAD_SIZE');
  assert.equal(code(() => m.alloc(8, 3)), 'MEM_BAD_ALIGN');
});

test('regions: lookup, containment, overlap refused, removed with their block', () => {
  const m = new LinearMemory();
  const a = m.alloc(64);
  const b = m.alloc(64);
  m.addRegion(a, 64, 'stack', true);
  m.addRegion(b, 32, 'map_value:counts', false);
  assert.equal(m.regionAt(a)?.name, 'stack');
  assert.equal(m.regionAt(a + 63)?.name, 'stack');
  assert.equal(m.regionAt(b + 32), undefined);
  assert.equal(m.findRegion(a + 60, 4)?.name, 'stack');
  assert.equal(m.findRegion(a + 60, 8), undefined, 'access straddling the end is in no region');
  assert.equal(m.regionAt(0), undefined);
  assert.equal(code(() => m.addRegion(a + 8, 8, 'x', true)), 'MEM_BAD_REGION');
  assert.equal(code(() => m.addRegion(0, 8, 'null', true)), 'MEM_BAD_REGION');
  assert.deepEqual(m.listRegions().map((r) => r.name), ['stack', 'map_value:counts']);
  m.free(b);
  assert.equal(m.regionAt(b), undefined);
  m.removeRegion(a);
  assert.equal(m.listRegions().length, 0);
});

test('host accessors: bounds-checked reads and writes, 64-bit values as bigint', () => {
  const m = new LinearMemory();
  const a = m.alloc(16);
  m.writeU64(a, 0x1122334455667788n);
  assert.equal(m.readU64(a), 0x1122334455667788n);
  assert.equal(m.readU32(a), 0x55667788);
  m.write(a + 8, new TextEncoder().encode('hi\0'));
  assert.equal(m.readCString(a + 8, 8), 'hi');
  assert.deepEqual([...m.read(a, 2)], [0x88, 0x77]);
  assert.equal(code(() => m.read(m.size - 1, 2)), 'MEM_BAD_ACCESS');
});

test('a shared memory is backed by a SharedArrayBuffer', () => {
  const m = new LinearMemory({ shared: true, maximumPages: 16 });
  assert.ok(m.wasm.buffer instanceof SharedArrayBuffer);
  const a = m.alloc(2 * WASM_PAGE);
  m.u8[a] = 1;
  assert.equal(m.u8.length, m.size);
});
