// Long differential campaign (not part of `npm test`):
//
//   npx tsc -p tsconfig.json && node dist/test/oracle/alu-diff-long.js --count 100000 [--seed 1000000] [--batch 2000]
//
// Generates `count` programs from `seed` on, runs them on the kernel and on
// tsbpf's interpreter (or, before it is exported, the BigInt model), prints
// progress and every disagreement shrunk to a minimal program; exit status 1
// if any. Under `node --test` (which runs every file in the directory) it
// does nothing.
import { kernelAvailable } from '../../src/cli/kernel-oracle.js';
import { describe, runDiff } from './alu-diff.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`--${name} wants a non-negative integer`);
    process.exit(2);
  }
  return v;
}

function main(): void {
  const k = kernelAvailable();
  if (!k.ok) {
    console.error(`kernel oracle unavailable: ${k.reason}`);
    process.exit(2);
  }
  const count = arg('count', 20_000);
  const seed = arg('seed', 1_000_000);
  const batch = arg('batch', 2_000);
  let total = 0;
  let found = 0;
  let ref = 0;
  const t0 = Date.now();
  for (let s = seed; s < seed + count; s += batch) {
    const n = Math.min(batch, seed + count - s);
    const rep = runDiff(s, n, { batch: n, maxReported: 3 });
    total += n;
    found += rep.disagreements.length;
    ref += rep.refDisagreements;
    for (const d of rep.disagreements) console.log(`\nDISAGREEMENT ${describe(d)}\n`);
    const secs = (Date.now() - t0) / 1000;
    console.log(`${total}/${count} programs (x2 kernel modes) vs ${rep.engine}: ${found} disagreements reported, ` +
      `${ref} reference/kernel differences, ${secs.toFixed(1)} s (${Math.round(total / secs)}/s)`);
  }
  process.exit(found ? 1 : 0);
}

if (!process.env['NODE_TEST_CONTEXT']) main();
