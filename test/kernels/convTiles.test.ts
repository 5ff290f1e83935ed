// What the conv kernels' tiles share (src/kernels/conv/tiles.ts), on stand-in devices: only the limits,
// features and subgroup sizes these functions read (no device needed). Every expectation is worked out
// by hand from the formulas; SHARE is 8.
import { describe, expect, it } from 'vitest';
import type { Conv2dGeometry } from '../../src/core/geometry.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import {
  type TileRules,
  fitSharedTile,
  fitSharedTm,
  pixelGroups,
  sharesLanes,
  tileLayout,
  tileProblem,
  vec4Channels,
  workgroupLimitsProblem,
  workgroupTileBytes,
} from '../../src/kernels/conv/tiles.js';
import type { RegisterTile, SharedTile, WorkgroupTile } from '../../src/kernels/conv/variant.js';

/** WebGPU's default limits, the ones these functions read. */
const DEFAULT_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupStorageSize: 16384,
};

function device(o: { subgroups: boolean; min?: number; max?: number; limits?: Partial<typeof DEFAULT_LIMITS> }): Gpu {
  return {
    limits: { ...DEFAULT_LIMITS, ...o.limits },
    adapter: { info: { subgroupMinSize: o.min, subgroupMaxSize: o.max } },
    device: { features: new Set(o.subgroups ? ['subgroups'] : []) },
  } as unknown as Gpu;
}

/** 32-lane subgroups (NVIDIA-like): shared tiles run, widened to 32 lanes. */
const nvidia = device({ subgroups: true, min: 32, max: 32 });
/** No subgroups feature at all. */
const plain = device({ subgroups: false });
/** Subgroups, but some of only 4 lanes: fewer than SHARE. */
const narrow = device({ subgroups: true, min: 4, max: 64 });
/** Subgroups of 8 to 16 lanes. */
const intel = device({ subgroups: true, min: 8, max: 16 });

function geometry(cin: number, cout: number): Conv2dGeometry {
  return { n: 1, h: 8, w: 8, cin, cout, kh: 3, kw: 3, stride: 1, pad: 1, oh: 8, ow: 8, hasBias: false };
}
const g16x32 = geometry(16, 32);
const gOdd = geometry(5, 7);

const register = (tm: number, nv: number, wg: number): RegisterTile => ({ kind: 'register', tm, nv, wg });
const shared = (tm: number, nv: number, wg: number): SharedTile => ({ kind: 'shared', tm, nv, wg });
const workgroup = (wx: number, wy: number, tm: number, nv: number, bk: number): WorkgroupTile => ({ kind: 'workgroup', wx, wy, tm, nv, bk });

/** Rules like the weight gradient's: shared wg a multiple of 8, workgroup wy * tm a multiple of 4. */
const RULES: TileRules = {
  shared: (_g, t) => (t.wg % 8 === 0 ? null : 'wg a multiple of 8'),
  workgroup: (t) => ((t.wy * t.tm) % 4 === 0 ? null : 'wy * tm a multiple of 4'),
};
/** A kernel without workgroup-tile rules (and no shared rule either). */
const NO_RULES: TileRules = { shared: () => null };

describe('vec4Channels', () => {
  it('needs both cin and cout multiples of 4', () => {
    expect(vec4Channels(geometry(16, 24))).toBe(true);
    expect(vec4Channels(geometry(4, 4))).toBe(true);
    expect(vec4Channels(geometry(5, 8))).toBe(false); // 5 % 4 = 1
    expect(vec4Channels(geometry(8, 6))).toBe(false); // 6 % 4 = 2
    expect(vec4Channels(geometry(4, 1))).toBe(false);
  });
});

describe('sharesLanes', () => {
  it('is true for shared tiles only', () => {
    expect(sharesLanes(register(8, 2, 64))).toBe(false);
    expect(sharesLanes(shared(8, 2, 64))).toBe(true);
    expect(() => sharesLanes(workgroup(16, 16, 4, 1, 16) as never)).toThrow('unknown conv variant kind');
  });
});

describe('workgroupTileBytes', () => {
  it('is bk*wy*tm floats of rows plus bk*wx*nv vec4 of columns', () => {
    // 16*8*4*4 = 2048 + 16*8*2*16 = 4096
    expect(workgroupTileBytes(workgroup(8, 8, 4, 2, 16))).toBe(6144);
    // 32*16*8*4 = 16384 + 32*16*4*16 = 32768
    expect(workgroupTileBytes(workgroup(16, 16, 8, 4, 32))).toBe(49152);
    // 16*16*4*4 = 4096 + 16*16*1*16 = 4096: WORKGROUP_TILES' first
    expect(workgroupTileBytes(workgroup(16, 16, 4, 1, 16))).toBe(8192);
  });

  it('counts odd sizes (nothing rounded to 4)', () => {
    // 8*3*3*4 = 288 + 8*4*1*16 = 512
    expect(workgroupTileBytes(workgroup(4, 3, 3, 1, 8))).toBe(800);
    // 1*1*1*4 + 1*1*1*16
    expect(workgroupTileBytes(workgroup(1, 1, 1, 1, 1))).toBe(20);
  });
});

describe('workgroupLimitsProblem', () => {
  it('is null up to and at the limits', () => {
    expect(workgroupLimitsProblem(nvidia, 16, 16, 16384)).toBeNull(); // 256 invocations, 16384 bytes: both at the limit
    expect(workgroupLimitsProblem(nvidia, 256, 1, 0)).toBeNull();
  });

  it('names the workgroup limits when there are too many invocations or one side is too long', () => {
    const big = "is larger than this device's workgroups (256 x 256, 256 invocations)";
    expect(workgroupLimitsProblem(nvidia, 16, 17, 0)).toBe(big); // 272 > 256
    expect(workgroupLimitsProblem(nvidia, 512, 1, 0)).toBe(big);
    const tall = device({ subgroups: false, limits: { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 64 } });
    // 8 * 128 = 1024 invocations is allowed, but wy 128 > 64
    expect(workgroupLimitsProblem(tall, 8, 128, 0)).toBe("is larger than this device's workgroups (1024 x 64, 1024 invocations)");
    expect(workgroupLimitsProblem(tall, 16, 64, 0)).toBeNull();
  });

  it('names the bytes when the workgroup memory is too much', () => {
    expect(workgroupLimitsProblem(nvidia, 16, 16, 16388)).toBe("needs 16388 bytes of workgroup memory, more than this device's 16384");
  });
});

describe('tileProblem', () => {
  it('runs register tiles within the workgroup limits, on any channels and without subgroups', () => {
    expect(tileProblem(nvidia, g16x32, register(8, 2, 64), RULES)).toBeNull();
    expect(tileProblem(plain, gOdd, register(8, 2, 64), RULES)).toBeNull();
    expect(tileProblem(plain, g16x32, register(8, 2, 512), RULES)).toBe("is larger than this device's workgroups (256 x 256, 256 invocations)");
  });

  it('runs shared tiles only with subgroups of at least 8 lanes', () => {
    expect(tileProblem(nvidia, g16x32, shared(32, 1, 8), RULES)).toBeNull();
    expect(tileProblem(intel, gOdd, shared(32, 1, 8), RULES)).toBeNull(); // min 8 >= SHARE
    expect(tileProblem(plain, g16x32, shared(32, 1, 8), RULES)).toBe('needs subgroups of at least 8 lanes');
    expect(tileProblem(narrow, g16x32, shared(32, 1, 8), RULES)).toBe('needs subgroups of at least 8 lanes'); // min 4 < 8
  });

  it('checks a shared tile in the order: workgroup limits, the kernel rule, subgroups', () => {
    expect(tileProblem(plain, g16x32, shared(32, 1, 12), RULES)).toBe('needs wg a multiple of 8'); // 12 % 8 = 4
    expect(tileProblem(plain, g16x32, shared(32, 1, 512), RULES)).toBe("is larger than this device's workgroups (256 x 256, 256 invocations)");
    expect(tileProblem(nvidia, g16x32, shared(32, 1, 12), NO_RULES)).toBeNull();
    // Checked at the size it runs at: whole subgroups of 128 lanes, more than this device's 64 invocations.
    const wide = device({ subgroups: true, min: 8, max: 128, limits: { maxComputeInvocationsPerWorkgroup: 64 } });
    expect(tileProblem(wide, g16x32, shared(32, 1, 8), RULES)).toBe("is larger than this device's workgroups (256 x 256, 64 invocations)");
  });

  it('runs workgroup tiles on vec4 channels, under the kernel rule and the limits', () => {
    // 6144 bytes <= 16384, 64 invocations, 8*4 = 32 a multiple of 4
    expect(tileProblem(plain, g16x32, workgroup(8, 8, 4, 2, 16), RULES)).toBeNull();
    expect(tileProblem(nvidia, gOdd, workgroup(8, 8, 4, 2, 16), RULES)).toBe('needs cin 5 and cout 7 multiples of 4');
    expect(tileProblem(nvidia, geometry(16, 6), workgroup(8, 8, 4, 2, 16), RULES)).toBe('needs cin 16 and cout 6 multiples of 4');
    // wy * tm = 3 * 3 = 9, not a multiple of 4; without the rule: 12 invocations, 800 bytes, runs
    expect(tileProblem(nvidia, g16x32, workgroup(4, 3, 3, 1, 8), RULES)).toBe('needs wy * tm a multiple of 4');
    expect(tileProblem(nvidia, g16x32, workgroup(4, 3, 3, 1, 8), NO_RULES)).toBeNull();
    // 49152 bytes > 16384
    expect(tileProblem(nvidia, g16x32, workgroup(16, 16, 8, 4, 32), RULES)).toBe("needs 49152 bytes of workgroup memory, more than this device's 16384");
    // 32 * 16 = 512 invocations > 256 (its 16*16*4*4 = 4096 + 16*32*1*16 = 8192 bytes would fit)
    expect(tileProblem(nvidia, g16x32, workgroup(32, 16, 4, 1, 16), RULES)).toBe("is larger than this device's workgroups (256 x 256, 256 invocations)");
  });
});

describe('fitSharedTm', () => {
  it('halves tm while the pixel tiles stay as many, not below SHARE', () => {
    // 32*1 >= 2*8 -> 16; 16 >= 16 -> 8; stops at SHARE (layer4 at 64x64: 8 pixels)
    expect(fitSharedTm(32, 1, 8)).toBe(8);
    // 32 >= 24 -> 16; 16 < 24: ceil(12/16) = 1 tile, tm 8 would make 2
    expect(fitSharedTm(32, 1, 12)).toBe(16);
    // pg 2: 32*2 = 64 >= 2*20 -> 16; 16*2 = 32 < 40
    expect(fitSharedTm(32, 2, 20)).toBe(16);
  });

  it('keeps tm on a layer it does not cover in one tile, or at SHARE or below', () => {
    expect(fitSharedTm(32, 1, 1000)).toBe(32); // 32 < 2000
    expect(fitSharedTm(8, 1, 1)).toBe(8); // 8 > 8 is false
    expect(fitSharedTm(4, 1, 1)).toBe(4);
  });

  it('keeps tm a multiple of SHARE, as the kernels ask: a tm that is no power of 2 stops early', () => {
    expect(fitSharedTm(24, 1, 1)).toBe(24); // 24 / 2 = 12 is no multiple of 8
    expect(fitSharedTm(48, 1, 4)).toBe(24); // 48 >= 8 -> 24, then 24 % 16 != 0
  });
});

describe('pixelGroups', () => {
  it('doubles while a group of wg/pg lanes still spans every column, up to SHARE', () => {
    expect(pixelGroups(64, 1, 32)).toBe(1); // 16*1 = 16 < 64
    expect(pixelGroups(4, 1, 32)).toBe(8); // 16 >= 4 -> 2, 8 >= 4 -> 4, 4 >= 4 -> 8 = SHARE, stop
    expect(pixelGroups(6, 1, 32)).toBe(4); // 16 >= 6 -> 2, 8 >= 6 -> 4, 4 < 6
    expect(pixelGroups(16, 2, 32)).toBe(4); // 16*2 = 32 >= 16 -> 2, 8*2 = 16 >= 16 -> 4, 4*2 = 8 < 16
  });

  it('stops at SHARE however narrow the layer', () => {
    expect(pixelGroups(1, 1, 256)).toBe(8); // 128, 64, 32 >= 1, then pg = 8 stops the loop
  });
});

describe('fitSharedTile', () => {
  it('widens the workgroup to whole subgroups and keeps the tile on a wide layer', () => {
    // wg max(8, 32) = 32; pg: 16*1 = 16 < 64 -> 1; tm min(32, max(8, 32/1)) = 32; 32 < 2*4096
    expect(fitSharedTile(nvidia, shared(32, 1, 8), 64, 4096)).toStrictEqual(shared(32, 1, 32));
    // wg max(8, 16) = 16; pg: 8*1 = 8 < 64 -> 1
    expect(fitSharedTile(intel, shared(32, 1, 8), 64, 4096)).toStrictEqual(shared(32, 1, 16));
    // No subgroup size: wg stays 8; pg: 4*2 = 8 < 64 -> 1; tm min(16, max(8, 16)) = 16; 16 < 2*4096
    expect(fitSharedTile(plain, shared(16, 2, 8), 64, 4096)).toStrictEqual(shared(16, 2, 8));
  });

  it('splits a narrow layer into pixel groups, keeping about tilePixels pixels per workgroup', () => {
    // 4 columns: wg 32, pg 8; tm min(32, max(8, 32/8 = 4)) = 8
    expect(fitSharedTile(nvidia, shared(32, 1, 8), 4, 4096)).toStrictEqual(shared(8, 1, 32));
    // The input gradient's tilePixels 64, 8 columns: wg 32, pg 4 (16, 8 >= 8; 4 < 8); tm min(16, max(8, 64/4 = 16)) = 16
    expect(fitSharedTile(nvidia, shared(16, 1, 8), 8, 4096, 64)).toStrictEqual(shared(16, 1, 32));
    // Same, 4 columns: pg 8; tm min(16, max(8, 64/8 = 8)) = 8
    expect(fitSharedTile(nvidia, shared(16, 1, 8), 4, 4096, 64)).toStrictEqual(shared(8, 1, 32));
  });

  it('rounds tilePixels / pg down to a multiple of SHARE', () => {
    // 8 columns: wg 32, pg 4; 40/4 = 10 -> 8; tm min(16, max(8, 8)) = 8
    expect(fitSharedTile(nvidia, shared(16, 1, 8), 8, 4096, 40)).toStrictEqual(shared(8, 1, 32));
    // 64 columns: pg 1; 60/1 = 60 -> 56; tm min(64, 56) = 56 (no halving: 56 % 16 != 0)
    expect(fitSharedTile(nvidia, shared(64, 1, 8), 64, 4096, 60)).toStrictEqual(shared(56, 1, 32));
  });

  it('shrinks tm on a layer of few pixels', () => {
    // pg 1, tm 32, then fitSharedTm(32, 1, 8) = 8
    expect(fitSharedTile(nvidia, shared(32, 1, 8), 64, 8)).toStrictEqual(shared(8, 1, 32));
  });

  it('returns a new tile and leaves the one it was given alone', () => {
    const t = shared(32, 1, 8);
    fitSharedTile(nvidia, t, 4, 4096);
    expect(t).toStrictEqual({ kind: 'shared', tm: 32, nv: 1, wg: 8 });
  });
});

describe('tileLayout', () => {
  it('covers a register tile one nv-column strip per invocation', () => {
    // nv min(2, 8) = 2; colTiles ceil(8/2) = 4; pixelTiles ceil(100/8) = 13
    expect(tileLayout(nvidia, register(8, 2, 64), 8, 100)).toStrictEqual({ shared: false, wg: 64, nv: 2, pg: 1, colTiles: 4, pixelTiles: 13 });
    // cout 3 -> ceil(3/4) = 1 column: nv min(2, 1) = 1; colTiles 1; pixelTiles ceil(63/4) = 16
    expect(tileLayout(plain, register(4, 2, 64), 1, 63)).toStrictEqual({ shared: false, wg: 64, nv: 1, pg: 1, colTiles: 1, pixelTiles: 16 });
    // register tiles keep their wg on a 32-lane device: no widening
    expect(tileLayout(nvidia, register(4, 4, 8), 10, 4)).toStrictEqual({ shared: false, wg: 8, nv: 4, pg: 1, colTiles: 3, pixelTiles: 1 }); // ceil(10/4) = 3
  });

  it('covers a shared tile with whole subgroups, nv*wg/pg columns and tm*pg pixels a workgroup', () => {
    // wg 32; pg 1 (16 < 64); colTiles ceil(64/32) = 2; pixelTiles ceil(1000/32) = 32
    expect(tileLayout(nvidia, shared(32, 1, 8), 64, 1000)).toStrictEqual({ shared: true, wg: 32, nv: 1, pg: 1, colTiles: 2, pixelTiles: 32 });
    // wg 32; pg 8 (4 columns); colTiles ceil(4 / (1*32/8 = 4)) = 1; pixelTiles ceil(4096 / (8*8)) = 64
    expect(tileLayout(nvidia, shared(8, 1, 8), 4, 4096)).toStrictEqual({ shared: true, wg: 32, nv: 1, pg: 8, colTiles: 1, pixelTiles: 64 });
    // 6 columns (cin 24), nv 2: pg 16*2, 8*2, 4*2 >= 6 -> 8; colTiles ceil(6 / (2*32/8 = 8)) = 1; pixelTiles ceil(100 / (16*8)) = 1
    expect(tileLayout(nvidia, shared(16, 2, 8), 6, 100)).toStrictEqual({ shared: true, wg: 32, nv: 2, pg: 8, colTiles: 1, pixelTiles: 1 });
    // Intel-like, 16 lanes, 20 columns, nv 4: pg 8*4 = 32 >= 20 -> 2, 4*4 = 16 < 20; colTiles ceil(20 / (4*16/2 = 32)) = 1; pixelTiles ceil(50 / (8*2)) = 4
    expect(tileLayout(intel, shared(8, 4, 8), 20, 50)).toStrictEqual({ shared: true, wg: 16, nv: 4, pg: 2, colTiles: 1, pixelTiles: 4 });
  });
});
