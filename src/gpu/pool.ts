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

/**
 * Free lists hand out their oldest buffer first (lowest creation number), whatever order buffers came
 * back in: which buffer an allocation gets then depends only on the set of free buffers, so every step of a
 * training loop gets the same buffers as the one before, and reuses its bind groups. Handed out last
 * returned first, the buffers would meet in ever new combinations, and the bind-group cache (each entry
 * native descriptor memory) would grow by about a hundred entries a step until the process ran out of
 * memory mappings (a std::bad_alloc after a few hundred steps at 64x64 on lavapipe).
 */
export class BufferPool {
  /** Per size: free buffers, newest first, so pop() takes the oldest. */
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly inUse = new Set<GPUBuffer>();
  private readonly ordinal = new WeakMap<GPUBuffer, number>();
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
      this.ordinal.set(buffer, this.stats.created);
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
    // Keep the list newest first: insert before the first older buffer.
    const n = this.ordinal.get(buffer)!;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ordinal.get(list[mid]!)! > n) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buffer);
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
