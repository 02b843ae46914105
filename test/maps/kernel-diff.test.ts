// The same map operations from a program, on tsbpf and on the Linux kernel:
// same return value for every helper call, same final map contents.
// Skipped where the bpf() syscall is not permitted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelAvailable } from '../../src/cli/kernel-oracle.js';
import { BPF_F_NO_PREALLOC, BPF_MAP_TYPE as T } from '../../src/runtime/maps/index.js';
import { type MapDef, type Op, rng, runKernel, runTsbpf } from './harness.js';

const k = kernelAvailable();
const skip = k.ok ? false : `kernel oracle unavailable: ${k.reason}`;

const bytes = (n: number, v: number): Uint8Array => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (v >>> ((i % 4) * 8)) & 0xff;
  return b;
};

function compare(maps: MapDef[], ops: Op[], ordered: boolean[] = []): void {
  const ours = runTsbpf(maps, ops);
  const theirs = runKernel(maps, ops);
  assert.deepEqual(ours.results, theirs.results, 'helper return values, op by op');
  ours.maps.forEach((m, i) => {
    if (ordered[i]) assert.deepEqual(m, theirs.maps[i], `map ${i} contents in get_next_key order`);
    else assert.deepEqual([...m].sort(), [...theirs.maps[i]!].sort(), `map ${i} contents`);
  });
}

/** Random updates (all flags), lookups and deletes over a small key space. */
function randomOps(seed: number, n: number, map: MapDef, keyOf: (r: () => number) => Uint8Array): Op[] {
  const r = rng(seed);
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    const key = keyOf(r);
    if (x < 0.5) ops.push({ op: 'update', map: 0, key, value: bytes(map.valueSize, Math.floor(r() * 1e9)), flags: Math.floor(r() * 3.2) });
    else if (x < 0.75) ops.push({ op: 'lookup', map: 0, key });
    else ops.push({ op: 'delete', map: 0, key });
  }
  return ops;
}

test('hash: random update/lookup/delete sequences, flags and E2BIG, as the kernel', { skip }, () => {
  for (const [seed, ks, vs, max, flags] of [[1, 4, 4, 8, 0], [2, 8, 16, 16, 0], [3, 5, 3, 6, BPF_F_NO_PREALLOC], [4, 16, 8, 4, 0]] as const) {
    const map: MapDef = { type: T.HASH, keySize: ks, valueSize: vs, maxEntries: max, flags };
    compare([map], randomOps(seed, 60, map, (r) => bytes(ks, Math.floor(r() * max * 2))));
  }
});

test('array: updates with every flag, out of range, delete -> EINVAL, as the kernel', { skip }, () => {
  const map: MapDef = { type: T.ARRAY, keySize: 4, valueSize: 12, maxEntries: 5 };
  compare([map], randomOps(5, 60, map, (r) => bytes(4, Math.floor(r() * 7))));
});

test('lru_hash below capacity: same semantics as hash', { skip }, () => {
  const map: MapDef = { type: T.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 64 };
  compare([map], randomOps(6, 60, map, (r) => bytes(4, Math.floor(r() * 20))));
});

test('lru_hash at capacity: never E2BIG, size stays max_entries, the just-inserted key is present', { skip }, () => {
  const map: MapDef = { type: T.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 16 };
  const ops: Op[] = [];
  for (let i = 0; i < 48; i++) ops.push({ op: 'update', map: 0, key: bytes(4, i), value: bytes(4, i), flags: 0 });
  ops.push({ op: 'lookup', map: 0, key: bytes(4, 47) });
  const ours = runTsbpf([map], ops);
  const theirs = runKernel([map], ops);
  assert.deepEqual(ours.results, theirs.results);
  assert.ok(ours.results.every((r, i) => (i < 48 ? r === 0n : r === 47n)));
  assert.equal(ours.maps[0]!.length, 16);
  // the kernel's LRU may evict earlier than full (per-CPU free lists); both keep the last insert
  assert.ok(theirs.maps[0]!.length <= 16);
});

test('lpm_trie: matches, ENOSPC when full, EINVAL on a too long prefix, and get_next_key order', { skip }, () => {
  const map: MapDef = { type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 6, flags: BPF_F_NO_PREALLOC };
  const key = (plen: number, a: number, b = 0, c = 0, d = 0): Uint8Array => new Uint8Array([plen, 0, 0, 0, a, b, c, d]);
  const ops: Op[] = [
    { op: 'update', map: 0, key: key(8, 10), value: bytes(4, 1), flags: 0 },
    { op: 'update', map: 0, key: key(16, 10, 1), value: bytes(4, 2), flags: 0 },
    { op: 'update', map: 0, key: key(24, 10, 1, 2), value: bytes(4, 3), flags: 0 },
    { op: 'update', map: 0, key: key(32, 10, 1, 2, 3), value: bytes(4, 4), flags: 0 },
    { op: 'update', map: 0, key: key(16, 10, 200), value: bytes(4, 5), flags: 0 },
    { op: 'update', map: 0, key: key(0, 0), value: bytes(4, 6), flags: 0 },
    { op: 'update', map: 0, key: key(12, 172, 16), value: bytes(4, 7), flags: 0 },
    { op: 'update', map: 0, key: key(33, 1), value: bytes(4, 8), flags: 0 },
    { op: 'update', map: 0, key: key(16, 10, 1), value: bytes(4, 9), flags: 1 },
    { op: 'update', map: 0, key: key(20, 10, 1), value: bytes(4, 9), flags: 2 },
    { op: 'lookup', map: 0, key: key(32, 10, 1, 2, 3) },
    { op: 'lookup', map: 0, key: key(32, 10, 1, 2, 99) },
    { op: 'lookup', map: 0, key: key(32, 10, 1, 99, 99) },
    { op: 'lookup', map: 0, key: key(32, 10, 99, 99, 99) },
    { op: 'lookup', map: 0, key: key(32, 11, 0, 0, 0) },
    { op: 'lookup', map: 0, key: key(20, 10, 1, 2, 3) },
    { op: 'lookup', map: 0, key: key(16, 10, 200, 5) },
    { op: 'delete', map: 0, key: key(24, 10, 1, 2) },
    { op: 'delete', map: 0, key: key(24, 10, 1, 2) },
    { op: 'delete', map: 0, key: key(40, 10) },
    { op: 'lookup', map: 0, key: key(32, 10, 1, 2, 99) },
    { op: 'update', map: 0, key: key(12, 172, 16), value: bytes(4, 7), flags: 0 },
    // bits past the prefix length: kept as given, ignored when matching
    { op: 'update', map: 0, key: key(8, 10, 5, 6, 7), value: bytes(4, 10), flags: 0 },
    { op: 'update', map: 0, key: key(9, 10, 0x80, 9, 9), value: bytes(4, 11), flags: 0 },
    { op: 'delete', map: 0, key: key(9, 10, 0xff, 1, 1) },
  ];
  compare([map], ops, [true]);
});

test('queue and stack: push/pop/peek, full, BPF_EXIST overwrite, empty', { skip }, () => {
  for (const type of [T.QUEUE, T.STACK]) {
    const map: MapDef = { type, keySize: 0, valueSize: 4, maxEntries: 4 };
    const r = rng(type);
    const ops: Op[] = [];
    for (let i = 0; i < 40; i++) {
      const x = r();
      if (x < 0.5) ops.push({ op: 'push', map: 0, value: bytes(4, i + 1), flags: r() < 0.3 ? 2 : r() < 0.1 ? 1 : 0 });
      else if (x < 0.8) ops.push({ op: 'pop', map: 0 });
      else ops.push({ op: 'peek', map: 0 });
    }
    compare([map], ops);
  }
});

test('two maps in one program, pre-filled from user space', { skip }, () => {
  const a: MapDef = { type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 4, entries: [{ key: bytes(4, 1), value: bytes(4, 10) }] };
  const b: MapDef = { type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 };
  compare([a, b], [
    { op: 'lookup', map: 0, key: bytes(4, 1) },
    { op: 'update', map: 1, key: bytes(4, 1), value: bytes(8, 99), flags: 0 },
    { op: 'update', map: 0, key: bytes(4, 1), value: bytes(4, 11), flags: 1 },
    { op: 'delete', map: 0, key: bytes(4, 1) },
    { op: 'lookup', map: 1, key: bytes(4, 1) },
  ]);
});

test('ringbuf: output/reserve/submit/discard return values and query positions, as the kernel', { skip }, () => {
  const map: MapDef = { type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 };
  const ops: Op[] = [];
  const r = rng(27);
  for (let i = 0; i < 70; i++) {
    const x = r();
    const size = [1, 7, 8, 16, 60, 200, 1000][Math.floor(r() * 7)]!;
    if (x < 0.4) ops.push({ op: 'rb_output', map: 0, size: Math.min(size, 64), flags: r() < 0.1 ? 4 : r() < 0.3 ? 1 : 0 });
    else if (x < 0.7) ops.push({ op: 'rb_reserve', map: 0, size, discard: r() < 0.3 });
    else ops.push({ op: 'rb_query', map: 0, flags: Math.floor(r() * 5) });
  }
  for (let i = 0; i < 3; i++) ops.push({ op: 'rb_reserve', map: 0, size: 1000, discard: false });
  ops.push({ op: 'rb_output', map: 0, size: 64, flags: 0 }, { op: 'rb_query', map: 0, flags: 0 });
  ops.push({ op: 'rb_reserve', map: 0, size: 5000, discard: false }, { op: 'rb_query', map: 0, flags: 0 }, { op: 'rb_query', map: 0, flags: 3 });
  const ours = runTsbpf([map], ops);
  const theirs = runKernel([map], ops);
  assert.deepEqual(ours.results, theirs.results);
  const full = ops.filter((o, i) => (o.op === 'rb_output' && ours.results[i] === -11n) || (o.op === 'rb_reserve' && ours.results[i] === 0n));
  assert.ok(full.length >= 2, 'the ring filled up at least once before the oversized reservation');
  assert.ok(ours.results.some((v) => v === -22n), 'bad flags refused');
});

test('createMap accepts and refuses the same definitions as BPF_MAP_CREATE, with the same errno', { skip }, async () => {
  const { kernelLoad } = await import('../../src/cli/kernel-oracle.js');
  const { createMap, ERRNO } = await import('../../src/runtime/maps/index.js');
  const { LinearMemory } = await import('../../src/runtime/memory.js');
  const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  // [type, key, value, max_entries, flags]
  const cases: [number, number, number, number, number][] = [
    [T.ARRAY, 4, 4, 1, 0], [T.ARRAY, 8, 4, 1, 0], [T.ARRAY, 4, 0, 1, 0], [T.ARRAY, 4, 4, 0, 0], [T.ARRAY, 4, 4, 1, 1],
    [T.ARRAY, 4, 4, 1, 1024], [T.ARRAY, 4, 4, 1, 2048], [T.ARRAY, 4, 4, 1, 64], [T.ARRAY, 4, 4, 1, 24], [T.ARRAY, 4, 4, 1, 384],
    [T.ARRAY, 4, 4, 1, 4096], [T.ARRAY, 4, 4, 1, 128],
    [T.PERCPU_ARRAY, 4, 32768, 1, 0], [T.PERCPU_ARRAY, 4, 32769, 1, 0], [T.PERCPU_ARRAY, 4, 4, 1, 1024],
    [T.HASH, 4, 4, 1, 0], [T.HASH, 0, 4, 1, 0], [T.HASH, 4, 0, 1, 0], [T.HASH, 4, 4, 0, 0], [T.HASH, 513, 4, 1, 0],
    [T.HASH, 4, 4, 1, 1], [T.HASH, 4, 4, 1, 2], [T.HASH, 4, 4, 1, 64], [T.HASH, 4, 4, 1, 1024], [T.HASH, 4, 4, 1, 4096],
    [T.HASH, 4, 4194304, 1, 0], [T.HASH, 4, 8, 268435456, 1],
    [T.PERCPU_HASH, 4, 32769, 1, 0], [T.LRU_HASH, 4, 4, 1, 1], [T.LRU_HASH, 4, 4, 1, 2], [T.LRU_PERCPU_HASH, 4, 4, 1, 2],
    [T.LPM_TRIE, 8, 4, 1, 1], [T.LPM_TRIE, 8, 4, 1, 0], [T.LPM_TRIE, 4, 4, 1, 1], [T.LPM_TRIE, 5, 4, 1, 1],
    [T.LPM_TRIE, 260, 4, 1, 1], [T.LPM_TRIE, 261, 4, 1, 1], [T.LPM_TRIE, 8, 0, 1, 1], [T.LPM_TRIE, 8, 4, 0, 1],
    [T.LPM_TRIE, 8, 4, 1, 65], [T.LPM_TRIE, 8, 4194304, 1, 1],
    [T.QUEUE, 0, 4, 1, 0], [T.QUEUE, 4, 4, 1, 0], [T.QUEUE, 0, 0, 1, 0], [T.QUEUE, 0, 4, 0, 0], [T.QUEUE, 0, 4, 1, 1],
    [T.QUEUE, 0, 4, 1, 128], [T.STACK, 0, 4, 1, 2048],
    [T.RINGBUF, 0, 0, 4096, 0], [T.RINGBUF, 0, 0, 12288, 0], [T.RINGBUF, 0, 0, 2048, 0], [T.RINGBUF, 4, 0, 4096, 0],
    [T.RINGBUF, 0, 0, 4096, 1],
    [T.BLOOM_FILTER, 0, 4, 1, 0], [T.BLOOM_FILTER, 4, 4, 1, 0], [T.BLOOM_FILTER, 0, 0, 1, 0], [T.BLOOM_FILTER, 0, 4, 1, 1],
    [T.PROG_ARRAY, 4, 4, 1, 0], [T.PROG_ARRAY, 4, 8, 1, 0], [T.PROG_ARRAY, 4, 4, 1, 2048],
    [T.PERF_EVENT_ARRAY, 4, 4, 1, 0], [T.PERF_EVENT_ARRAY, 4, 4, 1, 2048], [T.PERF_EVENT_ARRAY, 4, 8, 1, 0],
    [T.DEVMAP, 4, 4, 1, 0], [T.DEVMAP, 4, 8, 1, 0], [T.DEVMAP, 4, 12, 1, 0], [T.DEVMAP_HASH, 4, 8, 1, 0],
    [T.CPUMAP, 4, 4, 1, 0], [T.XSKMAP, 4, 8, 1, 0], [T.XSKMAP, 4, 4, 1, 0],
    [T.ARRAY_OF_MAPS, 4, 4, 1, 0],
  ];
  const mismatches: string[] = [];
  for (const [type, keySize, valueSize, maxEntries, flags] of cases) {
    let kernel = 0;
    try {
      const r = kernelLoad({ insns, progType: 1, maps: [{ type, keySize, valueSize, maxEntries, flags }], logLevel: 0 });
      kernel = r.loaded ? 0 : r.errno;
    } catch (e) {
      kernel = (e as { errno: number }).errno;
    }
    let ours = 0;
    try {
      createMap(new LinearMemory(), { name: 'x', type, keySize, valueSize, maxEntries, flags }).destroy();
    } catch (e) {
      ours = (e as { errno: number }).errno ?? -1;
    }
    if (ours !== kernel) mismatches.push(`[${type},${keySize},${valueSize},${maxEntries},0x${flags.toString(16)}]: kernel ${kernel} tsbpf ${ours}`);
  }
  assert.deepEqual(mismatches, [], `errno ${ERRNO.EINVAL} = EINVAL, ${ERRNO.E2BIG} = E2BIG, ${ERRNO.ENOTSUPP} = ENOTSUPP`);
});
