// `gpuseg label CATEGORY`: a page on 127.0.0.1 for painting defect masks. The server answers:
//   GET  /                     the page          GET /label.js   its script
//   GET  /api/list             the defect images by type, and which have masks
//   GET  /api/image?type&name  the image as PNG (upright)        GET /api/mask?type&name   its mask, 0/255 PNG
//   POST /api/mask?type&name&width&height[&overwrite=true]   body: one byte per pixel -> the mask file
// Every request must name 127.0.0.1:PORT or localhost:PORT as its Host (DNS rebinding), a POST must
// come from our own page if from any (Origin) and carry application/octet-stream, which a cross-site
// form cannot send.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, resolve } from 'node:path';
import { MAX_PIXELS } from '../data/image.js';
import { InputError, errorMessage } from '../util/errors.js';
import { isLocalHost, isLocalOrigin } from '../util/host-check.js';
import { LOOPBACK, type LocalServer, type LocalServerOptions, checkPort, listenLocal, serveUntilStopped } from '../util/local-server.js';
import { HttpError, checkCategory, findImage, imagePath, imagePng, listDefectImages, maskPath, maskPng, saveMask } from './category.js';
import { labelPageHtml } from './page.js';
import { LABEL_SCRIPT } from './script.js';

const MASK_BODY_TYPE = 'application/octet-stream';
/** The page's own files and nothing else: no inline script, no other origin, no framing. */
const PAGE_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'";

export type LabelOptions = LocalServerOptions;
export type LabelServer = LocalServer;

/** Serves the labelling page for `dir` until SIGINT or SIGTERM, after printing its URL. */
export async function serveLabel(dir: string, o: LabelOptions): Promise<void> {
  await serveUntilStopped(await startLabelServer(dir, o.port), { json: o.json, what: `labelling ${dir}` });
}

/** Checks the category (it must hold defect images), then listens on 127.0.0.1:port. */
export async function startLabelServer(dir: string, port: number): Promise<LabelServer> {
  checkPort(port);
  await checkCategory(dir);
  const root = resolve(dir);
  if ((await listDefectImages(root)).length === 0) throw new InputError(`category folder '${dir}' has no defect images in test/<type>/ (test/good holds normal ones)`);
  return listenLocal(port, (bound) => (req, res) => {
    respond(root, bound, req, res).catch((err: unknown) => {
      if (err instanceof HttpError) fail(res, err.status, err.message);
      else fail(res, 500, `internal error: ${errorMessage(err)}`);
    });
  });
}

const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function fail(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${status} ${text}\n`);
}

function send(res: ServerResponse, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(200, { ...COMMON_HEADERS, ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function respond(root: string, port: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isLocalHost(req.headers.host, port)) return fail(res, 403, 'forbidden host');
  const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
  const route = `${req.method} ${url.pathname}`;
  const type = url.searchParams.get('type');
  const name = url.searchParams.get('name');
  switch (route) {
    case 'GET /':
      return send(res, 'text/html; charset=utf-8', labelPageHtml(basename(root)), { 'content-security-policy': PAGE_POLICY });
    case 'GET /label.js':
      return send(res, 'text/javascript; charset=utf-8', LABEL_SCRIPT);
    case 'GET /api/list':
      return send(res, 'application/json', JSON.stringify({ category: basename(root), images: await listDefectImages(root) }));
    case 'GET /api/image':
      return send(res, 'image/png', await imagePng(imagePath(root, await findImage(root, type, name))));
    case 'GET /api/mask': {
      const image = await findImage(root, type, name);
      if (image.mask === null) throw new HttpError(404, `'${type}/${name}' has no mask yet`);
      return send(res, 'image/png', await maskPng(maskPath(root, image, image.mask)));
    }
    case 'POST /api/mask':
      return postMask(root, port, url, req, res);
  }
  const known = ['/', '/label.js', '/api/list', '/api/image', '/api/mask'].includes(url.pathname);
  if (!known) return fail(res, 404, 'not found');
  res.setHeader('allow', url.pathname === '/api/mask' ? 'GET, POST' : 'GET');
  return fail(res, 405, 'method not allowed');
}

async function postMask(root: string, port: number, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isLocalOrigin(req.headers.origin, port)) throw new HttpError(403, 'forbidden origin');
  if (req.headers['content-type'] !== MASK_BODY_TYPE) throw new HttpError(415, `the mask must be sent as ${MASK_BODY_TYPE}`);
  const image = await findImage(root, url.searchParams.get('type'), url.searchParams.get('name'));
  const width = Number(url.searchParams.get('width'));
  const height = Number(url.searchParams.get('height'));
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new HttpError(400, 'width and height must be positive integers');
  const pixels = await readBody(req, MAX_PIXELS);
  const path = await saveMask(root, image, { pixels, width, height, overwrite: url.searchParams.get('overwrite') === 'true' });
  send(res, 'application/json', JSON.stringify({ path }));
}

/** The request's body, refused (413) past `limit` bytes before it is all read. */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((done, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    // What is past the limit is read and dropped, so that the 413 reaches the client.
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) reject(new HttpError(413, `a mask is at most ${limit} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => done(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}
