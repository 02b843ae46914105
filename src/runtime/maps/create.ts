// createMap and mapFromHandle. (Step 0: signatures; the map types follow.)
import { MapError } from '../../errors.js';
import type { LinearMemory } from '../memory.js';
import { type BpfMap, type MapCreateOptions, type MapCreateSpec, ERRNO } from './types.js';

const registry = new WeakMap<LinearMemory, Map<number, BpfMap>>();

/** Create a map in `memory`. Throws MapError where the kernel's map_create would fail. */
export function createMap(memory: LinearMemory, spec: MapCreateSpec, opts: MapCreateOptions = {}): BpfMap {
  void memory; void opts;
  throw new MapError('EINVAL', ERRNO.EINVAL, `map type ${spec.type} is not implemented yet`, spec.name);
}

/** The map whose descriptor is at `addr` in `memory` (a map handle from a register), or undefined. */
export function mapFromHandle(memory: LinearMemory, addr: number): BpfMap | undefined {
  return registry.get(memory)?.get(addr);
}
