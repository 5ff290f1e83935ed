// The labelling page's script, served as /label.js. Kept as text (not bundled TypeScript): it is small,
// needs nothing of the project, and the CLI serves it from source and from dist/ alike. This half holds
// the list, opening an image, the tools, the keys and Save; script-paint.ts the mask, undo and the view.
// `window.gpusegLabel` is the page's state, for tests and the curious.
import { PAINT_SCRIPT } from './script-paint.js';

const MAIN_SCRIPT = String.raw`
function setStatus(text, error) {
  $('status').textContent = text;
  document.body.dataset.state = error ? 'error' : 'ready';
}
const dirty = () => state.current !== null && state.version !== state.savedVersion;
const query = (image) => 'type=' + encodeURIComponent(image.type) + '&name=' + encodeURIComponent(image.name);
const stem = (name) => name.replace(/\.[^.]*$/, '');

async function fetchOk(url, init) {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error((await response.text()).trim());
  return response;
}

function renderList() {
  const box = $('types');
  box.textContent = '';
  const types = [...new Set(state.images.map((i) => i.type))];
  for (const type of types) {
    const items = state.images.filter((i) => i.type === type);
    const heading = document.createElement('h2');
    heading.textContent = type + ' (' + items.filter((i) => i.mask).length + ' of ' + items.length + ' masked)';
    const list = document.createElement('ul');
    for (const item of items) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'item' + (item.mask ? ' has-mask' : '') + (item === state.current ? ' current' : '');
      button.dataset.type = item.type;
      button.dataset.name = item.name;
      const label = document.createElement('span');
      label.textContent = item.name;
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.textContent = item.mask ? '\u2713 mask' : 'no mask';
      button.append(label, mark);
      button.addEventListener('click', () => openImage(item).catch((e) => setStatus(String(e.message || e), true)));
      const li = document.createElement('li');
      li.append(button);
      list.append(li);
    }
    box.append(heading, list);
  }
}

async function bitmap(url) {
  return createImageBitmap(await (await fetchOk(url)).blob());
}

async function openImage(item) {
  if (dirty() && !confirm('Discard the unsaved changes to ' + state.current.type + '/' + state.current.name + '?')) return;
  setStatus('Loading ' + item.type + '/' + item.name + '\u2026');
  const picture = await bitmap('api/image?' + query(item));
  const width = picture.width, height = picture.height;
  const mask = new Uint8Array(width * height);
  let note = '';
  if (item.mask) {
    const existing = await bitmap('api/mask?' + query(item));
    if (existing.width !== width || existing.height !== height) note = ' (its mask is ' + existing.width + 'x' + existing.height + ': shown scaled)';
    const scratch = new OffscreenCanvas(width, height).getContext('2d');
    scratch.imageSmoothingEnabled = false;
    scratch.drawImage(existing, 0, 0, width, height);
    const data = scratch.getImageData(0, 0, width, height).data;
    for (let p = 0; p < mask.length; p++) mask[p] = data[p * 4] > 127 ? 1 : 0;
  }
  Object.assign(state, { current: item, width, height, mask, undo: [], version: 0, savedVersion: 0 });
  for (const canvas of [imageCanvas, maskCanvas]) {
    canvas.width = width;
    canvas.height = height;
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
  }
  imageCanvas.getContext('2d').drawImage(picture, 0, 0);
  state.overlay = maskCanvas.getContext('2d').createImageData(width, height);
  render(0, 0, width, height);
  placeAt(Math.min(1, fitZoom()));
  renderList();
  state.opened++;
  setStatus(item.type + '/' + item.name + ', ' + width + 'x' + height + (item.mask ? ', with its mask ' + item.mask : ', no mask yet') + note);
}

function setSize(size) {
  state.size = Math.min(200, Math.max(1, Math.round(size)));
  $('size').value = String(state.size);
  $('size-value').textContent = String(state.size);
}
function setTool(tool) {
  state.tool = tool;
  $('tool-' + tool).checked = true;
}
$('size').addEventListener('input', () => setSize(Number($('size').value)));
$('tool-brush').addEventListener('change', () => setTool('brush'));
$('tool-eraser').addEventListener('change', () => setTool('eraser'));
$('undo').addEventListener('click', undo);
$('zoom-fit').addEventListener('click', () => placeAt(fitZoom()));
$('zoom-one').addEventListener('click', () => placeAt(1));
$('save').addEventListener('click', () => save().catch((e) => setStatus('Not saved: ' + String(e.message || e), true)));

window.addEventListener('keydown', (event) => {
  const key = event.key.toLowerCase(), command = event.ctrlKey || event.metaKey;
  // The size slider keeps its arrow keys; a focused button must not take Space as a click.
  if (!command && event.target instanceof HTMLInputElement && event.target.type !== 'radio') return;
  if (key === ' ' && document.activeElement instanceof HTMLButtonElement) document.activeElement.blur();
  if (command && key === 'z') undo();
  else if (command && key === 's') save().catch((e) => setStatus('Not saved: ' + String(e.message || e), true));
  else if (command) return;
  else if (key === ' ') { spaceHeld = true; view.classList.add('panning'); }
  else if (key === 'b') setTool('brush');
  else if (key === 'e') setTool('eraser');
  else if (key === '[') setSize(state.size / 1.25);
  else if (key === ']') setSize(state.size * 1.25 + 1);
  else return;
  event.preventDefault();
});
window.addEventListener('keyup', (event) => {
  if (event.key === ' ') { spaceHeld = false; view.classList.remove('panning'); }
});
window.addEventListener('beforeunload', (event) => dirty() && event.preventDefault());

function post(image, bytes, overwrite) {
  const params = query(image) + '&width=' + state.width + '&height=' + state.height + (overwrite ? '&overwrite=true' : '');
  return fetch('api/mask?' + params, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
}

async function save() {
  const image = state.current;
  if (!image) return setStatus('Pick an image first.');
  const target = 'ground_truth/' + image.type + '/' + stem(image.name) + '_mask.png';
  const ask = () => confirm('Overwrite the existing mask of ' + image.type + '/' + image.name + ' with ' + target + '?');
  let overwrite = false;
  if (image.mask) {
    if (!ask()) return setStatus('Not saved: the existing mask was kept.');
    overwrite = true;
  }
  const version = state.version;
  const bytes = new Uint8Array(state.mask.length);
  for (let p = 0; p < bytes.length; p++) bytes[p] = state.mask[p] ? 255 : 0;
  let response = await post(image, bytes, overwrite);
  // A mask written since the list was read (another tab, another tool): ask after all.
  if (response.status === 409 && !overwrite) {
    if (!ask()) return setStatus('Not saved: a mask appeared meanwhile and was kept.');
    response = await post(image, bytes, true);
  }
  if (!response.ok) throw new Error((await response.text()).trim());
  const written = await response.json();
  image.mask = written.path.split('/').pop();
  state.savedVersion = version;
  state.saves++;
  renderList();
  setStatus('Saved ' + written.path + '.');
}

fetchOk('api/list')
  .then((r) => r.json())
  .then((list) => {
    state.images = list.images;
    renderList();
    setStatus('Pick an image on the left (' + list.images.length + ' defect images).');
  })
  .catch((e) => setStatus('Cannot list the images: ' + String(e.message || e), true));
`;

/** The whole script: the painting half first, whose state and functions the rest uses. */
export const LABEL_SCRIPT = PAINT_SCRIPT + MAIN_SCRIPT;
