// What an adapter is, read from its WebGPU description alone (no Dawn): the same in Node and in a page.

/** What `gpuseg info` prints and tests assert on. */
export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  /** True for a CPU implementation (lavapipe, SwiftShader). */
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}

export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|software|warp/.test(text);
}

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return {
    description: info.description || info.device || info.vendor,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    software: isSoftwareAdapter(info),
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}
