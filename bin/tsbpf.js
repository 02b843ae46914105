#!/usr/bin/env node
// The tsbpf command: a thin launcher for dist/src/cli/main.js (build with `npm run build`).
let mod;
try {
  mod = await import('../dist/src/cli/main.js');
} catch (e) {
  process.stderr.write(`tsbpf: error: cannot load dist/src/cli/main.js (run 'npm run build' first): ${e && e.message ? e.message.split('\n')[0] : e}\n`);
  process.exit(1);
}
// A closed pipe (`tsbpf disasm x | head`) ends the command quietly.
process.stdout.on('error', (e) => { if (e && e.code === 'EPIPE') process.exit(process.exitCode ?? 0); });
process.exitCode = await mod.main(process.argv.slice(2));
