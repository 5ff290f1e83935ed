// TIFFs in a category reach the CLI's readers: a damaged one stops `gpuseg train` with exit 2 and one
// line naming it, before any training (it used to be left out silently, its type missing from eval).
import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const tiny = useTinyCategory('gpuseg-image-formats-');
const PROGRESS = /^(checking images and masks|reading normal images) \d+\/\d+ *$/;

let copies = 0;
function copy(): string {
  const c = join(tiny.dir, `copy${copies++}`, 'fabric');
  cpSync(tiny.category, c, { recursive: true });
  return c;
}

function expectRefused(data: string, message: RegExp): void {
  const r = gpuseg(['train', '--data', data, '--out', join(tiny.dir, 'never'), '--size', '32', '--steps', '1']);
  const stderr = r.stderr.trim().split('\n').filter((line) => !PROGRESS.test(line));
  expect(r.status, r.stderr).toBe(2);
  expect(stderr, r.stderr).toHaveLength(1);
  expect(stderr[0]).toMatch(message);
  expect(r.stdout).toBe('');
}

const DAMAGED = 'II*\u0000 the rest of the strip never arrived';

describe('gpuseg train on TIFF images', () => {
  it('names a damaged .tif defect image (exit 2)', () => {
    const c = copy();
    writeFileSync(join(c, 'test', 'hole', '009.tif'), DAMAGED);
    cpSync(join(c, 'ground_truth', 'hole', '000_mask.png'), join(c, 'ground_truth', 'hole', '009_mask.png'));
    expectRefused(c, /^gpuseg: cannot read image '.*test\/hole\/009\.tif': truncated or damaged image data \(it starts as a TIFF but cannot be decoded\)$/);
  });

  it('reads an all-TIFF train/good (not "no normal training images") and names a damaged one', async () => {
    const c = copy();
    const good = join(c, 'train', 'good');
    for (const name of readdirSync(good)) {
      await sharp(join(good, name)).tiff({ compression: 'lzw' }).toFile(join(good, name.replace(/\.png$/, '.tif')));
      rmSync(join(good, name));
    }
    writeFileSync(join(good, '003.tif'), DAMAGED);
    expectRefused(c, /^gpuseg: cannot read image '.*train\/good\/003\.tif': truncated or damaged image data/);
  });
});
