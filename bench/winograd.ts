// Winograd F(2x2, 3x3) against the direct convolution, layer by layer (issue 29): for each 3x3 stride-1
// layer of the UNet at one batch and size, the forward pass on the shared direct tile and on the
// Winograd variant (with the time of each of its dispatches), the input gradient on its shared tile and
// through a Winograd forward, and the weight gradient on its direct default and in Winograd; which of
// them the heuristics take (winogradPays, winogradWeightGradPays); and the sums over the network (each
// layer times its count). Each pair alternates in 5 rounds of 3 runs (ratio: the median of the rounds'
// Winograd / direct), so drift on a shared machine moves both sides alike. One JSON line per layer, then
// a total.
//   node --import tsx bench/winograd.ts [--batch 2] [--size 128] [--adapter NAME]
import { parseArgs } from 'node:util';
import type { Conv2dGeometry } from '../src/core/geometry.js';
import { type BufferRef, type Dispatch, Gpu } from '../src/gpu/gpu.js';
import { setHost } from '../src/gpu/host.js';
import { nodeHost } from '../src/gpu/node-host.js';
import { canRunSharedTiles } from '../src/gpu/subgroups.js';
import { SHARED_CONV2D_TILE, conv2dTiled, sharedTileFor } from '../src/kernels/conv/forward.js';
import { SHARED_INPUT_GRAD_TILE, conv2dInputGradTiled, inputGradAsForward, sharedInputGradTileFor } from '../src/kernels/conv/input-grad.js';
import { WINOGRAD_WEIGHT_GRAD_TILE, conv2dWeightGradTiled, sharedWeightGradTileFor, winogradWeightGradPays } from '../src/kernels/conv/weight-grad.js';
import { WINOGRAD_TILE, fitWinogradTile, winogradPays } from '../src/kernels/conv/winograd.js';
import { unetShapes } from '../src/model/unet-shapes.js';
import { rng, uniform } from '../src/util/random.js';
import { integer, median } from './child.js';

setHost(nodeHost);
const { values } = parseArgs({ options: { batch: { type: 'string', default: '2' }, size: { type: 'string', default: '128' }, adapter: { type: 'string' } } });
let n: number;
let s: number;
try {
  n = integer('batch', values.batch!, 1);
  s = integer('size', values.size!, 32);
  if (s % 32 !== 0) throw new Error(`--size must be a multiple of 32, got ${s}`);
} catch (e) {
  console.error(`bench/winograd: ${(e as Error).message}`);
  process.exit(2);
}
const gpu = await Gpu.open({ adapter: values.adapter });
if (!canRunSharedTiles(gpu)) {
  console.error(`bench/winograd: ${gpu.summary.description} has no subgroups of 8 lanes; Winograd does not run there`);
  process.exit(2);
}
const r = rng(29);

function upload(size: number): BufferRef {
  const ref = gpu.alloc(size * 4, 'benchInput');
  gpu.write(ref, uniform(r, size));
  return ref;
}

/** Runs `record` (its output released) `runs` times after one warm-up; ms per run. */
async function timeRuns(record: () => BufferRef | void, runs: number): Promise<number> {
  const once = () => {
    const out = record();
    if (out) gpu.release(out);
  };
  once();
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) once();
  await gpu.sync();
  return (performance.now() - t0) / runs;
}

/** Median ms of one run of `record`, over 3 rounds of 5 runs. */
async function time(record: () => BufferRef | void): Promise<number> {
  const rounds: number[] = [];
  for (let k = 0; k < 3; k++) rounds.push(await timeRuns(record, 5));
  return median(rounds);
}

/**
 * A against B in 5 alternating rounds of 3 runs each (A B A B ...): each side's median ms and the median
 * of the rounds' B / A ratios, which drift on a shared machine moves little.
 */
async function pair(a: () => BufferRef | void, b: () => BufferRef | void): Promise<{ aMs: number; bMs: number; ratio: number }> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let k = 0; k < 5; k++) {
    as.push(await timeRuns(a, 3));
    bs.push(await timeRuns(b, 3));
  }
  return { aMs: median(as), bMs: median(bs), ratio: median(as.map((x, k) => bs[k]! / x)) };
}

/** The dispatches one Winograd forward records, each timed alone. */
async function stages(x: BufferRef, w: BufferRef, g: Conv2dGeometry): Promise<Record<string, number>> {
  const recorded: Dispatch[] = [];
  const dispatch = gpu.dispatch.bind(gpu);
  gpu.dispatch = (d: Dispatch) => {
    recorded.push(d);
    dispatch(d);
  };
  try {
    gpu.release(conv2dTiled(gpu, x, w, null, g, fitWinogradTile(gpu, g, WINOGRAD_TILE)));
  } finally {
    gpu.dispatch = dispatch;
  }
  const out: Record<string, number> = {};
  for (const d of recorded) out[d.entryPoint ?? 'gemm'] = round(await time(() => dispatch(d)));
  return out;
}

const round = (ms: number) => Math.round(ms * 100) / 100;
const total = {
  forwardDirect: 0,
  forwardWinograd: 0,
  forwardDefault: 0,
  inputGradDirect: 0,
  inputGradWinograd: 0,
  inputGradDefault: 0,
  weightGradDirect: 0,
  weightGradWinograd: 0,
  weightGradDefault: 0,
};
for (const { name, g, count } of unetShapes(n, s).convs) {
  if (g.kh !== 3 || g.stride !== 1 || g.cin % 4 !== 0 || g.cout % 4 !== 0) continue;
  const x = upload(g.n * g.h * g.w * g.cin);
  const w = upload(9 * g.cin * g.cout);
  const dy = upload(g.n * g.oh * g.ow * g.cout);
  const forward = await pair(
    () => conv2dTiled(gpu, x, w, null, g, sharedTileFor(gpu, g, SHARED_CONV2D_TILE)),
    () => conv2dTiled(gpu, x, w, null, g, fitWinogradTile(gpu, g, WINOGRAD_TILE)),
  );
  const f = inputGradAsForward(g);
  const inputGrad = await pair(
    () => conv2dInputGradTiled(gpu, dy, w, g, sharedInputGradTileFor(gpu, g, SHARED_INPUT_GRAD_TILE)),
    () => conv2dInputGradTiled(gpu, dy, w, g, { kind: 'viaForward', forward: fitWinogradTile(gpu, f, WINOGRAD_TILE) }),
  );
  const weightGrad = await pair(
    () => conv2dWeightGradTiled(gpu, x, dy, g, sharedWeightGradTileFor(gpu, g)),
    () => conv2dWeightGradTiled(gpu, x, dy, g, WINOGRAD_WEIGHT_GRAD_TILE),
  );
  const [direct, winograd, igDirect, igWinograd, wgDirect, wgWinograd] = [forward.aMs, forward.bMs, inputGrad.aMs, inputGrad.bMs, weightGrad.aMs, weightGrad.bMs];
  const flop = 2 * g.n * g.oh * g.ow * 9 * g.cin * g.cout;
  const row = {
    layer: name,
    count,
    tiles: g.n * Math.ceil(g.oh / 2) * Math.ceil(g.ow / 2),
    cin: g.cin,
    cout: g.cout,
    forward: {
      directMs: round(direct),
      winogradMs: round(winograd),
      ratio: round(forward.ratio),
      directGflops: round(flop / direct / 1e6),
      winogradStagesMs: await stages(x, w, g),
      default: winogradPays(g) ? 'winograd' : 'direct',
    },
    inputGrad: { directMs: round(igDirect), winogradMs: round(igWinograd), ratio: round(inputGrad.ratio), default: winogradPays(f) ? 'winograd' : 'direct' },
    weightGrad: { directMs: round(wgDirect), winogradMs: round(wgWinograd), ratio: round(weightGrad.ratio), default: winogradWeightGradPays(g) ? 'winograd' : 'direct' },
  };
  console.log(JSON.stringify(row));
  total.forwardDirect += count * direct;
  total.forwardWinograd += count * winograd;
  total.forwardDefault += count * (winogradPays(g) ? winograd : direct);
  total.inputGradDirect += count * igDirect;
  total.inputGradWinograd += count * igWinograd;
  total.inputGradDefault += count * (winogradPays(f) ? igWinograd : igDirect);
  total.weightGradDirect += count * wgDirect;
  total.weightGradWinograd += count * wgWinograd;
  total.weightGradDefault += count * (winogradWeightGradPays(g) ? wgWinograd : wgDirect);
  for (const b of [x, w, dy]) gpu.release(b);
}
console.log(JSON.stringify({ total: Object.fromEntries(Object.entries(total).map(([k, v]) => [`${k}Ms`, round(v)])), batch: n, size: s, device: gpu.summary.description }));
gpu.destroy();
