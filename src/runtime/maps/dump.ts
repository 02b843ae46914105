// `bpftool map dump` output, text and JSON (-j), byte for byte as bpftool
// 7.x prints it (checked against the real tool in test/maps):
// - without BTF: `key: 01 00  value: 02 00` lines (bpftool's single-line,
//   two-line and block layouts), `value (CPU 00): ...` for per-CPU maps, then
//   `Found N elements`; JSON: [{"key":["0x01",...],"value":[...]}] or, per
//   CPU, {"key":[...],"values":[{"cpu":0,"value":[...]}]};
// - with BTF: text is bpftool's pretty JSON of the formatted entries
//   ([{ "key": 1, "value": {...} }]), JSON adds "formatted": {...} to each
//   entry; a global-data map shows {".bss": [{"var": value}, ...]}.

import type { Btf, BtfValue } from '../../elf/btf.js';
import type { BpfMap } from './types.js';

type Node =
  | { readonly k: 'raw'; readonly text: string; readonly pretty?: string }
  | { readonly k: 'obj'; readonly members: ReadonlyArray<readonly [string, Node]> }
  | { readonly k: 'arr'; readonly items: readonly Node[] };

const raw = (text: string, pretty?: string): Node => (pretty === undefined ? { k: 'raw', text } : { k: 'raw', text, pretty });
const obj = (members: ReadonlyArray<readonly [string, Node]>): Node => ({ k: 'obj', members });
const arr = (items: readonly Node[]): Node => ({ k: 'arr', items });

/** bpftool's json_writer: pretty = 4-space indents, values after `"name": `, scalars of an array on one line. */
export function writeJson(n: Node, pretty: boolean): string {
  let out = '';
  let depth = 0;
  let sep = '';
  const eor = (): void => {
    out += sep;
    sep = ',';
  };
  const eol = (): void => {
    if (pretty) out += '\n' + '    '.repeat(depth);
  };
  const value = (x: Node): void => {
    switch (x.k) {
      case 'raw': eor(); out += pretty && x.pretty !== undefined ? x.pretty : x.text; break;
      case 'obj':
        eor(); out += '{'; depth++; sep = '';
        for (const [name, v] of x.members) {
          eor(); eol(); sep = '';
          out += JSON.stringify(name) + (pretty ? ': ' : ':');
          value(v);
        }
        depth--; if (sep !== '') eol(); out += '}'; sep = ',';
        break;
      case 'arr':
        eor(); out += '['; depth++; sep = '';
        for (const v of x.items) value(v);
        depth--; if (sep !== '') eol(); out += ']'; sep = ',';
        break;
    }
  };
  value(n);
  return out;
}

function hexNode(b: Uint8Array): Node {
  return arr(Array.from(b, (x) => raw(JSON.stringify('0x' + x.toString(16).padStart(2, '0')))));
}

/** bpftool's hex block: 16 bytes a line, an extra space after the 8th. */
export function hexLines(b: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    let s = '';
    for (let j = i; j < Math.min(i + 16, b.length); j++) {
      if (j > i) s += j - i === 8 ? '  ' : ' ';
      s += b[j]!.toString(16).padStart(2, '0');
    }
    lines.push(s);
  }
  return lines.join('\n');
}

/** A BTF-typed value as a writer node: like btf.formatValue, with pointers as bpftool prints them. */
function btfNode(btf: Btf, id: number, bytes: Uint8Array): Node {
  const t = btf.resolve(id);
  if (t.kind === 'datasec') {
    const vars = t.vars.map((v) => {
      const vt = btf.type(v.type);
      const name = vt.name;
      const inner = vt.kind === 'var' ? vt.type : v.type;
      return obj([[name, btfNode(btf, inner, bytes.subarray(v.offset, v.offset + v.size))]]);
    });
    return obj([[t.name, arr(vars)]]);
  }
  return valueNode(btf, id, btf.formatValue(id, bytes));
}

function valueNode(btf: Btf, id: number, v: BtfValue): Node {
  const t = btf.resolve(id);
  if (t.kind === 'ptr' && typeof v === 'bigint') {
    return raw(v.toString(), v === 0n ? '(nil)' : '0x' + v.toString(16));
  }
  if (Array.isArray(v)) {
    const el = t.kind === 'array' ? t.type : 0;
    return arr(v.map((x) => valueNode(btf, el, x)));
  }
  if (typeof v === 'string' && t.kind === 'array') {
    // bpftool shows an array as a string only when its element type is
    // named exactly `char` (not unsigned char, signed char or a typedef).
    const el = btf.type(t.type);
    if (!(el.kind === 'int' && el.name === 'char')) {
      const codes: Node[] = [];
      for (let i = 0; i < t.nelems; i++) codes.push(raw(String(i < v.length ? v.charCodeAt(i) : 0)));
      return arr(codes);
    }
  }
  if (v !== null && typeof v === 'object') {
    const members = t.kind === 'struct' || t.kind === 'union' ? t.members : [];
    return obj(Object.entries(v).map(([name, x]) => {
      const m = members.find((mm) => mm.name === name);
      return [name, m ? valueNode(btf, m.type, x) : plain(x)] as const;
    }));
  }
  return plain(v);
}

function plain(v: BtfValue): Node {
  if (typeof v === 'bigint' || typeof v === 'number') return raw(v.toString());
  if (typeof v === 'boolean') return raw(v ? 'true' : 'false');
  if (typeof v === 'string') return raw(JSON.stringify(v));
  if (Array.isArray(v)) return arr(v.map(plain));
  return obj(Object.entries(v).map(([k, x]) => [k, plain(x)] as const));
}

interface Entry {
  readonly key: Uint8Array;
  /** One value, or one per CPU. */
  readonly values: Uint8Array[];
}

function collect(m: BpfMap): { entries: Entry[]; percpu: boolean } {
  const percpu = (m as { isPerCpu?: boolean }).isPerCpu === true;
  const entries: Entry[] = [];
  for (const [key, v] of m.entries()) {
    if (!percpu) {
      entries.push({ key, values: [v] });
      continue;
    }
    const stride = (m.valueSize + 7) & ~7;
    const values: Uint8Array[] = [];
    for (let c = 0; c < m.cpus; c++) values.push(v.slice(c * stride, c * stride + m.valueSize));
    entries.push({ key, values });
  }
  return { entries, percpu };
}

function hasBtf(m: BpfMap): boolean {
  return !!m.btf && (m.btfKeyTypeId !== 0 || m.btfValueTypeId !== 0);
}

function formattedNode(m: BpfMap, e: Entry, percpu: boolean): Node {
  const btf = m.btf!;
  const members: (readonly [string, Node])[] = [];
  if (m.btfKeyTypeId) members.push(['key', btfNode(btf, m.btfKeyTypeId, e.key)]);
  const val = (b: Uint8Array): Node => (m.btfValueTypeId ? btfNode(btf, m.btfValueTypeId, b) : hexNode(b));
  if (percpu) members.push(['values', arr(e.values.map((b, c) => obj([['cpu', raw(String(c))], ['value', val(b)]])))]);
  else members.push(['value', val(e.values[0]!)]);
  return obj(members);
}

/** `bpftool -j map dump` as a JSON string (with bpftool's final newline). */
export function dumpJson(m: BpfMap): string {
  const { entries, percpu } = collect(m);
  const btf = hasBtf(m);
  return writeJson(arr(entries.map((e) => {
    const members: (readonly [string, Node])[] = [['key', hexNode(e.key)]];
    if (percpu) members.push(['values', arr(e.values.map((b, c) => obj([['cpu', raw(String(c))], ['value', hexNode(b)]])))]);
    else members.push(['value', hexNode(e.values[0]!)]);
    if (btf) members.push(['formatted', formattedNode(m, e, percpu)]);
    return obj(members);
  })), false) + '\n';
}

/** `bpftool map dump` text (ends with a newline). */
export function dumpText(m: BpfMap): string {
  const { entries, percpu } = collect(m);
  if (hasBtf(m)) return writeJson(arr(entries.map((e) => formattedNode(m, e, percpu))), true) + '\n';
  const out: string[] = [];
  const k = m.keySize, v = m.valueSize;
  for (const e of entries) {
    if (percpu) {
      out.push('key:', hexLines(e.key));
      e.values.forEach((b, c) => {
        const label = `value (CPU ${String(c).padStart(2, '0')}):`;
        if (v > 16) out.push(label, hexLines(b)); else out.push(`${label} ${hexLines(b)}`);
      });
    } else if (k > 16 || v > 16) {
      out.push('key:', hexLines(e.key), 'value:', hexLines(e.values[0]!));
    } else if (k + v <= 24) {
      out.push(`key: ${hexLines(e.key)}  value: ${hexLines(e.values[0]!)}`);
    } else {
      out.push(`key: ${hexLines(e.key)}`, `value: ${hexLines(e.values[0]!)}`);
    }
  }
  out.push(`Found ${entries.length} element${entries.length === 1 ? '' : 's'}`);
  return out.join('\n') + '\n';
}
