// `gpuseg serve DIR`: the folder `gpuseg export --web` wrote, over HTTP on 127.0.0.1 only. A page needs
// a server, not file://: browsers offer WebGPU only to secure origins (localhost counts) and refuse
// fetch() of file:// URLs. Static files only: GET and HEAD, nothing outside DIR, 404 for the rest;
// 403 for a Host header other than 127.0.0.1:PORT or localhost:PORT.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { InputError } from '../util/errors.js';
import { isLocalHost } from '../util/host-check.js';
import { type LocalServer, type LocalServerOptions, checkPort, listenLocal, serveUntilStopped } from '../util/local-server.js';
import { PAGE_FILE } from '../web/html.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};
const DEFAULT_TYPE = 'application/octet-stream';

export type ServeOptions = LocalServerOptions;
/** A running server: its URL and how to stop it (serveWeb stops it on SIGINT/SIGTERM). */
export type WebServer = LocalServer;

/** Serves `dir` until SIGINT or SIGTERM, after printing its URL. */
export async function serveWeb(dir: string, o: ServeOptions): Promise<void> {
  await serveUntilStopped(await startServer(dir, o.port), { json: o.json, what: `serving ${dir}` });
}

/** Checks the folder, then listens on 127.0.0.1:port. */
async function startServer(dir: string, port: number): Promise<WebServer> {
  checkPort(port);
  const root = await checkFolder(dir);
  return listenLocal(port, (bound) => (req, res) => {
    // Answers only requests for our own name and port (DNS rebinding; see host-check.ts).
    if (!isLocalHost(req.headers.host, bound)) return fail(res, 403, 'forbidden host');
    respond(root, req, res).catch(() => fail(res, 500, 'internal error'));
  });
}

/** The folder's real path; a missing folder, or one without index.html, is the user's to fix. */
async function checkFolder(dir: string): Promise<string> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new InputError(`${dir}: no such folder`);
  if (!info.isDirectory()) throw new InputError(`${dir}: not a folder (give the folder \`gpuseg export --web\` wrote)`);
  if (!(await stat(join(dir, PAGE_FILE)).then((s) => s.isFile(), () => false))) {
    throw new InputError(`${dir}: no ${PAGE_FILE} in it (write one with \`gpuseg export RUN --web ${dir}\`)`);
  }
  return realpath(dir);
}

function fail(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(`${status} ${text}\n`);
}

async function respond(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return fail(res, 405, 'method not allowed');
  }
  const file = await resolveFile(root, req.url ?? '/');
  if (!file) return fail(res, 404, 'not found');
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file.path).toLowerCase()] ?? DEFAULT_TYPE,
    'content-length': file.size,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file.path)
    .on('error', () => res.destroy())
    .pipe(res);
}

/**
 * The regular file a request path names inside `root`, or null: a path that cannot be decoded, that
 * leads outside the folder (`..`, encoded or not; a link pointing out), or names no file. `/` is the page.
 */
export async function resolveFile(root: string, url: string): Promise<{ path: string; size: number } | null> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://host').pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0')) return null;
  const wanted = resolve(root, `.${pathname.endsWith('/') ? `${pathname}${PAGE_FILE}` : pathname}`);
  if (!inside(root, wanted)) return null;
  try {
    // Links are followed, then checked again: the real file must lie inside the folder as well.
    const real = await realpath(wanted);
    const info = await stat(real);
    return inside(root, real) && info.isFile() ? { path: real, size: info.size } : null;
  } catch {
    return null;
  }
}

function inside(root: string, path: string): boolean {
  return path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}
