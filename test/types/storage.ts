// Compiled by test/architecture/typed-storage.test.ts (tsc -p test/types), never run. Each line under
// `@ts-expect-error` mixes the storage of two backends and must not compile; if one does, tsc reports the
// directive as unused and the test fails. The lines without it must compile.
import { F, Tensor } from '../../src/autograd/index.js';
import type { CpuBackend } from '../../src/backend/cpu/index.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/index.js';
import type { Conv2dGeometry } from '../../src/core/geometry.js';
import type { BufferRef } from '../../src/gpu/gpu.js';
import { materialize } from '../../src/model/module.js';
import { Unet } from '../../src/model/unet.js';
import { Adam } from '../../src/train/optimizer.js';
import { rng } from '../../src/util/random.js';
import * as K from '../../src/backend/kernels.js';

declare const gpu: WebGpuBackend;
declare const cpu: CpuBackend;
declare const g: Conv2dGeometry;

const a = Tensor.from(gpu, [1, 2], [2]);
const b = Tensor.from(cpu, [1, 2], [2]);

// One backend: compiles, and keeps its storage type.
export const sameGpu: Tensor<BufferRef> = F.add(a, F.relu(a));
export const sameCpu: Float64Array = F.mul(b, b).data;

// @ts-expect-error a GPU tensor and a CPU tensor in one op
F.add(a, b);
// @ts-expect-error a Float64Array as the storage of a GPU tensor
new Tensor(gpu, new Float64Array(2), [2]);
// @ts-expect-error CPU storage handed to a GPU kernel
K.conv2d(gpu, new Float64Array(4), a.data, null, g);

const gpuModel = new Unet<BufferRef>();
const cpuModel = new Unet<Float64Array>();
const gpuStorage = materialize(gpuModel, gpu, rng(0));
const cpuStorage = materialize(cpuModel, cpu, rng(0));
export const gpuOptimizer = new Adam(gpuStorage, gpuModel.namedParameters().map(([, s]) => s));

// @ts-expect-error a model built for CPU storage materialized on the GPU
materialize(cpuModel, gpu, rng(0));
// @ts-expect-error a CPU tensor through a GPU model
gpuModel.forward(Tensor.from(cpu, [0], [1, 1, 1, 1]));
// @ts-expect-error a GPU model's parameters under an optimizer over CPU arenas
new Adam(cpuStorage, gpuModel.namedParameters().map(([, s]) => s));
// @ts-expect-error a model whose storage type is unknown (no type argument) on a known backend
materialize(new Unet(), gpu, rng(0));
