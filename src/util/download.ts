// The one file gpuseg fetches itself (pretrained weights): undici's fetch through EnvHttpProxyAgent, so
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case) are honoured as curl and pip honour them, with the
// body streamed to disk and hashed on the way, so an 87 MB file is never held in memory whole.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { EnvHttpProxyAgent, fetch } from 'undici';
import { errorMessage } from './errors.js';

/** What failed on the network side (no connection, an HTTP error, a cut transfer), in a few words. */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface Downloaded {
  bytes: number;
  /** Lower-case hex SHA-256 of the bytes written. */
  sha256: string;
}

/** fetch() says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a TLS error). */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause instanceof Error ? errorMessage(cause) : errorMessage(err);
}

/**
 * Fetches `url` (following redirects) into a new file at `path` (which must not exist), reporting the
 * bytes so far and the announced length (null when the server gives none). Network failures throw
 * DownloadError; a file that cannot be written throws an Error naming it. On failure the caller
 * removes `path`: it may hold part of the body.
 */
export async function downloadFile(url: string, path: string, onProgress: (done: number, total: number | null) => void = () => {}): Promise<Downloaded> {
  // Built per call: the agent reads the proxy variables when it is made. An http:// URL goes to an
  // http:// proxy as a plain request with an absolute URI rather than a CONNECT tunnel (undici's
  // default), which proxies such as squid refuse out of the box for any port but 443.
  const dispatcher = new EnvHttpProxyAgent({ proxyTunnel: false });
  try {
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      // identity: the bytes hashed are the bytes published, and Content-Length counts them.
      response = await fetch(url, { dispatcher, redirect: 'follow', headers: { 'accept-encoding': 'identity' } });
    } catch (err) {
      throw new DownloadError(networkReason(err));
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {});
      throw new DownloadError(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    // A server may encode anyway; fetch then decodes, and Content-Length counts the encoded bytes.
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const announced = encoded ? NaN : Number(response.headers.get('content-length') ?? NaN);
    const total = Number.isSafeInteger(announced) && announced >= 0 ? announced : null;
    const hash = createHash('sha256');
    const file = await open(path, 'wx');
    let done = 0;
    try {
      const reader = response.body.getReader();
      for (;;) {
        const chunk = await reader.read().catch((err: unknown) => {
          throw new DownloadError(`the transfer broke off after ${done} bytes (${networkReason(err)})`);
        });
        if (chunk.done) break;
        hash.update(chunk.value);
        try {
          await file.write(chunk.value);
        } catch (err) {
          throw Object.assign(new Error(`${path}: cannot write (${errorMessage(err)})`), { code: (err as { code?: unknown }).code });
        }
        done += chunk.value.byteLength;
        onProgress(done, total);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    if (total !== null && done !== total) throw new DownloadError(`the transfer ended after ${done} of ${total} bytes`);
    return { bytes: done, sha256: hash.digest('hex') };
  } finally {
    // destroy, not close: close would wait for a body a failure left unread.
    await dispatcher.destroy().catch(() => {});
  }
}
