// Connected components of a binary mask with 8-connectivity (a pixel touches the eight around it,
// diagonals included): the regions of AUPRO (MVTec AD's convention) and the defects crop-and-paste
// takes one at a time.

export interface Components {
  /** width x height, row-major: 0 for background, 1..count for the component a pixel belongs to. */
  labels: Int32Array;
  count: number;
  /** Pixels per component; sizes[k - 1] is the size of label k. */
  sizes: number[];
  /** Inclusive bounding box per component, same indexing as sizes. */
  boxes: Box[];
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Labels the foreground (mask value non-zero) by 8-connected flood fill. Labels are numbered in the
 * raster order of each component's first pixel, so the result does not depend on anything but the mask.
 */
export function connectedComponents(mask: ArrayLike<number>, width: number, height: number): Components {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`connectedComponents: bad size ${width}x${height}`);
  }
  if (mask.length !== width * height) {
    throw new Error(`connectedComponents: ${mask.length} values do not make a ${width}x${height} mask`);
  }
  const labels = new Int32Array(width * height);
  const sizes: number[] = [];
  const boxes: Box[] = [];
  // An explicit stack of pixel indices: a recursive fill would overflow on large regions.
  const stack = new Int32Array(width * height);
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = ++count;
    const box = { x0: width, y0: height, x1: -1, y1: -1 };
    let size = 0;
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    while (top > 0) {
      const p = stack[--top]!;
      const y = Math.floor(p / width);
      const x = p - y * width;
      size++;
      if (x < box.x0) box.x0 = x;
      if (x > box.x1) box.x1 = x;
      if (y < box.y0) box.y0 = y;
      if (y > box.y1) box.y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = label;
            stack[top++] = q;
          }
        }
      }
    }
    sizes.push(size);
    boxes.push(box);
  }
  return { labels, count, sizes, boxes };
}
