// WebGPU errors turned into thrown Errors: what the device reports (its uncaptured errors, its loss)
// is collected as it comes and thrown at the next submit or readback. Apart from gpu.ts, which only
// says when to check.

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

/** What a device has reported and not yet been thrown. */
export class DeviceErrors {
  private readonly errors: { kind: GpuErrorKind; message: string }[] = [];
  /** Why the device was lost, once it has been (not by destroy()). */
  private lostReason: string | null = null;

  /** `destroyed`: whether the device was destroyed on purpose (its `lost` promise then resolves too). */
  constructor(
    private readonly device: GPUDevice,
    destroyed: () => boolean,
  ) {
    device.onuncapturederror = (event) => {
      const kind = event.error.constructor.name === 'GPUOutOfMemoryError' ? 'memory' : event.error.constructor.name === 'GPUInternalError' ? 'internal' : 'validation';
      this.errors.push({ kind, message: event.error.message });
    };
    void device.lost.then((info) => {
      if (!destroyed()) this.lostReason ??= info.message || info.reason || 'no reason given';
    });
  }

  /**
   * Test hooks, as neither can be provoked on demand on a CPU driver: GPUSEG_FAULT=gpu-oom-at-submit:N
   * reports an out-of-memory error at the Nth submit; gpu-lost-at-submit:N destroys the device there,
   * as a driver reset would (what was submitted after it never runs).
   */
  simulateFault(fault: string | undefined, submits: number): void {
    if (fault === `gpu-oom-at-submit:${submits}`) {
      this.errors.push({ kind: 'memory', message: `simulated by GPUSEG_FAULT at submit ${submits}` });
    } else if (fault === `gpu-lost-at-submit:${submits}`) {
      this.lostReason = `simulated by GPUSEG_FAULT at submit ${submits}`;
      this.device.destroy();
    }
  }

  /** Throws what was reported: a lost device first, then running out of memory, then the first other. */
  throwIfAny(heldBytes: () => number): void {
    if (this.lostReason !== null) throw new GpuLostError(`the GPU device was lost (${this.lostReason})`);
    if (this.errors.length === 0) return;
    const all = this.errors.splice(0);
    const memory = all.find((e) => e.kind === 'memory');
    if (memory) throw new GpuMemoryError(memory.message, heldBytes());
    throw new Error(`WebGPU error: ${all[0]!.message}${all.length > 1 ? ` (and ${all.length - 1} more)` : ''}`);
  }
}
