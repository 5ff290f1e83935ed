// Per-chunk channel sums (two per invocation), included by batchnormSums.wgsl and batchnormBackward.wgsl.
#include "common.wgsl"

const WG: u32 = 256u;

#include "channels.wgsl"

// Invocation t (t < splits * rowLen) sums channel ch over the rows r0 .. r1 of chunk s.
struct Chunk {
  ch: u32,
  s: u32,
  r0: u32,
  r1: u32,
}

fn chunkOf(t: u32) -> Chunk {
  let s = t / p.rowLen;
  let r0 = s * p.chunk;
  return Chunk(t % p.rowLen, s, r0, min(r0 + p.chunk, p.rows));
}

// The two sums as Out[0, s, ch] and Out[1, s, ch].
fn storeSums(c: Chunk, first: Channels, second: Channels) {
  Out[c.s * p.rowLen + c.ch] = first;
  Out[(p.splits + c.s) * p.rowLen + c.ch] = second;  // MUTANT(stride): Out[(p.rowLen + c.ch) * p.splits + c.s] = second;
}
