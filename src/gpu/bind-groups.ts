// Bind groups kept by what they bind (pipeline, uniform buffer, buffer ranges), so a steady loop
// creates none, and forgotten when a buffer they hold goes. Apart from gpu.ts, which asks for them.
import type { BufferRef } from './buffer-ref.js';

export class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly keysByBuffer = new Map<GPUBuffer, string[]>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  constructor(private readonly device: GPUDevice) {}

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  /** The bind group of a dispatch: the uniforms at @binding(0), then `buffers` at 1, 2, ... */
  get(kernel: string, pipeline: GPUComputePipeline, uniform: GPUBuffer | null, buffers: BufferRef[]): GPUBindGroup {
    let key = `${this.id(pipeline)}|${uniform ? this.id(uniform) : 0}`;
    for (const r of buffers) key += `|${this.id(r.buffer)}:${r.offset}:${r.size}`;
    let group = this.groups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [];
      if (uniform) entries.push({ binding: 0, resource: { buffer: uniform } });
      buffers.forEach((r, i) => entries.push({ binding: i + 1, resource: { buffer: r.buffer, offset: r.offset, size: r.size } }));
      group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: kernel });
      this.groups.set(key, group);
      for (const b of uniform ? [uniform, ...buffers.map((r) => r.buffer)] : buffers.map((r) => r.buffer)) {
        let keys = this.keysByBuffer.get(b);
        if (!keys) this.keysByBuffer.set(b, (keys = []));
        keys.push(key);
      }
    }
    return group;
  }

  /** Drops the bind groups that hold `buffer` (about to be destroyed). */
  forget(buffer: GPUBuffer): void {
    for (const key of this.keysByBuffer.get(buffer) ?? []) this.groups.delete(key);
    this.keysByBuffer.delete(buffer);
  }

  /** Bind groups held (each one native descriptor memory). */
  get size(): number {
    return this.groups.size;
  }

  clear(): void {
    this.groups.clear();
  }
}
