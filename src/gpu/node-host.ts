// Node's side of the platform seam (src/gpu/platform.ts): Dawn's adapter, shaders/ from the package
// folder, the process environment, and the file system for the tuning cache. Node's entries choose it
// with setHost(nodeHost) (host.ts); nothing of src/gpu/ imports this module, so nothing imported here
// reaches the page's bundle (test/architecture/host.test.ts).
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

export const nodeHost: Platform = {
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
