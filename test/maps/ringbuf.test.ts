// Ring buffer and perf event array: records in production order, wrap-around,
// discard, a reserved record holding back the consumer, the async iterator,
// and the helpers driven by a program on the interpreter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble } from '../../src/isa/asm.js';
import { defaultHelpers } from '../../src/runtime/helpers.js';
import { STACK_AREA, execute, prepare } from '../../src/runtime/interpreter.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import {
  BPF_MAP_TYPE as T, BPF_RB_NO_WAKEUP, BPF_RINGBUF_BUSY_BIT, type BpfPerfEventArray, type BpfRingBuf,
  ERRNO, createMap, registerMapHelpers,
} from '../../src/runtime/maps/index.js';

function ring(size = 4096): { mem: LinearMemory; rb: BpfRingBuf } {
  const mem = new LinearMemory();
  const rb = createMap(mem, { name: 'rb', type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size }) as BpfRingBuf;
  return { mem, rb };
}

function put(mem: LinearMemory, rb: BpfRingBuf, bytes: number[], flags = 0): number {
  const a = mem.alloc(Math.max(8, bytes.length));
  mem.write(a, new Uint8Array(bytes));
  const r = rb.output(a, bytes.length, flags);
  mem.free(a);
  return r;
}

test('ringbuf: records come out in production order, discarded ones skipped, positions as the kernel counts them', () => {
  const { mem, rb } = ring();
  assert.equal(put(mem, rb, [1, 2, 3]), 0);
  const s = rb.reserve(5, 0);
  assert.ok(s > 0);
  assert.equal(mem.readU32(s - 8) >>> 0, (5 | BPF_RINGBUF_BUSY_BIT) >>> 0, 'header: length with the busy bit');
  mem.write(s, new Uint8Array([9, 9, 9, 9, 9]));
  const d = rb.reserve(4, 0);
  assert.equal(put(mem, rb, [7]), 0);
  // the busy record blocks the consumer after the first record
  const got: number[][] = [];
  assert.equal(rb.consume((r) => { got.push([...r]); }), 1);
  rb.submit(s, 0);
  rb.discard(d, 0);
  assert.equal(rb.consume((r) => { got.push([...r]); }), 2);
  assert.deepEqual(got, [[1, 2, 3], [9, 9, 9, 9, 9], [7]]);
  // 8-byte headers, records rounded up to 8: 16 + 16 + 16 + 16
  assert.equal(rb.producerPos, 64);
  assert.equal(rb.consumerPos, 64);
  assert.equal(rb.query(0), 0n);
  assert.equal(rb.query(1), 4096n);
  assert.equal(rb.reserve(1, 1), 0, 'reserve flags must be 0');
  assert.equal(put(mem, rb, [1], 4), -ERRNO.EINVAL);
});

test('ringbuf: full ring refuses (EAGAIN / NULL); records wrap around the end contiguously', () => {
  const { mem, rb } = ring(4096);
  let n = 0;
  while (put(mem, rb, new Array(100).fill(n & 0xff)) === 0) n++;
  assert.equal(n, Math.floor(4096 / 112));
  assert.equal(put(mem, rb, new Array(56).fill(0)), 0, '36 * 112 + 64 = 4096: the last 64 bytes fit exactly');
  assert.equal(put(mem, rb, [1]), -ERRNO.EAGAIN);
  assert.equal(rb.reserve(4096, 0), 0, 'a record larger than the ring never fits');
  // consume half, then write records that cross the end of the ring
  let seen = 0;
  rb.consume(() => { seen++; return seen < 18; });
  assert.equal(seen, 18);
  for (let i = 0; i < 30; i++) {
    const r = put(mem, rb, Array.from({ length: 100 }, (_, j) => (i + j) & 0xff));
    if (r !== 0) break;
  }
  const records: Uint8Array[] = [];
  rb.consume((r) => { records.push(r); });
  const fresh = records.filter((r) => r.length === 100 && r[1] === ((r[0]! + 1) & 0xff) && r[99] === ((r[0]! + 99) & 0xff));
  assert.ok(fresh.length >= 17, `wrapped records intact (${fresh.length})`);
  assert.ok(rb.producerPos > 4096, 'positions went past the ring size');
  // a sample that crosses the end is contiguous for the program and appears at the start of the ring
  const reg = mem.regionAt(rb.reserve(8, 0));
  assert.ok(reg && reg.name === 'ringbuf:rb');
});

test('ringbuf: async iterator yields records as they are produced', async () => {
  const { mem, rb } = ring();
  const it = rb[Symbol.asyncIterator]();
  const first = it.next();
  setTimeout(() => put(mem, rb, [42]), 5);
  assert.deepEqual([...(await first).value as Uint8Array], [42]);
  put(mem, rb, [1]);
  put(mem, rb, [2], BPF_RB_NO_WAKEUP);
  assert.deepEqual([...(await it.next()).value as Uint8Array], [1]);
  assert.deepEqual([...(await it.next()).value as Uint8Array], [2]);
  (rb as unknown as { close(): void }).close();
  assert.equal((await it.next()).done, true);
});

test('ringbuf helpers from a program: reserve, write, submit; output; query (checked mode)', () => {
  const mem = new LinearMemory();
  const rb = createMap(mem, { name: 'events', type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }) as BpfRingBuf;
  const text = `
    r1 = ${rb.handle} ll
    r2 = 16
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto +6
    r1 = 0x1122334455667788 ll
    *(u64 *)(r0 + 0) = r1
    *(u64 *)(r0 + 8) = r1
    r1 = r0
    r2 = 0
    call bpf_ringbuf_submit
    *(u32 *)(r10 - 4) = 0xabcd
    r1 = ${rb.handle} ll
    r2 = r10
    r2 += -4
    r3 = 4
    r4 = 0
    call bpf_ringbuf_output
    r1 = ${rb.handle} ll
    r2 = 3
    call bpf_ringbuf_query
    exit`;
  const stack = mem.alloc(STACK_AREA, 16);
  mem.addRegion(stack, STACK_AREA, 'stack', true);
  const r = execute(prepare(assemble(text)), { memory: mem, stack, helpers: registerMapHelpers(defaultHelpers()), checked: true });
  assert.equal(r.r0, 24n + 16n, 'producer position after two records');
  const recs: Uint8Array[] = [];
  rb.consume((x) => { recs.push(x); });
  assert.equal(recs.length, 2);
  assert.equal(Buffer.from(recs[0]!).toString('hex'), '88776655443322118877665544332211');
  assert.equal(Buffer.from(recs[1]!).toString('hex'), 'cdab0000');
  // submitting something that is not a reserved sample faults with a typed error
  const bad = `r1 = r10
    r1 += -8
    r2 = 0
    call bpf_ringbuf_submit
    exit`;
  assert.throws(() => execute(prepare(assemble(bad)), { memory: mem, stack, helpers: registerMapHelpers(defaultHelpers()), checked: true }),
    (e: Error) => e.name === 'RuntimeFault' && /not a reserved ring buffer sample/.test(e.message));
});

test('perf_event_array: output to the current CPU reader, ENOENT without one, EOPNOTSUPP for another CPU, padded records', async () => {
  const mem = new LinearMemory();
  const pa = createMap(mem, { name: 'perf', type: T.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 }) as BpfPerfEventArray;
  const a = mem.alloc(16);
  mem.write(a, new Uint8Array([1, 2, 3, 4, 5]));
  assert.equal(pa.output(0xffffffffn, a, 5, 0), -ERRNO.ENOENT);
  pa.open(0);
  assert.equal(pa.output(0xffffffffn, a, 5, 0), 0);
  assert.equal(pa.output(1n, a, 5, 0), -ERRNO.ENOENT);
  pa.open(1);
  assert.equal(pa.output(1n, a, 5, 0), -ERRNO.EOPNOTSUPP);
  assert.equal(pa.output(5n, a, 5, 0), -ERRNO.E2BIG);
  assert.equal(pa.output(1n << 60n, a, 5, 0), -ERRNO.EINVAL);
  assert.equal(pa.output(0xffffffffn, a, 3, 1), 0);
  const got: { cpu: number; data: number[] }[] = [];
  pa.consume((r) => { got.push({ cpu: r.cpu, data: [...r.data] }); });
  assert.deepEqual(got, [{ cpu: 0, data: [1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0] }, { cpu: 1, data: [1, 2, 3, 0] }]);
  const it = pa[Symbol.asyncIterator]();
  const p = it.next();
  pa.output(0xffffffffn, a, 4, 0);
  assert.deepEqual([...((await p).value as { data: Uint8Array }).data], [1, 2, 3, 4]);
});

test('ringbuf: a record crossing the end of the ring is contiguous for the consumer and continues at the ring start', () => {
  const { mem, rb } = ring(4096);
  const rec = (i: number): number[] => Array.from({ length: 1000 }, (_, j) => (i * 7 + j) & 0xff);
  for (let i = 0; i < 4; i++) assert.equal(put(mem, rb, rec(i)), 0);
  assert.equal(put(mem, rb, rec(4)), -ERRNO.EAGAIN);
  let k = 0;
  rb.consume((r) => { assert.deepEqual([...r], rec(k++)); return k < 2; });
  assert.equal(put(mem, rb, rec(4)), 0, 'crosses the end: starts at 4032');
  const data = (rb as unknown as { data: number }).data;
  // bytes 64.. of the record (after its 8-byte header at 4032) sit at the start of the ring
  assert.deepEqual([...mem.read(data, 16)], rec(4).slice(56, 72));
  const rest: number[][] = [];
  rb.consume((r) => { rest.push([...r]); });
  assert.deepEqual(rest, [rec(2), rec(3), rec(4)]);
});
