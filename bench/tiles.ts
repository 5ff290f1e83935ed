// Tiled predict on a large image: the time per image and per tile and the process's peak memory, on
// the adapter gpuseg picks (lavapipe on a machine without a GPU). The image is smooth noise made in
// memory (no PNG decode in the timing); the model is the UNet's own initialisation (speed and memory do
// not depend on the values); what is timed is nativeLogits, the W x H logits predict and eval use, plus
// the 8-bit probability map predict writes. Prints JSON.
//
//   node --import tsx bench/tiles.ts [--side 2048] [--tile 256] [--batch 4] [--max-tiles N]
//
// --max-tiles runs the network on the first N tiles only (when a whole image would take too long): every
// other tile is still cut and blended (with zero logits), so the whole output map is written and the
// peak memory is that of the whole image; the time of the skipped forward passes is extrapolated from
// the mean of the N run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { materialize } from '../src/model/module.js';
import { saveSafetensors } from '../src/model/safetensors.js';
import { exportStateDict } from '../src/model/state.js';
import { Unet } from '../src/model/unet.js';
import { predictLogits } from '../src/evaluate/inference.js';
import { loadModel } from '../src/evaluate/model-io.js';
import { probabilityBytes } from '../src/evaluate/tiled-predict.js';
import { tileGrid, tiledLogits } from '../src/evaluate/tiles.js';
import { rng } from '../src/util/random.js';
import { runIfMain } from './script.js';
import { setHost } from '../src/gpu/host.js';
import { nodeHost } from '../src/gpu/node-host.js';

setHost(nodeHost);

export interface TilesBenchResult {
  bench: 'tiles';
  side: number;
  tile: number;
  overlap: number;
  batch: number;
  adapter: string;
  tiles: number;
  tilesRun: number;
  /** Wall seconds of the image: every tile cut and blended, tilesRun of them through the network. */
  seconds: number;
  /** Mean seconds of the network's forward pass (and readback) per tile run. */
  forwardSecondsPerTile: number;
  /** Whole images per second: measured, or with --max-tiles, with the skipped forwards at the mean. */
  imagesPerSecond: number;
  extrapolated: boolean;
  /** The resident set before tiling (the model loaded, the image made), in MiB. */
  baselineRssMiB: number;
  /** Peak resident set (VmHWM, reset before tiling where Linux allows) and the largest RSS sampled while tiling, in MiB. */
  peakRssMiB: number;
  peakReset: boolean;
  sampledRssMiB: number;
  /** At the sampled peak: the JavaScript heap in use, and the ArrayBuffers (tiles, maps, the image). */
  sampledHeapMiB: number;
  sampledArrayBuffersMiB: number;
  /** The image (RGB bytes) and the output map (float32) the run holds, in MiB. */
  imageMiB: number;
  mapMiB: number;
}

const MIB = 2 ** 20;
/** How often the resident set is sampled while tiling. */
const SAMPLE_MS = 100;
/** The noise's cell: smooth enough to look like an image rather than per-pixel static. */
const NOISE_CELL = 16;

/** Resets the process's VmHWM to its current RSS (Linux: 5 into clear_refs); false where not allowed. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function vmHwmMiB(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : Number.NaN;
}

/** Value noise: random bytes on a coarse grid, bilinearly interpolated, per channel. */
function smoothNoise(side: number, seed: number): Uint8Array {
  const r = rng(seed);
  const cells = Math.ceil(side / NOISE_CELL) + 2;
  const grid = Float32Array.from({ length: cells * cells * 3 }, () => r() * 255);
  const out = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    const gy = y / NOISE_CELL;
    const y0 = Math.floor(gy);
    const ty = gy - y0;
    for (let x = 0; x < side; x++) {
      const gx = x / NOISE_CELL;
      const x0 = Math.floor(gx);
      const tx = gx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (u: number, v: number) => grid[(v * cells + u) * 3 + c]!;
        const top = at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx;
        const bottom = at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx;
        out[(y * side + x) * 3 + c] = Math.round(top * (1 - ty) + bottom * ty);
      }
    }
  }
  return out;
}

/** The UNet's own initialisation as a weights file (built in float64 on the CPU, then dropped). */
async function initialWeights(dir: string): Promise<string> {
  const init = new Unet<Float64Array>();
  materialize(init, new CpuBackend(), rng(0));
  const weights = join(dir, 'init.safetensors');
  await saveSafetensors(weights, await exportStateDict(init));
  return weights;
}

export async function benchTiles(o: { side: number; tile: number; batch: number; maxTiles: number | null }): Promise<TilesBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-bench-tiles-'));
  try {
    const weights = await initialWeights(dir);
    const loaded = await loadModel(weights, { size: o.tile });
    try {
      const { model, backend } = { model: loaded.model, backend: loaded.device.backend };
      // Warm-up: the pipelines of this tile size and batch are built once, outside the timing.
      const warm = Array.from({ length: o.batch }, () => new Float32Array(o.tile * o.tile * 3));
      await predictLogits(model, backend, warm, o.tile, o.batch);
      const image = { data: smoothNoise(o.side, 1), width: o.side, height: o.side };
      const grid = tileGrid(o.side, o.side, o.tile);
      let tilesRun = 0;
      let forwardSeconds = 0;
      const skipped = new Float32Array(o.tile * o.tile);
      (globalThis as { gc?: () => void }).gc?.();
      const baseline = process.memoryUsage().rss;
      const peakReset = resetPeak();
      let sampled = process.memoryUsage();
      const sample = () => {
        const now = process.memoryUsage();
        if (now.rss > sampled.rss) sampled = now;
      };
      const sampler = setInterval(sample, SAMPLE_MS);
      const start = performance.now();
      try {
        const logits = await tiledLogits(
          image,
          async (tiles, n) => {
            if (o.maxTiles !== null && tilesRun >= o.maxTiles) return tiles.map(() => skipped);
            tilesRun += tiles.length;
            const t0 = performance.now();
            const out = await predictLogits(model, backend, tiles, n, tiles.length);
            forwardSeconds += (performance.now() - t0) / 1000;
            return out;
          },
          { tile: o.tile, batch: o.batch },
        );
        // The map predict writes, as part of the time.
        probabilityBytes(logits);
      } finally {
        clearInterval(sampler);
      }
      const seconds = (performance.now() - start) / 1000;
      sample();
      const forwardSecondsPerTile = forwardSeconds / tilesRun;
      const extrapolated = tilesRun < grid.count;
      return {
        bench: 'tiles',
        side: o.side,
        tile: o.tile,
        overlap: grid.overlap,
        batch: o.batch,
        adapter: loaded.device.description,
        tiles: grid.count,
        tilesRun,
        seconds,
        forwardSecondsPerTile,
        imagesPerSecond: 1 / (seconds + (grid.count - tilesRun) * forwardSecondsPerTile),
        extrapolated,
        baselineRssMiB: baseline / MIB,
        peakRssMiB: vmHwmMiB(),
        peakReset,
        sampledRssMiB: sampled.rss / MIB,
        sampledHeapMiB: sampled.heapUsed / MIB,
        sampledArrayBuffersMiB: sampled.arrayBuffers / MIB,
        imageMiB: image.data.byteLength / MIB,
        mapMiB: (o.side * o.side * 4) / MIB,
      };
    } finally {
      loaded.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      side: { type: 'string', default: '2048' },
      tile: { type: 'string', default: '256' },
      batch: { type: 'string', default: '4' },
      'max-tiles': { type: 'string' },
    },
  });
  const result = await benchTiles({
    side: Number(values.side),
    tile: Number(values.tile),
    batch: Number(values.batch),
    maxTiles: values['max-tiles'] === undefined ? null : Number(values['max-tiles']),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

runIfMain(import.meta.url, main);
