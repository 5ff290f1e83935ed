// The three transforms of conv2d in Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016), for 3x3 stride-1 layers with cin and cout multiples of 4. The
// output is cut into T = n * tilesY * tilesX tiles of 2x2 pixels; tile t's output is
//   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
// with d the 4x4 input patch at (2 ty - pad, 2 tx - pad) (zero outside the image) and g a 3x3 filter;
// element xi = 4 a + b of the 4x4 products, summed over the input channels, is 16 independent GEMMs
// (shaders/winograd_gemm.wgsl). Layouts, channels contiguous as vec4:
//   U [16][cin][cout]   the transformed weights  (entry point `transformWeights`, one invocation per ci, co4)
//   V [16][T][cin]      the transformed input    (`transformInput`, one invocation per t, ci4)
//   M [16][T][cout]     the GEMMs' output        -> y NHWC plus bias (`transformOutput`, one per t, co4)
// and for the weight gradient (shaders/winograd_weight_grad_gemm.wgsl) dM = A dy A^T in M's layout
// (`transformOutputGrad`) and dU [16][cin][cout] in U's, back to HWIO as G^T dU G (`transformWeightGrad`).
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Each entry point reads In and writes Out; transformOutput also reads Bias (the host binds In there without one).
#include "common.wgsl"

struct Params {
#include "conv_geometry_fields.wgsl"
  // 2x2 tiles across and down an image, and in all (n * tilesY * tilesX).
  tilesX: u32,
  tilesY: u32,
  tiles: u32,
  // Invocations that do work: cin * cout4 (weights and their gradient), tiles * cin4 (input), tiles *
  // cout4 (output and its gradient).
  count: u32,
  hasBias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> In: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Out: array<vec4<f32>>;
// Read by transformOutput only (the others' pipelines have no binding 3).
@group(0) @binding(3) var<storage, read> Bias: array<vec4<f32>>;

const WG: u32 = 64u;

// B^T v or its transpose's action along the other axis: four values to four.
fn bt(d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>(d0 - d2, d1 + d2, d2 - d1, d1 - d3);  // MUTANT(term): return array<vec4<f32>, 4>(d0 - d2, d1 + d2, d2 - d1, d1 + d3);
}

// G v: three filter taps to four.
fn gt(g0: vec4<f32>, g1: vec4<f32>, g2: vec4<f32>) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>(g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2);  // MUTANT(term): return array<vec4<f32>, 4>(g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 + g1 - g2), g2);
}

// G^T v: four values to three filter taps (the weight gradient's way back through G).
fn gtT(u0: vec4<f32>, u1: vec4<f32>, u2: vec4<f32>, u3: vec4<f32>) -> array<vec4<f32>, 3> {
  return array<vec4<f32>, 3>(u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3);  // MUTANT(term): return array<vec4<f32>, 3>(u0 + 0.5 * (u1 + u2), 0.5 * (u1 + u2), 0.5 * (u1 + u2) + u3);
}

// A v: two output gradients to four (the output gradient's way back through A^T).
fn av(y0: vec4<f32>, y1: vec4<f32>) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>(y0, y0 + y1, y0 - y1, -y1);  // MUTANT(term): return array<vec4<f32>, 4>(y0, y0 + y1, y0 + y1, -y1);
}

// A^T v: four products to two outputs.
fn at(m0: vec4<f32>, m1: vec4<f32>, m2: vec4<f32>, m3: vec4<f32>) -> array<vec4<f32>, 2> {
  return array<vec4<f32>, 2>(m0 + m1 + m2, m1 - m2 - m3);  // MUTANT(term): return array<vec4<f32>, 2>(m0 + m1 + m2, m1 - m2 + m3);
}

// Invocation i of a per-(tile, channel vec4) pass over c4 vec4s of channels: its 2x2 tile t (column tx
// and row ty of image img) and its channel vec4.
struct TileAt {
  t: u32,
  c4: u32,
  tx: u32,
  ty: u32,
  img: u32,
}

fn tileAt(i: u32, c4: u32) -> TileAt {
  let t = i / c4;
  return TileAt(t, i % c4, t % p.tilesX, (t / p.tilesX) % p.tilesY, t / (p.tilesX * p.tilesY));
}

@compute @workgroup_size(WG)
fn transformWeights(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.count) {
    return;
  }
  let cout4 = p.cout / 4u;
  let ci = i / cout4;
  let co4 = i % cout4;
  // g[r][c] = w[(r * 3 + c) * cin + ci][co4 .. co4 + 3] (HWIO).
  var rows: array<array<vec4<f32>, 4>, 3>;
  for (var r = 0u; r < 3u; r++) {
    let at0 = (r * 3u * p.cin + ci) * cout4 + co4;
    let step = p.cin * cout4;
    rows[r] = gt(In[at0], In[at0 + step], In[at0 + 2u * step]);  // G applied along the columns of row r
  }
  for (var b = 0u; b < 4u; b++) {
    let u = gt(rows[0][b], rows[1][b], rows[2][b]);  // then along the rows
    for (var a = 0u; a < 4u; a++) {
      Out[((a * 4u + b) * p.cin + ci) * cout4 + co4] = u[a];
    }
  }
}

@compute @workgroup_size(WG)
fn transformInput(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.count) {
    return;
  }
  let cin4 = p.cin / 4u;
  let tile = tileAt(i, cin4);
  let t = tile.t;
  let ci4 = tile.c4;
  let tx = tile.tx;
  let ty = tile.ty;
  let img = tile.img;
  let y0 = i32(2u * ty) - i32(p.pad);
  let x0 = i32(2u * tx) - i32(p.pad);
  // Row r of the patch, B^T applied along it (its columns), then B^T down the columns.
  var rows: array<array<vec4<f32>, 4>, 4>;
  for (var r = 0u; r < 4u; r++) {
    let y = y0 + i32(r);
    var d: array<vec4<f32>, 4>;
    for (var c = 0u; c < 4u; c++) {
      let x = x0 + i32(c);
      let inside = y >= 0 && y < i32(p.h) && x >= 0 && x < i32(p.w);
      let at0 = ((img * p.h + u32(max(y, 0))) * p.w + u32(max(x, 0))) * cin4 + ci4;
      d[c] = select(vec4<f32>(0.0), In[min(at0, arrayLength(&In) - 1u)], inside);
    }
    rows[r] = bt(d[0], d[1], d[2], d[3]);
  }
  for (var b = 0u; b < 4u; b++) {
    let v = bt(rows[0][b], rows[1][b], rows[2][b], rows[3][b]);
    for (var a = 0u; a < 4u; a++) {
      Out[((a * 4u + b) * p.tiles + t) * cin4 + ci4] = v[a];  // MUTANT(index): Out[((b * 4u + a) * p.tiles + t) * cin4 + ci4] = v[a];
    }
  }
}

@compute @workgroup_size(WG)
fn transformOutput(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.count) {
    return;
  }
  let cout4 = p.cout / 4u;
  let tile = tileAt(i, cout4);
  let t = tile.t;
  let co4 = tile.c4;
  let tx = tile.tx;
  let ty = tile.ty;
  let img = tile.img;
  // A^T along each row a of the 4x4 products, then down the two resulting columns.
  var s: array<array<vec4<f32>, 2>, 4>;
  for (var a = 0u; a < 4u; a++) {
    let at0 = (a * 4u * p.tiles + t) * cout4 + co4;
    let step = p.tiles * cout4;  // MUTANT(stride): let step = p.tiles;
    s[a] = at(In[at0], In[at0 + step], In[at0 + 2u * step], In[at0 + 3u * step]);
  }
  let bias = select(vec4<f32>(0.0), Bias[co4], p.hasBias != 0u);
  for (var c = 0u; c < 2u; c++) {
    let y = at(s[0][c], s[1][c], s[2][c], s[3][c]);
    let ox = 2u * tx + c;
    for (var r = 0u; r < 2u; r++) {
      let oy = 2u * ty + r;
      if (oy < p.oh && ox < p.ow) {
        Out[((img * p.oh + oy) * p.ow + ox) * cout4 + co4] = y[r] + bias;
      }
    }
  }
}

// The weight gradient's transforms. dM = A dy A^T for each tile's 2x2 output gradient (zero past the
// output's edge), one invocation per (t, co4), into M's layout; and dg = G^T dU G, one invocation per
// (ci, co4), from U's layout into the HWIO weights' (count: tiles * cout4 and cin * cout4).
@compute @workgroup_size(WG)
fn transformOutputGrad(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.count) {
    return;
  }
  let cout4 = p.cout / 4u;
  let tile = tileAt(i, cout4);
  let t = tile.t;
  let co4 = tile.c4;
  let tx = tile.tx;
  let ty = tile.ty;
  let img = tile.img;
  // dy A^T along each of the tile's two rows, then A down the four resulting columns.
  var rows: array<array<vec4<f32>, 4>, 2>;
  for (var r = 0u; r < 2u; r++) {
    let oy = 2u * ty + r;
    var d: array<vec4<f32>, 2>;
    for (var c = 0u; c < 2u; c++) {
      let ox = 2u * tx + c;
      let inside = oy < p.oh && ox < p.ow;
      let at0 = ((img * p.oh + min(oy, p.oh - 1u)) * p.ow + min(ox, p.ow - 1u)) * cout4 + co4;
      d[c] = select(vec4<f32>(0.0), In[at0], inside);
    }
    rows[r] = av(d[0], d[1]);
  }
  for (var b = 0u; b < 4u; b++) {
    let m = av(rows[0][b], rows[1][b]);
    for (var a = 0u; a < 4u; a++) {
      Out[((a * 4u + b) * p.tiles + t) * cout4 + co4] = m[a];  // MUTANT(index): Out[((b * 4u + a) * p.tiles + t) * cout4 + co4] = m[a];
    }
  }
}

@compute @workgroup_size(WG)
fn transformWeightGrad(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.count) {
    return;
  }
  let cout4 = p.cout / 4u;
  let ci = i / cout4;
  let co4 = i % cout4;
  // G^T along each row a of dU (its columns b), then down the three resulting columns.
  var rows: array<array<vec4<f32>, 3>, 4>;
  for (var a = 0u; a < 4u; a++) {
    let at0 = (a * 4u * p.cin + ci) * cout4 + co4;
    let step = p.cin * cout4;
    rows[a] = gtT(In[at0], In[at0 + step], In[at0 + 2u * step], In[at0 + 3u * step]);
  }
  for (var j = 0u; j < 3u; j++) {
    let g = gtT(rows[0][j], rows[1][j], rows[2][j], rows[3][j]);
    for (var r = 0u; r < 3u; r++) {
      Out[((r * 3u + j) * p.cin + ci) * cout4 + co4] = g[r];
    }
  }
}
