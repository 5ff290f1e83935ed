// --encoder-weights: torchvision's resnet34 tensors (with fc.*, without the encoder. prefix) load into
// the UNet's encoder, in PyTorch's layouts, and nothing else of the model changes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { materialize } from '../../src/model/module.js';
import { type NamedTensor, saveSafetensors } from '../../src/model/safetensors.js';
import { exportStateDict, importStateDict } from '../../src/model/state.js';
import { loadEncoderWeights } from '../../src/model/torch.js';
import { Unet } from '../../src/model/unet.js';
import { rng } from '../../src/util/random.js';

describe('ImageNet encoder weights', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-enc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('load into the encoder only, from a torchvision-named safetensors file', async () => {
    const be = new CpuBackend();
    const source = new Unet();
    materialize(source, be, rng(1));
    const target = new Unet();
    materialize(target, be, rng(2));
    const sourceDict = await exportStateDict(source);
    const before = await exportStateDict(target);
    // torchvision's names: no prefix, and a classifier the UNet does not have.
    const torchvision: [string, NamedTensor][] = [...sourceDict]
      .filter(([k]) => k.startsWith('encoder.'))
      .map(([k, t]) => [k.slice('encoder.'.length), t]);
    torchvision.push(['fc.weight', { dtype: 'F32', shape: [1000, 512], data: new Float32Array(512_000) }]);
    torchvision.push(['fc.bias', { dtype: 'F32', shape: [1000], data: new Float32Array(1000) }]);
    const file = join(dir, 'resnet34.safetensors');
    await saveSafetensors(file, torchvision);

    const loaded = importStateDict(target, await loadEncoderWeights(file), { only: 'encoder.', source: file });
    expect(loaded).toBe(source.encoder.namedParameters().length + source.encoder.namedBuffers().length);
    const after = await exportStateDict(target);
    for (const [name, t] of after) {
      const expected = name.startsWith('encoder.') ? sourceDict.get(name)! : before.get(name)!;
      expect(Buffer.from(t.data.buffer).equals(Buffer.from(expected.data.buffer)), name).toBe(true);
    }
    // The stem's padded fourth input channel stays zero.
    const stem = target.encoder.conv1.weight.t.data as Float64Array;
    for (let i = 3 * 64; i < stem.length; i += 4 * 64) expect(stem.subarray(i, i + 64).every((v) => v === 0)).toBe(true);
  });
});
