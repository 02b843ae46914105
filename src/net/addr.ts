// Text forms of MAC, IPv4 and IPv6 addresses, both ways.

import { PcapError } from '../errors.js';

function bad(what: string, s: string): never {
  throw new PcapError('NET_BAD_ADDRESS', `invalid ${what} address '${s}'`, 0, 0);
}

/** "aa:bb:cc:dd:ee:ff" (or with '-') to 6 bytes. */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6) bad('MAC', s);
  const out = new Uint8Array(6);
  parts.forEach((p, i) => {
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) bad('MAC', s);
    out[i] = parseInt(p, 16);
  });
  return out;
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function formatMac(b: Uint8Array, off = 0): string {
  return `${HEX2[b[off] ?? 0]}:${HEX2[b[off + 1] ?? 0]}:${HEX2[b[off + 2] ?? 0]}:${HEX2[b[off + 3] ?? 0]}:${HEX2[b[off + 4] ?? 0]}:${HEX2[b[off + 5] ?? 0]}`;
}

/** Dotted quad to 4 bytes. */
export function parseIPv4(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4) bad('IPv4', s);
  const out = new Uint8Array(4);
  parts.forEach((p, i) => {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) bad('IPv4', s);
    out[i] = Number(p);
  });
  return out;
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 4291 text (with "::" and an optional trailing dotted quad) to 16 bytes. */
export function parseIPv6(s: string): Uint8Array {
  let str = s;
  const zone = str.indexOf('%');
  if (zone >= 0) str = str.slice(0, zone);
  const words: number[] = [];
  let tail: number[] = [];
  const dbl = str.indexOf('::');
  if (dbl !== str.lastIndexOf('::')) bad('IPv6', s);
  const parse = (part: string, into: number[]): void => {
    if (part === '') return;
    const groups = part.split(':');
    groups.forEach((g, i) => {
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        into.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad('IPv6', s);
        into.push(parseInt(g, 16));
      }
    });
  };
  if (dbl >= 0) {
    parse(str.slice(0, dbl), words);
    parse(str.slice(dbl + 2), tail);
    if (words.length + tail.length > 7) bad('IPv6', s);
    while (words.length + tail.length < 8) words.push(0);
  } else {
    parse(str, words);
    if (words.length !== 8) bad('IPv6', s);
    tail = [];
  }
  const all = words.concat(tail);
  const out = new Uint8Array(16);
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

/** RFC 5952 canonical text: lowercase, longest run of 2+ zero words as "::". */
export function formatIPv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(((b[off + 2 * i] ?? 0) << 8) | (b[off + 2 * i + 1] ?? 0));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (x: number[]): string => x.map((v) => v.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** Parse an address of either family; 4 or 16 bytes. */
export function parseIP(s: string): Uint8Array {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}
