// The labelling page's HTML: a list of the defect images on the left, the tools and the picture on the
// right. Plain elements with ids that script.ts looks up; the script is its own file (/label.js), so the
// page's Content-Security-Policy can forbid inline scripts.
import { escapeHtml } from '../util/html.js';

const STYLE = `
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232a; display: flex; height: 100vh; }
  aside { width: 16rem; flex: none; overflow-y: auto; border-right: 1px solid #d5dae0; padding: .75rem; }
  h1 { font-size: 1.2rem; margin: 0 0 .5rem; }
  h2 { font-size: .95rem; margin: .9rem 0 .3rem; }
  ul { list-style: none; margin: 0; padding: 0; }
  button.item { width: 100%; text-align: left; border: 0; background: none; padding: .15rem .3rem; font: inherit; cursor: pointer; display: flex; justify-content: space-between; }
  button.item:hover { background: #eef4fb; }
  button.item.current { background: #d6e6f7; font-weight: 600; }
  .mark { font-size: .8rem; color: #8a949e; }
  .has-mask .mark { color: #1f7a3a; }
  main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  .toolbar { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; padding: .5rem .75rem; border-bottom: 1px solid #d5dae0; }
  #status { margin: 0; padding: .35rem .75rem; min-height: 2rem; }
  body[data-state="error"] #status { color: #a3121b; font-weight: 600; }
  #view { position: relative; flex: 1; overflow: hidden; background: #5b6570; cursor: crosshair; touch-action: none; }
  #view.panning { cursor: grab; }
  #stage { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
  #stage canvas { position: absolute; left: 0; top: 0; image-rendering: pixelated; }
  #cursor { position: absolute; border: 1px solid #fff; outline: 1px solid #000; border-radius: 50%; pointer-events: none; display: none; }
  .hint { font-size: .8rem; color: #56616c; padding: .35rem .75rem; margin: 0; }
`;

/** The page for the category named `category`. */
export function labelPageHtml(category: string): string {
  const title = `gpuseg label: ${escapeHtml(category)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body data-state="loading">
<aside>
  <h1>${title}</h1>
  <div id="types">Loading the list…</div>
</aside>
<main>
  <div class="toolbar">
    <label><input type="radio" name="tool" id="tool-brush" value="brush" checked> Brush (B)</label>
    <label><input type="radio" name="tool" id="tool-eraser" value="eraser"> Eraser (E)</label>
    <label>Size <input id="size" type="range" min="1" max="200" value="20"> <output id="size-value">20</output> px</label>
    <button id="undo" type="button">Undo (Ctrl+Z)</button>
    <span><button id="zoom-fit" type="button">Fit</button> <button id="zoom-one" type="button">1:1</button> <output id="zoom-value">100%</output></span>
    <button id="save" type="button">Save (Ctrl+S)</button>
  </div>
  <p id="status">Pick an image on the left.</p>
  <div id="view"><div id="stage"><canvas id="image" width="0" height="0"></canvas><canvas id="mask" width="0" height="0"></canvas></div><div id="cursor"></div></div>
  <p class="hint">Paint with the left button. Wheel: zoom at the pointer. Pan: drag with the middle button, or hold Space and drag.
  [ and ]: brush size. Size is in image pixels; at 1:1 one image pixel is one screen pixel. Save writes
  ground_truth/&lt;type&gt;/&lt;name&gt;_mask.png (0 and 255, at the image's own size) and asks before replacing a mask.</p>
</main>
<script type="module" src="label.js"></script>
</body>
</html>
`;
}

