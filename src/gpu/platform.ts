// What src/gpu/ needs from the program around it, as one interface, so that the same device layer (and
// every kernel above it) runs in Node and in a browser page:
// - Node (src/gpu/node-host.ts): Dawn's adapter, shaders/ read from the package, the environment, the
//   file system for the tuning cache;
// - a page (src/web/host.ts): navigator.gpu's adapter, shader texts bundled into the script, no settings
//   and no files.
// Modules of src/gpu/ use `host` from './host.js', which forwards to the platform the program's entry
// chose with setHost; neither implementation is imported by src/gpu/ itself.

export interface Platform {
  /**
   * The adapter for a user's choice (a backend or part of an adapter's name; undefined: the default, in
   * Node GPUSEG_ADAPTER) with extra dawn.node flags. Throws an Error that says why there is none.
   */
  requestAdapter(choice: string | undefined, dawnFlags: readonly string[]): Promise<GPUAdapter>;
  /** The text of shaders/FILE as written (`#include` lines not yet expanded). */
  shaderText(file: string): string;
  /** A GPUSEG_* setting (the environment in Node; a page has none). */
  setting(name: string): string | undefined;
  /** A debug line (GPUSEG_PRINT_SHADERS): stderr in Node, the console in a page. */
  debug(text: string): void;
  /** A short hex digest of `text` (tuning keys: a changed shader gets new keys). */
  shortHash(text: string): string;
  /** The files of the tuning cache (src/gpu/tuning.ts). */
  files: PlatformFiles;
}

export interface PlatformFiles {
  /** The file's text, or null when there is no such file; other failures throw. */
  readText(path: string): Promise<string | null>;
  /** Writes the file whole or not at all, creating its folder. */
  writeText(path: string, text: string): Promise<void>;
  /** The user's home folder. */
  home(): string;
  /** Joins path segments the platform's way. */
  join(...parts: string[]): string;
}
