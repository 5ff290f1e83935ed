/// <reference lib="dom" />
// The page `gpuseg export --web` writes: loads model.json and model.safetensors from its own folder,
// runs gpuseg's WGSL kernels on the browser's WebGPU device, and shows, for each image a person drops or
// picks, the probability map and the image with its defect pixels tinted (threshold slider). After each
// image, window.gpusegResult holds the numbers (tests read them).
import { setHost } from '../gpu/host.js';
import { NoWebGpuError, webHost } from './host.js';
import { MODEL_INFO_FILE, MODEL_WEIGHTS_FILE, type ModelInfo, parseModelInfo } from './model-info.js';
import { type PageModel, loadPageModel, openPageGpu, predictOne } from './model.js';
import { decodeImage, drawImage, drawOverlay, drawProbability, modelInput } from './pixels.js';

/** What the page computed for the latest image. */
export interface PageResult {
  /** Images done so far (1 for the first): a test waits for it to grow. */
  count: number;
  name: string;
  /** The probability map, size x size, row-major, at the model's size. */
  probability: number[];
  width: number;
  height: number;
  /** Milliseconds of the network alone: input upload, every kernel, the read back. */
  ms: number;
  /** Milliseconds from the file to the drawn pictures (decoding and drawing included). */
  totalMs: number;
  adapter: string;
}

declare global {
  interface Window {
    gpusegResult?: PageResult;
  }
}

type State = 'loading' | 'ready' | 'busy' | 'error';

interface Ui {
  status: HTMLElement;
  drop: HTMLElement;
  file: HTMLInputElement;
  threshold: HTMLInputElement;
  thresholdValue: HTMLOutputElement;
  timing: HTMLElement;
  image: HTMLCanvasElement;
  probability: HTMLCanvasElement;
  overlay: HTMLCanvasElement;
}

function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page has no #${id}`);
  return element;
}

function findUi(): Ui {
  return {
    status: byId('status', HTMLElement),
    drop: byId('drop', HTMLElement),
    file: byId('file', HTMLInputElement),
    threshold: byId('threshold', HTMLInputElement),
    thresholdValue: byId('threshold-value', HTMLOutputElement),
    timing: byId('timing', HTMLElement),
    image: byId('image', HTMLCanvasElement),
    probability: byId('probability', HTMLCanvasElement),
    overlay: byId('overlay', HTMLCanvasElement),
  };
}

function show(ui: Ui, state: State, message: string): void {
  document.body.dataset.state = state;
  ui.status.textContent = message;
}

async function fetchOk(file: string): Promise<Response> {
  const response = await fetch(file);
  if (!response.ok) throw new Error(`${file}: ${response.status} ${response.statusText} (serve the folder with \`gpuseg serve\`)`);
  return response;
}

/** The latest image and its map: the threshold slider redraws the overlay from them. */
interface Shown {
  image: ImageBitmap;
}

async function runImage(ui: Ui, m: PageModel, file: File, count: number): Promise<Shown> {
  const start = performance.now();
  const image = await decodeImage(file);
  const rgb = modelInput(image, m.info.size);
  const before = performance.now();
  const probability = await predictOne(m, rgb);
  const ms = performance.now() - before;
  drawImage(ui.image, image);
  drawProbability(ui.probability, probability, m.info.size);
  drawOverlay(ui.overlay, image, ui.probability, Number(ui.threshold.value));
  const totalMs = performance.now() - start;
  ui.timing.textContent = `${file.name}: ${ms.toFixed(0)} ms in the network, ${totalMs.toFixed(0)} ms in all`;
  window.gpusegResult = { count, name: file.name, probability: Array.from(probability), width: m.info.size, height: m.info.size, ms, totalMs, adapter: m.adapter };
  return { image };
}

/** Runs the images one after another (a second drop waits for the first) and keeps the page's state. */
function imageQueue(ui: Ui, m: PageModel, ready: string): { add(files: Iterable<File>): void; shown(): Shown | null } {
  let queue = Promise.resolve();
  let count = 0;
  let shown: Shown | null = null;
  const add = (files: Iterable<File>): void => {
    for (const file of files) {
      queue = queue.then(async () => {
        show(ui, 'busy', `Running ${file.name}…`);
        try {
          shown = await runImage(ui, m, file, ++count);
          show(ui, 'ready', ready);
        } catch (err) {
          show(ui, 'error', `${file.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      });
    }
  };
  return { add, shown: () => shown };
}

function wire(ui: Ui, m: PageModel, ready: string): void {
  const queue = imageQueue(ui, m, ready);
  ui.file.addEventListener('change', () => {
    queue.add(Array.from(ui.file.files ?? []));
    ui.file.value = ''; // picking the same file again runs it again
  });
  ui.drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    ui.drop.classList.add('over');
  });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (event) => {
    event.preventDefault();
    ui.drop.classList.remove('over');
    queue.add(Array.from(event.dataTransfer?.files ?? []).filter((f) => f.type.startsWith('image/')));
  });
  ui.threshold.addEventListener('input', () => {
    const threshold = Number(ui.threshold.value);
    ui.thresholdValue.textContent = threshold.toFixed(3);
    const shown = queue.shown();
    if (shown) drawOverlay(ui.overlay, shown.image, ui.probability, threshold);
  });
}

/** The run's decision threshold, exactly (the slider's step is 'any': a 0.01 grid would move it). */
function setThreshold(ui: Ui, info: ModelInfo): void {
  ui.threshold.value = String(info.threshold);
  ui.thresholdValue.textContent = info.threshold.toFixed(3);
}

async function main(): Promise<void> {
  // The page's platform (src/gpu/host.ts): navigator.gpu and the bundled shaders, before any device.
  setHost(webHost);
  const ui = findUi();
  try {
    // The device first: without WebGPU the page says so before downloading the weights.
    const gpu = await openPageGpu();
    const info = parseModelInfo(await (await fetchOk(MODEL_INFO_FILE)).json());
    setThreshold(ui, info);
    show(ui, 'loading', `Loading the weights (${MODEL_WEIGHTS_FILE})…`);
    const weights = new Uint8Array(await (await fetchOk(MODEL_WEIGHTS_FILE)).arrayBuffer());
    const m = loadPageModel(gpu, info, weights);
    const ready = `Model${info.run ? ` '${info.run}'` : ''} at ${info.size}x${info.size} on ${m.adapter}: drop or pick images.`;
    wire(ui, m, ready);
    show(ui, 'ready', ready);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    show(ui, 'error', err instanceof NoWebGpuError ? message : `The model could not be loaded: ${message}`);
  }
}

void main();
