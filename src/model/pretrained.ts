// `--encoder-weights imagenet`: torchvision's ImageNet resnet34, downloaded once into the user's cache
// and checked as torchvision checks it: the published name ends in the first hex digits of the file's
// SHA-256 (resnet34-b627a593.pth), so a cut, altered or substituted download is refused, and so is a
// cached file that has rotted since.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DownloadError, downloadFile } from '../util/download.js';
import { InputError, errorMessage } from '../util/errors.js';

/** The `--encoder-weights` value that means "torchvision's ImageNet weights" rather than a file. */
export const PRETRAINED_NAME = 'imagenet';

/** A file published under a name carrying its hash prefix, and the folder URL it is published in. */
export interface PublishedWeights {
  file: string;
  base: string;
}

/** torchvision's ResNet34_Weights.IMAGENET1K_V1, as torchvision.models.resnet34(weights=...) fetches it. */
export const RESNET34_IMAGENET: PublishedWeights = { file: 'resnet34-b627a593.pth', base: 'https://download.pytorch.org/models' };

/** The hex digits after the name's last '-' (torchvision's convention), up to the extension. */
export function hashPrefix(file: string): string {
  const match = /-([0-9a-f]{6,64})\.[^-]*$/.exec(file);
  if (!match) throw new Error(`${file}: a published weights name ends in -<sha256 prefix>.<ext>`);
  return match[1]!;
}

type Env = Record<string, string | undefined>;

/**
 * $GPUSEG_CACHE, else $GPUSEG_CACHE_DIR (the variable the kernel tuning cache already reads, so that one
 * setting moves both), else $XDG_CACHE_HOME/gpuseg, else ~/.cache/gpuseg: the tuning cache's folder.
 */
export function cacheFolder(env: Env = process.env): string {
  const given = env.GPUSEG_CACHE || env.GPUSEG_CACHE_DIR;
  if (given) return given;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gpuseg');
}

/** Where `weights` is kept: <cache>/weights/<published name>. */
export function cachedWeightsPath(weights: PublishedWeights = RESNET34_IMAGENET, env: Env = process.env): string {
  return join(cacheFolder(env), 'weights', weights.file);
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false;
    throw err;
  }
}

export interface FetchWeightsOptions {
  weights?: PublishedWeights;
  /** Where the cache variables and GPUSEG_WEIGHTS_MIRROR are read (the proxy variables are read from process.env). */
  env?: Env;
  onProgress?: (done: number, total: number | null) => void;
}

/**
 * The cached file of `weights`, downloaded first if the cache lacks it (from $GPUSEG_WEIGHTS_MIRROR/<name>
 * when set). The download goes to a temporary file beside it and is renamed into place only once its
 * hash matches: a failed or refused download leaves nothing behind, and two processes fetching at
 * once each rename a whole, checked file.
 */
export async function pretrainedWeightsFile(o: FetchWeightsOptions = {}): Promise<string> {
  const weights = o.weights ?? RESNET34_IMAGENET;
  const env = o.env ?? process.env;
  const expected = hashPrefix(weights.file);
  const path = cachedWeightsPath(weights, env);
  const byHand = `put torchvision's ${weights.file} at ${path} by hand, or pass --encoder-weights FILE`;
  if (await isFile(path)) {
    const actual = await sha256OfFile(path);
    if (!actual.startsWith(expected)) {
      throw new InputError(`${path}: the cached weights are damaged (SHA-256 ${actual.slice(0, expected.length)}..., the name says ${expected}); delete the file to download it again, or ${byHand}`);
    }
    return path;
  }
  const folder = join(cacheFolder(env), 'weights');
  try {
    await mkdir(folder, { recursive: true });
  } catch (err) {
    throw new InputError(`cannot create the weights cache ${folder} (${errorMessage(err)}); set GPUSEG_CACHE to a writable folder, or pass --encoder-weights FILE`);
  }
  const base = (env.GPUSEG_WEIGHTS_MIRROR || weights.base).replace(/\/+$/, '');
  const url = `${base}/${weights.file}`;
  const temporary = join(folder, `.${weights.file}.${process.pid}-${randomBytes(4).toString('hex')}.part`);
  try {
    let actual: string;
    try {
      actual = (await downloadFile(url, temporary, o.onProgress)).sha256;
    } catch (err) {
      if (err instanceof DownloadError) throw new InputError(`cannot download the ImageNet weights from ${url} (${err.message}); ${byHand}`);
      throw err;
    }
    if (!actual.startsWith(expected)) {
      throw new InputError(`${url}: the downloaded file's SHA-256 starts ${actual.slice(0, expected.length)}, not ${expected} as its name says (a proxy or mirror serving another file?); nothing was cached`);
    }
    await rename(temporary, path);
  } finally {
    await unlink(temporary).catch(() => {});
  }
  return path;
}

/**
 * The file `--encoder-weights` stands for: the value itself, or for `imagenet` the cached (downloaded if
 * need be) torchvision resnet34. A file really named `imagenet` is still reachable as ./imagenet.
 */
export async function encoderWeightsFile(given: string, onProgress?: (done: number, total: number | null) => void): Promise<string> {
  return given === PRETRAINED_NAME ? pretrainedWeightsFile({ onProgress }) : given;
}
