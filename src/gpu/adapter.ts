// Adapter choice: a real GPU first, the CPU Vulkan driver only when there is none, or exactly what the
// user names with --adapter / GPUSEG_ADAPTER (a backend such as `vulkan`, or part of an adapter's name).
import { InputError } from '../util/errors.js';
import { type AdapterSummary, isSoftwareAdapter } from './adapter-info.js';
import { type AdapterListing, matchAdapter } from './adapter-names.js';
import { createInstance } from './dawn.js';
import { filterNativeStderr } from './native-stderr.js';

export type { AdapterListing } from './adapter-names.js';
// The adapter's description, split off so that a browser page can load it without Dawn.
export { type AdapterSummary, isSoftwareAdapter, summarizeAdapter } from './adapter-info.js';

const BACKENDS = ['vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles', 'null', 'webgpu'] as const;

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

/**
 * dawn.node flags for a user's --adapter value: a backend, or part of an adapter's name in any case
 * (dawn.node's own match is case-sensitive, so the name is looked up in the listing first and passed on
 * exactly). A name that matches nothing is passed as given, and Dawn's refusal lists the adapters.
 */
export async function adapterFlags(choice: string | undefined): Promise<string[]> {
  if (!choice) return [];
  const lower = choice.toLowerCase();
  if ((BACKENDS as readonly string[]).includes(lower)) return [`backend=${lower}`];
  return [`adapter=${matchAdapter(choice, await listAdapters())?.name ?? choice}`];
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
    instance = await createInstance([...(await adapterFlags(choice)), ...extraFlags]);
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
