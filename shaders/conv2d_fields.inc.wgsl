// Params fields of conv2d, included in conv2d.wgsl's and conv2d_workgroup_tile.wgsl's.
// Packed first, in this order, by conv2dTiled and conv2dWorkgroupTiled in src/kernels/conv2d.ts.
#include "conv_geometry_fields.wgsl"
  // n * oh * ow
  pixels: u32,
  // ceil(cout / 4)
  cout4: u32,
  // Channel tiles of a pixel tile: ceil(cout4 / its vec4 columns), the grid's z for a plain register tile
  colTiles: u32,
  // ceil(pixels / its pixels)
  pixelTiles: u32,
  hasBias: u32,
