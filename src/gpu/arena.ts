// The parameter arena: one GPU buffer holding many tensors (parameters, their gradients, Adam's
// moments), each slice starting at a multiple of minStorageBufferOffsetAlignment so it can be bound on
// its own. Arenas built from the same sizes share a layout, so one Adam dispatch over `whole` updates
// every parameter, and a checkpoint is one copy.
import type { ParamArena } from '../core/types.js';
import type { BufferRef, Gpu } from './gpu.js';

const BYTES = 4;

export interface ArenaLayout {
  /** Byte offset of each slice, a multiple of the alignment. */
  offsets: number[];
  /** Elements in the whole buffer: the last slice's end rounded up to the alignment (at least 1). */
  totalElements: number;
}

function alignUp(bytes: number, align: number): number {
  return Math.ceil(bytes / align) * align;
}

export class Arena implements ParamArena<BufferRef> {
  readonly buffer: GPUBuffer;
  readonly slices: BufferRef[];
  readonly whole: BufferRef;
  readonly totalElements: number;
  private destroyed = false;

  /** Offsets of slices of `sizes` float32 elements aligned to `alignBytes`; needs no device. */
  static layout(sizes: readonly number[], alignBytes: number): ArenaLayout {
    if (!(Number.isInteger(alignBytes) && alignBytes >= BYTES && alignBytes % BYTES === 0)) {
      throw new Error(`Arena: alignment ${alignBytes} is not a positive multiple of ${BYTES} bytes`);
    }
    const offsets: number[] = [];
    let end = 0;
    for (const n of sizes) {
      if (!(Number.isInteger(n) && n >= 0)) throw new Error(`Arena: bad slice size ${n} in [${sizes.join(', ')}]`);
      const offset = alignUp(end, alignBytes);
      offsets.push(offset);
      end = offset + n * BYTES;
    }
    return { offsets, totalElements: Math.max(alignUp(end, alignBytes), alignBytes) / BYTES };
  }

  constructor(
    private readonly gpu: Gpu,
    readonly sizes: readonly number[],
    label = 'arena',
  ) {
    const { offsets, totalElements } = Arena.layout(sizes, gpu.limits.minStorageBufferOffsetAlignment);
    const bytes = totalElements * BYTES;
    if (bytes > gpu.limits.maxBufferSize) {
      throw new Error(`${label}: ${bytes} bytes exceed this adapter's maxBufferSize (${gpu.limits.maxBufferSize})`);
    }
    // Mapped at creation, a buffer's contents are zero: gaps and fresh moments start at 0.
    this.buffer = gpu.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
      label,
    });
    this.buffer.unmap();
    this.totalElements = totalElements;
    this.whole = { buffer: this.buffer, offset: 0, size: bytes };
    this.slices = sizes.map((n, i) => ({ buffer: this.buffer, offset: offsets[i]!, size: n * BYTES }));
  }

  /** Elements in `whole` (ParamArena's name for totalElements). */
  get size(): number {
    return this.totalElements;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.gpu.releaseBuffer(this.buffer);
  }
}
