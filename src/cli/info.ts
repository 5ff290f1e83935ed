// `gpuseg info`: which adapter we run on, its backend, limits and features.
import { backendOf, listAdapters } from '../gpu/adapter.js';
import { selectingWords } from '../gpu/adapter-names.js';
import { Gpu } from '../gpu/gpu.js';
import { loadAdapterTuning } from '../gpu/tuning.js';

/** Limits worth a glance; --json prints them all. */
const SHOWN_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment',
];
const SHOWN_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'];

export interface InfoOptions {
  json?: boolean;
  adapter?: string;
}

export async function runInfo(opts: InfoOptions): Promise<void> {
  const gpu = await Gpu.open({ adapter: opts.adapter });
  const s = gpu.summary;
  const listing = await listAdapters();
  // Each with the word that selects it: --adapter / GPUSEG_ADAPTER match names in any case.
  const words = selectingWords(listing);
  const available = listing.map((a, i) => ({ ...a, select: words[i]! }));
  const backend = backendOf(s, available);
  const tuning = await loadAdapterTuning(s);
  const info = {
    adapter: s.description,
    vendor: s.vendor,
    architecture: s.architecture,
    device: s.device,
    backend,
    software: s.software,
    features: Object.fromEntries(SHOWN_FEATURES.map((f) => [f, s.features.includes(f)])),
    allFeatures: s.features,
    limits: s.limits,
    available,
    tuning: { file: tuning.path, entries: tuning.loaded, ...(tuning.problem ? { problem: tuning.problem } : {}), ...(tuning.off ? { off: true } : {}) },
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  } else {
    const lines = [
      `adapter       ${info.adapter}${info.software ? ' (software, CPU)' : ''}`,
      `vendor        ${info.vendor || '-'}  architecture ${info.architecture || '-'}`,
      `backend       ${backend}`,
      `features      ${SHOWN_FEATURES.map((f) => `${f} ${info.features[f] ? 'yes' : 'no'}`).join(', ')}`,
      ...SHOWN_LIMITS.map((k) => `${k.padEnd(34)} ${s.limits[k]}`),
      ...(available.length ? available.map((a, i) => `${i ? '              ' : 'available     '}${a.name} (${a.backend}): --adapter ${a.select}`) : ['available     -']),
      `tuning        ${info.tuning.off ? 'off (GPUSEG_TUNING=off)' : tuning.problem ?? (tuning.loaded > 0 ? `${tuning.loaded} entries in ${tuning.path}` : `none yet (gpuseg tune writes ${tuning.path})`)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  gpu.destroy();
}
