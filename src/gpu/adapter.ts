// Adapter choice: a real GPU first, the CPU Vulkan driver only when there is none, or exactly what the
// user names with --adapter / GPUSEG_ADAPTER (a backend such as `vulkan`, or part of an adapter's name).
import { InputError } from '../util/errors.js';
import { createInstance } from './dawn.js';
import { filterNativeStderr } from './native-stderr.js';

const BACKENDS = ['vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles', 'null', 'webgpu'] as const;

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

/** No adapter at all (install a driver), or none that matches the name the user gave (list the others). */
export class NoAdapterError extends InputError {
  constructor(detail: string, others: AdapterListing[] = []) {
    super(
      others.length
        ? `no WebGPU adapter matches (${detail}); this machine has ${others.map((a) => `'${a.name}' (${a.backend})`).join(', ')}: ` +
            'pass part of one of those names, or a backend, to --adapter / GPUSEG_ADAPTER'
        : `no WebGPU adapter found${detail ? ` (${detail})` : ''}. ` +
            'Install a Vulkan driver for your GPU, or run `bash scripts/install-lavapipe.sh` (as root) for the ' +
            'CPU Vulkan driver, or pick another with --adapter / GPUSEG_ADAPTER.',
    );
    this.name = 'NoAdapterError';
  }
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

/** dawn.node flags for a user's --adapter value. */
export function adapterFlags(choice: string | undefined): string[] {
  if (!choice) return [];
  const lower = choice.toLowerCase();
  return (BACKENDS as readonly string[]).includes(lower) ? [`backend=${lower}`] : [`adapter=${choice}`];
}

/**
 * Finds the adapter. With no choice, asks for the high-performance adapter and, if Dawn hands back a
 * software one, tries low-power too: a machine with a real GPU uses it.
 */
export async function selectAdapter(
  choice: string | undefined = process.env.GPUSEG_ADAPTER || undefined,
  extraFlags: string[] = [],
): Promise<GPUAdapter> {
  let instance: GPU;
  try {
    instance = await createInstance([...adapterFlags(choice), ...extraFlags]);
  } catch (err) {
    throw new NoAdapterError(`${choice ? `--adapter ${choice}: ` : ''}${firstLine(err)}`);
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await filterNativeStderr(async () => {
      const first = await instance.requestAdapter({ powerPreference: 'high-performance' });
      if (first && !choice && isSoftwareAdapter(first.info)) {
        const other = await instance.requestAdapter({ powerPreference: 'low-power' });
        if (other && !isSoftwareAdapter(other.info)) return other;
      }
      return first;
    });
  } catch (err) {
    // dawn.node throws "no suitable backends found" (with the list of adapters) for an unknown name.
    const others = choice ? await listAdapters() : [];
    throw new NoAdapterError(others.length ? `--adapter ${choice}` : `${choice ? `--adapter ${choice}: ` : ''}${oneLine(err)}`, others);
  }
  if (!adapter) throw new NoAdapterError(choice ? `none matches --adapter ${choice}` : '', choice ? await listAdapters() : []);
  return adapter;
}

export interface AdapterListing {
  backend: string;
  name: string;
}

/**
 * Every adapter Dawn can see, with its backend. dawn.node's GPUAdapterInfo does not carry the backend,
 * but asking for an adapter name that matches none makes it list them all, backend included.
 */
export async function listAdapters(): Promise<AdapterListing[]> {
  try {
    const instance = await createInstance(['adapter=gpuseg-list-every-adapter']);
    await filterNativeStderr(() => instance.requestAdapter());
  } catch (err) {
    const text = String(err instanceof Error ? err.message : err);
    return [...text.matchAll(/backend: '([^']*)', name: '([^']*)'/g)].map((m) => ({ backend: m[1]!, name: m[2]! }));
  }
  return [];
}

/** The backend of an adapter, found by its name in the listing (first word of the description). */
export function backendOf(summary: AdapterSummary, listing: AdapterListing[]): string {
  const key = summary.description.split(/[\s:(]/)[0]!.toLowerCase();
  return listing.find((l) => l.name.toLowerCase().startsWith(key))?.backend ?? listing[0]?.backend ?? 'unknown';
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}

function oneLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err)
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join('; ');
}
