// Time per kernel from timestamp queries: every compute pass (one per dispatch) writes a timestamp at
// its start and end; at each submit the pairs are resolved and read back asynchronously, so profiling
// never blocks the queue. Dawn rounds timestamps to 65,536 ns unless the instance is created with
// `disable-dawn-features=timestamp_quantization` (PROFILE_DAWN_FLAGS).

export const PROFILE_DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

/** WebGPU's limit on queries in one query set: 2 per pass, so 2048 passes a set. */
const QUERIES_PER_SET = 4096;
const PASSES_PER_SET = QUERIES_PER_SET / 2;
/** Passes timed per submit; a step with more dispatches is timed in part (`dropped` counts the rest). */
const MAX_PASSES_PER_SUBMIT = 16 * PASSES_PER_SET;
const BYTES_PER_TIMESTAMP = 8;

export interface KernelTime {
  kernel: string;
  totalMs: number;
  count: number;
  meanMs: number;
  share: number;
}

export class Profiler {
  /** Query sets, created as a submit needs them. */
  private readonly querySets: GPUQuerySet[] = [];
  private resolveBuffer: GPUBuffer | null = null;
  private labels: string[] = [];
  private readonly totals = new Map<string, { ns: number; count: number }>();
  private readonly pending: Promise<void>[] = [];
  dropped = 0;

  constructor(private readonly device: GPUDevice) {
    if (!device.features.has('timestamp-query')) throw new Error('profiling needs the timestamp-query feature, which this adapter lacks');
  }

  /** The timestampWrites for the next pass, or undefined when this submit's query set is full. */
  passWrites(kernel: string): GPUComputePassTimestampWrites | undefined {
    if (this.labels.length >= MAX_PASSES_PER_SUBMIT) {
      this.dropped++;
      return undefined;
    }
    const i = this.labels.length;
    this.labels.push(kernel);
    const set = Math.floor(i / PASSES_PER_SET);
    if (set === this.querySets.length) {
      this.querySets.push(this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: `profile-${set}` }));
    }
    const j = i % PASSES_PER_SET;
    return { querySet: this.querySets[set]!, beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 };
  }

  /** Records the resolve into the encoder about to be submitted. */
  beforeSubmit(encoder: GPUCommandEncoder): GPUBuffer | null {
    const n = this.labels.length;
    if (n === 0) return null;
    const bytes = 2 * n * BYTES_PER_TIMESTAMP;
    if (!this.resolveBuffer || this.resolveBuffer.size < bytes) {
      this.resolveBuffer?.destroy();
      this.resolveBuffer = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profile-resolve' });
    }
    for (let set = 0; set * PASSES_PER_SET < n; set++) {
      const queries = 2 * Math.min(PASSES_PER_SET, n - set * PASSES_PER_SET);
      encoder.resolveQuerySet(this.querySets[set]!, 0, queries, this.resolveBuffer, set * QUERIES_PER_SET * BYTES_PER_TIMESTAMP);
    }
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profile-read' });
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, bytes);
    return staging;
  }

  /** After the submit: read the timestamps when the GPU is done, without waiting for it here. */
  afterSubmit(staging: GPUBuffer | null): void {
    if (!staging) return;
    const labels = this.labels;
    this.labels = [];
    this.pending.push(
      staging.mapAsync(GPUMapMode.READ).then(() => {
        const t = new BigUint64Array(staging.getMappedRange());
        labels.forEach((kernel, i) => {
          const ns = Number(t[2 * i + 1]! - t[2 * i]!);
          const entry = this.totals.get(kernel) ?? { ns: 0, count: 0 };
          entry.ns += Math.max(0, ns);
          entry.count++;
          this.totals.set(kernel, entry);
        });
        staging.unmap();
        staging.destroy();
      }),
    );
  }

  reset(): void {
    this.totals.clear();
    this.dropped = 0;
  }

  /** Kernels by total time, largest first. */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.pending.splice(0));
    const all = [...this.totals].map(([kernel, { ns, count }]) => ({ kernel, totalMs: ns / 1e6, count, meanMs: ns / 1e6 / count, share: 0 }));
    const sum = all.reduce((s, k) => s + k.totalMs, 0);
    for (const k of all) k.share = sum > 0 ? k.totalMs / sum : 0;
    return all.sort((a, b) => b.totalMs - a.totalMs);
  }

  destroy(): void {
    for (const q of this.querySets) q.destroy();
    this.resolveBuffer?.destroy();
  }
}
