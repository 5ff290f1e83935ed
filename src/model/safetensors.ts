// safetensors files: the format (src/model/safetensors-format.ts) read from and written to disk. Every
// name of the format is exported from here too, where the rest of gpuseg has always imported it.
import { readFile } from 'node:fs/promises';
import { errorMessage, writeFileAtomic } from '../util/files.js';
import { type NamedTensor, WeightFileError, encodeSafetensors, readSafetensors } from './safetensors-format.js';

export * from './safetensors-format.js';

/** The whole file, or a one-line error naming it. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new WeightFileError(`${path}: cannot read (${errorMessage(err)})`);
  }
}

export async function loadSafetensors(path: string): Promise<Map<string, NamedTensor>> {
  return readSafetensors(await readFileBytes(path), path);
}

export async function saveSafetensors(
  path: string,
  tensors: Map<string, NamedTensor> | [string, NamedTensor][],
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata)).catch((err: unknown) => {
    // The cause's code and path go with it: a full disk is reported as such (util/errors.ts).
    const { code, path: where } = err as { code?: unknown; path?: unknown };
    throw Object.assign(new WeightFileError(errorMessage(err)), { code, path: where });
  });
}
