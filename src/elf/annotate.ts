// A linked program as text, the way `bpftool prog dump xlated linum` shows
// one: function labels, the C source line (from BTF line info) before the
// instructions it produced, and map, subprogram and kfunc names in place of
// numbers. For reports, the CLI and the playground.
//
//   xdp_firewall:
//   ; int xdp_firewall(struct xdp_md *ctx) @ xdp_firewall.c:83
//      0: r6 = *(u32 *)(r1 + 4)
//   ...
//   ; rule = bpf_map_lookup_elem(&fw_rules, &key); @ xdp_firewall.c:106
//     24: r1 = map[fw_rules] ll
//     26: call bpf_map_lookup_elem#1

import { formatInstruction, slotIndices } from '../isa/index.js';
import { type ProgramSpec } from './object.js';

export interface AnnotateOptions {
  /** Show the C source lines (default true when the program has line info). */
  readonly source?: boolean;
  /** Helper names in calls: `call bpf_map_lookup_elem#1` (default true). */
  readonly helperNames?: boolean;
}

export function annotate(p: ProgramSpec, opts: AnnotateOptions = {}): string {
  const idx = slotIndices(p.insns);
  const funcAt = new Map(p.funcs.map((f) => [f.slot, f.name]));
  const maps = new Map(p.mapRefs.map((r) => [r.slot, r]));
  const ext = new Map(p.externRefs.map((r) => [r.slot, r]));
  const lines = new Map<number, (typeof p.lineInfo)[number]>();
  if (opts.source ?? true) for (const l of p.lineInfo) if (!lines.has(l.slot)) lines.set(l.slot, l);
  const width = String(idx[p.insns.length] ?? 0).length;
  const out: string[] = [];
  let lastLine = '';
  p.insns.forEach((x, i) => {
    const slot = idx[i]!;
    const fn = funcAt.get(slot);
    if (fn !== undefined) out.push(`${fn}:`);
    const l = lines.get(slot);
    if (l && l.line > 0) {
      const key = `${l.file}:${l.line}`;
      if (key !== lastLine) out.push(`; ${l.source.trim()} @ ${l.file.split('/').pop()}:${l.line}`);
      lastLine = key;
    }
    let text: string;
    const m = maps.get(slot), e = ext.get(slot);
    if (m) text = `r${x.dst} = map[${m.map}]${m.kind === 'map_value' ? `[0]+${m.offset}` : ''} ll`;
    else if (e) text = e.kind === 'kfunc' ? `call ${e.name}#${e.btfId}` : `r${x.dst} = ${e.name} ll`;
    else if (x.op.kind === 'call_local' || (x.op.kind === 'ld_imm64' && x.src === 4)) {
      const target = slot + x.imm + 1;
      const name = funcAt.get(target) ?? `pc${x.imm >= 0 ? '+' : ''}${x.imm}`;
      text = x.op.kind === 'call_local' ? `call ${name}` : `r${x.dst} = &${name} ll`;
    } else text = formatInstruction(x, { helperNames: opts.helperNames ?? true });
    out.push(`${String(slot).padStart(width + 2)}: ${text}`);
  });
  return out.join('\n') + '\n';
}
