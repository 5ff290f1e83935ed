// `--encoder-weights imagenet`: downloaded from a real HTTP server on 127.0.0.1 (GPUSEG_WEIGHTS_MIRROR
// points at it) into a temporary cache (GPUSEG_CACHE). The real file is 87 MB and out of reach offline, so
// the cases serve a small safetensors file under a name carrying its own SHA-256 prefix, as torchvision
// names its files.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirectory } from '../../src/gpu/tuning.js';
import { cacheFolder, cachedWeightsPath, hashPrefix, pretrainedWeightsFile, type PublishedWeights } from '../../src/model/pretrained.js';
import { encodeSafetensors } from '../../src/model/safetensors.js';
import { loadEncoderWeights } from '../../src/model/torch.js';
import { InputError } from '../../src/util/errors.js';
import { gpuseg, useTinyCategory } from '../cli/gpuseg.js';

const PROXY_VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];

// A torchvision-named tensor (no encoder. prefix), so the cached file also goes through the loader.
const bytes = encodeSafetensors(new Map([['conv1.bias', { dtype: 'F32' as const, shape: [3], data: new Float32Array([1, 2, 3]) }]]));
const prefix = createHash('sha256').update(bytes).digest('hex').slice(0, 8);
const weights: PublishedWeights = { file: `tiny-${prefix}.safetensors`, base: 'http://unused.invalid' };
// Same name, other bytes: what a proxy or a stale mirror might serve.
const impostor = new Uint8Array(bytes.length).fill(7);

let root = '';
let server: Server;
let origin = '';
/** The paths the server was asked for, in order. */
const requests: string[] = [];

function listen(s: Server): Promise<string> {
  return new Promise((done) => s.listen(0, '127.0.0.1', () => done(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

function serve(req: IncomingMessage, res: ServerResponse): void {
  requests.push(req.url!);
  const [, folder, file] = req.url!.split('/');
  if (folder === 'redirect') {
    res.writeHead(302, { location: `/good/${file}` }).end();
  } else if (file !== weights.file) {
    res.writeHead(404).end();
  } else if (folder === 'good' || folder === 'impostor') {
    res.writeHead(200, { 'content-length': bytes.length }).end(folder === 'good' ? bytes : impostor);
  } else if (folder === 'cut') {
    // Announces the whole file, sends half of it, and hangs up.
    res.writeHead(200, { 'content-length': bytes.length });
    res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
  } else {
    res.writeHead(404).end();
  }
}

/** Every file under the cache folder (temporary downloads included), relative to it. */
function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

let caches = 0;
/** A fresh cache folder and the environment that points the download at `folder` of the server. */
function setup(folder: string, base = origin): { cache: string; env: Record<string, string> } {
  const cache = join(root, `cache${caches++}`);
  return { cache, env: { GPUSEG_CACHE: cache, GPUSEG_WEIGHTS_MIRROR: `${base}/${folder}/` } };
}

async function refusal(promise: Promise<unknown>): Promise<InputError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).not.toMatch(/\n/);
  return err as InputError;
}

const saved: Record<string, string | undefined> = {};
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gpuseg-pretrained-'));
  // The download reads the proxy variables from process.env: none, unless a case sets them.
  for (const name of PROXY_VARIABLES) {
    saved[name] = process.env[name];
    delete process.env[name];
  }
  server = createServer(serve);
  origin = await listen(server);
});
afterAll(() => {
  server.close();
  for (const name of PROXY_VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  rmSync(root, { recursive: true, force: true });
});

describe('names and places', () => {
  it("reads the hash prefix from torchvision's name, and refuses a name without one", () => {
    expect(hashPrefix('resnet34-b627a593.pth')).toBe('b627a593');
    expect(hashPrefix('resnet_34-b627a593.tar.gz')).toBe('b627a593');
    expect(() => hashPrefix('resnet34.pth')).toThrow(/-<sha256 prefix>/);
  });

  it('keeps the cache in $GPUSEG_CACHE, else $GPUSEG_CACHE_DIR, else $XDG_CACHE_HOME/gpuseg, else ~/.cache/gpuseg (the tuning cache\'s folder)', () => {
    expect(cacheFolder({ GPUSEG_CACHE: '/a', GPUSEG_CACHE_DIR: '/d', XDG_CACHE_HOME: '/x' })).toBe('/a');
    // The tuning cache's variable moves this cache too: one folder for both.
    expect(cacheFolder({ GPUSEG_CACHE_DIR: '/d', XDG_CACHE_HOME: '/x' })).toBe('/d');
    expect(cacheFolder({ XDG_CACHE_HOME: '/x' })).toBe('/x/gpuseg');
    expect(cacheFolder({})).toBe(join(homedir(), '.cache', 'gpuseg'));
    expect(cacheFolder({ GPUSEG_CACHE_DIR: '/d' })).toBe(cacheDirectory({ GPUSEG_CACHE_DIR: '/d' }));
    expect(cacheFolder({ XDG_CACHE_HOME: '/x' })).toBe(cacheDirectory({ XDG_CACHE_HOME: '/x' }));
    expect(cachedWeightsPath(undefined, { GPUSEG_CACHE: '/a' })).toBe('/a/weights/resnet34-b627a593.pth');
  });
});

describe('downloading the weights', () => {
  it('accepts a file whose hash matches its name, caches it, and then uses the cache without a request', async () => {
    const { cache, env } = setup('good');
    const seen: [number, number | null][] = [];
    const start = requests.length;
    const path = await pretrainedWeightsFile({ weights, env, onProgress: (done, total) => seen.push([done, total]) });
    expect(path).toBe(join(cache, 'weights', weights.file));
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(filesIn(cache)).toEqual([join('weights', weights.file)]);
    expect(requests.slice(start)).toEqual([`/good/${weights.file}`]);
    expect(seen.at(-1)).toEqual([bytes.length, bytes.length]);
    // The cached file is what --encoder-weights loads, with the encoder's names.
    const loaded = await loadEncoderWeights(path);
    expect([...loaded.keys()]).toEqual(['encoder.conv1.bias']);
    expect([...loaded.get('encoder.conv1.bias')!.data]).toEqual([1, 2, 3]);

    expect(await pretrainedWeightsFile({ weights, env })).toBe(path);
    expect(requests.length).toBe(start + 1);
  });

  it('follows a redirect', async () => {
    const { cache, env } = setup('redirect');
    const start = requests.length;
    expect(readFileSync(await pretrainedWeightsFile({ weights, env })).equals(bytes)).toBe(true);
    expect(requests.slice(start)).toEqual([`/redirect/${weights.file}`, `/good/${weights.file}`]);
    expect(filesIn(cache)).toEqual([join('weights', weights.file)]);
  });

  it('refuses a download whose hash does not match its name, and caches nothing', async () => {
    const { cache, env } = setup('impostor');
    const err = await refusal(pretrainedWeightsFile({ weights, env }));
    const actual = createHash('sha256').update(impostor).digest('hex').slice(0, 8);
    expect(err.message).toBe(`${origin}/impostor/${weights.file}: the downloaded file's SHA-256 starts ${actual}, not ${prefix} as its name says (a proxy or mirror serving another file?); nothing was cached`);
    expect(filesIn(cache)).toEqual([]);
  });

  it('refuses a damaged cached file, naming it and the fix, without a request', async () => {
    const { cache, env } = setup('good');
    const path = join(cache, 'weights', weights.file);
    mkdirSync(join(cache, 'weights'), { recursive: true });
    writeFileSync(path, bytes.subarray(1));
    const start = requests.length;
    const err = await refusal(pretrainedWeightsFile({ weights, env }));
    expect(err.message).toMatch(new RegExp(`^${path}: the cached weights are damaged \\(SHA-256 [0-9a-f]{8}\\.\\.\\., the name says ${prefix}\\); delete the file to download it again`));
    expect(requests.length).toBe(start);
  });

  it('says what failed and where to put the file by hand: a dead server, an HTTP error, a cut transfer', async () => {
    const dead = createServer();
    const deadOrigin = await listen(dead);
    await new Promise((done) => dead.close(done));
    const cases: [string, string, RegExp][] = [
      ['x', deadOrigin, /ECONNREFUSED/],
      ['missing', origin, /HTTP 404 Not Found/],
      ['cut', origin, /broke off|ended after/],
    ];
    for (const [folder, base, reason] of cases) {
      const { cache, env } = setup(folder, base);
      const err = await refusal(pretrainedWeightsFile({ weights, env }));
      const path = join(cache, 'weights', weights.file);
      expect(err.message, folder).toMatch(new RegExp(`^cannot download the ImageNet weights from ${base}/${folder}/${weights.file} \\(`));
      expect(err.message, folder).toMatch(reason);
      expect(err.message, folder).toMatch(new RegExp(`; put torchvision's ${weights.file} at ${path} by hand, or pass --encoder-weights FILE$`));
      expect(filesIn(cache), folder).toEqual([]);
    }
  });

  it('goes through the proxy HTTP_PROXY names, and around it for a host in NO_PROXY', async () => {
    const proxied: string[] = [];
    // A forwarding proxy: an http:// URL reaches it as an absolute URI on the request line.
    const proxy = createServer((req, res) => {
      proxied.push(`${req.method} ${req.url}`);
      const upstream = request(req.url!, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    // A tunnel is refused: it would hide the request line this case checks.
    proxy.on('connect', (req, socket) => {
      proxied.push(`CONNECT ${req.url}`);
      socket.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
    });
    const proxyOrigin = await listen(proxy);
    try {
      process.env.HTTP_PROXY = proxyOrigin;
      let { env } = setup('good');
      const start = requests.length;
      expect(readFileSync(await pretrainedWeightsFile({ weights, env })).equals(bytes)).toBe(true);
      expect(proxied).toEqual([`GET ${origin}/good/${weights.file}`]);
      expect(requests.length).toBe(start + 1);

      process.env.no_proxy = 'localhost,127.0.0.1';
      ({ env } = setup('good'));
      expect(readFileSync(await pretrainedWeightsFile({ weights, env })).equals(bytes)).toBe(true);
      expect(proxied).toHaveLength(1);
      expect(requests.length).toBe(start + 2);
    } finally {
      delete process.env.HTTP_PROXY;
      delete process.env.no_proxy;
      proxy.close();
    }
  });
});

describe('gpuseg train --encoder-weights imagenet', () => {
  const tiny = useTinyCategory('gpuseg-pretrained-cli-');

  it('with the mirror down: exit 2, one line naming the cache path, no run folder', async () => {
    const dead = createServer();
    const deadOrigin = await listen(dead);
    await new Promise((done) => dead.close(done));
    const cache = join(tiny.dir, 'cache');
    const out = join(tiny.dir, 'run');
    const r = gpuseg(['train', '--data', tiny.category, '--out', out, '--size', '32', '--steps', '1', '--encoder-weights', 'imagenet'], {
      GPUSEG_CACHE: cache,
      GPUSEG_WEIGHTS_MIRROR: deadOrigin,
      NO_PROXY: '127.0.0.1',
      no_proxy: '127.0.0.1',
    });
    expect(r.status, r.stderr).toBe(2);
    const stderr = r.stderr;
    const path = join(cache, 'weights', 'resnet34-b627a593.pth');
    expect(stderr).toBe(
      `gpuseg: cannot download the ImageNet weights from ${deadOrigin}/resnet34-b627a593.pth (connect ECONNREFUSED ${deadOrigin.slice('http://'.length)}); ` +
        `put torchvision's resnet34-b627a593.pth at ${path} by hand, or pass --encoder-weights FILE\n`,
    );
    expect(existsSync(out)).toBe(false);
    expect(filesIn(cache)).toEqual([]);
  });
});
