// Decoded images kept in memory, so that a run decodes each file once although it draws from the
// normal pool at random every step. Bounded in bytes: past the budget the least recently used image is
// dropped (and decoded again if drawn again). At 256x256 an image holds 192 KiB (RGB bytes), so 1,024
// normal images take 192 MiB; the default budget holds about 10,000 of them. Training on tiles keeps
// images at their own size (times the scale) instead: a 20-megapixel RGB image holds 60 MB, counted
// once it is decoded (its size is not known before), so the budget holds a few dozen of them.
import type { ResizePolicy } from './decode.js';
import { readImageBytes } from './image.js';
import { readRgbScaled } from './native.js';
import type { RgbImage } from './overlay.js';
import { InputError } from '../util/errors.js';

const MIB = 2 ** 20;
/** The default budget; GPUSEG_IMAGE_CACHE_MB overrides it. */
export const DEFAULT_IMAGE_CACHE_MB = 2048;

type Decoder = (path: string, size: number, resize?: ResizePolicy) => Promise<Uint8Array>;
type ScaledDecoder = (path: string, scale: number) => Promise<RgbImage>;

export class ImageCache {
  private readonly entries = new Map<string, { bytes: number; image: Promise<unknown> }>();
  private held = 0;
  /** Files decoded so far (a file decoded twice counts twice). */
  decodes = 0;

  constructor(
    readonly budgetBytes = cacheBudgetFromEnv(),
    private readonly decode: Decoder = readImageBytes,
    private readonly decodeScaled: ScaledDecoder = readRgbScaled,
  ) {}

  /**
   * The image at `path` resized to size x size (by `resize`, default stretch), as RGB bytes (HWC).
   * Concurrent gets share one decode.
   */
  get(path: string, size: number, resize?: ResizePolicy): Promise<Uint8Array> {
    const key = `${size}\u0000${resize ?? 'stretch'}\u0000${path}`;
    return this.lookup(key, () => ({ bytes: size * size * 3, image: resize ? this.decode(path, size, resize) : this.decode(path, size) }));
  }

  /** The image at `path` at its own size times `scale`, as 8-bit RGB (training on tiles). */
  getScaled(path: string, scale: number): Promise<RgbImage> {
    const key = `x${scale}\u0000${path}`;
    return this.lookup(key, () => {
      const image = this.decodeScaled(path, scale);
      const entry = { bytes: 0, image };
      // Counted when decoded, if still held (and not already forgotten after a failure).
      image.then((im) => {
        if (this.entries.get(key) !== entry) return;
        entry.bytes = im.data.byteLength;
        this.held += entry.bytes;
        this.evict(key);
      }, () => {});
      return entry;
    });
  }

  private lookup<T>(key: string, load: () => { bytes: number; image: Promise<T> }): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used last: Map iteration order is insertion order, so eviction takes the oldest.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.image as Promise<T>;
    }
    this.decodes++;
    const entry = load();
    // A failed decode is not kept: the next get tries again and reports the error again.
    entry.image.catch(() => this.forget(key));
    this.entries.set(key, entry);
    this.held += entry.bytes;
    this.evict(key);
    return entry.image;
  }

  /** Bytes of the images held (decoded or being decoded). */
  get heldBytes(): number {
    return this.held;
  }

  private evict(keep: string): void {
    for (const [key] of this.entries) {
      if (this.held <= this.budgetBytes) return;
      if (key !== keep) this.forget(key);
    }
  }

  private forget(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.held -= e.bytes;
  }
}

function cacheBudgetFromEnv(): number {
  const raw = process.env.GPUSEG_IMAGE_CACHE_MB;
  if (raw === undefined || raw === '') return DEFAULT_IMAGE_CACHE_MB * MIB;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb < 0) throw new InputError(`GPUSEG_IMAGE_CACHE_MB must be a non-negative number of MiB, got '${raw}'`);
  return mb * MIB;
}
