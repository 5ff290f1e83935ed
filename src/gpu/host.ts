// Which platform src/gpu/ runs on (platform.ts), chosen in code by the program's entry: Node's entries
// (src/cli/main.ts, src/index.ts, the scripts of bench/ and scripts/, the tests' setup) call
// setHost(nodeHost) from node-host.ts; the page (src/web/page.ts) calls setHost(webHost) from
// src/web/host.ts. This module imports neither, so Dawn, koffi and node:* never enter the page's import
// graph (test/architecture/host.test.ts checks both).
import type { Platform } from './platform.js';

let chosen: Platform | null = null;

/** Chooses the platform every module of src/gpu/ uses from now on: the program's first step. */
export function setHost(platform: Platform): void {
  chosen = platform;
}

function current(): Platform {
  if (chosen === null) {
    throw new Error('gpuseg: no platform chosen: the program starts with setHost(nodeHost) (src/gpu/node-host.ts) in Node, setHost(webHost) in a page');
  }
  return chosen;
}

/** The chosen platform, for src/gpu/'s modules: each call goes to the one setHost chose. */
export const host: Platform = {
  requestAdapter: (choice, dawnFlags) => current().requestAdapter(choice, dawnFlags),
  shaderText: (file) => current().shaderText(file),
  setting: (name) => current().setting(name),
  debug: (text) => current().debug(text),
  shortHash: (text) => current().shortHash(text),
  files: {
    readText: (path) => current().files.readText(path),
    writeText: (path, text) => current().files.writeText(path, text),
    home: () => current().files.home(),
    join: (...parts) => current().files.join(...parts),
  },
};
