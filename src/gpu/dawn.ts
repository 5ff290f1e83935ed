// Loads Dawn's Node bindings (npm `webgpu`) and prepares the process environment it reads.
//
// Two facts shape this file:
// - The Vulkan loader reads its environment when Dawn creates its instance, so the project's own CPU
//   driver (scripts/install-lavapipe.sh puts lavapipe from Mesa 25 in .vulkan/) is *added* to the
//   drivers the system has, never put in their place: a machine with a real GPU still offers it.
// - The object returned by `create()` owns the Dawn instance. If it is garbage-collected while a device
//   lives, Dawn dies inside InstanceBase::ProcessEvents (segfaults during long synchronous loops), so
//   every instance is kept in `liveInstances` for the life of the process.
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: two levels above this file, in src/ and in dist/src/ alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'shaders'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`gpuseg: cannot find the package root (with shaders/) above ${fileURLToPath(import.meta.url)}`);
}

/** The ICD manifest written by scripts/install-lavapipe.sh, if it is there. */
export function projectLavapipeIcd(): string | null {
  const icd = join(packageRoot(), '.vulkan', 'lvp_icd.json');
  return existsSync(icd) ? icd : null;
}

/**
 * Sets what Dawn and the Vulkan loader read from the environment, before the first instance exists.
 * A user's own VK_ICD_FILENAMES / VK_DRIVER_FILES wins: then we add nothing.
 */
export function prepareEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.XDG_RUNTIME_DIR) {
    // Dawn prints an error line when this is unset; any writable folder will do.
    const dir = join(tmpdir(), `gpuseg-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
  const icd = projectLavapipeIcd();
  if (icd && !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES) {
    const added = env.VK_ADD_DRIVER_FILES ? env.VK_ADD_DRIVER_FILES.split(':') : [];
    if (!added.includes(icd)) env.VK_ADD_DRIVER_FILES = [icd, ...added].join(':');
    // Debian 12's own lavapipe (Mesa 22.3) is refused by Dawn with a warning on every start; ours
    // replaces it, so the loader need not offer it.
    if (!env.VK_LOADER_DRIVERS_DISABLE) env.VK_LOADER_DRIVERS_DISABLE = '*lvp_icd.x86_64.json';
  }
}

type DawnModule = typeof import('webgpu');
let dawn: DawnModule | null = null;

/** Every instance ever created, held strongly on purpose (see the top of this file). */
const liveInstances: GPU[] = [];

export function liveInstanceCount(): number {
  return liveInstances.length;
}

/**
 * Creates a Dawn instance. `flags` are dawn.node options such as `backend=vulkan`, `adapter=NAME`,
 * `enable-dawn-features=...`.
 */
export async function createInstance(flags: string[] = []): Promise<GPU> {
  if (!dawn) {
    prepareEnvironment();
    dawn = await import('webgpu');
    // The WebGPU constants (GPUBufferUsage, ...) as globals, as in a browser.
    Object.assign(globalThis, dawn.globals);
  }
  const gpu = dawn.create(flags);
  liveInstances.push(gpu);
  return gpu;
}
