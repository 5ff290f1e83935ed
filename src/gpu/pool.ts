// The buffer pool. Every activation, gradient and scratch buffer of a step comes from here and goes
// back at the end of the step scope, so a steady training loop allocates nothing after its first step.
// Native memory is freed only by destroy() (or garbage collection, much later): what the pool drops, it
// destroys.

/** Sizes are rounded up to a size class so buffers of near sizes share a free list. */
const MIN_BYTES = 256;
/** Above this, classes are 1, 1.25, 1.5, 1.75 x a power of two (at most 25% waste). */
const FINE_CLASS_LIMIT = 64 * 1024;

export function sizeClass(bytes: number): number {
  const b = Math.max(MIN_BYTES, Math.ceil(bytes / MIN_BYTES) * MIN_BYTES);
  if (b <= FINE_CLASS_LIMIT) return b;
  const pow = 2 ** Math.floor(Math.log2(b));
  const quarter = pow / 4;
  return Math.ceil(b / quarter) * quarter;
}

export interface PoolStats {
  /** Bytes of every buffer the pool owns now, in use or free. */
  heldBytes: number;
  inUseBytes: number;
  peakHeldBytes: number;
  peakInUseBytes: number;
  buffers: number;
  created: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly inUse = new Set<GPUBuffer>();
  private stats: PoolStats = { heldBytes: 0, inUseBytes: 0, peakHeldBytes: 0, peakInUseBytes: 0, buffers: 0, created: 0 };
  /** Called before a buffer is destroyed, so caches keyed by it (bind groups) can forget it. */
  onDestroy: ((buffer: GPUBuffer) => void) | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
    private readonly usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  ) {}

  acquire(bytes: number, label = 'pool'): GPUBuffer {
    if (bytes > this.maxBufferSize) {
      throw new Error(`${label}: a buffer of ${bytes} bytes exceeds this adapter's maxBufferSize (${this.maxBufferSize})`);
    }
    const cls = sizeClass(bytes);
    const size = cls <= this.maxBufferSize ? cls : Math.ceil(bytes / 4) * 4;
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({ size, usage: this.usage, label });
      this.stats.heldBytes += size;
      this.stats.buffers++;
      this.stats.created++;
      this.stats.peakHeldBytes = Math.max(this.stats.peakHeldBytes, this.stats.heldBytes);
    }
    this.inUse.add(buffer);
    this.stats.inUseBytes += buffer.size;
    this.stats.peakInUseBytes = Math.max(this.stats.peakInUseBytes, this.stats.inUseBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.inUse.delete(buffer)) throw new Error('BufferPool.release: buffer is not in use (released twice?)');
    this.stats.inUseBytes -= buffer.size;
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
  }

  /** Destroys every free buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const buffer of list) this.destroy(buffer);
    this.free.clear();
  }

  /** Destroys everything, in use or not (device teardown). */
  destroyAll(): void {
    this.trim();
    for (const buffer of this.inUse) this.destroy(buffer);
    this.inUse.clear();
    this.stats.inUseBytes = 0;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }

  resetPeaks(): void {
    this.stats.peakHeldBytes = this.stats.heldBytes;
    this.stats.peakInUseBytes = this.stats.inUseBytes;
  }

  private destroy(buffer: GPUBuffer): void {
    this.onDestroy?.(buffer);
    this.stats.heldBytes -= buffer.size;
    this.stats.buffers--;
    buffer.destroy();
  }
}
