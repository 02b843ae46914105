// Global variables of an object (.data, .rodata, .bss, ...) by name, so a
// user can read and set them before the program is loaded, like
// cilium/ebpf's VariableSpec: `spec.variables.get('cfg_port')!.set(8080)`.
// A variable is a window on its data map's initial value.

import { ElfError } from '../errors.js';
import { type Btf, type BtfValue } from './btf.js';
import { type MapSpec } from './maps.js';

export interface VariableInfo {
  readonly name: string;
  /** Name of the data map (= ELF section) holding it. */
  readonly map: string;
  readonly offset: number;
  readonly size: number;
  /** BTF type id of the variable's type (0 without BTF). */
  readonly typeId: number;
}

export class VariableSpec implements VariableInfo {
  readonly name: string;
  readonly map: string;
  readonly offset: number;
  readonly size: number;
  readonly typeId: number;
  constructor(info: VariableInfo, private readonly mapSpec: MapSpec, private readonly btf: Btf | undefined) {
    this.name = info.name;
    this.map = info.map;
    this.offset = info.offset;
    this.size = info.size;
    this.typeId = info.typeId;
    const data = mapSpec.data;
    if (!data || info.offset < 0 || info.size < 0 || info.offset + info.size > data.length) {
      throw new ElfError('VARIABLE_RANGE', `variable '${info.name}' (${info.size} bytes at ${info.offset}) lies outside ${info.map} (${data?.length ?? 0} bytes)`, info.map, info.offset);
    }
  }

  /** True for variables in .rodata*: constant for the program once loaded. */
  get readonly(): boolean {
    return this.mapSpec.readonly;
  }

  /** C type of the variable, when the object has BTF. */
  get typeName(): string | undefined {
    return this.btf && this.typeId ? this.btf.formatType(this.typeId) : undefined;
  }

  /** A copy of the current bytes. */
  get(): Uint8Array {
    return this.mapSpec.data!.slice(this.offset, this.offset + this.size);
  }

  /** The bytes rendered through BTF (numbers, strings, objects); raw bytes array without BTF. */
  value(): BtfValue {
    if (this.btf && this.typeId) return this.btf.formatValue(this.typeId, this.get());
    return Array.from(this.get());
  }

  /**
   * Replace the value: bytes of exactly `size`, or an integer (number or
   * bigint) for variables of 1, 2, 4 or 8 bytes, stored little-endian.
   * Negative integers are stored in two's complement.
   */
  set(v: Uint8Array | bigint | number): void {
    const data = this.mapSpec.data!;
    if (v instanceof Uint8Array) {
      if (v.length !== this.size) throw new ElfError('VARIABLE_SIZE', `variable '${this.name}' is ${this.size} bytes, got ${v.length}`, this.map, this.offset);
      data.set(v, this.offset);
      return;
    }
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new ElfError('VARIABLE_VALUE', `variable '${this.name}': ${v} is not an integer`, this.map, this.offset);
    if (![1, 2, 4, 8].includes(this.size)) throw new ElfError('VARIABLE_SIZE', `variable '${this.name}' is ${this.size} bytes: set it with bytes, not an integer`, this.map, this.offset);
    const bits = BigInt(this.size * 8);
    const b = BigInt(v);
    if (b >= 1n << bits || b < -(1n << (bits - 1n))) throw new ElfError('VARIABLE_VALUE', `variable '${this.name}': ${v} does not fit ${this.size} bytes`, this.map, this.offset);
    let u = BigInt.asUintN(Number(bits), b);
    for (let i = 0; i < this.size; i++) {
      data[this.offset + i] = Number(u & 0xffn);
      u >>= 8n;
    }
  }

  toJSON(): VariableInfo {
    return { name: this.name, map: this.map, offset: this.offset, size: this.size, typeId: this.typeId };
  }
}
