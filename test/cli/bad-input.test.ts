// Bad input, as a user would give it: each case exits 2 with one line on stderr that names the flag or
// the file and the problem, no stack trace and nothing else on stderr (no Dawn notices either), and
// before any long work. The model cases open a device first (seconds); the data cases do not.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writePng } from '../../src/data/image.js';
import { encodeSafetensors } from '../../src/model/safetensors.js';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const tiny = useTinyCategory('gpuseg-bad-input-');
let dir: string;
let category: string;
beforeAll(() => {
  ({ dir, category } = tiny);
});

/** A copy of the category, changed by `edit`, for one case. */
let copies = 0;
function broken(edit: (c: string) => void): string {
  const copy = join(dir, `copy${copies++}`, 'fabric');
  cpSync(category, copy, { recursive: true });
  edit(copy);
  return copy;
}

const PROGRESS = /^(checking images and masks|reading normal images) \d+\/\d+ *$/;

function expectRefused(args: string[], message: RegExp): void {
  const r = gpuseg(args);
  // Progress lines ('checking images and masks 8/19') may come first; then the one line of the error.
  const stderr = r.stderr
    .trim()
    .split('\n')
    .filter((line) => !PROGRESS.test(line))
    .join('\n');
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
  expect(stderr.split('\n'), args.join(' ')).toHaveLength(1);
  expect(stderr, args.join(' ')).toMatch(/^(gpuseg: |error: )/);
  expect(stderr, args.join(' ')).toMatch(message);
  expect(r.stdout).toBe('');
}

const train = (data: string, ...flags: string[]) => ['train', '--data', data, '--out', join(dir, 'never'), '--size', '32', '--steps', '1', ...flags];

describe('bad input exits 2 with one line naming the flag or file', () => {
  it('data folders: missing, empty, another layout, too few images for --shots', () => {
    expectRefused(train(join(dir, 'nope')), /category folder '.*nope' not found/);
    mkdirSync(join(dir, 'empty'));
    expectRefused(train(join(dir, 'empty')), /no normal training images in '.*empty\/train\/good'/);
    const flat = join(dir, 'flat');
    cpSync(join(category, 'train', 'good'), flat, { recursive: true });
    expectRefused(train(flat), /no normal training images in '.*flat\/train\/good'/);
    expectRefused(train(category, '--shots', '5'), /defect type '\w+' of 'fabric' has 3 image\(s\); 5-shot needs at least 6/);
  });

  it('images and masks: truncated, zero bytes, not an image, a defect image without its mask', () => {
    const cut = (path: string) => writeFileSync(path, readFileSync(path).subarray(0, 80));
    expectRefused(train(broken((c) => cut(join(c, 'test', 'hole', '001.png')))), /cannot read image '.*test\/hole\/001\.png': truncated or damaged/);
    expectRefused(train(broken((c) => writeFileSync(join(c, 'train', 'good', '004.png'), ''))), /cannot read image '.*train\/good\/004\.png': the file is empty \(0 bytes\)/);
    expectRefused(train(broken((c) => writeFileSync(join(c, 'test', 'good', '000.png'), 'not a png\n'))), /cannot read image '.*test\/good\/000\.png': not an image/);
    expectRefused(train(broken((c) => rmSync(join(c, 'ground_truth', 'stain', '002_mask.png')))), /defect image '.*test\/stain\/002\.png' has no mask '.*ground_truth\/stain\/002_mask\.png'/);
  });

  it('numeric flags: not a number, hex, exponent, negative, fraction, empty, too large', () => {
    const cases: [string, string, RegExp][] = [
      ['--steps', '0x10', /--steps must be a positive integer, got '0x10'/],
      ['--steps', '1e300', /--steps must be a positive integer, got '1e300'/],
      ['--steps', '-1', /--steps|argument missing/],
      ['--batch', '2.5', /--batch must be a positive integer, got '2.5'/],
      ['--seed', '', /--seed must be a non-negative integer, got ''/],
      ['--lr', 'fast', /--lr must be a positive number, got 'fast'/],
      ['--lr', '0', /--lr must be a positive number, got '0'/],
      ['--lambda-bg', '0x1', /--lambda-bg must be a non-negative number, got '0x1'/],
      ['--size', '65536', /--size 65536 is more than 2048, the most gpuseg accepts/],
      ['--steps', '99999999', /--steps 99999999 is more than 10000000/],
    ];
    for (const [flag, value, message] of cases) expectRefused([...train(category), flag, value], message);
  });

  it('--out: a file, under a file, under /proc; unknown flags and a missing command', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expectRefused(['train', '--data', category, '--out', file, '--size', '32'], /--out '.*a-file': '.*a-file' is a file, not a folder/);
    expectRefused(['train', '--data', category, '--out', join(file, 'run'), '--size', '32'], /--out '.*a-file\/run': '.*a-file' is a file, not a folder/);
    expectRefused(['train', '--data', category, '--out', '/proc/gpuseg-run', '--size', '32', '--steps', '1'], /--out '\/proc\/gpuseg-run': cannot create '\/proc\/gpuseg-run'/);
    expectRefused(['predict', '--model', join(dir, 'nothing'), '--out', '/proc/gpuseg-out', join(category, 'test', 'good')], /--out '\/proc\/gpuseg-out': cannot create/);
    const r = gpuseg(['train', '--bogus']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option '--bogus'\n\(gpuseg COMMAND --help lists the flags\)\n$/);
    expect(gpuseg([]).status).toBe(2);
  });

  it('model folders: no config.json, a config that is not a run, no weights, weights of another model', () => {
    const image = join(category, 'test', 'good', '000.png');
    const run = join(dir, 'run');
    mkdirSync(run);
    const predict = ['predict', '--model', run, '--out', join(dir, 'pred'), image];
    expectRefused(predict, /run\/config\.json: not found \(is '.*run' a gpuseg run folder\?\)/);
    const config = (value: unknown) => writeFileSync(join(run, 'config.json'), JSON.stringify(value));
    const good = { format: 'gpuseg-run/1', model: 'Unet(resnet34, classes=1)', size: 32 };
    const bad: [unknown, RegExp][] = [
      [null, /config\.json: not a JSON object/],
      [{}, /config\.json: no 'format' \(not a gpuseg run's config\)/],
      [{ ...good, size: '64' }, /config\.json: 'size' must be a multiple of 32 from 32 to 2048, got "64"/],
      [{ ...good, size: -32 }, /'size' must be a multiple of 32 from 32 to 2048, got -32/],
      [{ ...good, size: 65536 }, /'size' must be a multiple of 32 from 32 to 2048, got 65536/],
      [{ ...good, model: 'Unet(resnet50, classes=1)' }, /'model' must be one of "Unet\(resnet34, classes=1\)", got "Unet\(resnet50, classes=1\)"/],
      [{ ...good, format: 'gpuseg-run/9' }, /'format' must be one of "gpuseg-run\/1", got "gpuseg-run\/9"/],
    ];
    for (const [value, message] of bad) {
      config(value);
      expectRefused(predict, message);
    }
    config(good);
    // eval of a split with nothing to evaluate: exit 2 (it used to print IoU 0.000 and exit 0).
    const empty = { shots: [], evalDefects: [], evalGood: [], normals: [], validationNormals: [] };
    writeFileSync(join(run, 'split.json'), JSON.stringify({ format: 'gpuseg-split/1', meta: {}, split: empty }));
    expectRefused(['eval', '--model', run], /run\/split\.json: the evaluation set is empty/);
    expectRefused(predict, /run\/last\.safetensors: not found \(the run folder '.*run' has no final weights/);
    const tensor = { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) };
    writeFileSync(join(run, 'last.safetensors'), encodeSafetensors(new Map([['classifier.weight', tensor]])));
    expectRefused(predict, /last\.safetensors: unexpected tensor 'classifier\.weight' \(not a ResNet-34 UNet name\)/);
  });
});

// Kept apart: writePng is async, and these masks need the category's own size.
describe('masks the run cannot learn from', () => {
  it('refuses a mask of another size and a category whose masks are all empty', async () => {
    const resized = broken(() => {});
    await writePng(join(resized, 'ground_truth', 'hole', '000_mask.png'), new Uint8Array(16 * 16), 16, 16, 1);
    expectRefused(train(resized), /mask '.*hole\/000_mask\.png' is 16x16 but its image '.*hole\/000\.png' is 32x32/);
    const faint = broken(() => {});
    for (const type of ['hole', 'scratch', 'stain']) {
      for (let i = 0; i < 3; i++) await writePng(join(faint, 'ground_truth', type, `00${i}_mask.png`), new Uint8Array(32 * 32).fill(100), 32, 32, 1);
    }
    expectRefused(train(faint), /every mask of '.*' is empty \(no pixel above 127, e\.g\. '.*' whose largest value is 100\)/);
  });
});
