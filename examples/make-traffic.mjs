// Writes examples/traffic.pcap, the capture of the replay demo, with
// tsbpf's own traffic generator (deterministic: same bytes on every run).
//
//   npm run build && node examples/make-traffic.mjs [OUT]
//
// About 3,300 packets over ~0.3 s of capture time, nanosecond timestamps:
// - 60 TCP/UDP flows between clients in 192.0.2.0/24 (and 2001:db8:1::/64)
//   and servers in 203.0.113.0/24 (handshakes, data, teardown; IMIX sizes);
// - a SYN flood of 1,500 spoofed SYNs from 198.51.100.0/24 to port 80;
// - 300 DNS queries to 203.0.113.53;
// - 40 ICMP echo requests (pings) to 203.0.113.10.
// examples/xdp_guard.o passes the flows, drops the flood beyond 64 SYNs a
// second per /24, redirects the DNS queries and answers the pings (XDP_TX).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { net } from '../dist/src/index.js';

const out = process.argv[2] ?? fileURLToPath(new URL('./traffic.pcap', import.meta.url));
const start = net.DEFAULT_START;

function* pings(count) {
  const rng = new net.Rng(7);
  let t = start + 1_000_000n;
  for (let seq = 1; seq <= count; seq++) {
    const data = net.buildPacket({
      eth: { src: '02:00:5e:00:53:01', dst: '02:00:5e:00:53:02' },
      ipv4: { src: `192.0.2.${rng.range(1, 254)}`, dst: '203.0.113.10', id: rng.int(65536) },
      icmp: { type: 8, code: 0, id: 0x7462, seq },
      payload: 56,
    });
    yield { data, ts: t, origLen: data.length, caplen: data.length, linkType: 1, interfaceId: 0 };
    t += 7_000_000n;
  }
}

const records = [...net.mergeByTime(
  net.generateFlows({ seed: 11, flows: 60, packetsPerFlow: [4, 40], tcpFraction: 0.7, ipv6Fraction: 0.2, pps: 8000 }),
  net.synFlood({ seed: 12, count: 1500, pps: 20000, start: start + 50_000_000n }),
  net.dnsQueries({ seed: 13, count: 300, server: '203.0.113.53', pps: 1500 }),
  pings(40),
)];
writeFileSync(out, net.writeCapture(records, { format: 'pcap', resolution: 'ns' }));
console.log(`${out}: ${records.length} packets`);
