// Host-defined hooks: context layout, calls, ordering and the combining
// rule, atomic replacement, detach, faults and budgets, helper rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import type { HookError } from '../../src/errors.js';
import { defineHook, layoutContext } from '../../src/runtime/hooks.js';
import { LinearMemory } from '../../src/runtime/memory.js';

const isHookError = (code: string, re?: RegExp) => (e: unknown): boolean => {
  const h = e as HookError;
  assert.equal(h.name, 'HookError', String(e));
  assert.equal(h.code, code, h.message);
  if (re) assert.match(h.message, re);
  return true;
};

const ret = (n: number): ReturnType<typeof assemble> => assemble(`r0 = ${n}\nexit`);

test('sequential layout follows C alignment; explicit offsets; pointer gets an end field', () => {
  const { fields, size } = layoutContext('h', {
    fields: [
      { name: 'a', type: 'u8' },
      { name: 'b', type: 'u32' },
      { name: 'c', type: 'bytes[3]' },
      { name: 'd', type: 'u64' },
      { name: 'body', type: 'pointer', buffer: 64 },
      { name: 'e', type: 'u16', offset: 40 },
    ],
  });
  const at = Object.fromEntries(fields.map((f) => [f.name, [f.offset, f.size]]));
  assert.deepEqual(at, { a: [0, 1], b: [4, 4], c: [8, 3], d: [16, 8], body: [24, 4], body_end: [28, 4], e: [40, 2] });
  assert.equal(size, 48);
  assert.throws(() => layoutContext('h', { fields: [{ name: 'a', type: 'u32' }, { name: 'b', type: 'u32', offset: 2 }] }),
    isHookError('HOOK_SCHEMA', /not aligned/));
  assert.throws(() => layoutContext('h', { fields: [{ name: 'a', type: 'u64' }, { name: 'b', type: 'u32', offset: 4 }] }),
    isHookError('HOOK_SCHEMA', /overlaps field 'a'/));
  assert.throws(() => layoutContext('h', { fields: [{ name: 'a', type: 'u128' as 'u64' }] }), isHookError('HOOK_SCHEMA', /unknown type/));
  assert.throws(() => layoutContext('h', { fields: [{ name: 'a', type: 'u8' }, { name: 'a', type: 'u8' }] }), isHookError('HOOK_SCHEMA', /twice/));
});

test('run writes the context in place and returns R0; writable fields come back with get', () => {
  const hook = defineHook({
    name: 'sum',
    ctx: { fields: [{ name: 'x', type: 'u32' }, { name: 'y', type: 'u16' }, { name: 'big', type: 'u64' }, { name: 'out', type: 'u32', write: true }] },
    returns: { default: 0 },
  });
  const link = hook.attach(assemble(`
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u16 *)(r1 + 4)
    r2 += r3
    *(u32 *)(r1 + 16) = r2
    r0 = *(u64 *)(r1 + 8)
    r0 += r2
    exit`));
  assert.equal(hook.run({ x: 40, y: 2, big: 1n << 40n }), (1n << 40n) + 42n);
  assert.equal(hook.get('out'), 42);
  // Fields not given are zero (nothing leaks from the previous call).
  assert.equal(hook.run({ x: 1 }), 1n);
  assert.equal(hook.get('out'), 1);
  assert.equal(link.info.verified, true, link.info.unverifiedReason);
  assert.throws(() => hook.run({ nope: 1 }), isHookError('HOOK_VALUE', /no field 'nope'/));
  assert.throws(() => hook.run({ y: 70000 }), isHookError('HOOK_VALUE', /does not fit u16/));
  assert.throws(() => hook.run({ x: 'a' }), isHookError('HOOK_VALUE'));
});

test('bytes fields take strings (a longer one keeps its prefix) and byte arrays', () => {
  const hook = defineHook({ name: 'b', ctx: { fields: [{ name: 'p', type: 'bytes[4]' }, { name: 'n', type: 'u32' }] } });
  hook.attach(assemble(`
    r0 = *(u32 *)(r1 + 0)
    exit`));
  assert.equal(hook.run({ p: 'abcdef' }), 0x64636261n);
  assert.equal(hook.run({ p: new Uint8Array([1, 2]) }), 0x0201n);
  assert.deepEqual(hook.get('p'), new Uint8Array([1, 2, 0, 0]));
});

test('a pointer field: the program reads the buffer up to its end; past it is a fault', () => {
  const hook = defineHook({ name: 'buf', ctx: { fields: [{ name: 'data', type: 'pointer', buffer: 16 }] }, returns: { default: 0 } });
  // The first two bytes (big-endian) when there are two, else 0: verified.
  const link = hook.attach(assemble(`
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r0 = 0
    r4 = r2
    r4 += 2
    if r4 > r3 goto out
    r0 = *(u16 *)(r2 + 0)
    r0 = be16 r0
  out:
    exit`));
  assert.equal(link.info.verified, true, link.info.unverifiedReason);
  assert.equal(hook.run({ data: new Uint8Array([1, 2, 3, 4]) }), 0x0102n);
  assert.equal(hook.run({ data: 'AB' }), 0x4142n);
  assert.equal(hook.run({ data: 'A' }), 0n);
  assert.equal(hook.run({}), 0n);
  assert.deepEqual(hook.get('data'), new Uint8Array(0));
  assert.throws(() => hook.run({ data: new Uint8Array(17) }), isHookError('HOOK_VALUE', /do not fit its buffer of 16/));

  // Unverified: a loop to data_end, and a read past the end, checked at run time.
  const over = defineHook({ name: 'over', ctx: { fields: [{ name: 'data', type: 'pointer', buffer: 16 }] }, verify: 'off' });
  over.attach(assemble(`
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r0 = 0
  loop:
    r4 = r2
    r4 += 1
    if r4 > r3 goto last
    r5 = *(u8 *)(r2 + 0)
    r0 += r5
    r2 += 1
    goto loop
  last:
    r2 = *(u32 *)(r1 + 0)
    r5 = *(u8 *)(r2 + 3)
    r0 += r5
    exit`));
  assert.equal(over.run({ data: new Uint8Array([1, 2, 3, 4]) }), 14n);
  assert.throws(() => over.run({ data: new Uint8Array([9, 9, 9]) }), isHookError('HOOK_FAULT', /outside|not in any region/));
});

test('a read-only field written by an unverified program faults; runOrDefault returns the default and reports', () => {
  const errors: HookError[] = [];
  const hook = defineHook({
    name: 'ro', ctx: { fields: [{ name: 'x', type: 'u32' }] }, returns: { default: 7 }, verify: 'off',
    onError: (e) => errors.push(e),
  });
  const link = hook.attach(assemble(`
    r2 = 1
    *(u32 *)(r1 + 0) = r2
    r0 = 1
    exit`));
  assert.equal(link.info.checked, true);
  assert.throws(() => hook.run({ x: 1 }), (e: HookError) => {
    isHookError('HOOK_FAULT', /read-only/)(e);
    assert.equal((e.cause as { name: string }).name, 'RuntimeFault');
    assert.equal(e.program, `prog${link.id}`);
    return true;
  });
  assert.equal(hook.runOrDefault({ x: 1 }), 7n);
  assert.equal(errors.length, 1);
  assert.equal(hook.lastError?.code, 'HOOK_FAULT');
  let seen: HookError | undefined;
  assert.equal(hook.runOrDefault({}, (e) => { seen = e; }), 7n);
  assert.equal(seen?.code, 'HOOK_FAULT');
  assert.equal(link.info.errors, 3);
  assert.deepEqual(hook.stats, { calls: 3, errors: 3, decided: 0 });
});

test('the verifier refuses a write to a read-only field at attach, naming the hook', () => {
  const hook = defineHook({ name: 'ro2', ctx: { fields: [{ name: 'x', type: 'u32' }] } });
  assert.throws(() => hook.attach(assemble(`
    r2 = 1
    *(u32 *)(r1 + 0) = r2
    r0 = 1
    exit`)), isHookError('HOOK_VERIFIER', /ctx|context/));
  assert.equal(hook.links.length, 0);
});

test('the verifier checks the declared return range', () => {
  const hook = defineHook({ name: 'rng', ctx: { fields: [{ name: 'x', type: 'u32' }] }, returns: { default: 0, range: [0, 2] } });
  assert.throws(() => hook.attach(ret(3)), isHookError('HOOK_VERIFIER', /R0|range/));
  hook.attach(ret(2));
  assert.equal(hook.run(), 2n);
  // Unverified programs are held to the range at run time.
  const loose = defineHook({ name: 'rng2', ctx: { fields: [{ name: 'x', type: 'u32' }] }, returns: { default: 0, range: [0, 2] }, verify: 'off' });
  loose.attach(ret(3));
  assert.throws(() => loose.run(), isHookError('HOOK_RETURN_RANGE', /returned 3/));
});

test('a program past its budget ends with HOOK_BUDGET; the next call works', () => {
  const hook = defineHook({ name: 'spin', ctx: { fields: [{ name: 'x', type: 'u32' }] }, budget: 1000, verify: 'off', returns: { default: 5 } });
  hook.attach(assemble(`
    r0 = *(u32 *)(r1 + 0)
    if r0 == 0 goto out
  spin:
    goto spin
  out:
    exit`));
  assert.throws(() => hook.run({ x: 1 }), isHookError('HOOK_BUDGET', /budget of 1000/));
  assert.equal(hook.runOrDefault({ x: 1 }), 5n);
  assert.equal(hook.run({ x: 0 }), 0n);
});

test('chains: lower order first, equal orders in attach order, the first non-default verdict wins', () => {
  const log: string[] = [];
  const mark = (tag: number): ReturnType<typeof assemble> => assemble(`
    r1 = ${tag}
    call 100000
    r0 = *(u32 *)(r10 - 8)
    exit`);
  void mark;
  const hook = defineHook({
    name: 'chain', ctx: { fields: [{ name: 'who', type: 'u32' }] }, returns: { default: 0 },
    helpers: { standard: [], host: [{ id: 100000, name: 'note', impl: (r1) => { log.push(String(r1)); return 0; } }] },
  });
  // Program k notes k and returns ctx->who == k ? k : 0.
  const prog = (k: number): ReturnType<typeof assemble> => assemble(`
    r6 = r1
    r1 = ${k}
    call 100000
    r0 = 0
    r2 = *(u32 *)(r6 + 0)
    if r2 != ${k} goto out
    r0 = ${k}
  out:
    exit`);
  const l1 = hook.attach(prog(1));
  const l2 = hook.attach(prog(2), { order: -1 });
  const l3 = hook.attach(prog(3));
  assert.deepEqual(hook.links.map((l) => l.id), [l2.id, l1.id, l3.id]);
  assert.equal(hook.run({ who: 9 }), 0n);
  assert.deepEqual(log.splice(0), ['2', '1', '3']);
  assert.equal(hook.run({ who: 1 }), 1n);
  assert.deepEqual(log.splice(0), ['2', '1']); // 3 never runs: 1 decided
  l1.detach();
  assert.equal(l1.attached, false);
  assert.equal(hook.run({ who: 1 }), 0n);
  assert.deepEqual(log.splice(0), ['2', '3']);
  assert.throws(() => l1.update(prog(1)), isHookError('HOOK_DETACHED'));
  assert.equal(l3.info.verified, false);
  assert.match(l3.info.unverifiedReason!, /note/);
});

test('update is atomic: a call in flight finishes on the old program, the next runs the new one', () => {
  let link: ReturnType<ReturnType<typeof defineHook>['attach']> | undefined;
  const v2 = assemble('r0 = 2\nexit');
  const hook = defineHook({
    name: 'swap', ctx: { fields: [{ name: 'x', type: 'u32' }] }, returns: { default: 0 },
    helpers: { standard: [], host: [{ id: 200000, name: 'swap_now', impl: () => { link!.update(v2); return 0; } }] },
  });
  // v1 swaps itself for v2 from inside its run, then returns 1.
  link = hook.attach(assemble(`
    call 200000
    r0 = 1
    exit`));
  const second = hook.attach(assemble('r0 = 3\nexit'));
  assert.equal(hook.run(), 1n);
  assert.equal(hook.run(), 2n);
  assert.equal(link.info.updates, 1);
  assert.equal(hook.links[0], link);
  // A replacement that fails changes nothing.
  assert.throws(() => link!.update(assemble('r0 = 1')), isHookError('HOOK_VERIFIER', /last insn/));
  assert.equal(hook.run(), 2n);
  second.detach();
  // Detach in flight: the running call still completes its snapshot.
  const h2 = defineHook({
    name: 'det', ctx: { fields: [{ name: 'x', type: 'u32' }] }, returns: { default: 0 },
    helpers: { standard: [], host: [{ id: 200001, name: 'detach_second', impl: () => { l2b.detach(); return 0; } }] },
  });
  h2.attach(assemble('call 200001\nr0 = 0\nexit'));
  const l2b = h2.attach(assemble('r0 = 4\nexit'));
  assert.equal(h2.run(), 4n);
  assert.equal(h2.run(), 0n);
});

test('helpers: only the allowed ones, checked at attach; reentrant runs are refused', () => {
  const hook = defineHook({ name: 'hp', ctx: { fields: [{ name: 'x', type: 'u32' }] }, helpers: { standard: ['ktime_get_ns'] }, now: () => 123n });
  assert.throws(() => hook.attach(assemble('call 7\nexit')), isHookError('HOOK_HELPER', /get_prandom_u32 \(7\) is not allowed/));
  hook.attach(assemble('call 5\nexit'));
  assert.equal(hook.run(), 123n);
  assert.deepEqual(hook.helperIds, [5]);

  let inner: unknown;
  const re = defineHook({
    name: 're', ctx: { fields: [{ name: 'x', type: 'u32' }] },
    helpers: { standard: [], host: [{ id: 300000, name: 'again', impl: () => { try { re.run(); } catch (e) { inner = e; } return 0; } }] },
  });
  re.attach(assemble('call 300000\nexit'));
  re.run();
  isHookError('HOOK_REENTRANT')(inner);
  assert.throws(() => defineHook({ name: 'x', ctx: { fields: [{ name: 'x', type: 'u32' }] }, helpers: { standard: ['no_such_helper'] } }),
    isHookError('HOOK_SCHEMA', /unknown standard helper/));
  assert.throws(() => defineHook({
    name: 'x', ctx: { fields: [{ name: 'x', type: 'u32' }] },
    helpers: { standard: [5], host: [{ id: 5, name: 'mine', impl: () => 0 }] },
  }), isHookError('HOOK_SCHEMA', /already taken/));
});

test('a host helper that throws is a typed error; the hook keeps working', () => {
  const hook = defineHook({
    name: 'thr', ctx: { fields: [{ name: 'x', type: 'u32' }] }, returns: { default: 9 },
    helpers: { standard: [], host: [{ id: 400000, name: 'boom', impl: (r1) => { if (r1 === 1n) throw new Error('kaput'); return 0; } }] },
  });
  hook.attach(assemble(`
    r1 = *(u32 *)(r1 + 0)
    call 400000
    r0 = 1
    exit`));
  assert.throws(() => hook.run({ x: 1 }), isHookError('HOOK_FAULT', /kaput/));
  assert.equal(hook.runOrDefault({ x: 1 }), 9n);
  assert.equal(hook.run({ x: 0 }), 1n);
});

test('both engines give the same verdicts; programs of one hook share one memory', () => {
  const memory = new LinearMemory();
  for (const engine of ['interp', 'jit'] as const) {
    const hook = defineHook({ name: `e-${engine}`, ctx: { fields: [{ name: 'x', type: 'u32' }, { name: 's', type: 'bytes[8]' }] }, engine, memory });
    hook.attach(assemble(`
      r0 = *(u32 *)(r1 + 0)
      r2 = *(u8 *)(r1 + 9)
      r0 += r2
      exit`));
    assert.equal(hook.run({ x: 100, s: 'abcdef' }), 100n + 0x66n);
    assert.equal(hook.bind(), memory);
    assert.throws(() => hook.attach({ insns: ret(1), memory: new LinearMemory() }), isHookError('HOOK_MEMORY'));
    hook.dispose();
    assert.equal(hook.links.length, 0);
  }
});

test('a signed range gives signed verdicts', () => {
  const hook = defineHook({ name: 'neg', ctx: { fields: [{ name: 'x', type: 'i32' }] }, returns: { default: 0, range: [-1, 1] } });
  hook.attach(assemble('r0 = -1\nexit'));
  assert.equal(hook.run({ x: -5 }), -1n);
});

test('calls do not allocate linear memory', () => {
  const memory = new LinearMemory();
  const hook = defineHook({ name: 'alloc', ctx: { fields: [{ name: 'x', type: 'u32' }, { name: 'b', type: 'pointer', buffer: 256 }] }, memory });
  hook.attach(assemble('r0 = *(u32 *)(r1 + 0)\nexit'));
  hook.run({ x: 1, b: 'x' });
  const before = memory.allocatedBytes;
  for (let i = 0; i < 1000; i++) hook.run({ x: i, b: 'hello' });
  assert.equal(memory.allocatedBytes, before);
});

test('a context from a BTF struct: offsets, types and write rights as the C compiler laid them out', async () => {
  const { readFileSync } = await import('node:fs');
  const { loadObject } = await import('../../src/elf/object.js');
  const spec = loadObject(new Uint8Array(readFileSync(new URL('../../../examples/http-policy/policy_v1.o', import.meta.url))));
  const { fields, size } = layoutContext('http', { btf: spec.btf!, struct: 'http_req', write: ['route', 'retry_after', 'reason'] });
  assert.deepEqual(fields.map((f) => [f.name, f.type, f.offset, f.write]), [
    ['method', 'u32', 0, false], ['client_ip4', 'u32', 4, false], ['flags', 'u32', 8, false], ['route', 'u32', 12, true],
    ['retry_after', 'u32', 16, true], ['reason', 'u32', 20, true], ['path', 'bytes[32]', 24, false],
  ]);
  assert.equal(size, 56);
  assert.throws(() => layoutContext('http', { btf: spec.btf!, struct: 'nope' }), isHookError('HOOK_SCHEMA', /no struct 'nope'/));
  assert.throws(() => layoutContext('http', { btf: spec.btf!, struct: 'http_req', write: ['nope'] }), isHookError('HOOK_SCHEMA', /no member 'nope'/));
});

test('a Runtime program with a map and a bpf_loop callback, verified against a BTF context, on both engines', async () => {
  const { readFileSync } = await import('node:fs');
  const { Runtime } = await import('../../src/runtime/runtime.js');
  for (const engine of ['interp', 'jit'] as const) {
    const rt = new Runtime();
    const obj = rt.loadObject(new Uint8Array(readFileSync(new URL('../../../test/fixtures/hooks/loop_sum.o', import.meta.url))));
    const hook = defineHook({
      name: 'sum', runtime: rt, engine,
      ctx: { btf: obj.spec.btf!, struct: 'sum_ctx', write: ['sum', 'calls'] },
      helpers: { standard: ['map_lookup_elem', 'loop'] },
    });
    const link = hook.attach(obj.program('loop_sum')!);
    assert.equal(link.info.verified, true, link.info.unverifiedReason);
    assert.equal(hook.run({ n: 10 }), 46n);
    assert.equal(hook.get('sum'), 45);
    assert.equal(hook.run({ n: 4 }), 7n);
    assert.equal(hook.get('calls'), 2n, 'the map counts across calls');
    // Without bpf_loop allowed, the same program is refused at attach.
    const strict = defineHook({ name: 'sum2', runtime: rt, ctx: { btf: obj.spec.btf!, struct: 'sum_ctx', write: ['sum', 'calls'] } });
    assert.throws(() => strict.attach(obj.program('loop_sum')!), isHookError('HOOK_HELPER', /loop \(181\) is not allowed/));
  }
});

test('host helpers with a prototype are verified like the kernel\'s; writable bytes fields take narrow writes', () => {
  const logged: string[] = [];
  const hook = defineHook({
    name: 'proto', returns: { default: 0, range: [0, 1] },
    ctx: { fields: [{ name: 'tag', type: 'bytes[8]', write: true }, { name: 'body', type: 'pointer', buffer: 64 }] },
    helpers: {
      standard: [],
      host: [{
        id: 10_001, name: 'host_log', proto: { args: ['mem', 'size'], ret: 'integer' },
        impl: (p, n, _3, _4, _5, ctx) => {
          const at = ctx.checkAccess(p, Number(n), false);
          logged.push(new TextDecoder().decode(ctx.memory.u8.subarray(at, at + Number(n))));
          return 0;
        },
      }],
    },
  });
  // Log the first 4 body bytes when there are 4, and tag the context "ok".
  const good = hook.attach(assemble(`
    r6 = r1
    r2 = *(u32 *)(r6 + 8)
    r3 = *(u32 *)(r6 + 12)
    r4 = r2
    r4 += 4
    if r4 > r3 goto out
    r1 = r2
    r2 = 4
    call 10001
  out:
    r1 = 0x6b6f
    *(u16 *)(r6 + 0) = r1
    r0 = 1
    exit`));
  assert.equal(good.info.verified, true, good.info.unverifiedReason);
  assert.equal(hook.run({ body: 'GET /x' }), 1n);
  assert.deepEqual(logged, ['GET ']);
  assert.deepEqual(hook.get('tag'), new Uint8Array([0x6f, 0x6b, 0, 0, 0, 0, 0, 0]));
  // The same call without the bounds check: the verifier refuses it at attach.
  assert.throws(() => hook.attach(assemble(`
    r2 = *(u32 *)(r1 + 8)
    r1 = r2
    r2 = 4
    call 10001
    r0 = 0
    exit`)), isHookError('HOOK_VERIFIER'));
  assert.equal(hook.links.length, 1);
});
