// Uniform blocks: their bytes packed on the host (Uniforms, what a kernel builds for a Dispatch), and
// the device buffers that hold them, kept by content so a steady loop creates none. Apart from gpu.ts,
// which records the dispatches that bind them.

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
    return this.view.buffer.slice(0, uniformSize(this.offset)) as ArrayBuffer;
  }
}

/** A uniform block's size: its bytes rounded up to 16, and at least 16. */
function uniformSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/**
 * Uniform buffers kept by content. Shapes repeat every step, so a training loop needs a few hundred;
 * scalars that change every step go through Dispatch.uniformSlot instead, and the oldest are evicted
 * past this.
 */
export const MAX_CACHED_UNIFORMS = 4096;

/** The device's uniform buffers: cached by content, and the per-step slots rewritten in place. */
export class UniformCache {
  private readonly byContent = new Map<string, GPUBuffer>();
  /** Per-step uniforms by slot name, and the slots written since the last submit. */
  private readonly slots = new Map<string, GPUBuffer>();
  private readonly slotsWritten = new Set<string>();

  /** `retire`: a buffer evicted or replaced here (bound by commands not yet submitted, maybe). */
  constructor(
    private readonly device: GPUDevice,
    private readonly retire: (buffer: GPUBuffer) => void,
  ) {}

  /**
   * A uniform buffer with these bytes. Shapes repeat every step, so buffers are cached by content: a
   * steady loop creates none, and the bind groups that hold them can be cached too.
   */
  buffer(bytes: ArrayBuffer): GPUBuffer {
    const key = contentKey(bytes);
    let buffer = this.byContent.get(key);
    if (buffer) {
      // Most recently used last: Map iteration order is insertion order, so eviction takes the oldest.
      this.byContent.delete(key);
      this.byContent.set(key, buffer);
    } else {
      if (this.byContent.size >= MAX_CACHED_UNIFORMS) {
        const [oldKey, old] = this.byContent.entries().next().value as [string, GPUBuffer];
        this.byContent.delete(oldKey);
        this.retire(old);
      }
      buffer = this.device.createBuffer({ size: uniformSize(bytes.byteLength), usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true, label: 'uniforms' });
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
      buffer.unmap();
      this.byContent.set(key, buffer);
    }
    return buffer;
  }

  /** The buffer of a per-step uniform slot, rewritten with `bytes` (see Dispatch.uniformSlot). */
  slot(slot: string, bytes: ArrayBuffer): GPUBuffer {
    if (this.slotsWritten.has(slot)) return this.buffer(bytes);
    const size = uniformSize(bytes.byteLength);
    let buffer = this.slots.get(slot);
    if (!buffer || buffer.size !== size) {
      if (buffer) this.retire(buffer);
      buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: `uniforms ${slot}` });
      this.slots.set(slot, buffer);
    }
    this.device.queue.writeBuffer(buffer, 0, bytes);
    this.slotsWritten.add(slot);
    return buffer;
  }

  /** After a submit: every slot may be written again. */
  submitted(): void {
    this.slotsWritten.clear();
  }

  /** Buffers held by the content cache (bounded by MAX_CACHED_UNIFORMS). */
  get size(): number {
    return this.byContent.size;
  }

  destroy(): void {
    for (const b of this.byContent.values()) b.destroy();
    for (const b of this.slots.values()) b.destroy();
    this.byContent.clear();
  }
}

/**
 * A string that is equal for equal bytes and only for them: one character per byte. (Node's Buffer is not
 * there in a page; uniform blocks are a few dozen bytes, so the key stays short.)
 */
function contentKey(bytes: ArrayBuffer): string {
  return String.fromCharCode(...new Uint8Array(bytes));
}
