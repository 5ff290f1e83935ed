// CPU reference: resample. Not written yet: the kernels issue fills this in.
import type { SpatialGeometry } from '../geometry.js';

export function upsample2x(_x: Float64Array, _g: SpatialGeometry): Float64Array {
  throw new Error('upsample2x: CPU reference not implemented yet');
}

export function upsample2xBackward(_dy: Float64Array, _g: SpatialGeometry): Float64Array {
  throw new Error('upsample2xBackward: CPU reference not implemented yet');
}

export function concatChannels(_a: Float64Array, _b: Float64Array, _g: SpatialGeometry, _ca: number, _cb: number): Float64Array {
  throw new Error('concatChannels: CPU reference not implemented yet');
}

export function concatChannelsBackward(_dy: Float64Array, _g: SpatialGeometry, _ca: number, _cb: number): { da: Float64Array; db: Float64Array } {
  throw new Error('concatChannelsBackward: CPU reference not implemented yet');
}

