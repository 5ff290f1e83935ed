// The device and everything kernels need from it: limits, the pipeline cache, the buffer pool, cached
// uniforms and bind groups, one command encoder per step, asynchronous readback, and WebGPU errors
// turned into thrown Errors that name the kernel.
//
// The adapter, and everything else this layer needs from its surroundings, comes through `host`
// (src/gpu/platform.ts): Dawn in Node, navigator.gpu in a browser page.
import { type AdapterSummary, summarizeAdapter } from './adapter-info.js';
import { host } from './host.js';
import { BufferPool } from './pool.js';
import { type Defines, PipelineCache } from './pipelines.js';
import { Profiler } from './profiler.js';

/** A byte range of a GPU buffer: a whole pooled buffer, or one parameter's slice of an arena. */
export interface BufferRef {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

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

type GpuErrorKind = 'memory' | 'internal' | 'validation';

/** The device ran out of memory: Dawn's `detail`, and what the buffer pool held when it was reported. */
export class GpuMemoryError extends Error {
  constructor(
    readonly detail: string,
    readonly heldBytes: number,
  ) {
    super(`out of GPU memory with ${(heldBytes / 2 ** 20).toFixed(0)} MiB of buffers in use (${detail}); try a smaller batch or image size`);
    this.name = 'GpuMemoryError';
  }
}

/** The device is gone (driver reset, GPU removed, a hang killed by the OS); nothing more runs on it. */
export class GpuLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuLostError';
  }
}

export interface GpuOptions {
  /** A backend (`vulkan`, `metal`, ...) or part of an adapter's name; default GPUSEG_ADAPTER. */
  adapter?: string;
  /** Extra dawn.node flags, e.g. `disable-dawn-features=timestamp_quantization`. */
  dawnFlags?: string[];
}

/**
 * Uniform buffers kept by content. Shapes repeat every step, so a training loop needs a few hundred;
 * scalars that change every step go through Dispatch.uniformSlot instead, and the oldest are evicted
 * past this.
 */
const MAX_CACHED_UNIFORMS = 4096;

/** Features we ask for when the adapter has them. */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];

export class Gpu {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  private encoder: GPUCommandEncoder | null = null;
  private recorded = 0;
  private readonly errors: { kind: GpuErrorKind; message: string }[] = [];
  /** Why the device was lost, once it has been (not by destroy()). */
  private lostReason: string | null = null;
  private submits = 0;
  private readonly uniformCache = new Map<string, GPUBuffer>();
  /** Per-step uniforms by slot name, and the slots written since the last submit. */
  private readonly uniformSlots = new Map<string, GPUBuffer>();
  private readonly slotsWritten = new Set<string>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bindGroupsByBuffer = new Map<GPUBuffer, string[]>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly stagingFree: GPUBuffer[] = [];
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
    this.pool.onDestroy = (buffer) => this.forgetBuffer(buffer);
    device.onuncapturederror = (event) => {
      const kind = event.error.constructor.name === 'GPUOutOfMemoryError' ? 'memory' : event.error.constructor.name === 'GPUInternalError' ? 'internal' : 'validation';
      this.errors.push({ kind, message: event.error.message });
    };
    void device.lost.then((info) => {
      if (!this.destroyed) this.lostReason ??= info.message || info.reason || 'no reason given';
    });
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
    const staging = this.takeStaging(ref.size);
    this.commandEncoder().copyBufferToBuffer(ref.buffer, ref.offset, staging, 0, ref.size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, ref.size);
    } catch (err) {
      this.throwIfErrors();
      throw err;
    }
    const copy = staging.getMappedRange(0, ref.size).slice(0);
    staging.unmap();
    this.stagingFree.push(staging);
    this.throwIfErrors();
    return copy;
  }

  async readF32(ref: BufferRef): Promise<Float32Array> {
    return new Float32Array(await this.read(ref));
  }

  private takeStaging(bytes: number): GPUBuffer {
    const i = this.stagingFree.findIndex((b) => b.size >= bytes && b.size <= 4 * bytes + 4096);
    if (i >= 0) return this.stagingFree.splice(i, 1)[0]!;
    return this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  }

  // ---- uniforms -------------------------------------------------------------------------------------

  /**
   * A uniform buffer with these bytes. Shapes repeat every step, so buffers are cached by content: a
   * steady loop creates none, and the bind groups that hold them can be cached too.
   */
  uniformBuffer(bytes: ArrayBuffer): GPUBuffer {
    const key = contentKey(bytes);
    let buffer = this.uniformCache.get(key);
    if (buffer) {
      // Most recently used last: Map iteration order is insertion order, so eviction takes the oldest.
      this.uniformCache.delete(key);
      this.uniformCache.set(key, buffer);
    } else {
      if (this.uniformCache.size >= MAX_CACHED_UNIFORMS) {
        const [oldKey, old] = this.uniformCache.entries().next().value as [string, GPUBuffer];
        this.uniformCache.delete(oldKey);
        this.forgetBuffer(old);
        this.retired.push(old);
      }
      const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
      buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true, label: 'uniforms' });
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
      buffer.unmap();
      this.uniformCache.set(key, buffer);
    }
    return buffer;
  }

  /** The buffer of a per-step uniform slot, rewritten with `bytes` (see Dispatch.uniformSlot). */
  private slotUniform(slot: string, bytes: ArrayBuffer): GPUBuffer {
    if (this.slotsWritten.has(slot)) return this.uniformBuffer(bytes);
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    let buffer = this.uniformSlots.get(slot);
    if (!buffer || buffer.size !== size) {
      if (buffer) {
        this.forgetBuffer(buffer);
        this.retired.push(buffer);
      }
      buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: `uniforms ${slot}` });
      this.uniformSlots.set(slot, buffer);
    }
    this.device.queue.writeBuffer(buffer, 0, bytes);
    this.slotsWritten.add(slot);
    return buffer;
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
    const uniform = d.uniforms ? (d.uniformSlot ? this.slotUniform(d.uniformSlot, d.uniforms) : this.uniformBuffer(d.uniforms)) : null;
    const bindGroup = this.bindGroup(d.kernel, pipeline, uniform, d.buffers);
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
    this.slotsWritten.clear();
    // Test hooks, as neither can be provoked on demand on a CPU driver: GPUSEG_FAULT=gpu-oom-at-submit:N
    // reports an out-of-memory error at the Nth submit; gpu-lost-at-submit:N destroys the device there,
    // as a driver reset would (what was submitted after it never runs).
    const fault = host.setting('GPUSEG_FAULT');
    ++this.submits;
    if (fault === `gpu-oom-at-submit:${this.submits}`) {
      this.errors.push({ kind: 'memory', message: `simulated by GPUSEG_FAULT at submit ${this.submits}` });
    } else if (fault === `gpu-lost-at-submit:${this.submits}`) {
      this.lostReason = `simulated by GPUSEG_FAULT at submit ${this.submits}`;
      this.device.destroy();
    }
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
    return this.uniformCache.size;
  }

  /** Number of dispatches recorded since the last flush. */
  get pendingDispatches(): number {
    return this.recorded;
  }

  private throwIfErrors(): void {
    if (this.lostReason !== null) throw new GpuLostError(`the GPU device was lost (${this.lostReason})`);
    if (this.errors.length === 0) return;
    const all = this.errors.splice(0);
    const memory = all.find((e) => e.kind === 'memory');
    if (memory) throw new GpuMemoryError(memory.message, this.pool.getStats().heldBytes);
    throw new Error(`WebGPU error: ${all[0]!.message}${all.length > 1 ? ` (and ${all.length - 1} more)` : ''}`);
  }

  // ---- bind groups ----------------------------------------------------------------------------------

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  private bindGroup(kernel: string, pipeline: GPUComputePipeline, uniform: GPUBuffer | null, buffers: BufferRef[]): GPUBindGroup {
    let key = `${this.id(pipeline)}|${uniform ? this.id(uniform) : 0}`;
    for (const r of buffers) key += `|${this.id(r.buffer)}:${r.offset}:${r.size}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [];
      if (uniform) entries.push({ binding: 0, resource: { buffer: uniform } });
      buffers.forEach((r, i) => entries.push({ binding: i + 1, resource: { buffer: r.buffer, offset: r.offset, size: r.size } }));
      group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: kernel });
      this.bindGroups.set(key, group);
      for (const b of uniform ? [uniform, ...buffers.map((r) => r.buffer)] : buffers.map((r) => r.buffer)) {
        let keys = this.bindGroupsByBuffer.get(b);
        if (!keys) this.bindGroupsByBuffer.set(b, (keys = []));
        keys.push(key);
      }
    }
    return group;
  }

  private forgetBuffer(buffer: GPUBuffer): void {
    for (const key of this.bindGroupsByBuffer.get(buffer) ?? []) this.bindGroups.delete(key);
    this.bindGroupsByBuffer.delete(buffer);
  }

  /** Forgets bind groups that hold a buffer the caller is about to destroy itself (arenas). */
  releaseBuffer(buffer: GPUBuffer): void {
    this.forgetBuffer(buffer);
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
    for (const b of this.uniformCache.values()) b.destroy();
    for (const b of this.uniformSlots.values()) b.destroy();
    for (const b of this.stagingFree) b.destroy();
    for (const b of this.retired) b.destroy();
    this.uniformCache.clear();
    this.bindGroups.clear();
    // Before the device goes: its `lost` promise then resolves, and must not read as a lost device.
    this.destroyed = true;
    this.device.destroy();
  }
}

/**
 * A string that is equal for equal bytes and only for them: one character per byte. (Node's Buffer is not
 * there in a page; uniform blocks are a few dozen bytes, so the key stays short.)
 */
function contentKey(bytes: ArrayBuffer): string {
  return String.fromCharCode(...new Uint8Array(bytes));
}

/** Bytes for a uniform block: u32, i32 and f32 fields in order, padded to 16 bytes. */
export class Uniforms {
  private readonly view: DataView;
  private offset = 0;

  constructor(maxFields = 32) {
    this.view = new DataView(new ArrayBuffer(maxFields * 4));
  }

  u32(...values: number[]): this {
    for (const v of values) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`Uniforms.u32: ${v} is not a u32`);
      this.view.setUint32(this.offset, v, true);
      this.offset += 4;
    }
    return this;
  }

  i32(...values: number[]): this {
    for (const v of values) {
      this.view.setInt32(this.offset, v, true);
      this.offset += 4;
    }
    return this;
  }

  f32(...values: number[]): this {
    for (const v of values) {
      this.view.setFloat32(this.offset, v, true);
      this.offset += 4;
    }
    return this;
  }

  bytes(): ArrayBuffer {
    return this.view.buffer.slice(0, Math.max(16, Math.ceil(this.offset / 16) * 16)) as ArrayBuffer;
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
