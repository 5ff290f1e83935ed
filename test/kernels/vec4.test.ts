// elementWidth: which memory-bound kernels may read four floats at a time (no device needed).
import { describe, expect, it } from 'vitest';
import type { BufferRef } from '../../src/gpu/gpu.js';
import { VEC, elementWidth } from '../../src/kernels/vec4.js';

/** A binding at `offset` bytes (the buffer itself is never touched). */
const at = (offset: number): BufferRef => ({ buffer: {} as GPUBuffer, offset, size: 64 });

describe('elementWidth', () => {
  it('is 4 when every count is a multiple of 4 and every binding starts on 16 bytes', () => {
    expect(elementWidth([64], [at(0), at(256)])).toBe(VEC);
    expect(elementWidth([4, 8], [at(16), null])).toBe(VEC);
    expect(elementWidth([12], [])).toBe(VEC);
  });

  it('is 1 when any count is not a multiple of 4', () => {
    expect(elementWidth([7], [at(0)])).toBe(1);
    expect(elementWidth([4, 3], [at(0)])).toBe(1);
  });

  it('is 1 when any binding starts off a 16-byte boundary', () => {
    expect(elementWidth([64], [at(0), at(8)])).toBe(1);
    expect(elementWidth([64], [at(4)])).toBe(1);
  });
});
