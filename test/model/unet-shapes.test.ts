// The distinct layer shapes of the UNet, which the kernel benchmarks and the tuner run (no device needed).
import { describe, expect, it } from 'vitest';
import { unetShapes } from '../../src/model/unet-shapes.js';

describe('UNet layer shapes', () => {
  it('follow the ResNet-34 UNet at 64x64', () => {
    const s = unetShapes(2, 64);
    const stem = s.convs[0]!.g;
    expect([stem.kh, stem.stride, stem.oh, stem.cout]).toEqual([7, 2, 32, 64]);
    expect([s.pool.oh, s.pool.c]).toEqual([16, 64]);
    // Deepest feature: 512 channels at 1/32 of the input.
    expect(s.upsamples[0]).toEqual({ n: 2, h: 2, w: 2, c: 512 });
    expect(s.concats.map((c) => [c.ca, c.cb, c.g.h])).toEqual([[512, 256, 4], [256, 128, 8], [128, 64, 16], [64, 64, 32]]);
    const head = s.convs[s.convs.length - 1]!.g;
    expect([head.cin, head.cout, head.hasBias, head.oh]).toEqual([16, 1, true, 64]);
    expect(() => unetShapes(1, 48)).toThrow(/multiple of 32/);
  });
});
