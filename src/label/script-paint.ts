// The painting half of the labelling page's script (see script.ts), run first: the state, the mask,
// undo, zoom and pan, and the pointer.
//
// The mask is one byte per image pixel (0/1) in `state.mask`, painted by stamping discs along the
// pointer's path, so what is saved is exactly what was painted (a canvas's antialiased arcs would leave
// grey edges). The canvas only shows it. Undo keeps whole copies of the mask: at 1024x1024 fifty steps
// are 50 MB, and a stroke never has to be replayed. The stage is scaled by CSS: at zoom 1 one image
// pixel is one CSS pixel, so a test can aim at pixels through the canvas's bounding box.

export const PAINT_SCRIPT = String.raw`
const MAX_UNDO = 50;
const OVERLAY = [255, 40, 40, 130];
const MIN_ZOOM = 1 / 32;
const MAX_ZOOM = 64;
const WHEEL_RATE = 0.002;
const $ = (id) => document.getElementById(id);
const view = $('view'), stage = $('stage'), imageCanvas = $('image'), maskCanvas = $('mask'), cursor = $('cursor');

const state = {
  images: [], current: null, width: 0, height: 0, mask: null, overlay: null,
  undo: [], version: 0, savedVersion: 0, nextVersion: 1,
  zoom: 1, panX: 0, panY: 0, size: 20, tool: 'brush', opened: 0, saves: 0,
};
window.gpusegLabel = state;

/** Shows the mask's pixels in [x0, x1) x [y0, y1) on the overlay canvas. */
function render(x0, y0, x1, y1) {
  const data = state.overlay.data;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const p = y * state.width + x, on = state.mask[p] === 1;
      for (let c = 0; c < 4; c++) data[p * 4 + c] = on ? OVERLAY[c] : 0;
    }
  }
  if (x1 > x0 && y1 > y0) maskCanvas.getContext('2d').putImageData(state.overlay, 0, 0, x0, y0, x1 - x0, y1 - y0);
}

/** Sets every pixel whose centre lies within the brush's disc at each point from a to b (image coordinates). */
function stroke(a, b) {
  const r = state.size / 2, value = state.tool === 'eraser' ? 0 : 1;
  const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / Math.max(0.5, r / 2)));
  const x0 = Math.max(0, Math.floor(Math.min(a.x, b.x) - r)), x1 = Math.min(state.width, Math.ceil(Math.max(a.x, b.x) + r));
  const y0 = Math.max(0, Math.floor(Math.min(a.y, b.y) - r)), y1 = Math.min(state.height, Math.ceil(Math.max(a.y, b.y) + r));
  for (let s = 0; s <= steps; s++) {
    const cx = a.x + ((b.x - a.x) * s) / steps, cy = a.y + ((b.y - a.y) * s) / steps;
    const sx0 = Math.max(0, Math.floor(cx - r)), sx1 = Math.min(state.width, Math.ceil(cx + r));
    const sy0 = Math.max(0, Math.floor(cy - r)), sy1 = Math.min(state.height, Math.ceil(cy + r));
    for (let y = sy0; y < sy1; y++) {
      for (let x = sx0; x < sx1; x++) {
        if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) state.mask[y * state.width + x] = value;
      }
    }
  }
  render(x0, y0, x1, y1);
}

function pushUndo() {
  state.undo.push({ mask: state.mask.slice(), version: state.version });
  if (state.undo.length > MAX_UNDO) state.undo.shift();
  state.version = state.nextVersion++;
}

function undo() {
  const step = state.undo.pop();
  if (!step) return setStatus('Nothing to undo.');
  state.mask = step.mask;
  state.version = step.version;
  render(0, 0, state.width, state.height);
  setStatus('Undone (' + state.undo.length + ' more step' + (state.undo.length === 1 ? '' : 's') + ' to undo).');
}

function fitZoom() {
  return state.width ? Math.min(view.clientWidth / state.width, view.clientHeight / state.height) : 1;
}

function applyView() {
  stage.style.transform = 'translate(' + state.panX + 'px, ' + state.panY + 'px) scale(' + state.zoom + ')';
  $('zoom-value').textContent = Math.round(state.zoom * 100) + '%';
}

/** Zooms to ZOOM with the picture centred in the view (whole CSS pixels: no blurred 1:1). */
function placeAt(zoom) {
  state.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
  state.panX = Math.round((view.clientWidth - state.width * state.zoom) / 2);
  state.panY = Math.round((view.clientHeight - state.height * state.zoom) / 2);
  applyView();
}

/** A pointer event's position in image pixels (fractional), through the canvas as drawn. */
function toImage(event) {
  const box = imageCanvas.getBoundingClientRect();
  return { x: ((event.clientX - box.left) / box.width) * state.width, y: ((event.clientY - box.top) / box.height) * state.height };
}

function showCursor(event) {
  const box = view.getBoundingClientRect(), d = state.size * state.zoom;
  Object.assign(cursor.style, { display: state.current ? 'block' : 'none', width: d + 'px', height: d + 'px',
    left: event.clientX - box.left - d / 2 + 'px', top: event.clientY - box.top - d / 2 + 'px' });
}

let drag = null, spaceHeld = false;
view.addEventListener('pointerdown', (event) => {
  if (!state.current) return;
  if (event.button === 1 || (event.button === 0 && spaceHeld)) {
    drag = { pan: true, x: event.clientX, y: event.clientY, panX: state.panX, panY: state.panY };
  } else if (event.button === 0) {
    pushUndo();
    const at = toImage(event);
    drag = { pan: false, last: at };
    stroke(at, at);
  } else return;
  view.setPointerCapture(event.pointerId);
  event.preventDefault();
});
view.addEventListener('pointermove', (event) => {
  showCursor(event);
  if (!drag) return;
  if (drag.pan) {
    state.panX = drag.panX + event.clientX - drag.x;
    state.panY = drag.panY + event.clientY - drag.y;
    return applyView();
  }
  const at = toImage(event);
  stroke(drag.last, at);
  drag.last = at;
});
const endDrag = () => (drag = null);
view.addEventListener('pointerup', endDrag);
view.addEventListener('pointercancel', endDrag);
view.addEventListener('pointerleave', () => (cursor.style.display = 'none'));
view.addEventListener('mousedown', (event) => event.button === 1 && event.preventDefault()); // no autoscroll
view.addEventListener('wheel', (event) => {
  event.preventDefault();
  if (!state.current) return;
  const box = view.getBoundingClientRect(), vx = event.clientX - box.left, vy = event.clientY - box.top;
  const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, state.zoom * Math.exp(-event.deltaY * WHEEL_RATE)));
  // The image point under the pointer stays under it.
  state.panX = vx - ((vx - state.panX) / state.zoom) * zoom;
  state.panY = vy - ((vy - state.panY) / state.zoom) * zoom;
  state.zoom = zoom;
  applyView();
  showCursor(event);
}, { passive: false });

`;
