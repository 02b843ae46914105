// The layer rules of docs/architecture.md, checked on every import in src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const src = join(root, 'src');

// What each layer may import (besides itself and src/errors.ts).
const ALLOWED: Record<string, string[]> = {
  isa: [],
  elf: ['isa'],
  verifier: ['isa', 'elf'],
  runtime: ['isa', 'elf', 'verifier'],
  net: [],
  cli: ['isa', 'elf', 'verifier', 'runtime', 'net', 'web'],
  web: ['isa', 'elf', 'verifier', 'runtime', 'net'],
};
const CORE = new Set(['isa', 'elf', 'verifier', 'runtime', 'net']);

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function layerOf(file: string): string | undefined {
  const rel = relative(src, file).split(/[\\/]/);
  return rel.length > 1 ? rel[0] : undefined;
}

test('layers import downward only, and the core uses no node: module', () => {
  const problems: string[] = [];
  for (const f of walk(src)) {
    const layer = layerOf(f);
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"`]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      const where = relative(root, f);
      if (spec.startsWith('node:')) {
        if (!layer || CORE.has(layer)) problems.push(`${where}: core module imports ${spec}`);
        continue;
      }
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(f), spec);
      const tl = layerOf(target);
      if (!layer || !tl || tl === layer) continue;
      if (!ALLOWED[layer]?.includes(tl)) problems.push(`${where}: layer '${layer}' may not import '${tl}' (${spec})`);
    }
  }
  assert.deepEqual(problems, []);
});
