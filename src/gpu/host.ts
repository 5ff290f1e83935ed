// Node's side of the platform seam (src/gpu/platform.ts): Dawn's adapter, shaders/ from the package
// folder, the process environment, and the file system for the tuning cache. The page's bundle replaces
// this module by src/web/host.ts (src/export/web.ts), so nothing imported here reaches a browser.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/files.js';
import { selectAdapter } from './adapter.js';
import { packageRoot } from './dawn.js';
import type { Platform } from './platform.js';

/** Hex digits kept of a sha256: enough to tell shader texts apart, short enough for a readable key. */
const SHORT_HASH_DIGITS = 12;

export const host: Platform = {
  requestAdapter: (choice, dawnFlags) => selectAdapter(choice, [...dawnFlags]),
  shaderText: (file) => readFileSync(join(packageRoot(), 'shaders', file), 'utf8'),
  setting: (name) => process.env[name],
  debug: (text) => {
    process.stderr.write(text);
  },
  shortHash: (text) => createHash('sha256').update(text).digest('hex').slice(0, SHORT_HASH_DIGITS),
  files: {
    async readText(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async writeText(path, text) {
      await mkdir(join(path, '..'), { recursive: true });
      await writeFileAtomic(path, new TextEncoder().encode(text));
    },
    home: () => homedir(),
    join: (...parts) => join(...parts),
  },
};
