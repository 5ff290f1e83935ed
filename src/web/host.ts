/// <reference lib="dom" />
// The page's side of the platform seam (src/gpu/platform.ts), chosen by the page with setHost(webHost)
// (src/web/page.ts): the adapter comes from navigator.gpu, the shaders from the texts bundled into the
// script (`gpuseg:shaders`, made by src/export/web.ts), and there are no settings and no files (the
// tuning table stays empty, so the kernels use their own tile heuristics).
import shaders from 'gpuseg:shaders';
import type { Platform } from '../gpu/platform.js';

/** Why no WebGPU device can be had here, in words for the person looking at the page. */
export class NoWebGpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoWebGpuError';
  }
}

async function requestAdapter(): Promise<GPUAdapter> {
  // navigator.gpu exists only in browsers with WebGPU, and only on secure pages (https, localhost).
  const gpu = (navigator as Partial<Navigator>).gpu;
  if (!gpu) {
    throw new NoWebGpuError(
      'This browser offers no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Safari, ' +
        'open the page from http://127.0.0.1 or https, or enable WebGPU in the browser settings.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new NoWebGpuError('This browser has WebGPU but gave no adapter (no usable GPU, or WebGPU is blocked for it).');
  }
  return adapter;
}

/** FNV-1a over UTF-16 code units: the page only needs keys that differ with the text, not sha256. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}

function noFiles(): never {
  throw new Error('a browser page has no files');
}

export const webHost: Platform = {
  // A page has one adapter to offer; --adapter and Dawn's flags mean nothing here.
  requestAdapter: () => requestAdapter(),
  shaderText(file) {
    const text = shaders[file];
    if (text === undefined) throw new Error(`shaders/${file}: not in the page's bundle`);
    return text;
  },
  setting: () => undefined,
  debug: (text) => console.debug(text),
  shortHash: fnv1a,
  files: { readText: async () => null, writeText: async () => noFiles(), home: noFiles, join: (...parts) => parts.join('/') },
};
