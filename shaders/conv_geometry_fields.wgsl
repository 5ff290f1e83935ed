// The fields every conv kernel's Params starts with (included inside `struct Params { ... }`), packed
// in this order by packConvGeometry in src/kernels/conv2d.ts: input height and width, input and output
// channels, kernel height and width, stride, padding, output height and width.
  h: u32,
  w: u32,
  cin: u32,
  cout: u32,
  kh: u32,
  kw: u32,
  stride: u32,
  pad: u32,
  oh: u32,
  ow: u32,
