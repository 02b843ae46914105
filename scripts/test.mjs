#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test
// runner. Node 20 would otherwise run every .js file under a `test` folder,
// including helper modules and child-process scripts that are not tests.
// Extra arguments are passed to `node --test` (e.g. --test-reporter=spec);
// a path prefix argument (e.g. dist/test/jit) limits the run to it.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const prefixes = process.argv.slice(2).filter((a) => !a.startsWith('-')).map((p) => resolve(p));

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files = walk(join(root, 'dist', 'test')).sort();
if (prefixes.length) files = files.filter((f) => prefixes.some((p) => f.startsWith(p)));
if (!files.length) {
  process.stderr.write('test: no test files found (run `npm run build` first)\n');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', ...(flags.length ? flags : ['--test-reporter=dot']), ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
