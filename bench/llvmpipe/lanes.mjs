// Standalone lavapipe matmul lane-assignment microbenchmark.
// Run: bash bench/llvmpipe/run.sh [rounds] [variants,comma,separated]
// C[M,N] = A[M,K] * B[K,N], f32, M=N=K=512, every variant does 16 vec4-FMAs (64 scalar FMAs)
// per lane per 4 k, with a 4x4 (rows x vec4-columns) register tile per invocation, wg=64.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);

const M = 512, N = 512, K = 512;
const K4 = K / 4, N4 = N / 4;
const WG = 64;
const ROUNDS = Number(process.argv[2] ?? 12);
const ONLY = process.argv[3] ? process.argv[3].split(',') : null;
const PER_SAMPLE = 2; // dispatches per timed submit

const hdr = (sub) => `${sub ? 'enable subgroups;\n' : ''}
@group(0) @binding(0) var<storage, read> A : array<vec4f>;
@group(0) @binding(1) var<storage, read> B : array<vec4f>;
@group(0) @binding(2) var<storage, read_write> C : array<vec4f>;
const K4 = ${K4}u; const N4 = ${N4}u;
`;
const fma4 = (acc, a, b) => `${acc} = fma(vec4f(${a}), ${b}, ${acc});`;
// acc[i] += sum_j a_i[j] * b_j
function tileMath(aName, bName, comps = ['x', 'y', 'z', 'w'], bIdx = (j) => j) {
  let s = '';
  for (let i = 0; i < 4; i++) for (let j = 0; j < comps.length; j++) s += `    ${fma4(`acc${i}`, `${aName(i)}.${comps[j]}`, bName(bIdx(j)))}\n`;
  return s;
}
const accDecl = `  var acc0 = vec4f(0); var acc1 = vec4f(0); var acc2 = vec4f(0); var acc3 = vec4f(0);\n`;


// rows-per-lane with R rows per lane, B shared by subgroupBroadcast (generalises c2).
function rowsBcast(R) {
  const range = (n) => Array.from({ length: n }, (_, i) => i);
  let body = '';
  for (let i = 0; i < R; i++) for (let h = 0; h < 2; h++) body += `    let a${i}${h} = A[(r0 + ${i}u) * K4 + 2u * k8 + ${h}u];\n`;
  for (let j = 0; j < 8; j++) body += `    let b${j} = subgroupBroadcast(bl, ${j}u);\n`;
  const comps = ['x', 'y', 'z', 'w'];
  for (let i = 0; i < R; i++) for (let j = 0; j < 8; j++) body += `    acc${i} = fma(vec4f(a${i}${j >> 2}.${comps[j & 3]}), b${j}, acc${i});\n`;
  return hdr(true) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sl: u32) {
  let col4 = wg.x; let r0 = (wg.y * ${WG}u + lid) * ${R}u;
${range(R).map((i) => `  var acc${i} = vec4f(0);`).join('\n')}
  for (var k8 = 0u; k8 < K4 / 2u; k8++) {
    let k = k8 * 8u;
    let bl = B[(k + sl) * N4 + col4];
${body}  }
${range(R).map((i) => `  C[(r0 + ${i}u) * N4 + col4] = acc${i};`).join('\n')}
}`;
}

// Larger tiles, 6 vec4 loads per 256 FMAs per lane, one operand shared through subgroupShuffle.
// d16: lanes own 4 columns (contiguous B loads), a 16-row A block shared (project's matmul layout).
function d16() {
  const C4 = ['x', 'y', 'z', 'w'];
  let body = '    let al0 = A[(r0 + 2u * sl) * K4 + k4];\n    let al1 = A[(r0 + 2u * sl + 1u) * K4 + k4];\n';
  for (let r = 0; r < 16; r++) body += `    let a${r} = subgroupShuffle(al${r % 2}, ${r >> 1}u);\n`;
  for (let j = 0; j < 4; j++) body += `    let b${j} = B[(k4 * 4u + ${j}u) * N4 + col4];\n`;
  for (let r = 0; r < 16; r++) for (let j = 0; j < 4; j++) body += `    acc${r} = fma(vec4f(a${r}.${C4[j]}), b${j}, acc${r});\n`;
  return hdr(true) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sl: u32) {
  let col4 = wg.x * ${WG}u + lid; let r0 = wg.y * 16u;
${Array.from({ length: 16 }, (_, r) => `  var acc${r} = vec4f(0);`).join('\n')}
  for (var k4 = 0u; k4 < K4; k4++) {
${body}  }
${Array.from({ length: 16 }, (_, r) => `  C[(r0 + ${r}u) * N4 + col4] = acc${r};`).join('\n')}
}`;
}
// c16: lanes own 4 rows (strided A loads, stride 4 rows = 8 KiB), 16 columns; the 4x16 B block shared.
function c16() {
  const C4 = ['x', 'y', 'z', 'w'];
  let body = '';
  for (let q = 0; q < 2; q++) body += `    let bl${q} = B[(k4 * 4u + (${q * 8}u + sl) / 4u) * N4 + c0 + ((${q * 8}u + sl) % 4u)];\n`;
  for (let v = 0; v < 16; v++) body += `    let b${v} = subgroupShuffle(bl${v >> 3}, ${v & 7}u);\n`;
  for (let i = 0; i < 4; i++) body += `    let a${i} = A[(r0 + ${i}u) * K4 + k4];\n`;
  for (let i = 0; i < 4; i++) for (let c = 0; c < 4; c++) for (let kr = 0; kr < 4; kr++) body += `    acc${i}_${c} = fma(vec4f(a${i}.${C4[kr]}), b${kr * 4 + c}, acc${i}_${c});\n`;
  const accs = []; for (let i = 0; i < 4; i++) for (let c = 0; c < 4; c++) accs.push([i, c]);
  return hdr(true) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sl: u32) {
  let c0 = wg.x * 4u; let r0 = (wg.y * ${WG}u + lid) * 4u;
${accs.map(([i, c]) => `  var acc${i}_${c} = vec4f(0);`).join('\n')}
  for (var k4 = 0u; k4 < K4; k4++) {
${body}  }
${accs.map(([i, c]) => `  C[(r0 + ${i}u) * N4 + c0 + ${c}u] = acc${i}_${c};`).join('\n')}
}`;
}
const variants = {
  // (a) lanes own columns: row block uniform per workgroup -> A addresses uniform, B per-lane contiguous.
  a_cols_Auniform: {
    sub: false, grid: [N4 / WG, M / 4, 1],
    code: () => hdr(false) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let col4 = wg.x * ${WG}u + lid; let r0 = wg.y * 4u;
${accDecl}  for (var k4 = 0u; k4 < K4; k4++) {
    let k = k4 * 4u;
${[0, 1, 2, 3].map((i) => `    let a${i} = A[(r0 + ${i}u) * K4 + k4];`).join('\n')}
${[0, 1, 2, 3].map((j) => `    let b${j} = B[(k + ${j}u) * N4 + col4];`).join('\n')}
${tileMath((i) => `a${i}`, (j) => `b${j}`)}  }
${[0, 1, 2, 3].map((i) => `  C[(r0 + ${i}u) * N4 + col4] = acc${i};`).join('\n')}
}`,
  },
  // (b) lanes own rows: column block uniform -> B addresses uniform, A per-lane strided (stride 4 rows).
  b_rows_Buniform: {
    sub: false, grid: [N4, M / (4 * WG), 1],
    code: () => hdr(false) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let col4 = wg.x; let r0 = (wg.y * ${WG}u + lid) * 4u;
${accDecl}  for (var k4 = 0u; k4 < K4; k4++) {
    let k = k4 * 4u;
${[0, 1, 2, 3].map((i) => `    let a${i} = A[(r0 + ${i}u) * K4 + k4];`).join('\n')}
${[0, 1, 2, 3].map((j) => `    let b${j} = B[(k + ${j}u) * N4 + col4];`).join('\n')}
${tileMath((i) => `a${i}`, (j) => `b${j}`)}  }
${[0, 1, 2, 3].map((i) => `  C[(r0 + ${i}u) * N4 + col4] = acc${i};`).join('\n')}
}`,
  },
  // (c) like (b), but the uniform operand (B rows k..k+7) is loaded once per subgroup, one vec4 per lane,
  // and handed round with subgroupShuffle (constant lane ids). k step 8.
  c_rows_Bshuffle: {
    sub: true, grid: [N4, M / (4 * WG), 1],
    code: () => hdr(true) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sl: u32) {
  let col4 = wg.x; let r0 = (wg.y * ${WG}u + lid) * 4u;
${accDecl}  for (var k8 = 0u; k8 < K4 / 2u; k8++) {
    let k = k8 * 8u;
    let bl = B[(k + sl) * N4 + col4];
${[0, 1, 2, 3].map((i) => `    let a${i}0 = A[(r0 + ${i}u) * K4 + 2u * k8];\n    let a${i}1 = A[(r0 + ${i}u) * K4 + 2u * k8 + 1u];`).join('\n')}
${[0, 1, 2, 3, 4, 5, 6, 7].map((j) => `    let b${j} = subgroupShuffle(bl, ${j}u);`).join('\n')}
${tileMath((i) => `a${i}0`, (j) => `b${j}`)}${tileMath((i) => `a${i}1`, (j) => `b${j}`, ['x', 'y', 'z', 'w'], (j) => j + 4)}  }
${[0, 1, 2, 3].map((i) => `  C[(r0 + ${i}u) * N4 + col4] = acc${i};`).join('\n')}
}`,
  },
  // (c2) = (c) with subgroupBroadcast (const lane) instead of subgroupShuffle.
  c2_rows_Bbroadcast: {
    sub: true, grid: [N4, M / (4 * WG), 1],
    code: () => variants.c_rows_Bshuffle.code().replace(/subgroupShuffle\(bl, (\d)u\)/g, 'subgroupBroadcast(bl, $1u)'),
  },
  c3_rows2_Bbroadcast: { sub: true, grid: [N4, M / (2 * WG), 1], code: () => rowsBcast(2) },
  e_rows8_Bbroadcast: { sub: true, grid: [N4, M / (8 * WG), 1], code: () => rowsBcast(8) },
  d16_cols_Ashuffle_16x4: { sub: true, grid: [N4 / WG, M / 16, 1], code: d16 },
  c16_rows_Bshuffle_4x16: { sub: true, grid: [N4 / 4, M / (4 * WG), 1], code: c16 },
  // (d) like (a), but the uniform operand (A: 4 rows x 8 k = 8 vec4) is loaded once per subgroup,
  // lane l holds row r0+l/2, k-half l%2; passed round with subgroupShuffle. k step 8.
  d_cols_Ashuffle: {
    sub: true, grid: [N4 / WG, M / 4, 1],
    code: () => hdr(true) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sl: u32) {
  let col4 = wg.x * ${WG}u + lid; let r0 = wg.y * 4u;
${accDecl}  for (var k8 = 0u; k8 < K4 / 2u; k8++) {
    let k = k8 * 8u;
    let al = A[(r0 + sl / 2u) * K4 + 2u * k8 + (sl & 1u)];
${[0, 1, 2, 3].map((i) => `    let a${i}0 = subgroupShuffle(al, ${2 * i}u);\n    let a${i}1 = subgroupShuffle(al, ${2 * i + 1}u);`).join('\n')}
${[0, 1, 2, 3, 4, 5, 6, 7].map((j) => `    let b${j} = B[(k + ${j}u) * N4 + col4];`).join('\n')}
${tileMath((i) => `a${i}0`, (j) => `b${j}`)}${tileMath((i) => `a${i}1`, (j) => `b${j}`, ['x', 'y', 'z', 'w'], (j) => j + 4)}  }
${[0, 1, 2, 3].map((i) => `  C[(r0 + ${i}u) * N4 + col4] = acc${i};`).join('\n')}
}`,
  },
  // (e) like (a) but with the A block (uniform addresses) fetched through var<uniform> is impossible
  // (1 MiB); instead: (a) with both operands loaded per lane and NO uniform load at all:
  // lanes own columns AND each lane loads its own copy of A via lane-distinct (but equal-valued) index
  // is pointless -- skipped. Ceiling: same FMAs, loads hoisted out of the k loop.
  z_fma_ceiling: {
    sub: false, grid: [N4 / WG, M / 4, 1], noverify: true,
    code: () => hdr(false) + `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let col4 = wg.x * ${WG}u + lid; let r0 = wg.y * 4u;
${[0, 1, 2, 3].map((i) => `  let a${i} = A[(r0 + ${i}u) * K4 + lid % K4];`).join('\n')}
${[0, 1, 2, 3].map((j) => `  let b${j} = B[(${j}u) * N4 + col4];`).join('\n')}
${accDecl}  for (var k4 = 0u; k4 < K4; k4++) {
${tileMath((i) => `a${i}`, (j) => `b${j}`)}  }
${[0, 1, 2, 3].map((i) => `  C[(r0 + ${i}u) * N4 + col4] = acc${i};`).join('\n')}
}`,
  },
};


// ---- load-cost microbenchmark (MODE=load): one vec4 load (or shuffle) per lane per iteration ----
const L = 256, LWG = 1024; // 1024 workgroups x 64 lanes x 256 iterations
const lhdr = (sub) => `${sub ? 'enable subgroups;\n' : ''}
@group(0) @binding(0) var<storage, read> A : array<vec4f>;
@group(0) @binding(1) var<storage, read> B : array<vec4f>;
@group(0) @binding(2) var<storage, read_write> C : array<vec4f>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32${sub ? ', @builtin(subgroup_invocation_id) sl: u32' : ''}) {
  var acc = vec4f(0);
`;
const ltail = `  C[wg.x * 64u + lid] = acc;\n}`;
const unroll = (f) => Array.from({ length: L }, (_, k) => `  acc += ${f(k)};`).join('\n') + '\n';
const loadVariants = {
  L0_loop_no_load:      { code: () => lhdr(false) + `  for (var k = 0u; k < ${L}u; k++) { acc += vec4f(f32(k)); }\n` + ltail },
  L1_uniform_loopidx:   { code: () => lhdr(false) + `  for (var k = 0u; k < ${L}u; k++) { acc += A[(k * 131u + wg.x) & 65535u]; }\n` + ltail },
  L2_lane_contig:       { code: () => lhdr(false) + `  for (var k = 0u; k < ${L}u; k++) { acc += A[(k * 64u + lid + wg.x * 8u) & 65535u]; }\n` + ltail },
  L3_lane_strided:      { code: () => lhdr(false) + `  for (var k = 0u; k < ${L}u; k++) { acc += A[(lid * 128u + k + wg.x) & 65535u]; }\n` + ltail },
  L4_uniform_const_unr: { code: () => lhdr(false) + unroll((k) => `A[${(k * 131) & 65535}u]`) + ltail },
  L5_lane_contig_unr:   { code: () => lhdr(false) + unroll((k) => `A[lid + ${k * 64}u]`) + ltail },
  L6_uniform_wg_unr:    { code: () => lhdr(false) + unroll((k) => `A[wg.x + ${k * 64}u]`) + ltail },
  L7_shuffle_dyn:       { sub: true, code: () => lhdr(true) + `  var v = A[lid];\n  for (var k = 0u; k < ${L}u; k++) { acc += subgroupShuffle(v, (k + sl) & 7u); }\n` + ltail },
  L8_shuffle_const_unr: { sub: true, code: () => lhdr(true) + `  var v = A[lid];\n` + unroll((k) => `subgroupShuffle(v, ${k & 7}u); v = v.yzwx`) + ltail },
  L10_ubo_uniform_loop: { code: () => lhdr(false).replace('@compute', '@group(0) @binding(3) var<uniform> U : array<vec4f, 4096>;\n@compute') + `  for (var k = 0u; k < ${L}u; k++) { acc += U[(k * 131u + wg.x) & 4095u]; }\n` + ltail },
  L11_ubo_lane_loop:    { code: () => lhdr(false).replace('@compute', '@group(0) @binding(3) var<uniform> U : array<vec4f, 4096>;\n@compute') + `  for (var k = 0u; k < ${L}u; k++) { acc += U[(k * 64u + lid + wg.x * 8u) & 4095u]; }\n` + ltail },
  L12_wgmem_uniform:    { code: () => lhdr(false).replace('@compute', 'var<workgroup> W : array<vec4f, 1024>;\n@compute') + `  W[lid] = A[lid]; workgroupBarrier();\n  for (var k = 0u; k < ${L}u; k++) { acc += W[(k * 131u + wg.x) & 1023u]; }\n` + ltail },
  L13_wgmem_lane:       { code: () => lhdr(false).replace('@compute', 'var<workgroup> W : array<vec4f, 1024>;\n@compute') + `  W[lid] = A[lid]; workgroupBarrier();\n  for (var k = 0u; k < ${L}u; k++) { acc += W[(k * 64u + lid) & 1023u]; }\n` + ltail },
  L14_lane_unr8_in_loop: { code: () => lhdr(false) + `  for (var k = 0u; k < ${L / 8}u; k++) {\n` + Array.from({ length: 8 }, (_, j) => `    acc += A[(k * 512u + ${j * 64}u + lid) & 65535u];`).join('\n') + `\n  }\n` + ltail },
  L15_lane_stride16KiB:  { code: () => lhdr(false) + `  for (var k = 0u; k < ${L}u; k++) { acc += A[(lid * 1024u + k + wg.x) & 65535u]; }\n` + ltail },
  L9_lane_vec4_scalar:  { code: () => lhdr(false).replace('array<vec4f>;\n@group(0) @binding(1)', 'array<f32>;\n@group(0) @binding(1)') + `  for (var k = 0u; k < ${L}u; k++) { acc.x += A[(k * 256u + lid + wg.x * 8u) & 262143u]; }\n` + ltail },
};

async function loadMode(device, bufA, bufB, bufC) {
  const names = Object.keys(loadVariants).filter((n) => !ONLY || ONLY.includes(n));
  const P = {};
  for (const name of names) {
    const code = loadVariants[name].code();
    if (process.env.DUMP) console.log(`--- ${name}\n${code}`);
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code });
    const pipeline = await device.createComputePipelineAsync({ layout: globalThis.__layout, compute: { module, entryPoint: 'main' } });
    const err = await device.popErrorScope();
    if (err) { console.log(`${name}: ERROR ${err.message}`); continue; }
    const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [bufA, bufB, bufC, globalThis.__ubo].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    P[name] = { pipeline, bg };
  }
  const run = async (name) => {
    const enc = device.createCommandEncoder();
    for (let r = 0; r < PER_SAMPLE; r++) { const pass = enc.beginComputePass(); pass.setPipeline(P[name].pipeline); pass.setBindGroup(0, P[name].bg); pass.dispatchWorkgroups(LWG); pass.end(); }
    const t0 = performance.now(); device.queue.submit([enc.finish()]); await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / PER_SAMPLE;
  };
  const valid = Object.keys(P);
  for (const n of valid) await run(n);
  const T = Object.fromEntries(valid.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) for (const n of valid) T[n].push(await run(n));
  const subgroupOps = (LWG * 64 / 8) * L; // per dispatch
  console.log(`load-cost: ${LWG} wg x 64 lanes x ${L} iterations; rounds=${ROUNDS}; ns per subgroup(8 lanes)-iteration, 2 cores => x2 for core-ns`);
  for (const n of valid) {
    const t = [...T[n]].sort((x, y) => x - y); const med = t[t.length >> 1];
    console.log(n.padEnd(22), `median ${med.toFixed(2).padStart(7)} ms  min ${t[0].toFixed(2).padStart(7)} ms  ${(med * 1e6 / subgroupOps).toFixed(2).padStart(6)} ns/sg-iter`);
  }
}

async function main() {
  const gpu = create([]); globalThis.__gpu = gpu;
  const adapter = await gpu.requestAdapter();
  const info = adapter.info;
  console.log(`adapter: ${info.description} | subgroupMinSize=${info.subgroupMinSize} subgroupMaxSize=${info.subgroupMaxSize}`);
  if (info.subgroupMinSize !== 8 || info.subgroupMaxSize !== 8) console.log('WARNING: shuffle variants assume subgroup size 8');
  console.log('requesting device');
  const device = await adapter.requestDevice({ requiredFeatures: ['subgroups'] });
  let nErr = 0;
  device.addEventListener?.('uncapturederror', (e) => { if (nErr++ < 3) console.error('uncaptured', e.error?.message); });
  const bgl = device.createBindGroupLayout({ entries: ['read-only-storage', 'read-only-storage', 'storage', 'uniform'].map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })) });
  globalThis.__layout = device.createPipelineLayout({ bindGroupLayouts: [bgl] });

  // data
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const a = new Float32Array(M * K).map(rnd), b = new Float32Array(K * N).map(rnd);
  const ref = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
    const av = a[i * K + k]; const ro = i * N, bo = k * N;
    for (let j = 0; j < N; j++) ref[ro + j] += av * b[bo + j];
  }
  const mk = (arr, usage) => {
    const buf = device.createBuffer({ size: arr.byteLength, usage, mappedAtCreation: true });
    new Float32Array(buf.getMappedRange()).set(arr); buf.unmap(); return buf;
  };
  const S = GPUBufferUsage.STORAGE;
  const bufA = mk(a, S), bufB = mk(b, S);
  globalThis.__ubo = mk(a.subarray(0, 16384), GPUBufferUsage.UNIFORM);
  const bufC = device.createBuffer({ size: M * N * 4, usage: S | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const rb = device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

  if (process.env.MODE === 'load') { await loadMode(device, bufA, bufB, bufC); process.exit(0); }
  const names = Object.keys(variants).filter((n) => !ONLY || ONLY.includes(n));
  const pipes = {};
  for (const name of names) {
    const v = variants[name];
    const code = v.code();
    if (process.env.DUMP) console.log(`--- ${name}\n${code}`);
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code });
    const t0 = performance.now();
    const pipeline = await device.createComputePipelineAsync({ layout: globalThis.__layout, compute: { module, entryPoint: 'main' } });
    const err = await device.popErrorScope();
    if (err) { console.log(`${name}: ERROR ${err.message}`); continue; }
    const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [bufA, bufB, bufC, globalThis.__ubo].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    pipes[name] = { pipeline, bg, v, compileMs: performance.now() - t0 };
  }
  const run = async (name, reps) => {
    const { pipeline, bg, v } = pipes[name];
    const enc = device.createCommandEncoder();
    for (let r = 0; r < reps; r++) {
      const pass = enc.beginComputePass(); pass.setPipeline(pipeline); pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(...v.grid); pass.end();
    }
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  // verify
  const valid = Object.keys(pipes);
  for (const name of valid) {
    const enc0 = device.createCommandEncoder(); enc0.clearBuffer(bufC); device.queue.submit([enc0.finish()]);
    await run(name, 1);
    const enc = device.createCommandEncoder(); enc.copyBufferToBuffer(bufC, 0, rb, 0, M * N * 4); device.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ); const c = new Float32Array(rb.getMappedRange().slice(0)); rb.unmap();
    let maxErr = 0; for (let i = 0; i < M * N; i++) maxErr = Math.max(maxErr, Math.abs(c[i] - ref[i]));
    pipes[name].maxErr = maxErr;
  }
  // warmup + timed rounds, interleaved
  for (const name of valid) await run(name, 1);
  const times = Object.fromEntries(valid.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) for (const name of valid) times[name].push((await run(name, PER_SAMPLE)) / PER_SAMPLE);
  const flop = 2 * M * N * K;
  console.log(`rounds=${ROUNDS} x ${PER_SAMPLE} dispatches; 512^3 matmul`);
  console.log('variant'.padEnd(22), 'median_ms'.padStart(10), 'min_ms'.padStart(8), 'GFLOP/s'.padStart(8), 'maxAbsErr'.padStart(10), 'compile_ms'.padStart(10));
  for (const name of valid) {
    const t = [...times[name]].sort((x, y) => x - y); const med = t[t.length >> 1];
    const p = pipes[name];
    console.log(name.padEnd(22), med.toFixed(2).padStart(10), t[0].toFixed(2).padStart(8), (flop / med / 1e6).toFixed(1).padStart(8),
      (p.v.noverify ? 'n/a' : p.maxErr.toExponential(1)).padStart(10), p.compileMs.toFixed(0).padStart(10));
  }
  device.destroy?.();
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
