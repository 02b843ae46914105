// The 1 GB check of the replay (not part of the test suite: minutes):
//   node dist/test/replay/replay-1g.js [GB] [interp|jit]
// Streams a generated capture of small packets into `tsbpf run --pcap -`
// with --out-drop, and prints packets, time, rate and peak RSS; exits 1 if
// the peak RSS reaches 200 MB.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayPiped } from './traffic-source.js';

const gb = Number(process.argv[2] ?? 1);
const engine = process.argv[3] ?? 'jit';
const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-1g-'));
const drop = join(tmp, 'drop.pcap');
const t0 = performance.now();
const r = await replayPiped(Math.round(gb * (1 << 30)), ['--engine', engine, '--out-drop', drop, '--stats']);
const secs = (performance.now() - t0) / 1000;
process.stdout.write(r.out);
process.stdout.write(`exit ${r.code}; ${(gb * 1024).toFixed(0)} MiB in ${secs.toFixed(1)} s; drops file ${(statSync(drop).size / 1048576).toFixed(1)} MiB; peak RSS ${(r.maxRssKb / 1024).toFixed(1)} MiB\n`);
rmSync(tmp, { recursive: true, force: true });
process.exitCode = r.code === 0 && r.maxRssKb < 200 * 1024 ? 0 : 1;
