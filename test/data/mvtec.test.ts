import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePng } from '../../src/data/image.js';
import { listCategories, readCategory } from '../../src/data/mvtec.js';

const SIDE = 8;
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpuseg-mvtec-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const grey = (side = SIDE) => new Uint8Array(side * side).fill(128);

/** A small category in the MVTec layout: 3 normal, 2 good test images, and the given defect types. */
async function makeCategory(name: string, types: Record<string, number>, parent = root): Promise<string> {
  const dir = join(parent, name);
  for (let i = 0; i < 3; i++) await writePng(join(dir, 'train', 'good', `00${i}.png`), grey(), SIDE, SIDE, 1);
  for (let i = 0; i < 2; i++) await writePng(join(dir, 'test', 'good', `00${i}.png`), grey(), SIDE, SIDE, 1);
  for (const [type, count] of Object.entries(types)) {
    for (let i = 0; i < count; i++) {
      await writePng(join(dir, 'test', type, `00${i}.png`), grey(), SIDE, SIDE, 1);
      await writePng(join(dir, 'ground_truth', type, `00${i}_mask.png`), grey(), SIDE, SIDE, 1);
    }
  }
  return dir;
}

/** The error of a rejected promise, checked to be one line that names `path`. */
async function oneLineError(promise: Promise<unknown>, path: string): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  expect(message).toContain(path);
  return message;
}

describe('readCategory', () => {
  it('lists normal, good-test and defect images with their masks, sorted', async () => {
    const dir = await makeCategory('ok', { scratch: 2, crack: 3 });
    // Other accepted extensions, in any case; other files are ignored.
    await sharp(Buffer.from(grey()), { raw: { width: SIDE, height: SIDE, channels: 1 } })
      .jpeg()
      .toFile(join(dir, 'train', 'good', '010.JPG'));
    await writeFile(join(dir, 'train', 'good', 'notes.txt'), 'ignored');
    await writeFile(join(dir, 'train', 'good', '.hidden.png'), 'ignored');
    const c = await readCategory(dir);
    expect(c.name).toBe('ok');
    expect(c.dir).toBe(dir);
    expect(c.trainGood).toEqual(['000.png', '001.png', '002.png', '010.JPG'].map((f) => join(dir, 'train', 'good', f)));
    expect(c.testGood).toEqual(['000.png', '001.png'].map((f) => join(dir, 'test', 'good', f)));
    expect(c.defects.map((d) => `${d.type}/${d.image.slice(-7)}`)).toEqual([
      'crack/000.png',
      'crack/001.png',
      'crack/002.png',
      'scratch/000.png',
      'scratch/001.png',
    ]);
    expect(c.defects[0]!.mask).toBe(join(dir, 'ground_truth', 'crack', '000_mask.png'));
  });

  it('finds categories under a data-set root', async () => {
    const base = join(root, 'many');
    await mkdir(join(base, 'not-a-category'), { recursive: true });
    await makeCategory('b', { x: 2 }, base);
    await makeCategory('a', { x: 2 }, base);
    expect(await listCategories(base)).toEqual([join(base, 'a'), join(base, 'b')]);
    await oneLineError(listCategories(join(base, 'not-a-category')), join(base, 'not-a-category'));
  });

  it('names the folder when it is missing or has no normal images', async () => {
    const missing = join(root, 'nope');
    await oneLineError(readCategory(missing), missing);
    const dir = await makeCategory('empty-train', { scratch: 2 });
    await rm(join(dir, 'train', 'good'), { recursive: true });
    await oneLineError(readCategory(dir), join(dir, 'train', 'good'));
  });

  it('fails when the category has no defect images', async () => {
    const dir = await makeCategory('no-defects', {});
    expect(await oneLineError(readCategory(dir), dir)).toMatch(/no defect images/);
  });

  it('names a defect image whose mask is missing', async () => {
    const dir = await makeCategory('missing-mask', { scratch: 2 });
    await unlink(join(dir, 'ground_truth', 'scratch', '001_mask.png'));
    const message = await oneLineError(readCategory(dir), join(dir, 'test', 'scratch', '001.png'));
    expect(message).toMatch(/no mask/);
  });

  it('names a mask of another size than its image', async () => {
    const dir = await makeCategory('wrong-size', { scratch: 2 });
    const mask = join(dir, 'ground_truth', 'scratch', '000_mask.png');
    await writePng(mask, grey(SIDE * 2), SIDE * 2, SIDE * 2, 1);
    const message = await oneLineError(readCategory(dir), mask);
    expect(message).toContain(`${SIDE * 2}x${SIDE * 2}`);
    expect(message).toContain(`${SIDE}x${SIDE}`);
  });

  it('names a mask that cannot be read', async () => {
    const dir = await makeCategory('bad-mask', { scratch: 2 });
    const mask = join(dir, 'ground_truth', 'scratch', '001_mask.png');
    await writeFile(mask, 'not a png');
    expect(await oneLineError(readCategory(dir), mask)).toMatch(/cannot read mask/);
  });
});
