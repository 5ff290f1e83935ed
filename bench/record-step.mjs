// The JavaScript time of recording one training step (batch 2, 128x128, the shots-only loss) on
// test/recording-gpu.ts's Gpu, which runs nothing: what the engine itself costs per step, apart from the
// driver. Median and minimum over 200 steps, as JSON.
//   cd TREE && node --import tsx /path/to/bench/record-step.mjs   (TREE: any checkout, default cwd)
import { pathToFileURL } from 'node:url';

const tree = process.argv[2] ?? process.cwd();
const load = (p) => import(pathToFileURL(`${tree}/${p}`).href);
Object.assign(globalThis, (await load('node_modules/webgpu/index.js')).globals);
const { LAVAPIPE, recordingGpu } = await load('test/recording-gpu.ts');
const { WebGpuBackend } = await load('src/backend/webgpu/index.ts');
const { materialize } = await load('src/model/module.ts');
const { Unet } = await load('src/model/unet.ts');
const { batchLayout, makeBatch } = await load('src/train/batch.ts');
const { LAYER_STRIDE, TRAIN_DEFAULTS } = await load('src/run/options.ts');
const { Adam } = await load('src/train/optimizer.ts');
const { recordTrainStep } = await load('src/train/step.ts');
const { rng } = await load('src/util/random.ts');

const { gpu, recorded } = recordingGpu(LAVAPIPE);
const be = new WebGpuBackend(gpu);
const model = new Unet();
const opt = new Adam(materialize(model, be, rng(0)), model.namedParameters().map(([, s]) => s));
const size = 128;
const pixels = size * size;
const sources = {
  shots: [{ image: new Float32Array(pixels * 3).fill(0.5), mask: new Uint8Array(pixels).fill(1, 0, pixels >> 2) }],
  normalCount: 1,
  normal: async () => new Uint8Array(pixels * 3).fill(128),
};
const batch = await makeBatch({ size, layout: batchLayout(2, 0, false), cellStride: LAYER_STRIDE[TRAIN_DEFAULTS.nbrLayer], paste: TRAIN_DEFAULTS.paste }, sources, rng(1));
const cfg = { loss: 'bce', nbr: false, lambdaBg: 0, lambdaFeat: 0, nbrLayer: TRAIN_DEFAULTS.nbrLayer };
const times = [];
for (let i = 0; i < 200; i++) {
  recorded.dispatches.length = 0;
  const t0 = performance.now();
  recordTrainStep(model, opt, batch, cfg, 1e-4, false).catch(() => {});
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ dispatchesPerStep: recorded.dispatches.length, medianMs: times[100], minMs: times[0] }));
process.exit(0);
