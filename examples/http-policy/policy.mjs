// The policy side of the HTTP example: a Runtime holding the policy's maps,
// an `http_request` hook declared from the C struct (BTF of the object), the
// policy program attached to it, and atomic swaps to another version that
// keeps the maps (token buckets and route counters carry over).
//
//   const policy = createPolicy();
//   const { verdict, route, retryAfter, reason } = policy.decide({ method: 'GET', path: '/api/x', ip: '192.0.2.7', headers });
//   policy.swap('v2');
//   policy.metrics(); // per-route allowed/denied/limited, summed over CPUs
import { readFileSync } from 'node:fs';
import { Runtime, defineHook, loadObject, slotIndices } from '../../dist/src/index.js';

export const VERDICT = { ALLOW: 0, DENY: 1, LIMIT: 2 };
export const VERDICT_NAMES = ['allow', 'deny', 'limit'];
export const ROUTES = ['other', 'api', 'admin', 'static', 'health'];
export const REASONS = ['', 'authorization required', 'read-only route', 'no bots on the API'];
const METHODS = { GET: 1, HEAD: 2, POST: 3, PUT: 4, DELETE: 5 };
const REQ_HAS_AUTH = 1;
const REQ_IS_BOT = 2;

const objectFile = (version) => new URL(`./policy_${version}.o`, import.meta.url);

/**
 * The program `name` of an object, with its map references pointing at maps
 * that already exist (like libbpf's bpf_map__reuse_fd): a new version of a
 * policy keeps the running version's state.
 */
function loadSharingMaps(rt, bytes, name, maps) {
  const spec = loadObject(bytes);
  const p = spec.program(name);
  if (!p) throw new Error(`no program ${name}`);
  const idx = slotIndices(p.insns);
  const refs = new Map(p.mapRefs.map((r) => [r.slot, r]));
  const insns = p.insns.map((x, i) => {
    const r = refs.get(idx[i]);
    if (!r) return x;
    const m = maps.get(r.map);
    if (!m) throw new Error(`${name}: map '${r.map}' is not one of the running policy's (${[...maps.keys()].join(', ')})`);
    if (r.kind !== 'map') throw new Error(`${name}: global data ('${r.map}') cannot be shared between versions`);
    return { ...x, src: 1, imm: m.handle | 0, imm2: 0 };
  });
  return rt.loadProgram(insns, { type: 0, name });
}

/** IPv4 address of a client as a u32 in network byte order (0 for IPv6 / unknown). */
function ip4(addr) {
  const m = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr ?? '');
  if (!m) return 0;
  // Network byte order in memory = the bytes in address order, read as little-endian.
  return ((+m[1]) | (+m[2] << 8) | (+m[3] << 16) | (+m[4] << 24)) >>> 0;
}

export function createPolicy({ engine = 'interp', now } = {}) {
  const rt = new Runtime();
  const v1 = rt.loadObject(new Uint8Array(readFileSync(objectFile('v1'))));
  const hook = defineHook({
    name: 'http_request',
    runtime: rt,
    ctx: { btf: v1.spec.btf, struct: 'http_req', write: ['route', 'retry_after', 'reason'] },
    helpers: { standard: ['map_lookup_elem', 'map_update_elem', 'ktime_get_ns'] },
    returns: { default: VERDICT.ALLOW, range: [0, 2] },
    budget: 100_000,
    engine,
    ...(now ? { now } : {}),
  });
  const link = hook.attach(v1.program('policy_v1'));
  let version = 'v1';
  const routeStats = v1.map('route_stats');
  const key = new Uint8Array(4);
  const keyView = new DataView(key.buffer);

  return {
    runtime: rt,
    hook,
    link,
    get version() { return version; },

    /** Run the policy for one request. Throws HookError when the program fails (the server decides). */
    decide({ method, path, ip, headers = {} }) {
      const ua = String(headers['user-agent'] ?? '');
      const verdict = Number(hook.run({
        method: METHODS[method] ?? 0,
        client_ip4: ip4(ip),
        flags: (headers.authorization ? REQ_HAS_AUTH : 0) | (/bot|crawler|spider/i.test(ua) ? REQ_IS_BOT : 0),
        path,
      }));
      return {
        verdict,
        route: ROUTES[hook.get('route')] ?? 'other',
        retryAfter: hook.get('retry_after'),
        reason: REASONS[hook.get('reason')] ?? '',
      };
    },

    /** Replace the running program with another version; its maps are the running ones. */
    swap(next) {
      const prog = loadSharingMaps(rt, new Uint8Array(readFileSync(objectFile(next))), `policy_${next}`, v1.maps);
      link.update(prog);
      version = next;
    },

    /** Per-route counters, summed over CPUs. */
    metrics() {
      const out = {};
      ROUTES.forEach((name, i) => {
        keyView.setUint32(0, i, true);
        const per = routeStats.lookupPerCpu(key) ?? [];
        const sum = { allowed: 0n, denied: 0n, limited: 0n };
        for (const v of per) {
          const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
          sum.allowed += d.getBigUint64(0, true);
          sum.denied += d.getBigUint64(8, true);
          sum.limited += d.getBigUint64(16, true);
        }
        out[name] = sum;
      });
      return out;
    },
  };
}
