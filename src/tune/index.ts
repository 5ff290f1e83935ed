// The floor that owns tuning, between the model and everything that runs it: the UNet's layers tuned on
// one adapter (unet.ts), and the face the conv kernels show upward. Nothing above src/kernels/ imports
// a kernel module: `gpuseg tune` takes the kernels' names from here, the benchmarks (src/measure/) the
// kernels they time. The tuning table itself is src/gpu/tuning.ts (the kernels read it, so it lives
// below them).
export { CONV_KERNELS, type ConvKernel, type ConvTuneResult, recordConv } from '../kernels/conv/index.js';
export { type MatmulTile, defaultMatmulTile, matmul } from '../kernels/matmul.js';
export { INFERENCE_BATCH, type TuneRow, type TuneSummary, type TuneUnetOptions, tuneUnet } from './unet.js';
