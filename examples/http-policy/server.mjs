// A small HTTP server whose request policy is an eBPF program, run by tsbpf
// at a host-defined hook (see README.md):
//
//   npm run build && node examples/http-policy/server.mjs [--port 8080] [--engine jit]
//   curl -i localhost:8080/api/items          # 200 until the token bucket is empty, then 429
//   curl -i localhost:8080/admin              # 403: authorization required
//   curl localhost:8080/metrics               # per-route counters (from a per-CPU map)
//   curl -X POST localhost:8080/-/policy/v2   # swap the policy program while serving (or: kill -HUP)
//
// Every request goes through the `http_request` hook before the handler:
// ALLOW -> 200, DENY -> 403 (with the reason), LIMIT -> 429 with Retry-After.
// If the policy program fails (a fault or its instruction budget), the
// server answers 503: it fails closed, its choice as the host.
//
// The client address is the socket's, or the first X-Forwarded-For address
// (as behind a trusted proxy: the demo and the tests play several clients).
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createPolicy, VERDICT } from './policy.mjs';

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function metricsText(policy, server) {
  const m = policy.metrics();
  const hook = policy.hook.stats;
  const link = policy.link.info;
  let out = '# HELP http_policy_requests_total Requests per route and verdict, counted by the policy program (per-CPU map, summed).\n';
  out += '# TYPE http_policy_requests_total counter\n';
  for (const [route, c] of Object.entries(m)) {
    out += `http_policy_requests_total{route="${route}",verdict="allow"} ${c.allowed}\n`;
    out += `http_policy_requests_total{route="${route}",verdict="deny"} ${c.denied}\n`;
    out += `http_policy_requests_total{route="${route}",verdict="limit"} ${c.limited}\n`;
  }
  out += `http_policy_hook_calls_total ${hook.calls}\n`;
  out += `http_policy_hook_errors_total ${hook.errors}\n`;
  out += `http_policy_program_updates_total ${link.updates}\n`;
  out += `http_policy_program_info{program="${link.program}",version="${policy.version}",verified="${link.verified}",engine="${link.engine}"} 1\n`;
  out += `http_server_requests_handled_total ${server.handled}\n`;
  return out;
}

/** Start the server; resolves when it listens. `port` 0 picks a free one. */
export async function startServer({ port = 0, host = '127.0.0.1', engine = 'interp', log = () => {} } = {}) {
  const policy = createPolicy({ engine });
  const state = { handled: 0 };
  const server = http.createServer((req, res) => {
    state.handled++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const id = req.headers['x-request-id'] ?? '';
    const common = { 'x-request-id': id, 'x-policy-version': policy.version };
    // Operator endpoints, outside the policy.
    if (url.pathname === '/metrics') {
      const text = metricsText(policy, state);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text), ...common });
      res.end(text);
      return;
    }
    const swap = /^\/-\/policy\/(v\d+)$/.exec(url.pathname);
    if (swap && req.method === 'POST') {
      try {
        policy.swap(swap[1]);
        log(`policy swapped to ${swap[1]}`);
        send(res, 200, { policy: policy.version, link: policy.link.info }, common);
      } catch (e) {
        send(res, 400, { error: e.message }, common);
      }
      return;
    }
    const ip = String(req.headers['x-forwarded-for'] ?? '').split(',')[0].trim() || req.socket.remoteAddress;
    let d;
    try {
      d = policy.decide({ method: req.method, path: url.pathname, ip, headers: req.headers });
    } catch (e) {
      log(`policy error: ${e.message}`);
      send(res, 503, { error: 'policy unavailable' }, common);
      return;
    }
    if (d.verdict === VERDICT.DENY) {
      send(res, 403, { error: 'forbidden', reason: d.reason, route: d.route }, common);
    } else if (d.verdict === VERDICT.LIMIT) {
      send(res, 429, { error: 'too many requests', route: d.route }, { ...common, 'retry-after': String(d.retryAfter) });
    } else {
      send(res, 200, { ok: true, route: d.route, path: url.pathname, id }, common);
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve) => server.listen(port, host, resolve));
  const addr = server.address();
  return {
    server,
    policy,
    state,
    url: `http://${host}:${addr.port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const s = await startServer({ port: Number(arg('--port', 8080)), engine: arg('--engine', 'interp'), log: (l) => console.log(l) });
  const info = s.policy.link.info;
  console.log(`listening on ${s.url}: policy ${info.program} (${info.verified ? 'verified' : 'unverified'}, ${info.engine}); POST /-/policy/v2 or SIGHUP swaps it`);
  process.on('SIGHUP', () => {
    const next = s.policy.version === 'v1' ? 'v2' : 'v1';
    s.policy.swap(next);
    console.log(`policy swapped to ${next}`);
  });
}
