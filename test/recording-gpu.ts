// A Gpu that records: it has a given adapter's limits, features and subgroup sizes, so every kernel
// makes the choices it would make there, but its dispatches are recorded, not run, and it allocates
// nothing on a device. Tests use it to check what the UNet would dispatch at sizes no CPU driver could
// run in a test's time (batch 16, 256x256) and on adapters this machine does not have.
import { type BufferRef, type Dispatch, Gpu } from '../src/gpu/gpu.js';
import { TuningTable } from '../src/gpu/tuning.js';

/** What a recording Gpu takes from an adapter. */
export interface RecordedAdapter {
  name: string;
  limits: Record<string, number>;
  features: string[];
  subgroupMinSize: number;
  subgroupMaxSize: number;
  software: boolean;
}

export interface Recorded {
  dispatches: Dispatch[];
  /** Sizes of the buffers allocated (each a createBuffer on a real device). */
  buffers: number[];
}

/** A Gpu with `adapter`'s limits, features and subgroup sizes whose dispatches are recorded, not run. */
export function recordingGpu(adapter: RecordedAdapter): { gpu: Gpu; recorded: Recorded } {
  const recorded: Recorded = { dispatches: [], buffers: [] };
  const features = new Set(adapter.features);
  const gpu = Object.create(Gpu.prototype) as Gpu;
  const fakeBuffer = (size: number) => ({ size, label: 'recorded', destroy() {} }) as unknown as GPUBuffer;
  Object.defineProperties(gpu, {
    limits: { value: adapter.limits },
    adapter: { value: { info: { subgroupMinSize: adapter.subgroupMinSize, subgroupMaxSize: adapter.subgroupMaxSize }, features } },
    device: {
      value: {
        features,
        limits: adapter.limits,
        createBuffer: (desc: GPUBufferDescriptor) => {
          recorded.buffers.push(desc.size);
          return { ...fakeBuffer(desc.size), unmap() {}, getMappedRange: () => new ArrayBuffer(0) };
        },
      },
    },
    releaseBuffer: { value: () => {} },
    isSoftware: { value: adapter.software },
    tuning: { value: new TuningTable() },
    summary: { value: { description: adapter.name, vendor: '', architecture: '', device: '', software: adapter.software, features: adapter.features, limits: adapter.limits } },
    alloc: {
      value: (bytes: number): BufferRef => {
        const size = Math.max(4, Math.ceil(bytes / 4) * 4);
        recorded.buffers.push(size);
        return { buffer: fakeBuffer(size), offset: 0, size };
      },
    },
    release: { value: () => {} },
    write: { value: () => {} },
    copy: { value: () => {} },
    flush: { value: () => {} },
    sync: { value: async () => {} },
    read: { value: async (ref: BufferRef) => new ArrayBuffer(ref.size) },
    readF32: { value: async (ref: BufferRef) => new Float32Array(ref.size / 4) },
    dispatch: { value: (d: Dispatch) => recorded.dispatches.push(d) },
  });
  return { gpu, recorded };
}


/** lavapipe's numbers (gpuseg info on the development machine). */
export const LAVAPIPE: RecordedAdapter = {
  name: 'lavapipe (Mesa 25, 256-bit LLVM)',
  limits: {
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeInvocationsPerWorkgroup: 1024,
    maxComputeWorkgroupSizeX: 1024,
    maxComputeWorkgroupSizeY: 1024,
    maxComputeWorkgroupSizeZ: 1024,
    maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBufferBindingSize: 134217728,
    maxBufferSize: 4294967295,
    maxStorageBuffersPerShaderStage: 16,
    maxUniformBufferBindingSize: 65536,
    minStorageBufferOffsetAlignment: 16,
    minUniformBufferOffsetAlignment: 16,
    maxBindGroups: 4,
  },
  features: ['subgroups', 'shader-f16'],
  subgroupMinSize: 8,
  subgroupMaxSize: 8,
  software: true,
};
