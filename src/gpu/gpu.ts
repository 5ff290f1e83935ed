// The device and everything kernels need from it: limits, the pipeline cache, the buffer pool, cached
// uniforms (uniforms.ts) and bind groups (bind-groups.ts), one command encoder per step, asynchronous
// readback (readback.ts), and WebGPU errors (errors.ts) turned into thrown Errors that name the kernel.
//
// The adapter, and everything else this layer needs from its surroundings, comes through `host`
// (src/gpu/platform.ts): Dawn in Node, navigator.gpu in a browser page.
import { type AdapterSummary, summarizeAdapter } from './adapter-info.js';
import { BindGroupCache } from './bind-groups.js';
import type { BufferRef } from './buffer-ref.js';
import { DeviceErrors } from './errors.js';
import { host } from './host.js';
import { BufferPool } from './pool.js';
import { type Defines, PipelineCache } from './pipelines.js';
import { Profiler } from './profiler.js';
import { Readback } from './readback.js';
import { UniformCache } from './uniforms.js';

// The kernels (src/kernels/) import Uniforms from here, as from before it had a file of its own.
export { Uniforms } from './uniforms.js';

// Everything above src/gpu/ takes BufferRef from here.
export type { BufferRef } from './buffer-ref.js';

export interface Dispatch {
  /** Names the kernel in errors and in the profile. */
  kernel: string;
  /** Shader file in shaders/, its specialisation constants and entry point. */
  shader: string;
  defines?: Defines;
  entryPoint?: string;
  /** Shapes and scalars, bound at @binding(0) as a uniform buffer (omit if the shader has none). */
  uniforms?: ArrayBuffer;
  /**
   * For uniforms whose bytes change every step (Adam's learning rate and bias corrections): a name for
   * one buffer that is rewritten in place (queue.writeBuffer, ordered before the step's submit) rather
   * than a new cached buffer per value, so the bind group repeats and nothing grows from step to step.
   * Used at most once per recorded step; a second use before flush() falls back to the cache.
   */
  uniformSlot?: string;
  /** Storage buffers, bound at @binding(1), @binding(2), ... in this order. */
  buffers: BufferRef[];
  workgroups: readonly [number, number?, number?];
}

export interface GpuOptions {
  /** A backend (`vulkan`, `metal`, ...) or part of an adapter's name; default GPUSEG_ADAPTER. */
  adapter?: string;
  /** Extra dawn.node flags, e.g. `disable-dawn-features=timestamp_quantization`. */
  dawnFlags?: string[];
}

/** Features we ask for when the adapter has them. */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];

export class Gpu {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  private encoder: GPUCommandEncoder | null = null;
  private recorded = 0;
  private readonly errors: DeviceErrors;
  private submits = 0;
  private readonly uniforms: UniformCache;
  private readonly bindGroups: BindGroupCache;
  private readonly readback: Readback;
  /** Evicted uniform buffers: a recorded, unsubmitted command may still use them until the next flush. */
  private retired: GPUBuffer[] = [];
  private destroyed = false;
  /** Set by enableProfiling(): per-kernel GPU time from timestamp queries. */
  profiler: Profiler | null = null;

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly summary: AdapterSummary,
  ) {
    this.limits = device.limits;
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device, device.limits.maxBufferSize);
    this.bindGroups = new BindGroupCache(device);
    this.pool.onDestroy = (buffer) => this.bindGroups.forget(buffer);
    this.uniforms = new UniformCache(device, (buffer) => {
      this.bindGroups.forget(buffer);
      this.retired.push(buffer);
    });
    this.errors = new DeviceErrors(device, () => this.destroyed);
    this.readback = new Readback(device);
  }

  static async open(options: GpuOptions = {}): Promise<Gpu> {
    const adapter = await host.requestAdapter(options.adapter, options.dawnFlags ?? []);
    const summary = summarizeAdapter(adapter);
    // The adapter's own limits, not WebGPU's defaults (on lavapipe: 4 GiB buffers instead of 256 MiB,
    // 16 storage buffers per stage instead of 8, 32 KiB of workgroup memory instead of 16).
    const requiredLimits: Record<string, number> = {};
    for (const [key, value] of Object.entries(summary.limits)) requiredLimits[key] = value;
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'gpuseg' });
    return new Gpu(adapter, device, summary);
  }

  get isSoftware(): boolean {
    return this.summary.software;
  }

  // ---- buffers --------------------------------------------------------------------------------------

  /** A pooled buffer of at least `bytes`, as a ref of exactly `bytes`. */
  alloc(bytes: number, label?: string): BufferRef {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    return { buffer: this.pool.acquire(size, label), offset: 0, size };
  }

  release(ref: BufferRef): void {
    this.pool.release(ref.buffer);
  }

  /**
   * Writes host data into a buffer. Pending recorded work is submitted first: queue.writeBuffer runs
   * ahead of commands still sitting in an unsubmitted encoder, which may read the old contents.
   */
  write(ref: BufferRef, data: ArrayBufferView, byteOffset = 0): void {
    if (data.byteLength + byteOffset > ref.size) {
      throw new Error(`Gpu.write: ${data.byteLength} bytes at ${byteOffset} do not fit a buffer of ${ref.size}`);
    }
    this.flush();
    this.device.queue.writeBuffer(ref.buffer, ref.offset + byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies a buffer range back to the host. Submits the pending work; never blocks the queue. */
  async read(ref: BufferRef): Promise<ArrayBuffer> {
    const staging = this.readback.copy(this.commandEncoder(), ref);
    this.flush();
    return this.readback.map(staging, ref.size, () => this.throwIfErrors());
  }

  async readF32(ref: BufferRef): Promise<Float32Array> {
    return new Float32Array(await this.read(ref));
  }

  // ---- recording ------------------------------------------------------------------------------------

  /** The step's command encoder; created on first use, submitted by flush(). */
  commandEncoder(): GPUCommandEncoder {
    if (this.destroyed) throw new Error('Gpu: used after destroy()');
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'step' });
    return this.encoder;
  }

  /** Records one compute dispatch into the step's encoder. */
  dispatch(d: Dispatch): void {
    const [x, y = 1, z = 1] = d.workgroups;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new Error(`${d.kernel}: dispatch of ${x}x${y}x${z} workgroups exceeds ${maxGroups} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    for (const ref of d.buffers) {
      if (ref.size > maxBinding) {
        throw new Error(
          `${d.kernel}: a binding of ${ref.size} bytes exceeds this adapter's maxStorageBufferBindingSize ` +
            `(${maxBinding}); use a smaller batch or image size`,
        );
      }
    }
    const pipeline = this.pipelines.get(d.shader, d.defines ?? {}, d.entryPoint ?? 'main');
    const uniform = d.uniforms ? (d.uniformSlot ? this.uniforms.slot(d.uniformSlot, d.uniforms) : this.uniforms.buffer(d.uniforms)) : null;
    const bindGroup = this.bindGroups.get(d.kernel, pipeline, uniform, d.buffers);
    const timestampWrites = this.profiler?.passWrites(d.kernel);
    const pass = this.commandEncoder().beginComputePass(timestampWrites ? { label: d.kernel, timestampWrites } : { label: d.kernel });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.recorded++;
  }

  /** Records a buffer-to-buffer copy into the step's encoder. */
  copy(src: BufferRef, dst: BufferRef, bytes = Math.min(src.size, dst.size)): void {
    this.commandEncoder().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, bytes);
  }

  /** Submits what has been recorded. Cheap; never waits for the GPU. */
  flush(): void {
    if (!this.encoder) return;
    const profile = this.profiler?.beforeSubmit(this.encoder) ?? null;
    const commands = this.encoder.finish();
    this.encoder = null;
    this.recorded = 0;
    this.device.queue.submit([commands]);
    this.uniforms.submitted();
    this.errors.simulateFault(host.setting('GPUSEG_FAULT'), ++this.submits);
    this.profiler?.afterSubmit(profile);
    // Safe now: destroy() after submit lets the submitted work finish first.
    for (const b of this.retired.splice(0)) b.destroy();
    this.throwIfErrors();
  }

  /** Waits until the GPU has finished everything submitted; then reports any WebGPU error. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfErrors();
  }

  /** Bind groups held by the cache (each one native descriptor memory). */
  get cachedBindGroups(): number {
    return this.bindGroups.size;
  }

  /** Uniform buffers held by the content cache (bounded by MAX_CACHED_UNIFORMS). */
  get cachedUniforms(): number {
    return this.uniforms.size;
  }

  /** Number of dispatches recorded since the last flush. */
  get pendingDispatches(): number {
    return this.recorded;
  }

  private throwIfErrors(): void {
    this.errors.throwIfAny(() => this.pool.getStats().heldBytes);
  }

  /** Forgets bind groups that hold a buffer the caller is about to destroy itself (arenas). */
  releaseBuffer(buffer: GPUBuffer): void {
    this.bindGroups.forget(buffer);
    buffer.destroy();
  }

  /** Times every later dispatch with timestamp queries (open with PROFILE_DAWN_FLAGS for ns resolution). */
  enableProfiling(): Profiler {
    this.profiler ??= new Profiler(this.device);
    return this.profiler;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.profiler?.destroy();
    this.encoder = null;
    this.pool.destroyAll();
    this.uniforms.destroy();
    this.readback.destroy();
    for (const b of this.retired) b.destroy();
    this.bindGroups.clear();
    // Before the device goes: its `lost` promise then resolves, and must not read as a lost device.
    this.destroyed = true;
    this.device.destroy();
  }
}

/**
 * Workgroups for `threads` invocations in groups of `groupSize`: a 2-D grid when one dimension would pass
 * the 65535 limit. Shaders recover the flat index with `flatIndex()` from shaders/common.wgsl.
 */
export function grid1d(threads: number, groupSize: number, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(threads / groupSize);
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  const x = Math.ceil(groups / y);
  if (y > maxPerDim) throw new Error(`grid1d: ${threads} invocations need more than ${maxPerDim}^2 workgroups`);
  return [x, y];
}
