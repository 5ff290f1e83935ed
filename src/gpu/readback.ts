// Readback: a buffer range copied into a mappable staging buffer, mapped once the copy is submitted,
// and the staging buffer kept for the next read of a like size. Apart from gpu.ts, which records and
// submits the copy.
import type { BufferRef } from './buffer-ref.js';

export class Readback {
  private readonly free: GPUBuffer[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** Records the copy of `ref` into a staging buffer, to map() once it is submitted. */
  copy(encoder: GPUCommandEncoder, ref: BufferRef): GPUBuffer {
    const staging = this.take(ref.size);
    encoder.copyBufferToBuffer(ref.buffer, ref.offset, staging, 0, ref.size);
    return staging;
  }

  /** The first `size` bytes of a submitted copy. `check` throws what the device reported, if anything. */
  async map(staging: GPUBuffer, size: number, check: () => void): Promise<ArrayBuffer> {
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (err) {
      check();
      throw err;
    }
    const copy = staging.getMappedRange(0, size).slice(0);
    staging.unmap();
    this.free.push(staging);
    check();
    return copy;
  }

  private take(bytes: number): GPUBuffer {
    const i = this.free.findIndex((b) => b.size >= bytes && b.size <= 4 * bytes + 4096);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    return this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  }

  destroy(): void {
    for (const b of this.free) b.destroy();
  }
}
