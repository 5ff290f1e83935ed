// out[i] = value.
#include "scalar_params.inc.wgsl"

@group(0) @binding(1) var<storage, read_write> Out: array<f32>;

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  Out[i] = p.value;
}
