#!/usr/bin/env node
// `npm run demo`: the main jobs of tsbpf on the bundled examples.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'tsbpf.js');
let failed = 0;

function step(title, args) {
  process.stdout.write(`\n$ tsbpf ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}

step('replay a capture through an XDP program', ['run', 'examples/xdp_guard.o', '--pcap', 'examples/traffic.pcap', '--out-drop', join(tmpdir(), 'tsbpf-demo-drop.pcap')]);
step('the programs of an object', ['prog', 'list', 'examples/xdp_firewall.o']);

const conf = process.env.BPF_CONFORMANCE_DIR ?? resolve(root, '..', 'shared', 'bpf_conformance');
if (existsSync(join(conf, 'tests'))) {
  step('ISA conformance on the interpreter', ['conformance', join(conf, 'tests'), '--engine', 'interp']);
  step('ISA conformance on the JIT', ['conformance', join(conf, 'tests'), '--engine', 'jit']);
} else {
  process.stdout.write(`(bpf_conformance not found at ${conf}: set BPF_CONFORMANCE_DIR to run it)\n`);
}
process.exitCode = failed ? 1 : 0;
