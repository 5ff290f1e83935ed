// The page's HTML, written by `gpuseg export --web` beside the bundled script. Plain elements with ids
// that src/web/page.ts looks up; no framework, no request beyond the folder's own files.

import { escapeHtml } from '../util/html.js';

/** The page itself: what `gpuseg serve` answers `/` with. */
export const PAGE_FILE = 'index.html';
/** The script file the bundle is written to (the page loads it as a module). */
export const PAGE_SCRIPT = 'page.js';

const STYLE = `
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d232a; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  #status { margin: .5rem 0 1rem; }
  body[data-state="error"] #status { color: #a3121b; font-weight: 600; }
  #drop { border: 2px dashed #9aa4ae; border-radius: 8px; padding: 1.25rem; text-align: center; }
  #drop.over { background: #eef4fb; border-color: #2f6fb2; }
  .controls { display: flex; gap: 2rem; align-items: center; flex-wrap: wrap; margin: 1rem 0; }
  .pictures { display: flex; gap: 1rem; flex-wrap: wrap; }
  figure { margin: 0; }
  figcaption { font-size: .85rem; color: #56616c; }
  canvas { width: 256px; height: 256px; image-rendering: pixelated; background: #f3f4f6; display: block; }
  #timing { color: #56616c; font-size: .85rem; }
`;

export function pageHtml(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body data-state="loading">
<h1>${escapeHtml(title)}</h1>
<p id="status">Loading the model…</p>
<div id="drop">Drop images here, or <label>pick them: <input id="file" type="file" accept="image/*" multiple></label></div>
<div class="controls">
  <label>Threshold <input id="threshold" type="range" min="0" max="1" step="any" value="0.5"> <output id="threshold-value">0.50</output></label>
  <span id="timing"></span>
</div>
<div class="pictures">
  <figure><canvas id="image"></canvas><figcaption>Image</figcaption></figure>
  <figure><canvas id="probability"></canvas><figcaption>Defect probability</figcaption></figure>
  <figure><canvas id="overlay"></canvas><figcaption>Defect pixels (above the threshold)</figcaption></figure>
</div>
<script type="module" src="${PAGE_SCRIPT}"></script>
</body>
</html>
`;
}

