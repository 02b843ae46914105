// Map semantics at the user-space and program-side APIs: flags, errno codes,
// iteration, per-CPU values, LRU, LPM, queue/stack, bloom, map-in-map.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinearMemory } from '../../src/runtime/memory.js';
import {
  BPF_ANY, BPF_EXIST, BPF_F_NO_PREALLOC, BPF_MAP_TYPE as T, BPF_NOEXIST, DESC, ERRNO, MAP_DESC_MAGIC,
  type BpfMap, type BpfMapOfMaps, type BpfProgArray, type BpfQueueMap, type BpfBloomFilter,
  createMap, mapFromHandle,
} from '../../src/runtime/maps/index.js';
import { HashMap } from '../../src/runtime/maps/hash.js';

const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);
const u64 = (v: number): Uint8Array => new Uint8Array(new BigUint64Array([BigInt(v)]).buffer);
const rd32 = (b: Uint8Array | undefined): number => (b ? new DataView(b.buffer, b.byteOffset).getUint32(0, true) : -1);

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.equal((e as Error).name, 'MapError', String(e));
    return (e as { code: string }).code;
  }
  return 'ok';
}

test('array: zeroed values, index keys, flags and errors', () => {
  const mem = new LinearMemory();
  const m = createMap(mem, { name: 'a', type: T.ARRAY, keySize: 4, valueSize: 12, maxEntries: 3 });
  assert.deepEqual(m.lookup(u32(2)), new Uint8Array(12));
  assert.equal(m.lookup(u32(3)), undefined);
  m.update(u32(1), new Uint8Array(12).fill(7));
  assert.deepEqual(m.lookup(u32(1)), new Uint8Array(12).fill(7));
  assert.equal(code(() => m.update(u32(1), new Uint8Array(12), BPF_NOEXIST)), 'EEXIST');
  assert.equal(code(() => m.update(u32(1), new Uint8Array(12), BPF_EXIST)), 'ok');
  assert.equal(code(() => m.update(u32(3), new Uint8Array(12))), 'E2BIG');
  assert.equal(code(() => m.update(u32(0), new Uint8Array(12), 3)), 'EINVAL');
  assert.equal(code(() => m.delete(u32(0))), 'EINVAL');
  assert.equal(code(() => m.update(u32(0), new Uint8Array(11))), 'EINVAL');
  assert.deepEqual([...m.keys()].map(rd32), [0, 1, 2]);
  assert.equal(rd32(m.nextKey(u32(99))), 0);
  assert.equal(m.nextKey(u32(2)), undefined);
  // program side: value addresses stride 16 (round_up(12, 8))
  const k = mem.alloc(4);
  mem.writeU32(k, 2);
  const a2 = m.lookupElem(k, 0);
  mem.writeU32(k, 1);
  assert.equal(a2 - m.lookupElem(k, 0), 16);
  mem.writeU32(k, 3);
  assert.equal(m.lookupElem(k, 0), 0);
  assert.equal(m.deleteElem(k), -ERRNO.EINVAL);
  assert.equal(mem.readU32(m.handle + DESC.MAGIC), MAP_DESC_MAGIC);
  assert.equal(mapFromHandle(mem, m.handle), m);
  assert.equal(mem.readU32(m.handle + DESC.VALUE_STRIDE), 16);
});

test('createMap refuses what BPF_MAP_CREATE refuses', () => {
  const mem = new LinearMemory();
  const c = (type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0, extra: Record<string, unknown> = {}): string =>
    code(() => createMap(mem, { name: 'x', type, keySize, valueSize, maxEntries, flags, ...extra }));
  assert.equal(c(T.ARRAY, 8, 4, 1), 'EINVAL');
  assert.equal(c(T.ARRAY, 4, 0, 1), 'EINVAL');
  assert.equal(c(T.ARRAY, 4, 4, 0), 'EINVAL');
  assert.equal(c(T.ARRAY, 4, 4, 1, BPF_F_NO_PREALLOC), 'EINVAL');
  assert.equal(c(T.PERCPU_ARRAY, 4, 32769, 1), 'E2BIG');
  assert.equal(c(T.HASH, 0, 4, 1), 'EINVAL');
  assert.equal(c(T.HASH, 4, 4, 1, 2), 'EINVAL');
  assert.equal(c(T.LRU_HASH, 4, 4, 1, BPF_F_NO_PREALLOC), 'ENOTSUPP');
  assert.equal(c(T.HASH, 4, 8, 1 << 28, BPF_F_NO_PREALLOC), 'E2BIG');
  assert.equal(c(T.LPM_TRIE, 8, 4, 1, 0), 'EINVAL');
  assert.equal(c(T.LPM_TRIE, 4, 4, 1, 1), 'EINVAL');
  assert.equal(c(T.LPM_TRIE, 261, 4, 1, 1), 'EINVAL');
  assert.equal(c(T.QUEUE, 4, 4, 1), 'EINVAL');
  assert.equal(c(T.RINGBUF, 0, 0, 12288), 'EINVAL');
  assert.equal(c(T.RINGBUF, 0, 0, 4096, 1), 'EINVAL');
  assert.equal(c(T.PROG_ARRAY, 4, 8, 1), 'EINVAL');
  assert.equal(c(T.ARRAY_OF_MAPS, 4, 4, 1), 'EINVAL');
  assert.equal(c(T.BLOOM_FILTER, 0, 4, 1, 0, { mapExtra: 16n }), 'EINVAL');
  assert.equal(c(T.STACK_TRACE, 4, 8, 1), 'ENOTSUPP');
  assert.equal(c(999, 4, 4, 1), 'EINVAL');
  assert.equal(mem.allocatedBytes, 0, 'failed creations leave nothing allocated');
});

test('hash: BPF_ANY/NOEXIST/EXIST, E2BIG when full, stable value addresses, delete and reuse', () => {
  const mem = new LinearMemory();
  const m = createMap(mem, { name: 'h', type: T.HASH, keySize: 8, valueSize: 8, maxEntries: 4 }) as HashMap;
  for (let i = 0; i < 4; i++) m.update(u64(i), u64(i * 10));
  assert.equal(code(() => m.update(u64(9), u64(0))), 'E2BIG');
  assert.equal(code(() => m.update(u64(1), u64(11), BPF_NOEXIST)), 'EEXIST');
  assert.equal(code(() => m.update(u64(9), u64(11), BPF_EXIST)), 'ENOENT');
  assert.equal(code(() => m.update(u64(1), u64(11), BPF_EXIST)), 'ok');
  assert.equal(code(() => m.update(u64(1), u64(11), 4)), 'EINVAL');
  assert.equal(code(() => m.delete(u64(9))), 'ENOENT');
  const k = mem.alloc(8);
  mem.write(k, u64(2));
  const addr = m.lookupElem(k, 0);
  assert.ok(addr > 0);
  m.update(u64(2), u64(77));
  assert.equal(m.lookupElem(k, 0), addr, 'update of a live element keeps its address');
  assert.equal(mem.readU64(addr), 77n);
  m.delete(u64(3));
  assert.equal(m.count, 3);
  m.update(u64(5), u64(50));
  assert.equal(m.count, 4);
  const keys = [...m.keys()].map((b) => Number(new DataView(b.buffer).getBigUint64(0, true))).sort();
  assert.deepEqual(keys, [0, 1, 2, 5]);
  // get_next_key walks every key once, starting over from an unknown key
  const seen: number[] = [];
  for (let kk = m.nextKey(); kk; kk = m.nextKey(kk)) seen.push(Number(new DataView(kk.buffer).getBigUint64(0, true)));
  assert.deepEqual(seen.sort(), [0, 1, 2, 5]);
  assert.ok(m.nextKey(u64(1234)));
  assert.deepEqual(m.lookupAndDelete(u64(5)), u64(50));
  assert.equal(m.lookup(u64(5)), undefined);
  // program side
  const v = mem.alloc(8);
  mem.write(v, u64(1));
  mem.write(k, u64(100));
  assert.equal(m.updateElem(k, v, BPF_ANY, 0), 0);
  assert.equal(m.updateElem(k, v, BPF_NOEXIST, 0), -ERRNO.EEXIST);
  mem.write(k, u64(101));
  assert.equal(m.updateElem(k, v, BPF_ANY, 0), -ERRNO.E2BIG);
  assert.equal(m.deleteElem(k), -ERRNO.ENOENT);
});

test('per-CPU maps: one value per CPU, padded to 8 at the user-space API', () => {
  const mem = new LinearMemory();
  for (const type of [T.PERCPU_ARRAY, T.PERCPU_HASH, T.LRU_PERCPU_HASH]) {
    const m = createMap(mem, { name: 'p', type, keySize: 4, valueSize: 4, maxEntries: 2 }, { cpus: 3 });
    m.update(u32(1), u32(5));
    assert.deepEqual(m.lookupPerCpu(u32(1))!.map(rd32), [5, 5, 5]);
    const all = new Uint8Array(24);
    all.set(u32(1), 0); all.set(u32(2), 8); all.set(u32(3), 16);
    m.update(u32(1), all);
    assert.deepEqual(m.lookup(u32(1)), all);
    assert.equal(rd32(m.lookup(u32(1), 2)), 3);
    const k = mem.alloc(8);
    mem.writeU32(k, 1);
    const a1 = m.lookupElem(k, 1);
    assert.equal(mem.readU32(a1), 2);
    const v = mem.alloc(8);
    mem.writeU32(v, 42);
    assert.equal(m.updateElem(k, v, BPF_ANY, 2), 0);
    assert.deepEqual(m.lookupPerCpu(u32(1))!.map(rd32), [1, 2, 42]);
    if (type !== T.PERCPU_ARRAY) {
      // an element inserted by a program: other CPUs start at zero
      mem.writeU32(k, 0);
      assert.equal(m.updateElem(k, v, BPF_ANY, 1), 0);
      assert.deepEqual(m.lookupPerCpu(u32(0))!.map(rd32), [0, 42, 0]);
    }
  }
});

test('lru_hash: evicts, keeps the recently used', () => {
  const mem = new LinearMemory();
  const m = createMap(mem, { name: 'l', type: T.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
  for (let i = 0; i < 8; i++) m.update(u32(i), u32(i));
  const k = mem.alloc(4);
  // a program uses keys 0..3 between the inserts
  for (let i = 8; i < 16; i++) {
    for (let j = 0; j < 4; j++) {
      mem.writeU32(k, j);
      assert.ok(m.lookupElem(k, 0) > 0, `key ${j} survived insert ${i}`);
    }
    m.update(u32(i), u32(i));
  }
  for (let j = 0; j < 4; j++) assert.ok(m.lookup(u32(j)), `recently used key ${j} kept`);
  assert.equal([...m.keys()].length, 8);
  assert.equal(m.lookup(u32(15))?.[0], 15);
});

test('lpm_trie: longest prefix match, exact delete, errors', () => {
  const mem = new LinearMemory();
  const m = createMap(mem, { name: 't', type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 3, flags: BPF_F_NO_PREALLOC });
  const key = (plen: number, a: number, b: number, c: number, d: number): Uint8Array => {
    const x = new Uint8Array(8);
    new DataView(x.buffer).setUint32(0, plen, true);
    x.set([a, b, c, d], 4);
    return x;
  };
  m.update(key(8, 10, 0, 0, 0), u32(1));
  m.update(key(16, 10, 1, 0, 0), u32(2));
  m.update(key(32, 10, 1, 2, 3), u32(3));
  assert.equal(rd32(m.lookup(key(32, 10, 1, 2, 3))), 3);
  assert.equal(rd32(m.lookup(key(32, 10, 1, 9, 9))), 2);
  assert.equal(rd32(m.lookup(key(32, 10, 9, 9, 9))), 1);
  assert.equal(rd32(m.lookup(key(12, 10, 1, 2, 3))), 1, 'the lookup key prefix length bounds the match');
  assert.equal(m.lookup(key(32, 11, 0, 0, 0)), undefined);
  assert.equal(code(() => m.update(key(24, 1, 2, 3, 0), u32(4))), 'ENOSPC');
  assert.equal(code(() => m.update(key(33, 1, 2, 3, 0), u32(4))), 'EINVAL');
  assert.equal(code(() => m.update(key(8, 10, 0, 0, 0), u32(4), BPF_NOEXIST)), 'EEXIST');
  assert.equal(code(() => m.delete(key(24, 10, 1, 2, 0))), 'ENOENT');
  m.delete(key(16, 10, 1, 0, 0));
  assert.equal(rd32(m.lookup(key(32, 10, 1, 9, 9))), 1);
  const k = mem.alloc(8);
  mem.write(k, key(32, 10, 1, 2, 3));
  assert.equal(mem.readU32(m.lookupElem(k, 0)), 3);
  // post-order: more specific first
  assert.deepEqual([...m.keys()].map((b) => b[0]), [32, 8]);
});

test('queue and stack: push/pop/peek, E2BIG when full, BPF_EXIST overwrites the oldest', () => {
  const mem = new LinearMemory();
  const q = createMap(mem, { name: 'q', type: T.QUEUE, keySize: 0, valueSize: 4, maxEntries: 3 }) as BpfQueueMap;
  const s = createMap(mem, { name: 's', type: T.STACK, keySize: 0, valueSize: 4, maxEntries: 3 }) as BpfQueueMap;
  for (const m of [q, s]) {
    for (let i = 1; i <= 3; i++) m.push(u32(i));
    assert.equal(code(() => m.push(u32(4))), 'E2BIG');
    m.push(u32(4), BPF_EXIST);
    assert.equal(code(() => m.push(u32(4), BPF_NOEXIST)), 'EINVAL');
    assert.equal(code(() => m.delete(new Uint8Array(0))), 'EINVAL');
    assert.equal(code(() => m.nextKey()), 'EINVAL');
  }
  assert.deepEqual([q.pop(), q.pop(), q.peek(), q.pop(), q.pop()].map(rd32), [2, 3, 4, 4, -1]);
  assert.deepEqual([s.pop(), s.pop(), s.peek(), s.pop(), s.pop()].map(rd32), [4, 3, 2, 2, -1]);
  const v = mem.alloc(8);
  mem.writeU32(v, 9);
  assert.equal(q.pushElem(v, 0), 0);
  mem.writeU32(v, 0);
  assert.equal(q.peekElem(v), 0);
  assert.equal(mem.readU32(v), 9);
  assert.equal(q.popElem(v), 0);
  assert.equal(q.popElem(v), -ERRNO.ENOENT);
});

test('bloom filter: no false negatives, false positive rate bounded', () => {
  const mem = new LinearMemory();
  const b = createMap(mem, { name: 'b', type: T.BLOOM_FILTER, keySize: 0, valueSize: 4, maxEntries: 1000, mapExtra: 3n }) as BpfBloomFilter;
  for (let i = 0; i < 1000; i++) b.push(u32(i * 7919));
  for (let i = 0; i < 1000; i++) assert.ok(b.has(u32(i * 7919)));
  let fp = 0;
  for (let i = 0; i < 10000; i++) if (b.has(u32(1e9 + i))) fp++;
  assert.ok(fp < 1500, `false positives ${fp}/10000`);
  assert.equal(code(() => b.push(u32(1), BPF_EXIST)), 'EINVAL');
  const v = mem.alloc(8);
  mem.writeU32(v, 7919);
  assert.equal(b.peekElem(v), 0);
});

test('map in map: program lookup yields the inner map handle; user space sees ids', () => {
  const mem = new LinearMemory();
  const inner = { name: 'in', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 };
  for (const type of [T.ARRAY_OF_MAPS, T.HASH_OF_MAPS]) {
    const outer = createMap(mem, { name: 'o', type, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: inner }) as BpfMapOfMaps;
    const a = createMap(mem, inner);
    const wrong = createMap(mem, { ...inner, maxEntries: 3 });
    outer.update(u32(1), u32(a.id));
    assert.equal(rd32(outer.lookup(u32(1))), a.id);
    assert.equal(outer.getInner(u32(1)), a);
    assert.equal(code(() => outer.update(u32(0), u32(wrong.id))), 'EINVAL');
    assert.equal(code(() => outer.update(u32(0), u32(123456))), 'EBADF');
    const k = mem.alloc(4);
    mem.writeU32(k, 1);
    const h = outer.lookupElem(k, 0);
    assert.equal(h, a.handle);
    assert.equal(mapFromHandle(mem, h), a);
    mem.writeU32(k, 0);
    assert.equal(outer.lookupElem(k, 0), 0);
    outer.delete(u32(1));
    assert.equal(outer.lookup(u32(1)), undefined);
  }
});

test('prog array: slots of programs for tail calls', () => {
  const mem = new LinearMemory();
  const progs = new Map<number, object>([[7, { name: 'p7' }]]);
  const pa = createMap(mem, { name: 'jt', type: T.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 },
    { resolveProgram: (id) => progs.get(id) }) as BpfProgArray;
  pa.update(u32(2), u32(7));
  assert.equal(pa.getProgram(2), progs.get(7));
  assert.equal(rd32(pa.lookup(u32(2))), 7);
  assert.equal(pa.getProgram(1), undefined);
  assert.equal(code(() => pa.update(u32(1), u32(8))), 'EBADF');
  assert.equal(code(() => pa.update(u32(1), u32(7), BPF_NOEXIST)), 'EINVAL');
  assert.equal(code(() => pa.delete(u32(1))), 'ENOENT');
  pa.delete(u32(2));
  assert.equal(pa.getProgram(2), undefined);
});

test('freeze, BPF_F_RDONLY, global data', () => {
  const mem = new LinearMemory();
  const m = createMap(mem, { name: '.rodata', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, data: u32(9), readonly: true });
  assert.equal(rd32(m.lookup(u32(0))), 9);
  assert.ok(m.frozen);
  assert.equal(code(() => m.update(u32(0), u32(1))), 'EPERM');
  assert.equal(code(() => m.freeze()), 'EBUSY');
  const r = createMap(mem, { name: 'r', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: 1 << 3 });
  assert.equal(code(() => r.update(u32(0), u32(1))), 'EPERM');
});

test('batch operations: whole buckets, cursors, ENOSPC, partial counts', () => {
  const mem = new LinearMemory();
  const m = createMap(mem, { name: 'h', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 64 });
  const keys = Array.from({ length: 50 }, (_, i) => u32(i));
  assert.equal(m.updateBatch(keys, keys.map((k) => k)), 50);
  const got: number[] = [];
  let cursor: number | undefined;
  let pages = 0;
  do {
    const r: { keys: Uint8Array[]; values: Uint8Array[]; cursor?: number } = m.lookupBatch(8, cursor);
    assert.ok(r.keys.length <= 8);
    r.keys.forEach((k, i) => assert.deepEqual(k, r.values[i]));
    got.push(...r.keys.map(rd32));
    cursor = r.cursor;
    pages++;
  } while (cursor !== undefined && pages < 100);
  assert.deepEqual(got.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  // update batch stops at the first error and says how many went in
  try {
    m.updateBatch([u32(100), u32(1), u32(101)], [u32(0), u32(0), u32(0)], BPF_NOEXIST);
    assert.fail('expected EEXIST');
  } catch (e) {
    assert.equal((e as { code: string }).code, 'EEXIST');
    assert.equal((e as { count: number }).count, 1);
  }
  assert.equal(m.deleteBatch([u32(100), u32(0)]), 2);
  const all = m.lookupAndDeleteBatch(1000);
  assert.equal(all.keys.length, 49);
  assert.equal(all.cursor, undefined);
  assert.equal([...m.keys()].length, 0);
  // arrays batch by index
  const a = createMap(mem, { name: 'a', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 5 });
  const p1 = a.lookupBatch(3);
  assert.deepEqual(p1.keys.map(rd32), [0, 1, 2]);
  const p2 = a.lookupBatch(3, p1.cursor);
  assert.deepEqual(p2.keys.map(rd32), [3, 4]);
  assert.equal(p2.cursor, undefined);
});

test('1,000,000-entry hash with 8-byte keys and values fits in 64 MB', () => {
  const mem = new LinearMemory();
  const before = mem.allocatedBytes;
  const m = createMap(mem, { name: 'big', type: T.HASH, keySize: 8, valueSize: 8, maxEntries: 1_000_000 });
  const bytes = mem.allocatedBytes - before;
  const k = new Uint8Array(8);
  const dv = new DataView(k.buffer);
  const t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) {
    dv.setUint32(0, i, true);
    dv.setUint32(4, i ^ 0x5bd1e995, true);
    m.update(k, k);
  }
  const t1 = performance.now();
  dv.setUint32(0, 777777, true);
  dv.setUint32(4, 777777 ^ 0x5bd1e995, true);
  assert.deepEqual(m.lookup(k), k);
  assert.equal(code(() => m.update(new Uint8Array(8).fill(0xff), k)), 'E2BIG');
  assert.ok(mem.size <= 64 * 1024 * 1024, `memory ${mem.size} bytes`);
  console.log(`# 1M hash: ${bytes} bytes allocated (${(bytes / 1e6).toFixed(1)} bytes/entry), memory ${mem.size >> 20} MiB, ${((t1 - t0) * 1000 / 1e6).toFixed(2)} us/update`);
  m.destroy();
  assert.equal(mem.allocatedBytes, before);
});

test('destroyed maps leave the registry and refuse use', () => {
  const mem = new LinearMemory();
  const m: BpfMap = createMap(mem, { name: 'a', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  const h = m.handle;
  m.destroy();
  assert.equal(mapFromHandle(mem, h), undefined);
  assert.equal(code(() => m.update(u32(0), u32(0))), 'EBADF');
});
