// The HTTP policy example (examples/http-policy): the server runs its request
// policy through a host-defined hook; the policy is swapped for version 2
// while 200 concurrent keep-alive requests flow. No request is lost or
// answered twice, both versions answer, and the counters carry over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

interface Started {
  url: string;
  state: { handled: number };
  policy: {
    version: string;
    link: { info: { program: string; verified: boolean; updates: number; errors: number } };
    hook: { stats: { calls: number; errors: number } };
    metrics(): Record<string, { allowed: bigint; denied: bigint; limited: bigint }>;
    decide(r: { method: string; path: string; ip: string; headers?: Record<string, string> }): { verdict: number; route: string; retryAfter: number; reason: string };
    swap(v: string): void;
  };
  close(): Promise<void>;
}

const serverUrl = new URL('../../../examples/http-policy/server.mjs', import.meta.url).href;
const policyUrl = new URL('../../../examples/http-policy/policy.mjs', import.meta.url).href;

async function start(engine: string): Promise<Started> {
  const m = await import(serverUrl) as { startServer(o: { engine: string }): Promise<Started> };
  return m.startServer({ engine });
}

interface Reply { id: string; status: number; version: string; body: string }

function request(agent: http.Agent, base: string, method: string, path: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({
        id: String(res.headers['x-request-id'] ?? ''), status: res.statusCode ?? 0,
        version: String(res.headers['x-policy-version'] ?? ''), body,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const total = (m: Record<string, { allowed: bigint; denied: bigint; limited: bigint }>): bigint =>
  Object.values(m).reduce((s, c) => s + c.allowed + c.denied + c.limited, 0n);

for (const engine of ['interp', 'jit']) {
  test(`swapping the policy while 200 concurrent keep-alive requests flow (${engine})`, { timeout: 120_000 }, async () => {
    const s = await start(engine);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const ops = new http.Agent({ keepAlive: false });
    try {
      assert.equal(s.policy.link.info.program, 'policy_v1');
      assert.equal(s.policy.link.info.verified, true, 'the policy is verified against the hook context');
      const N = 200;
      const paths = ['/api/items', '/api/orders', '/static/app.js', '/admin/users', '/health', '/'];
      let done = 0;
      let before = -1n;
      let swapped: Promise<Reply> | undefined;
      const replies = await Promise.all(Array.from({ length: N }, (_, i) => {
        const headers: Record<string, string> = {
          'x-request-id': String(i),
          'x-forwarded-for': `192.0.2.${1 + (i % 4)}`,
          ...(i % 7 === 0 ? { 'user-agent': 'ExampleBot/1.0' } : {}),
          ...(i % 5 === 0 ? { authorization: 'Bearer t' } : {}),
        };
        return request(agent, s.url, i % 11 === 0 ? 'POST' : 'GET', paths[i % paths.length]!, headers).then((r) => {
          if (++done === 60) {
            // Mid-flow: 140 requests are still queued on the sockets.
            before = total(s.policy.metrics());
            // On a connection of its own, as an operator would: the agent's sockets are busy.
            swapped = request(ops, s.url, 'POST', '/-/policy/v2', { 'x-request-id': 'swap' });
          }
          return r;
        });
      }));
      const sw = await swapped!;
      assert.equal(sw.status, 200, sw.body);

      // Every request answered once, by its own response.
      assert.equal(replies.length, N);
      assert.deepEqual(replies.map((r) => r.id).sort((a, b) => +a - +b), Array.from({ length: N }, (_, i) => String(i)));
      assert.ok(replies.every((r) => [200, 403, 429].includes(r.status)), replies.map((r) => r.status).join(','));
      assert.equal(s.state.handled, N + 1, 'the server saw each request once (and the swap)');
      // Both versions answered, and each as it should.
      const v1 = replies.filter((r) => r.version === 'v1');
      const v2 = replies.filter((r) => r.version === 'v2');
      assert.ok(v1.length >= 60 && v2.length > 0, `v1 ${v1.length}, v2 ${v2.length}`);
      for (const r of v2) {
        const i = Number(r.id);
        if (i % 7 === 0 && paths[i % paths.length]!.startsWith('/api/')) assert.equal(r.status, 403, `bot on the API under v2: ${r.body}`);
        if (paths[i % paths.length] === '/health') assert.equal(r.status, 200, 'health is never limited under v2');
      }
      for (const r of replies) {
        const i = Number(r.id);
        if (paths[i % paths.length] === '/admin/users' && i % 5 !== 0) assert.equal(r.status, 403);
      }
      assert.ok(replies.some((r) => r.status === 429), 'some clients ran out of tokens');

      // Counters carried over the swap: the map kept v1's counts and v2 added to them.
      assert.ok(before > 0n);
      const after = s.policy.metrics();
      assert.equal(total(after), BigInt(N));
      const byStatus = (st: number): number => replies.filter((r) => r.status === st).length;
      const sum = (k: 'allowed' | 'denied' | 'limited'): number => Number(Object.values(after).reduce((a, c) => a + c[k], 0n));
      assert.equal(sum('allowed'), byStatus(200));
      assert.equal(sum('denied'), byStatus(403));
      assert.equal(sum('limited'), byStatus(429));
      assert.equal(s.policy.hook.stats.calls, N);
      assert.equal(s.policy.hook.stats.errors, 0);
      assert.equal(s.policy.link.info.updates, 1);

      // /metrics exposes them.
      const m = await request(agent, s.url, 'GET', '/metrics', {});
      assert.match(m.body, new RegExp(`http_policy_requests_total\\{route="api",verdict="allow"\\} ${after['api']!.allowed}\\n`));
      assert.match(m.body, /http_policy_program_info\{program="policy_v2",version="v2",verified="true"/);
    } finally {
      agent.destroy();
      ops.destroy();
      await s.close();
    }
  });
}

test('the policy alone: token bucket per client on the packets\' clock, refill over time', async () => {
  const { createPolicy } = await import(policyUrl) as { createPolicy(o: { now: () => bigint }): Started['policy'] };
  let t = 1_000_000_000n;
  const p = createPolicy({ now: () => t });
  const get = (ip: string): number => p.decide({ method: 'GET', path: '/api/x', ip }).verdict;
  // v1: bursts of 10, then limited; another client is unaffected.
  const first = Array.from({ length: 12 }, () => get('192.0.2.1'));
  assert.deepEqual(first, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2]);
  assert.equal(p.decide({ method: 'GET', path: '/api/x', ip: '192.0.2.1' }).retryAfter, 1);
  assert.equal(get('192.0.2.2'), 0);
  // 5 tokens a second: after 400 ms, two more.
  t += 400_000_000n;
  assert.deepEqual([get('192.0.2.1'), get('192.0.2.1'), get('192.0.2.1')], [0, 0, 2]);
  // The bucket survives the swap (still empty for this client), v2 refills faster.
  p.swap('v2');
  assert.equal(get('192.0.2.1'), 2);
  t += 100_000_000n; // 20 a second: 2 tokens
  assert.deepEqual([get('192.0.2.1'), get('192.0.2.1'), get('192.0.2.1')], [0, 0, 2]);
  assert.equal(p.decide({ method: 'DELETE', path: '/static/a', ip: '192.0.2.3' }).reason, 'read-only route');
});
