// --adapter / GPUSEG_ADAPTER match adapter names in any case, and `gpuseg info` shows a word that
// selects each adapter.
import { describe, expect, it } from 'vitest';
import { matchAdapter, selectingWords } from '../../src/gpu/adapter-names.js';

const here = [
  { backend: 'vulkan', name: 'SwiftShader Device (Subzero)' },
  { backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
];

describe('adapter names', () => {
  it('match part of a name without regard to case, first listed first', () => {
    expect(matchAdapter('swiftshader', here)).toBe(here[0]);
    expect(matchAdapter('SWIFTSHADER', here)).toBe(here[0]);
    expect(matchAdapter('LLVMpipe', here)).toBe(here[1]);
    expect(matchAdapter('llvm', here)).toBe(here[1]);
    expect(matchAdapter('d', here)).toBe(here[0]); // 'Device' and 'bits'... the first listed wins
    expect(matchAdapter('radeon', here)).toBeNull();
  });

  it('give each adapter a word that selects it: its first word, else the shortest that does, else its whole name', () => {
    expect(selectingWords(here)).toEqual(['swiftshader', 'llvmpipe']);
    const twoNvidia = [
      { backend: 'vulkan', name: 'NVIDIA H200' },
      { backend: 'vulkan', name: 'NVIDIA H100 PCIe' },
      { backend: 'vulkan', name: 'NVIDIA H200' },
    ];
    expect(selectingWords(twoNvidia)).toEqual(['nvidia', 'h100', "'NVIDIA H200'"]);
    for (const [i, word] of selectingWords(here).entries()) expect(matchAdapter(word, here)).toBe(here[i]);
    expect(selectingWords([])).toEqual([]);
  });
});
