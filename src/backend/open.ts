// Opens the backend a run computes on: the GPU (through Dawn; the CPU Vulkan driver counts) or the
// plain-TypeScript CPU reference (slow; for checks and tiny runs).
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import { WebGpuBackend } from './webgpu/index.js';
import { Gpu } from '../gpu/gpu.js';
import { loadAdapterTuning } from '../gpu/tuning.js';

export type DeviceKind = 'gpu' | 'cpu';

export interface Device {
  /**
   * Chosen at run time, so its storage is opaque to the types (a BufferRef or a Float64Array): one
   * run's tensors all come from this one backend. Code that knows its backend keeps the storage type.
   */
  backend: Backend<unknown>;
  gpu: Gpu | null;
  /** The adapter's description, or 'cpu reference'. */
  description: string;
  close(): void;
}

export async function openDevice(kind: DeviceKind = 'gpu', adapter?: string): Promise<Device> {
  if (kind === 'cpu') return { backend: opaque(new CpuBackend()), gpu: null, description: 'cpu reference (float64)', close: () => {} };
  const gpu = await Gpu.open({ adapter });
  const tuning = await loadAdapterTuning(gpu.summary);
  if (tuning.problem) process.stderr.write(`gpuseg: ${tuning.problem}\n`);
  return { backend: opaque(new WebGpuBackend(gpu, tuning.table)), gpu, description: gpu.summary.description, close: () => gpu.destroy() };
}

/** A backend seen with opaque storage: every value it takes is one it made itself. */
function opaque<S>(backend: Backend<S>): Backend<unknown> {
  return backend as unknown as Backend<unknown>;
}
