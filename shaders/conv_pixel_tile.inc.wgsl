// How tiles of pixels map onto lanes, included by conv2d.wgsl and conv2d_input_grad.wgsl.
// The includer declares TM (accumulator rows: pixels per invocation) and SHARED (the subgroup-shared
// variant, SHARE_X or SHARE_DY).
//
// Shared: a workgroup's lanes all take the same tile of TP = TM * PG pixels, split into PG pixel groups
// that take interleaved pixels (lane pg's accumulator row r is tile pixel r * PG + pg), and each lane
// loads LOADS of the tile's pixels, SHARE apart, for the others to shuffle from. TP is a multiple of
// SHARE, and PG divides it. Otherwise an invocation's tile is its own TM consecutive pixels, each loaded
// by itself.
const PG: u32 = ${PG}u;
/** Pixels of a tile. */
const TP: u32 = select(TM, TM * PG, SHARED);
/** Pixels each lane loads per step, LOAD_STEP apart. */
const LOADS: u32 = select(TM, TP / SHARE, SHARED);
const LOAD_STEP: u32 = select(1u, SHARE, SHARED);
/** Tile pixels between a lane's accumulator rows. */
const ROW_STEP: u32 = select(1u, PG, SHARED);

// Where a lane works in its tile: its first vec4 column (NV of them), first accumulator pixel (TM of
// them, ROW_STEP apart), first loaded pixel (LOADS of them, LOAD_STEP apart), and its pixel group.
struct TileLane {
  col0: u32,
  pixel0: u32,
  load0: u32,
  pg: u32,
}

// Lane lid of a shared tile, subgroup lane `lane`: the tile's pixels pg, pg + PG, ... and its own NV
// columns; it loads pixels pixelTile * TP + s * SHARE + lane % SHARE, for s < LOADS.
fn sharedLane(pixelTile: u32, colTile: u32, lid: u32, lane: u32) -> TileLane {
  let pg = lid % PG;
  return TileLane((colTile * (WG / PG) + lid / PG) * NV, pixelTile * TP + pg, pixelTile * TP + lane % SHARE, pg);
}

fn plainLane(pixelTile: u32, colTile: u32) -> TileLane {
  return TileLane(colTile * NV, pixelTile * TM, pixelTile * TM, 0u);
}
