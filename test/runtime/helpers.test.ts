// The helper registry and the helpers that need nothing but the run context.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { HelperRegistry, conformanceHelpers, defaultHelpers } from '../../src/runtime/helpers.js';
import { runRaw } from '../../src/runtime/raw.js';

test('registry: register, lookup by id and name, clone is independent', () => {
  const r = defaultHelpers();
  assert.equal(r.get(5)?.name, 'ktime_get_ns');
  assert.equal(r.byName('bpf_get_prandom_u32')?.id, 7);
  assert.deepEqual(r.list().map((h) => h.id), [5, 6, 7, 8]);
  const c = r.clone().register({ id: 1, name: 'map_lookup_elem', impl: () => 0 });
  assert.ok(c.has(1));
  assert.ok(!r.has(1));
  assert.throws(() => r.register({ id: -1, name: 'x', impl: () => 0 }), RangeError);
});

test('bpf_ktime_get_ns uses the injected clock', () => {
  const r = runRaw(assemble('call 5\nexit'), { now: () => 123456789012345n });
  assert.equal(r.r0, 123456789012345n);
  const a = runRaw(assemble('call 5\nexit')).r0;
  const b = runRaw(assemble('call 5\nexit')).r0;
  assert.ok(b >= a, 'the default clock is monotonic');
});

test('bpf_get_prandom_u32 returns 32-bit values; bpf_get_smp_processor_id returns 0 on the main thread', () => {
  const seen = new Set<bigint>();
  for (let i = 0; i < 20; i++) {
    const v = runRaw(assemble('call 7\nexit')).r0;
    assert.ok(v >= 0n && v <= 0xffffffffn);
    seen.add(v);
  }
  assert.ok(seen.size > 1);
  assert.equal(runRaw(assemble('call 8\nexit')).r0, 0n);
});

test('bpf_trace_printk formats %d %u %x %lld %s and writes to the host log', () => {
  const fmt = new TextEncoder().encode('v=%d u=%u x=%x l=%lld s=%s\0');
  const name = new TextEncoder().encode('abc\0');
  const mem = new Uint8Array(64);
  mem.set(fmt, 0);
  mem.set(name, 48);
  const lines: string[] = [];
  const src = `mov %r6, %r1
mov %r2, ${fmt.length}
mov %r3, -5
mov %r4, -1
lddw %r5, 0x1122334455667788
call 6
exit`;
  // three arguments only: %d=-5, %u=0xffffffff, %x -> a third arg; use a shorter format for the full check
  const r = runRaw(assemble(src), { mem, log: (l) => lines.push(l) });
  assert.equal(r.r0, BigInt.asUintN(64, -22n), 'more conversions than arguments: -EINVAL');
  const fmt2 = new TextEncoder().encode('v=%d u=%u l=%llx\0');
  mem.fill(0);
  mem.set(fmt2, 0);
  const r2 = runRaw(assemble(src.replace(`mov %r2, ${fmt.length}`, `mov %r2, ${fmt2.length}`)), { mem, log: (l) => lines.push(l) });
  assert.deepEqual(lines, ['v=-5 u=4294967295 l=1122334455667788']);
  assert.equal(r2.r0, BigInt(lines[0]!.length));
  const fmt3 = new TextEncoder().encode('name=%s\0');
  mem.fill(0);
  mem.set(fmt3, 0);
  mem.set(name, 48);
  runRaw(assemble(`mov %r2, ${fmt3.length}\nmov %r3, %r1\nadd %r3, 48\ncall 6\nexit`), { mem, log: (l) => lines.push(l) });
  assert.equal(lines[1], 'name=abc');
});

test('bpf_trace_printk with a format outside the program memory faults', () => {
  assert.throws(() => runRaw(assemble('mov %r1, 16\nmov %r2, 4\ncall 6\nexit')), { name: 'RuntimeFault', code: 'FAULT_MEMORY' });
});

test('conformance helper 5 (unwind): returns R1, and R1 == 0 ends the program with R0 = 0', () => {
  const helpers = conformanceHelpers();
  assert.equal(runRaw(assemble('mov %r1, 9\ncall 5\nexit'), { helpers }).r0, 9n);
  const r = runRaw(assemble('mov %r1, 0\ncall 5\nmov %r0, 2\nexit'), { helpers });
  assert.equal(r.r0, 0n);
  assert.equal(r.insnCount, 2);
});

test('helpers can stop the program and read its memory through the context', () => {
  const helpers = new HelperRegistry([{
    id: 100, name: 'peek', impl: (p, _2, _3, _4, _5, ctx) => {
      const a = ctx.checkAccess(p, 4, false);
      return ctx.memory.view.getUint32(a, true);
    },
  }]);
  assert.equal(runRaw(assemble('call 100\nexit'), { helpers, mem: Uint8Array.from([1, 2, 3, 4]) }).r0, 0x04030201n);
  assert.throws(() => runRaw(assemble('add %r1, 2\ncall 100\nexit'), { helpers, mem: Uint8Array.from([1, 2, 3, 4]) }), { code: 'FAULT_MEMORY' });
});
